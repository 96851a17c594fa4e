"""The audit log service: appends one event per mutation, reads, verifies and proves it."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.engine import Connection

from .. import audit, audit_compare, audit_records, audit_state, paging, validation
from ..domain import Page, thaw
from ..errors import IntegrityError, InvalidInput, NotFound
from ..events import ACTIONS, REGISTRY_CHAIN, Event, model_chain, parse
from ..store import annotations as note_rows
from ..store import audit_state as state_rows
from ..store import event_ids
from ..store import events as event_rows
from ..store import models as model_rows
from ..store.rows import to_dt, to_us
from . import audit_partition as partition
from .base import Context, readable


@dataclass(frozen=True, slots=True)
class Head:
    """The head of one chain inside a write: where the next event goes."""

    chain: str
    seq: int
    hash: str
    model_id: int | None = None
    #: The id of the next event, read with the chain's lock (see ``store.event_ids``).
    next_id: int | None = None

    @classmethod
    def of_model(cls, name: str, row: Any) -> Head:
        """The head of a model's chain, from a row with its id, ``event_seq`` and ``event_hash``
        (and, from a locking lookup, the next event's id)."""
        model_id = getattr(row, "model_id", None) or row.id
        next_id = getattr(row, event_ids.NEXT_ID, None)
        return cls(
            model_chain(name), int(row.event_seq), str(row.event_hash), int(model_id), next_id
        )


def registry_head(conn: Connection) -> Head:
    """Lock and read the registry-wide chain's head (policy, roles, gc)."""
    seq, hash_, next_id = event_rows.lock_head(conn, REGISTRY_CHAIN, audit.GENESIS)
    return Head(REGISTRY_CHAIN, seq, hash_, None, next_id)


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return thaw(value)


def record(
    conn: Connection,
    head: Head,
    *,
    actor: str,
    at: int,
    action: str,
    subject: str,
    model: str | None = None,
    version: int | None = None,
    before: Any = None,
    after: Any = None,
    reason: str | None = None,
    model_columns: Mapping[str, Any] | None = None,
) -> Head:
    """Append one event after ``head`` in the caller's transaction; returns the new head.

    The caller holds the lock that serialises the chain (the model's row, or
    the registry chain's head row), so positions are consecutive, and the
    event's id, which its encoding holds, is taken under that lock, so ids
    grow with positions.
    ``model_columns``: further columns of the model's row to set in the
    statement that moves its chain head (column: value; a model chain only).
    """
    event_id = event_ids.take(conn, head.next_id)
    fields = {
        "id": event_id,
        "chain": head.chain,
        "seq": head.seq + 1,
        "at": at,
        "actor": actor,
        "action": action,
        "model": model,
        "version": version,
        "subject": subject,
        "before": _plain(before),
        "after": _plain(after),
        "reason": reason,
    }
    encoded = audit.canonical(fields)
    digest = audit.chain_hash(head.hash, encoded)
    event_rows.insert(
        conn,
        {
            "id": event_id,
            **{k: fields[k] for k in event_rows.EVENT_COLUMNS},
            "canonical": encoded.decode("utf-8"),
            "prev_hash": head.hash,
            "hash": digest,
        },
    )
    new = Head(head.chain, head.seq + 1, digest, head.model_id, event_ids.following(conn, event_id))
    if head.model_id is not None:
        model_rows.set_event_head(conn, head.model_id, new.seq, digest, model_columns)
    else:
        if model_columns:
            raise ValueError(f"chain {head.chain!r} is not a model's: no model row to set")
        event_rows.set_head(conn, head.chain, new.seq, digest)
    return new


def event_from_row(row: Any) -> Event:
    try:
        doc = json.loads(row.canonical)
        doc.update(
            id=row.id,
            at=to_dt(row.at),
            prev_hash=row.prev_hash,
            hash=row.hash,
        )
        return parse(doc)
    except (ValueError, TypeError, ValidationError, OverflowError, RecursionError) as exc:
        raise IntegrityError(
            f"audit event {row.id} cannot be read ({str(exc).splitlines()[0]}); "
            "run `modelbook audit verify`"
        ) from None


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of checking every chain of the audit log."""

    events: int
    chains: int
    breaks: tuple[audit.Break, ...]
    head: str
    expected_head_ok: bool | None
    #: Why the expected head does not hold (None when it holds or none was given).
    expected_head_problem: str | None = None
    #: Live records that disagree with the log: annotations (see ``audit_records``),
    #: and the current state of models, versions, aliases, pins, roles and the
    #: policy (see ``audit_state``).
    record_problems: tuple[str, ...] = ()
    #: What the log does not record, so could not be checked: the ids of events
    #: written before events recorded them, and per model the versions registered
    #: before registrations recorded their tags; one sentence each, not a failure.
    unchecked: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.breaks and not self.record_problems and self.expected_head_ok is not False


class AuditService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def events(
        self,
        *,
        model: str | None = None,
        action: str | tuple[str, ...] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[Event]:
        """Events newest first, filtered by model, action(s) and time [since, until).

        Raises InvalidInput (a malformed model name, an unknown action, a bad
        time or page token) and NotFound (``model`` is not and never was a
        model: no row and no event).
        """
        if model is not None:
            validation.model_name(model)
        actions = (action,) if isinstance(action, str) else tuple(action or ())
        for a in actions:
            if a not in ACTIONS:
                raise InvalidInput(f"unknown action {a!r}: choose one of {', '.join(ACTIONS)}")
        for when, what in ((since, "since"), (until, "until")):
            if when is not None and not isinstance(when, datetime):
                raise InvalidInput(f"{what} must be a datetime, got {type(when).__name__}")
        paging.limit(limit)
        # A model's events are its chain, paged by position; the whole log by id.
        chain = None if model is None else model_chain(model)
        kind = "events" if chain is None else "model-events"
        scope = f"{kind}:{model or ''}:{','.join(actions)}"
        before = None if page_token is None else paging.decode(page_token, scope)

        def read(conn: Connection) -> list[Any]:
            found = event_rows.page(
                conn,
                chain=chain,
                actions=actions,
                since=None if since is None else to_us(since),
                until=None if until is None else to_us(until),
                before=before,
                limit=limit + 1,
            )
            if model is not None and not found and not _model_known(conn, model):
                # An empty page for a name that never was a model would read as "no
                # events"; a model's row is never deleted, but its events outlive it.
                raise NotFound(f"model {model!r} not found")
            return found

        rows = self.ctx.db.reading(read)
        token = None
        if len(rows) > limit:
            last = rows[limit - 1]
            token = paging.encode(scope, last.id if chain is None else last.seq)
        items, unreadable = readable(event_from_row, rows[:limit])
        return Page(items=items, next_page_token=token, unreadable=unreadable)

    def head(self) -> str:
        """One digest over every chain's head, with the event count (``audit head``)."""
        with self.ctx.db.read() as conn:
            through, count = event_rows.high_water(conn)
            return audit.head_digest(event_rows.heads_through(conn, through), through, count)

    def verify(self, expect_head: str | None = None) -> VerifyResult:
        """Check every chain; with ``expect_head``, also that history up to that head is intact."""
        expected = None if expect_head is None else audit.parse_head(expect_head)
        partition.processes()  # a bad setting is refused before the database is read
        replay = audit_state.Replay()
        checker = partition.verifier(replay)
        with self.ctx.db.read() as conn:
            through, count = event_rows.high_water(conn)
            heads = event_rows.heads(conn)
            uri = self.ctx.db.shared_uri()
            split = None
            if uri is not None:
                # This process also reads the live state and compares half of it while
                # the second one walks: worth about half a walked event per version.
                split = partition.boundary(
                    heads, count, extra=lambda: state_rows.versions_count(conn) // 2
                )
            helper = None if split is None else partition.start(uri or "", through, split)
            for rows in event_rows.walk(conn, through, stop=split if helper else None):
                checker.feed(rows)
            # The live state, in the same view as the log: each change was written with
            # its event.
            live = state_rows.live(conn)
            comparison = audit_compare.Comparison()
            mine: set[str] | None = None
            if helper is not None:
                # While the second process works: the state of the chains walked here
                # (their heads are checked, and recorded, with the others below).
                mine = set(checker.stored)
                broken = {b.chain for b in checker.breaks}
                broken |= {c for c, seq, h in heads if c in mine and not checker.ends_at(c, seq, h)}
                audit_compare.compare(replay, live, broken, mine.__contains__, comparison)
                found = partition.finish(helper, checker.stored, count - checker.events)
                if found is None:
                    for rows in event_rows.walk(conn, through, start=split or ""):
                        checker.feed(rows)
                else:
                    checker.absorb(found.model_dump(exclude={"state"}))
                    replay.absorb(found.state)
            for chain, seq, hash_ in heads:
                checker.check_head(chain, seq, hash_)
            broken = {b.chain for b in checker.breaks}

            def unchecked(row: tuple[Any, ...]) -> str | None:
                # An annotation of a broken chain: its event may follow the break.
                return f"models:/{row[1]}" if model_chain(row[1]) in broken else None

            record_problems = audit_records.compare(
                checker.records, checker.more_records, _records(conn), _describe, unchecked
            )
            rest = None if mine is None else (lambda chain: chain not in mine)
            audit_compare.compare(replay, live, broken, rest, comparison)
            record_problems += comparison.disagreements()
            # The digest over each chain's last stored event, which is what ``head``
            # reads with ``heads_through``, taken from the walk instead of a second scan.
            head = audit.head_digest(
                [(chain, seq, hash_) for chain, (seq, hash_) in checker.stored.items()],
                through,
                count,
            )
            expected_ok = problem = None
            if expected is not None and expect_head is not None:
                at_id = expected[0]
                if at_id > through:
                    expected_ok = False
                    problem = (
                        f"the head names event {at_id} but the log ends at event {through}: "
                        "later events were removed, or the head is from another registry"
                    )
                else:
                    then = audit.head_digest(
                        event_rows.heads_through(conn, at_id),
                        at_id,
                        event_rows.count_through(conn, at_id),
                    )
                    expected_ok = then == expect_head.strip()
                    if not expected_ok:
                        problem = (
                            f"the history up to event {at_id} no longer matches that head "
                            "(an event before it was edited, removed or added)"
                        )
        return VerifyResult(
            events=checker.events,
            chains=len(heads),
            breaks=tuple(checker.breaks),
            head=head,
            expected_head_ok=expected_ok,
            expected_head_problem=problem,
            record_problems=tuple(record_problems),
            unchecked=(*_unproven_ids(checker.unproven_ids), *comparison.unchecked()),
        )


def _unproven_ids(count: int) -> tuple[str, ...]:
    """The sentence counting events whose ids their encodings do not hold, if any."""
    if not count:
        return ()
    events = "1 event" if count == 1 else f"{count} events"
    return (
        f"the ids of {events} could not be checked: they were written before events "
        "recorded their id in their hashed content, so their order among other chains' "
        "events is not proven (their order within their own chain is)",
    )


def _records(conn: Connection) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """(identity, row) of every annotation."""
    note_key = audit_records.note_key
    for note in note_rows.all_for_audit(conn):
        _, model, number, _, actor, at, body = note
        try:
            key = note_key(model, number, actor, at, body)
        except ValueError:  # a body that is not JSON matches no event
            key = 0
        yield key, note


def _describe(row: tuple[Any, ...]) -> str:
    """A row of :func:`_records` named for a person."""
    note_id, model, number, kind, actor, _, _ = row
    return f"annotation {note_id} ({kind} by {actor}) of models:/{model}/{number}"


def _model_known(conn: Connection, name: str) -> bool:
    """Whether ``name`` is a model, or was one: its row, or any event of its chain."""
    if model_rows.find(conn, name) is not None:
        return True
    return bool(
        event_rows.page(
            conn,
            chain=model_chain(name),
            actions=(),
            since=None,
            until=None,
            before=None,
            limit=1,
        )
    )


def subject_of(model: str, version: int | None = None, alias: str | None = None) -> str:
    if alias is not None:
        return f"models:/{model}@{alias}"
    return f"models:/{model}" if version is None else f"models:/{model}/{version}"
