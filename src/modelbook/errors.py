"""The one exception hierarchy of modelbook.

Every error a caller can meet derives from :class:`ModelbookError`; foreign
errors (SQLAlchemy, fsspec, OS) are translated where they are caught, so no
driver exception escapes the public API.

    ModelbookError
    ├── NotFound            model, version, alias, artifact or page token unknown
    ├── AlreadyExists       a name or semver that is already taken
    ├── Conflict            a concurrent change won (e.g. ``expect`` did not hold)
    ├── InvalidInput        bad name, metric, key=value, semver, path ...
    ├── IntegrityError      a stored artifact is missing or does not match its hash,
    │                       a stored row cannot be read, or the audit log was altered
    ├── Unavailable         the database or the blob store cannot be reached, or stayed busy
    ├── GateFailed          a stage transition was refused by its gate's checks
    ├── PermissionDenied    the actor lacks the role an operation needs
    └── UnsafeArtifact      a pickle-based artifact would run code on load, or pickles are off

Each class carries the CLI exit code for its kind.
"""

from __future__ import annotations


class ModelbookError(Exception):
    """Base of every modelbook error."""

    exit_code = 1
    kind = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(ModelbookError):
    exit_code = 3
    kind = "not_found"


class AlreadyExists(ModelbookError):
    exit_code = 4
    kind = "already_exists"


class Conflict(ModelbookError):
    exit_code = 5
    kind = "conflict"


class InvalidInput(ModelbookError):
    exit_code = 6
    kind = "invalid_input"


class IntegrityError(ModelbookError):
    exit_code = 7
    kind = "integrity"


class Unavailable(ModelbookError):
    exit_code = 8
    kind = "unavailable"


class GateFailed(ModelbookError):
    """A promotion or deploy refused by its gate; ``failures`` names each failing check."""

    exit_code = 9
    kind = "gate_failed"

    def __init__(self, message: str, failures: tuple[object, ...] = ()) -> None:
        super().__init__(message)
        self.failures = failures


class PermissionDenied(ModelbookError):
    exit_code = 10
    kind = "permission_denied"


class UnsafeArtifact(ModelbookError):
    """A load refused: a scanned pickle imports something that runs code, it could not be
    scanned, or loading pickles is turned off (``MODELBOOK_ALLOW_PICKLE=0``)."""

    exit_code = 11
    kind = "unsafe_artifact"


class EnvironmentDrift(ModelbookError):
    """A load refused because the current Python or framework versions differ from those
    the version was registered with, under ``MODELBOOK_ENV_DRIFT=refuse``."""

    exit_code = 12
    kind = "environment_drift"


ERROR_KINDS: tuple[type[ModelbookError], ...] = (
    NotFound,
    AlreadyExists,
    Conflict,
    InvalidInput,
    IntegrityError,
    Unavailable,
    GateFailed,
    PermissionDenied,
    UnsafeArtifact,
    EnvironmentDrift,
)
