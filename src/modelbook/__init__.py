"""modelbook: a model registry of immutable, reproducible model versions.

The public API is what this module names; everything else is internal.
"""

# No ``from __future__ import annotations`` here: it would bind the name
# ``annotations`` in the package and hide the ``modelbook.annotations`` module.
import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from .contract import (
        FieldSpec,
        Runtime,
        SampleRef,
        Schema,
        Signature,
        as_signature,
        infer_signature,
        parse_signature,
    )
    from .contract_diff import ContractDiff, FieldChange, diff_contracts
    from .domain import (
        Alias,
        AliasEvent,
        Artifact,
        CodeRef,
        DataRef,
        Environment,
        FeatureSetRef,
        Lineage,
        LockfileRef,
        Metric,
        Model,
        Page,
        Problem,
        Stage,
        Training,
        VerifyReport,
        Version,
        VersionSummary,
    )
    from .errors import (
        AlreadyExists,
        Conflict,
        EnvironmentDrift,
        IncompleteMetadata,
        IntegrityError,
        InvalidInput,
        InvalidQuery,
        ModelbookError,
        NotFound,
        Unavailable,
        UnsafeArtifact,
    )
    from .impact import Impact
    from .lineage import LineageGraph
    from .registry import Registry

# Where each public name is defined. A name is imported on first use, so that
# ``import modelbook`` (and a command of the CLI, which imports only what it
# runs) does not load every part of the library.
_SOURCES = {
    "Alias": "domain",
    "AliasEvent": "domain",
    "AlreadyExists": "errors",
    "Artifact": "domain",
    "CodeRef": "domain",
    "Conflict": "errors",
    "ContractDiff": "contract_diff",
    "DataRef": "domain",
    "Environment": "domain",
    "EnvironmentDrift": "errors",
    "FeatureSetRef": "domain",
    "FieldChange": "contract_diff",
    "FieldSpec": "contract",
    "Impact": "impact",
    "IncompleteMetadata": "errors",
    "IntegrityError": "errors",
    "InvalidInput": "errors",
    "InvalidQuery": "errors",
    "Lineage": "domain",
    "LineageGraph": "lineage",
    "LockfileRef": "domain",
    "Metric": "domain",
    "Model": "domain",
    "ModelbookError": "errors",
    "NotFound": "errors",
    "Page": "domain",
    "Problem": "domain",
    "Registry": "registry",
    "Runtime": "contract",
    "SampleRef": "contract",
    "Schema": "contract",
    "Signature": "contract",
    "Stage": "domain",
    "Training": "domain",
    "Unavailable": "errors",
    "UnsafeArtifact": "errors",
    "VerifyReport": "domain",
    "Version": "domain",
    "VersionSummary": "domain",
    "as_signature": "contract",
    "diff_contracts": "contract_diff",
    "infer_signature": "contract",
    "parse_signature": "contract",
}

__version__ = "0.1.0"

__all__ = [
    "Alias",
    "AliasEvent",
    "AlreadyExists",
    "Artifact",
    "CodeRef",
    "Conflict",
    "ContractDiff",
    "DataRef",
    "Environment",
    "EnvironmentDrift",
    "FeatureSetRef",
    "FieldChange",
    "FieldSpec",
    "Impact",
    "IncompleteMetadata",
    "IntegrityError",
    "InvalidInput",
    "InvalidQuery",
    "Lineage",
    "LineageGraph",
    "LockfileRef",
    "Metric",
    "Model",
    "ModelbookError",
    "NotFound",
    "Page",
    "Problem",
    "Registry",
    "Runtime",
    "SampleRef",
    "Schema",
    "Signature",
    "Stage",
    "Training",
    "Unavailable",
    "UnsafeArtifact",
    "VerifyReport",
    "Version",
    "VersionSummary",
    "__version__",
    "as_signature",
    "diff_contracts",
    "infer_signature",
    "parse_signature",
]


# Hidden from type checkers, which see the imports above instead: a misspelt
# name is then an error to them, not ``Any``.
if not _typing.TYPE_CHECKING:

    def __getattr__(name):
        source = _SOURCES.get(name)
        if source is not None:
            value = getattr(_importlib.import_module(f".{source}", __name__), name)
        elif name.isidentifier() and not name.startswith("_") and _is_submodule(name):
            # A submodule (``modelbook.errors``), as an eager package would have it.
            value = _importlib.import_module(f".{name}", __name__)
        else:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        globals()[name] = value
        return value


def _is_submodule(name: str) -> bool:
    import importlib.util  # only here: it costs a command's start-up 2 ms

    return importlib.util.find_spec(f"{__name__}.{name}") is not None


def __dir__() -> list[str]:
    return sorted({n for n in globals() if not n.startswith("_")} | set(__all__))
