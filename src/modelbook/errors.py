"""The one exception hierarchy of modelbook.

Every error a caller can meet derives from :class:`ModelbookError`; foreign
errors (SQLAlchemy, fsspec, OS) are translated where they are caught, so no
driver exception escapes the public API.

    ModelbookError
    ├── NotFound            model, version, alias, artifact or page token unknown
    ├── AlreadyExists       a name or semver that is already taken
    ├── Conflict            a concurrent change won (e.g. ``expect`` did not hold)
    ├── InvalidInput        bad name, metric, key=value, semver, path ...
    │   └── InvalidQuery    a search query that does not parse or names an unknown field
    ├── IntegrityError      a stored artifact is missing or does not match its hash,
    │                       a stored row cannot be read, or the audit log was altered
    ├── Unavailable         the database or the blob store cannot be reached, or stayed busy
    ├── GateFailed          a stage transition was refused by its gate's checks
    ├── PermissionDenied    the actor lacks the role an operation needs
    ├── UnsafeArtifact      a pickle-based artifact would run code on load, or pickles are off
    ├── EnvironmentDrift    the running environment differs from the version's, under refuse
    └── IncompleteMetadata  a deployed version lacks a checklist field the policy requires

Each class carries the CLI exit code for its kind.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


class ModelbookError(Exception):
    """Base of every modelbook error.

    A message that lists things (the failing checks of a gate, the files of a
    rollback target) is built from parts, never by joining lines by hand: the
    ``summary``, one ``items`` entry per thing, and a ``hint`` saying what to
    do. ``message`` (and ``str``) puts them one a line, items as ``- ITEM``;
    a front end that shows an error on one line joins :meth:`parts` instead.
    Any newline inside a part is then the text's own (a user's note, say) and
    is shown escaped, never taken for a line of the message.
    """

    exit_code = 1
    kind = "error"

    def __init__(self, message: str, *, items: Sequence[str] = (), hint: str | None = None) -> None:
        self.summary = message
        self.items = tuple(items)
        self.hint = hint
        full = "\n".join(
            [message, *(f"- {item}" for item in self.items), *([hint] if hint else [])]
        )
        super().__init__(full)
        self.message = full

    def parts(self) -> tuple[str, ...]:
        """The summary, each item and the hint, in the order the message shows them."""
        return (self.summary, *self.items, *([self.hint] if self.hint else []))

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


class InvalidQuery(InvalidInput):
    """A query that cannot be read: ``column`` (1-based) is where, ``expected`` what
    would have been valid there (terminal names, or the valid fields)."""

    def __init__(self, message: str, *, column: int, expected: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.column = column
        self.expected = expected


class IntegrityError(ModelbookError):
    exit_code = 7
    kind = "integrity"


class Unavailable(ModelbookError):
    exit_code = 8
    kind = "unavailable"


class GateFailed(ModelbookError):
    """A promotion or deploy refused by its gate; ``failures`` names each failing check.

    Its exit code is also the CLI's for a check that fails without raising: a
    rollback drill whose target is not ready, a failed smoke test."""

    exit_code = 9
    kind = "gate_failed"

    def __init__(
        self,
        message: str,
        failures: tuple[object, ...] = (),
        *,
        items: Sequence[str] = (),
        hint: str | None = None,
    ) -> None:
        super().__init__(message, items=items, hint=hint)
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


class IncompleteMetadata(ModelbookError):
    """``modelbook doctor`` found deployed versions that lack checklist fields the policy
    requires (``[doctor] required``); ``missing`` maps each version's URI to those fields."""

    exit_code = 13
    kind = "incomplete_metadata"

    def __init__(self, message: str, missing: dict[str, tuple[str, ...]] | None = None) -> None:
        super().__init__(message)
        self.missing = dict(missing or {})


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
    IncompleteMetadata,
)


def shown(value: object, width: int = 60) -> str:
    """``value`` as an error message shows what a caller gave: its ``repr``, cut to
    ``width`` characters. An integer longer than that is shown by its size: cut, it
    would hide its magnitude, and whole it may not print at all (Python refuses to
    turn one of more than 4,300 digits into text), so a message about a number out
    of range never fails itself."""
    if isinstance(value, int) and not isinstance(value, bool):
        digits = int(value.bit_length() * math.log10(2)) + 1
        if digits > width:
            sign = "a negative" if value < 0 else "an"
            return f"{sign} integer of about {digits:,} digits"
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."
