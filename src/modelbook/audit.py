"""The audit log's integrity rules: canonical encoding, hash chains, verification.

Pure functions over plain values; the store feeds them rows.

Each event is encoded canonically with RFC 8785 (JSON Canonicalization
Scheme, via the ``rfc8785`` package) and the encoding is stored beside the
event's queryable columns. An event's hash is
``sha256(previous hash (32 bytes) || canonical encoding)``, so each hash
covers the whole history of its chain before it; the first event of a chain
follows :data:`GENESIS`. One chain per model and one for registry-wide
events: writers on different models never wait for each other.

An event's encoding also holds its id, the event's place in the whole log
(ids are taken from one sequence, across chains; see
:mod:`modelbook.store.event_ids`), so a row renumbered, or two rows of
different chains swapped, no longer match their hashes. Events written
before encodings held the id have none; their ids are not proven, and
verification counts them.

Verification re-reads every chain in order and checks, for each event, that
its position follows the previous one, that it names the previous hash, that
its hash is right, that its columns say what its encoding says, and that its
id is the one its encoding holds. A head digest (``audit head``) commits to
every chain's last hash at one moment; checking a later history against it
proves nothing before that moment was changed, even by someone who rewrote
the table and recomputed every hash.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import Any

import orjson
import rfc8785

from .errors import InvalidInput

GENESIS = "0" * 64
_NO_ID = object()
_HEAD_PREFIX = "h1"
_MAX_ID = 2**63 - 1

#: The fields an event's encoding covers, besides ``before``, ``after``,
#: ``subject`` and ``reason``, which live in the encoding only.
COLUMNS = ("chain", "seq", "at", "actor", "action", "model", "version")
#: A stored event as verification reads it.
ROW = ("id", *COLUMNS, "canonical", "prev_hash", "hash")


_pick_columns = itemgetter(*COLUMNS)


def _parsed(encoded: str) -> dict[str, Any] | None:
    """An encoding as a JSON object, or None when it is not one.

    Parsed by orjson: verification parses a million encodings, and the standard
    library's parser takes twice as long. Both read JSON's integers and strings
    to the same values, and the columns hold nothing else.
    """
    try:
        parsed = orjson.loads(encoded)
    except orjson.JSONDecodeError:
        return None
    return parsed if type(parsed) is dict else None


def _columns_of(parsed: dict[str, Any] | None) -> tuple[Any, ...] | None:
    """The :data:`COLUMNS` values an encoding holds; None unless it holds every one of
    them (every event is written with all of them, null or not)."""
    if parsed is None:
        return None
    try:
        return _pick_columns(parsed)  # type: ignore[no-any-return]
    except KeyError:
        return None


def canonical(fields: Mapping[str, Any]) -> bytes:
    """The RFC 8785 encoding of an event's fields (plain JSON values; ``at`` in microseconds).

    The ``rfc8785`` package is the reference; it is pure Python and takes about
    40 us for an event here. orjson writes the same bytes in about 1 us for what
    RFC 8785 leaves to plain JSON: strings (escaped alike), integers within
    +-(2**53 - 1), booleans, null, lists and objects with keys sorted. Two parts
    differ, and stay with the reference: a float is written by ``rfc8785`` in
    ECMAScript's number form and embedded as an orjson fragment, and a document
    with a key outside ASCII (RFC 8785 orders keys by UTF-16 code units) or a
    value of any other type is encoded by ``rfc8785`` whole, which also raises
    its errors for what it refuses. ``tests/test_canonical.py`` checks that the
    two agree.
    """
    try:
        return orjson.dumps(_prepared(fields), option=_ORJSON_OPTIONS)
    except (_NotPlain, orjson.JSONEncodeError):
        return rfc8785.dumps(dict(fields))


_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER


class _NotPlain(Exception):
    """A value the fast path leaves to ``rfc8785``."""


def _prepared(value: Any) -> Any:
    """``value`` with each float replaced by its RFC 8785 text as an orjson fragment."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        if not math.isfinite(value):
            raise _NotPlain  # the reference refuses it, in its own order of checks
        return orjson.Fragment(rfc8785.dumps(value))
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if type(key) is not str or not key.isascii():
                raise _NotPlain
            out[key] = _prepared(item)
        return out
    if isinstance(value, (list, tuple)):
        return [_prepared(item) for item in value]
    raise _NotPlain


