"""modelbook: a model registry of immutable, reproducible model versions.

The public API is what this module names; everything else is internal.
"""

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
    IntegrityError,
    InvalidInput,
    ModelbookError,
    NotFound,
    Unavailable,
)
from .registry import Registry

__version__ = "0.1.0"

__all__ = [
    "Alias",
    "AliasEvent",
    "AlreadyExists",
    "Artifact",
    "CodeRef",
    "Conflict",
    "DataRef",
    "Environment",
    "FeatureSetRef",
    "IntegrityError",
    "InvalidInput",
    "Lineage",
    "LockfileRef",
    "Metric",
    "Model",
    "ModelbookError",
    "NotFound",
    "Page",
    "Problem",
    "Registry",
    "Stage",
    "Training",
    "Unavailable",
    "VerifyReport",
    "Version",
    "__version__",
]
