"""A stored version read back: its record (the JSON frozen at registration) and
its row's own columns, validated into a :class:`~modelbook.domain.Version`.

A row that cannot be read (damaged or edited by hand) raises
:class:`~modelbook.errors.IntegrityError` naming the version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError, create_model
from pydantic_core import from_json
from sqlalchemy.engine import Row

from ..domain import Frozen, Version, VersionSummary
from ..errors import IntegrityError
from .rows import to_dt

# The fields of a Version that come from its row's own columns, not its stored record.
_ROW_FIELDS = frozenset(
    {"model", "number", "semver", "stage", "tags", "created_at", "created_by"}
    | {"aliases", "deprecated"}
)
# A version's stored record: the other fields of Version, with Version's own
# types and defaults, so that the two cannot drift apart. The contract alone is
# kept as parsed (a JSON object): the record's values go through Version's
# validation next, which freezes it, so a large contract is walked once, not twice.
_STORED_FIELDS: dict[str, Any] = {
    name: (info.annotation, info)
    for name, info in Version.model_fields.items()
    if name not in _ROW_FIELDS
}
_STORED_FIELDS["contract"] = (dict[str, Any] | None, None)
_Stored: type[Frozen] = create_model("_Stored", __base__=Frozen, **_STORED_FIELDS)
# The fields of a Version that change after registration, as Version types them.
_MUTABLE_FIELDS: dict[str, Any] = {
    name: (Version.model_fields[name].annotation, Version.model_fields[name])
    for name in ("stage", "tags", "aliases", "deprecated")
}
_Mutable: type[Frozen] = create_model("_Mutable", __base__=Frozen, **_MUTABLE_FIELDS)
# What model_validate_json and model_validate call, without their Python wrapper:
# every cold read goes through both, once per version on a page.
_read_record: Callable[[str | bytes], Frozen] = _Stored.__pydantic_validator__.validate_json
_read_version: Callable[[dict[str, Any]], Version] = Version.__pydantic_validator__.validate_python
_read_summary: Callable[[dict[str, Any]], VersionSummary] = (
    VersionSummary.__pydantic_validator__.validate_python
)


def stored_record(model: str, row: Row[Any]) -> Frozen:
    """The version's stored record, parsed and validated in one pass over its JSON text
    (``validate_json``, into read-only values: no ``json.loads``, no separate freeze
    pass). Raises :class:`IntegrityError` naming the version when it cannot be read (a
    damaged or hand-edited row)."""
    try:
        return _read_record(row.doc)
    except (ValueError, TypeError, ValidationError, OverflowError, RecursionError) as exc:
        raise _unreadable(model, row, exc) from None


def version_from_row(model: str, row: Row[Any]) -> Version:
    """Parse and validate one stored version.

    Its :func:`stored_record` is parsed, and the row's own columns are then
    validated with it into the :class:`Version`, whose nested values, already
    validated, are taken as they are. Raises :class:`IntegrityError` naming
    the version when the row cannot be read (a damaged or hand-edited row).
    """
    record = stored_record(model, row)
    try:
        values = record.__dict__.copy()
        values.update(_columns(model, row))
        return _read_version(values)
    except (ValueError, TypeError, ValidationError, OverflowError, RecursionError) as exc:
        raise _unreadable(model, row, exc) from None


def summary_from_row(model: str, row: Row[Any]) -> VersionSummary:
    """The :class:`VersionSummary` of one stored version: its row's own columns,
    validated as :func:`version_from_row` validates them; the stored record is not
    read. Raises :class:`IntegrityError` naming the version when a column cannot be
    read."""
    try:
        return _read_summary(_columns(model, row))
    except (ValueError, TypeError, ValidationError, OverflowError, RecursionError) as exc:
        raise _unreadable(model, row, exc) from None


def with_row_changes(version: Version, row: Row[Any]) -> Version:
    """``version`` with the columns of ``row`` that change after registration (tags,
    stage, aliases, deprecation), validated as :func:`version_from_row` validates
    them; its frozen part, already validated, is shared. ``row`` must be the row of
    that version. Raises :class:`IntegrityError` naming the version when the row's
    columns cannot be read."""
    try:
        changed = _Mutable.model_validate(_mutable_columns(row))
    except (ValueError, TypeError, ValidationError, OverflowError, RecursionError) as exc:
        raise _unreadable(version.model, row, exc) from None
    return version.model_copy(update=changed.__dict__)


def _mutable_columns(row: Row[Any]) -> dict[str, Any]:
    """The fields of a version that change after registration, as its row holds them."""
    return {
        "stage": row.stage,
        "tags": from_json(row.tags),
        "aliases": tuple(sorted(row.aliases.split(","))) if row.aliases else (),
        "deprecated": row.deprecated_at is not None,
    }


def _columns(model: str, row: Row[Any]) -> dict[str, Any]:
    """The fields of a version its row's own columns hold (:data:`_ROW_FIELDS`)."""
    return {
        "model": model,
        "number": row.number,
        "semver": row.semver,
        "created_at": to_dt(row.created_at),
        "created_by": row.created_by,
        **_mutable_columns(row),
    }


def _unreadable(model: str, row: Row[Any], exc: BaseException) -> IntegrityError:
    return IntegrityError(
        f"version models:/{model}/{row.number} is stored but cannot be read "
        f"({_why(exc)}); its row was damaged or edited"
    )


def _why(exc: BaseException) -> str:
    """The first thing wrong: for a validation error, the field and its error (a rule's
    own message before a pattern's, which says less)."""
    if isinstance(exc, ValidationError) and exc.error_count():
        errors = exc.errors()
        first = next((e for e in errors if e["type"] == "value_error"), errors[0])
        where = ".".join(str(p) for p in first["loc"] if not str(p).startswith("function-"))
        message = str(first["msg"]).removeprefix("Value error, ")
        return f"{where}: {message}" if where else message
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