def chain_hash(prev_hash: str, encoded: bytes) -> str:
    """The hash of an event that follows ``prev_hash`` (hex) and encodes as ``encoded``."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + encoded).hexdigest()


@dataclass(frozen=True, slots=True)
class Break:
    """The first event of a chain that does not verify, and what is wrong with it."""

    chain: str
    seq: int
    event_id: int | None
    problem: str

    def __str__(self) -> str:
        where = f"event {self.event_id}" if self.event_id is not None else "the chain head"
        return f"chain {self.chain!r} breaks at position {self.seq} ({where}): {self.problem}"


class ChainVerifier:
    """Checks events fed in chain order (chain, then position) and records the first break.

    Feed every stored event with :meth:`feed`, a page at a time, then every
    stored chain head with :meth:`check_head`; :attr:`breaks` holds at most
    one break per chain, and :attr:`stored` each chain's last event as
    stored (position, hash), whether or not it verifies.
    """

    def __init__(
        self,
        record_key: Callable[[dict[str, Any]], int | None] | None = None,
        keyed_actions: frozenset[str] = frozenset(),
        replay: Mapping[str, Callable[[dict[str, Any], int], None]] | None = None,
    ) -> None:
        """``record_key``: for events whose action is in ``keyed_actions``, the identity
        of the record the event describes (see :mod:`modelbook.audit_records`); each
        verified one is kept in :attr:`records` with the event's id.

        ``replay``: by action, what to call with each verified event of that
        action (its parsed encoding, and its id), in chain order (see
        :mod:`modelbook.audit_state`); none of them keyed.
        """
        self._last: dict[str, tuple[int, str, int]] = {}  # chain: (position, hash, id)
        self._broken: dict[str, Break] = {}
        self.stored: dict[str, tuple[int, str]] = {}
        self.events = 0
        #: Events whose encoding holds no id (written before encodings held it).
        self.unproven_ids = 0
        self._record_key = record_key
        self._keyed = keyed_actions if record_key is not None else frozenset()
        replay = dict(replay or {})
        if self._keyed & replay.keys():
            raise ValueError("an action is both keyed and replayed")
        # One lookup per event decides whether either applies: an action's replay,
        # or None for a keyed one.
        self._hooks: dict[str, Callable[[dict[str, Any], int], None] | None] = {
            **dict.fromkeys(self._keyed),
            **replay,
        }
        #: Identity of a described record → the id of the event describing it; a
        #: second event with the same identity (the same move made twice in one
        #: microsecond) goes to :attr:`more_records`.
        self.records: dict[int, int] = {}
        self.more_records: list[tuple[int, int]] = []

    @property
    def breaks(self) -> list[Break]:
        return list(self._broken.values())

    def feed(self, rows: Iterable[Sequence[Any]]) -> None:
        """Stored events in chain order, each a row of :data:`ROW`.

        A million events go through here, so the loop keeps each chain's state
        in local names and reads a chain's dictionaries once per run of its
        events rather than once per event.
        """
        sha256, fromhex = hashlib.sha256, bytes.fromhex
        broken, last, stored = self._broken, self._last, self.stored
        record_key, records, hooks = self._record_key, self.records, self._hooks
        unproven = 0
        for chain, run in groupby(rows, itemgetter(1)):
            prev_seq, prev_hash, prev_id = last.get(chain, (0, GENESIS, 0))
            problem = broken.get(chain)
            seq: Any = None
            hash_: Any = None
            count = 0
            for event_id, _, seq, at, actor, action, model, version, encoded, linked, hash_ in run:
                count += 1
                if problem is not None:
                    continue
                if seq != prev_seq + 1:
                    why = f"expected position {prev_seq + 1} after {prev_seq}: " + (
                        "an event is missing"
                        if isinstance(seq, int) and seq > prev_seq + 1
                        else "events were reordered"
                    )
                elif linked != prev_hash:
                    why = (
                        "it does not name the previous event's hash "
                        "(an event was removed or replaced)"
                    )
                elif type(encoded) is not str:
                    why = "its encoding is not text (the event was edited)"
                elif sha256(fromhex(prev_hash) + encoded.encode()).hexdigest() != hash_:
                    why = "its hash does not match its content (the event was edited)"
                elif _columns_of(parsed := _parsed(encoded)) != (
                    chain,
                    seq,
                    at,
                    actor,
                    action,
                    model,
                    version,
                ):
                    why = "its columns differ from its hashed content (a column was edited)"
                elif (
                    hashed_id := parsed.get("id", _NO_ID)  # type: ignore[union-attr]
                ) != event_id and hashed_id is not _NO_ID:
                    why = (
                        f"it was written as event {str(hashed_id)[:40]} "
                        "(events were renumbered or moved)"
                    )
                elif event_id <= prev_id:
                    # Within a chain, events are appended under one lock, so ids
                    # grow with positions; a smaller id means rows were renumbered.
                    why = "its id is not after the previous event's (events were reordered)"
                else:
                    prev_seq, prev_hash, prev_id = seq, hash_, event_id
                    if hashed_id is _NO_ID:
                        unproven += 1
                    if action in hooks:
                        replay = hooks[action]
                        if replay is not None:
                            replay(parsed, event_id)  # type: ignore[arg-type]
                            continue
                        key = record_key(parsed)  # type: ignore[misc,arg-type]
                        if key is None:
                            pass
                        elif key in records:
                            self.more_records.append((key, event_id))
                        else:
                            records[key] = event_id
                    continue
                problem = broken[chain] = Break(chain, seq, event_id, why)
            self.events += count
            last[chain] = (prev_seq, prev_hash, prev_id)
            if seq is not None:
                stored[chain] = (seq, hash_)
        self.unproven_ids += unproven

    def export(self) -> dict[str, Any]:
        """What this verifier found, as JSON data for :meth:`absorb` in another process."""
        return {
            "events": self.events,
            "unproven_ids": self.unproven_ids,
            "last": self._last,
            "broken": [[b.chain, b.seq, b.event_id, b.problem] for b in self._broken.values()],
            "stored": self.stored,
            "records": list(self.records.items()),
            "more_records": self.more_records,
        }

    def absorb(self, found: Mapping[str, Any]) -> None:
        """Add what a verifier of chains after all of this one's found (:meth:`export`).

        The result is what one verifier fed both walks in turn would hold.
        """
        self.events += int(found["events"])
        self.unproven_ids += int(found["unproven_ids"])
        for chain, (seq, hash_, event_id) in found["last"].items():
            self._last[chain] = (int(seq), str(hash_), int(event_id))
        for chain, seq, event_id, problem in found["broken"]:
            self._broken[chain] = Break(chain, seq, event_id, problem)
        for chain, (seq, hash_) in found["stored"].items():
            self.stored[chain] = (int(seq), str(hash_))
        for key, event_id in found["records"]:
            if key in self.records:
                self.more_records.append((key, event_id))
            else:
                self.records[key] = event_id
        self.more_records.extend((key, event_id) for key, event_id in found["more_records"])

    def ends_at(self, chain: str, seq: int, hash_: str) -> bool:
        """Whether a chain verified so far, up to its last event, and that event is the
        recorded head (position, hash): what :meth:`check_head` checks, not recorded."""
        return chain not in self._broken and self._last.get(chain, (0, GENESIS, 0))[:2] == (
            seq,
            hash_,
        )

    def check_head(self, chain: str, seq: int, hash_: str) -> None:
        """A chain's recorded head: its last event must be exactly that one."""
        if chain in self._broken:
            return
        last_seq, last_hash, _ = self._last.get(chain, (0, GENESIS, 0))
        if (last_seq, last_hash) != (seq, hash_):
            problem = (
                f"the chain ends at position {last_seq} but its head records position {seq}"
                if last_seq != seq
                else "the last event's hash differs from the recorded head"
            )
            self._broken[chain] = Break(
                chain, last_seq + 1 if last_seq < seq else seq, None, problem
            )


