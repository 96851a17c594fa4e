"""Records that must agree with the audit log: the annotations of versions.

The gates read a version's annotations (approvals, rejections, attestations,
evaluations ...); each is written in the same transaction as the event that
records it, with the same actor, time and content. Chain verification proves
the events unchanged; this module proves the annotations are exactly the ones
the events describe, so a row added, edited or deleted behind modelbook's back
(a forged approval) is found by ``audit verify`` too. (Alias history needs no
such check: it is read from the events themselves.)

Pure functions: :func:`event_key` turns a verified event into the identity of
the annotation it describes, :func:`note_key` turns a stored annotation into
the same identity, and :func:`compare` names every annotation without its
event and every event without its annotation. Identities are 128-bit BLAKE2b
digests of the fields they cover, so that a large log costs a dictionary of
integers, not of their contents, and a second process verifying part of the
log (``services.audit_partition``) computes the same ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from .audit import canonical

#: Actions whose event always comes with one annotation row (``services.notes.record``).
NOTE_ACTIONS = frozenset(
    {
        "version.evaluate",
        "version.approve",
        "version.reject",
        "version.attest",
        "version.comment",
        "version.watch",
        "version.observe",
        "version.healthy",
        "version.drill",
        "version.smoke",
        "version.scan",
    }
)


def _content(value: Any) -> bytes:
    # The event's content was stored in RFC 8785's form (1.0 is written 1), the
    # record's as Python wrote it: both are compared in the canonical form.
    return canonical(value)


def event_key(event: Mapping[str, Any]) -> int | None:
    """The identity of the record a verified event describes (its parsed encoding), or
    None when its action has no record."""
    action = event.get("action")
    if action in NOTE_ACTIONS:
        return _identity(
            event.get("model"),
            event.get("version"),
            event.get("actor"),
            event.get("at"),
            _content(event.get("after")),
        )
    return None


def note_key(model: str, version: int, actor: str, at: int, body: str) -> int:
    """The identity of one annotation row: its version, actor, time and JSON body
    (which repeats actor and time; the event's content is the rest)."""
    content = orjson.loads(body)
    if isinstance(content, dict):
        content = {k: v for k, v in content.items() if k not in ("actor", "at")}
    return _identity(model, version, actor, at, _content(content))


def _identity(model: Any, version: Any, actor: Any, at: Any, content: bytes) -> int:
    # A JSON array is one complete value, so the content that follows cannot blur its end.
    head = orjson.dumps(["note", model, version, actor, at])
    return int.from_bytes(hashlib.blake2b(head + content, digest_size=16).digest())


def compare(
    events: dict[int, int],
    more: list[tuple[int, int]],
    records: Iterable[tuple[int, Any]],
    describe: Callable[[Any], str],
    unchecked: Callable[[Any], str | None] | None = None,
) -> list[str]:
    """Every record without its event and every event without its record.

    Args:
        events: identity → id of the verified event that describes it; consumed.
        more: (identity, event id) of further events with an identity already in
            ``events``.
        records: (identity, record) of each stored record.
        describe: names a record for a person ("annotation 7 (approval by rita) of
            models:/credit/3"); called only for records without their event.
        unchecked: for a record whose event may be among those not verified (its
            chain is broken), what it belongs to ("models:/credit"), else None.
            Such a record without a verified event is not blamed: its event may
            follow the break. One sentence per owner says how many could not be
            checked.

    Returns:
        One sentence a problem, records first, then those that could not be
        checked, then events; empty when they agree.
    """
    extra: dict[int, list[int]] = {}
    for key, event_id in more:
        extra.setdefault(key, []).append(event_id)
    problems = []
    held: dict[str, int] = {}
    for key, record in records:
        if events.pop(key, None) is not None:
            continue
        others = extra.get(key)
        if others:
            others.pop()
            continue
        owner = None if unchecked is None else unchecked(record)
        if owner is not None:
            held[owner] = held.get(owner, 0) + 1
            continue
        problems.append(
            f"{describe(record)} has no event in the audit log "
            "(it was added or edited outside modelbook)"
        )
    problems += [
        f"1 annotation of {owner} could not be checked: the event that would describe it "
        "is not verified (its audit chain is broken)"
        if count == 1
        else f"{count} annotations of {owner} could not be checked: the events that would "
        "describe them are not verified (its audit chain is broken)"
        for owner, count in sorted(held.items())
    ]
    left = sorted([*events.values(), *(i for ids in extra.values() for i in ids)])
    problems += [
        f"event {i} has no record of what it describes "
        "(the record was deleted or edited outside modelbook)"
        for i in left
    ]
    return problems
