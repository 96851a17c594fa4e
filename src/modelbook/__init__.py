"""modelbook: a model registry of immutable, reproducible model versions.

The public API is what this module names; everything else is internal.
"""

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
