"""Aliases: movable pointers to versions, every move kept with who, when and why."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy.engine import Connection

from .. import paging, pins, validation
from ..domain import Alias, AliasEvent
from ..errors import Conflict, NotFound
from ..events import AliasState
from ..store import aliases as alias_rows
from ..store import pins as pin_rows
from . import audit as log
from .base import Context, model_row


def check_expect(name: str, alias: str, current: int | None, expect: int | None) -> None:
    """Refuse a conditional move whose expectation no longer holds."""
    if expect is None:
        return
    actual = 0 if current is None else current
    if actual != expect:
        now_at = "does not exist" if current is None else f"points at version {actual}"
        wanted = "not to exist" if expect == 0 else f"to point at version {expect}"
        raise Conflict(
            f"alias models:/{name}@{alias} {now_at}; expected it {wanted} (someone moved it first?)"
        )


def valid_expect(expect: int | None) -> None:
    if expect is not None and expect != 0:
        validation.version_number(expect, "expected version")


def move(
    conn: Connection,
    head: log.Head,
    *,
    name: str,
    model_id: int,
    alias: str,
    from_number: int | None,
    from_version_id: int | None,
    to_number: int | None,
    to_version_id: int | None,
    actor: str,
    reason: str,
    at: int,
    override: str | None = None,
    pin: KnownPin | None = None,
) -> log.Head:
    """Point (or, with ``to_number`` None, remove) an alias, and record the move as its event.

    ``from_number`` and ``from_version_id``: the version the alias points at now, as
    the caller read it with the model's row locked (None: the alias does not exist).

    Every alias move of every path (set, swap, deploy, rollback) comes here,
    so the contract pin is enforced here: a move to another MAJOR than the
    alias's pin raises InvalidInput unless ``override`` (the reason of an
    explicit ``allow_major``) is given; an overridden move re-pins the alias to
    the new MAJOR and records an ``alias.override`` event. ``pin``: the pin and
    the target's semver when the caller read them with its locked row (see
    :func:`pin_crossing`).
    """
    if to_number is None:
        alias_rows.drop(conn, model_id, alias)
    else:
        assert to_version_id is not None
        head = _check_pin(
            conn,
            head,
            name,
            model_id,
            alias,
            from_number,
            to_number,
            to_version_id,
            actor=actor,
            at=at,
            override=override,
            pin=pin,
        )
        alias_rows.put(
            conn,
            model_id,
            alias,
            version_id=to_version_id,
            number=to_number,
            left=from_version_id,
            at=at,
            actor=actor,
        )
    # The event is the alias's history: ``alias history`` and rollback read it back.
    return log.record(
        conn,
        head,
        actor=actor,
        at=at,
        action="alias.set" if to_number is not None else "alias.delete",
        subject=log.subject_of(name, alias=alias),
        model=name,
        version=to_number if to_number is not None else from_number,
        before=None if from_number is None else AliasState(alias=alias, version=from_number),
        after=None if to_number is None else AliasState(alias=alias, version=to_number),
        reason=reason,
    )


def _check_pin(
    conn: Connection,
    head: log.Head,
    name: str,
    model_id: int,
    alias: str,
    from_number: int | None,
    to_number: int,
    to_version_id: int,
    *,
    actor: str,
    at: int,
    override: str | None,
    pin: KnownPin | None,
) -> log.Head:
    """Apply :func:`modelbook.pins.check_move`; record and re-pin an allowed crossing."""
    crossed = pin_crossing(conn, name, model_id, alias, to_number, to_version_id, override, pin)
    if crossed is None:
        return head
    # The alias now serves the new MAJOR: the pin follows it, so the next
    # compatible release moves without another override.
    pin_rows.put(conn, model_id, alias, crossed.to_major, at=at, actor=actor)
    return log.record(
        conn,
        head,
        actor=actor,
        at=at,
        action="alias.override",
        subject=log.subject_of(name, alias=alias),
        model=name,
        version=to_number,
        before={"alias": alias, "version": from_number, "major": crossed.pinned},
        after={
            "alias": alias,
            "version": to_number,
            "semver": crossed.to_semver,
            "major": crossed.to_major,
        },
        reason=crossed.reason,
    )


def pin_crossing(
    conn: Connection,
    name: str,
    model_id: int,
    alias: str,
    to_number: int,
    to_version_id: int,
    override: str | None,
    known: KnownPin | None = None,
) -> pins.Override | None:
    """What the alias's contract pin says of moving it to a version, read only.

    None when the alias is not pinned or the version keeps its MAJOR; the
    :class:`~modelbook.pins.Override` an allowed crossing records. Raises
    InvalidInput, naming the pin and the way out, for a crossing without
    ``override``. Every alias move and every preview of one (a rollback's dry
    run and drill) asks here, so a preview refuses exactly what the move would.
    ``known``: the pin and the target's semver as the caller read them in this
    transaction (:func:`known_pin`); otherwise they are read here.
    """
    if known is None:
        found = pin_rows.for_move(conn, model_id, alias, to_version_id)
        known = KnownPin(None, "") if found is None else KnownPin(found.major, found.semver)
    if known.major is None:
        return None
    return pins.check_move(name, alias, int(known.major), to_number, str(known.semver), override)


class KnownPin(NamedTuple):
    """An alias's pinned MAJOR (None: not pinned) and the semver of the version it is
    about to point at."""

    major: int | None
    semver: str


def known_pin(target: Any) -> KnownPin:
    """The pin of an :func:`~modelbook.store.aliases.target` row read with a version."""
    return KnownPin(target.pinned, target.semver)


def alias_of(conn: Connection, name: str, model_id: int, alias: str) -> Alias:
    """One alias of a model, read inside the caller's transaction."""
    for a in alias_rows.of_model(conn, name, model_id):
        if a.name == alias:
            return a
    raise NotFound(f"alias models:/{name}@{alias} not found")


class AliasService:
    """Reading aliases and their history; moves go through :mod:`.serving`, which
    applies the serving rule to every move."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def of_model(self, name: str) -> list[Alias]:
        validation.model_name(name)
        return self.ctx.db.reading(
            lambda conn: alias_rows.of_model(conn, name, model_row(conn, name).id)
        )

    def history(self, name: str, alias: str | None = None, *, limit: int = 100) -> list[AliasEvent]:
        """Moves of the model's aliases (or one alias), newest first."""
        validation.model_name(name)
        if alias is not None:
            validation.alias_name(alias)
        paging.limit(limit)

        def read(conn: Connection) -> list[AliasEvent]:
            model_row(conn, name)  # NotFound for a model that does not exist
            return alias_rows.history(conn, name, alias, limit)

        return self.ctx.db.reading(read)
