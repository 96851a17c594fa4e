"""The registry's live state as :func:`modelbook.audit_compare.compare` reads it
(:class:`Live`, each table read once by ``store.audit_state``), and the sentences
that name where a live value and the audit log's disagree."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from .audit_names import shown


@dataclass(frozen=True, slots=True)
class Live:
    """The registry's current state, each table read once (``store.audit_state``).

    Tags come as the JSON text of the row's column and the indexed tags as the
    same text written by the database from their rows: equal when they agree.
    """

    #: (id, name, risk tier, owners as JSON, task, description, tags, indexed tags)
    models: Sequence[tuple[Any, ...]] = ()
    #: (model id, number, stage, deprecated, tags, indexed tags, alias names
    #: joined by commas or None, semver, its major, minor and patch numbers,
    #: created_by, created_at, the file list of its document and that of its
    #: ``artifacts`` rows as JSON text, each or None, and its document as stored)
    versions: Sequence[tuple[Any, ...]] = ()
    #: (model, alias, number, number and model of the version its version id names,
    #: updated_by, updated_at)
    aliases: Sequence[tuple[Any, ...]] = ()
    #: (model, alias, MAJOR)
    pins: Sequence[tuple[Any, ...]] = ()
    #: (actor, role, granted_by, granted_at)
    roles: Sequence[tuple[Any, ...]] = ()
    #: (sha256, format, text) of the policy in force, or None
    policy: tuple[Any, ...] | None = None


def json_value(value: Any) -> Any:
    """A JSON column's value, or its text when it is not JSON (then it matches nothing)."""
    try:
        return orjson.loads(value)
    except (orjson.JSONDecodeError, TypeError):
        return value


_PLURAL = frozenset({"the tags", "the indexed tags", "the owners"})


def changed(
    subject: str,
    what: str,
    live: Any,
    logged: Any,
    event: int | None,
    show: Callable[[Any], str] = shown,
) -> str:
    verb = "are" if what in _PLURAL else "is"
    return (
        f"{subject}: {what} {verb} {show(live)} in the registry but {show(logged)} in the "
        f"audit log (event {event}); it was changed outside modelbook"
    )


def tag_problems(
    subject: str, row_tags: str, indexed: str, logged: Sequence[Any] | None
) -> list[str]:
    """The two live copies of an object's tags against the log's ([value, event], or
    None or a value of None when not known)."""
    known = logged is not None and logged[0] is not None
    if row_tags == indexed and (not known or json_value(row_tags) == logged[0]):  # type: ignore[index]
        return []
    live, index = json_value(row_tags), json_value(indexed)
    if not known:
        if live == index:
            return []
        return [
            f"{subject}: its tags are {shown(live)} but its indexed tags are "
            f"{shown(index)}; one was changed outside modelbook"
        ]
    value, event = logged  # type: ignore[misc]
    problems = []
    if live != value:
        problems.append(changed(subject, "the tags", live, value, event))
    # Both copies changed alike: the sentence above says it.
    if index != value and index != live:
        problems.append(changed(subject, "the indexed tags", index, value, event))
    return problems
