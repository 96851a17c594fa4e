"""modelbook: a model registry of immutable, reproducible model versions.

The public API is what this module names; everything else is internal.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from .lineage import Impact, LineageGraph
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
    "Impact": "lineage",
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
    "__version__",
    "as_signature",
    "diff_contracts",
    "infer_signature",
    "parse_signature",
]


def __getattr__(name: str) -> Any:
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{source}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