def head_digest(heads: Iterable[tuple[str, int, str]], through_id: int, count: int) -> str:
    """One digest over every chain's last (position, hash) among events with id <= ``through_id``.

    Written ``h1:THROUGH_ID:COUNT:SHA256``: the id and count say which part
    of the history it commits to, so it can be checked again later.
    """
    digest = hashlib.sha256()
    for chain, seq, hash_ in sorted(heads):
        digest.update(f"{chain}\t{seq}\t{hash_}\n".encode())
    return f"{_HEAD_PREFIX}:{through_id}:{count}:{digest.hexdigest()}"


def parse_head(text: str) -> tuple[int, int, str]:
    """(through id, count, digest) of a head written by :func:`head_digest`."""
    parts = text.strip().split(":") if isinstance(text, str) else []
    if (
        len(parts) != 4
        or parts[0] != _HEAD_PREFIX
        or not parts[1].isdigit()
        or not parts[2].isdigit()
        or len(parts[3]) != 64
        or not all(c in "0123456789abcdef" for c in parts[3])
        # Ids and counts are the database's 64-bit integers.
        or max(len(parts[1]), len(parts[2])) > 19
        or max(int(parts[1]), int(parts[2])) > _MAX_ID
    ):
        raise InvalidInput(
            f"invalid head {str(text)[:100]!r}: expected h1:ID:COUNT:SHA256 as printed by "
            "`modelbook audit head`"
        )
    return int(parts[1]), int(parts[2]), parts[3]
