"""The audit log's integrity rules: canonical encoding, hash chains, verification.

Pure functions over plain values; the store feeds them rows.

Each event is encoded canonically with RFC 8785 (JSON Canonicalization
Scheme, via the ``rfc8785`` package) and the encoding is stored beside the
event's queryable columns. An event's hash is
``sha256(previous hash (32 bytes) || canonical encoding)``, so each hash
covers the whole history of its chain before it; the first event of a chain
follows :data:`GENESIS`. One chain per model and one for registry-wide
events: writers on different models never wait for each other.

Verification re-reads every chain in order and checks, for each event, that
its position follows the previous one, that it names the previous hash, that
its hash is right, and that its columns say what its encoding says. A head
digest (``audit head``) commits to every chain's last hash at one moment;
checking a later history against it proves nothing before that moment was
changed, even by someone who rewrote the table and recomputed every hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import rfc8785

from .errors import InvalidInput

GENESIS = "0" * 64
# ``json.loads`` without its wrappers: an encoding is canonical, so it has no
# whitespace around it, and verification parses a million of them.
_decode = json.JSONDecoder().raw_decode
_HEAD_PREFIX = "h1"

#: The fields an event's encoding covers, besides ``before``, ``after``,
#: ``subject`` and ``reason``, which live in the encoding only.
COLUMNS = ("chain", "seq", "at", "actor", "action", "model", "version")


def canonical(fields: Mapping[str, Any]) -> bytes:
    """The RFC 8785 encoding of an event's fields (plain JSON values; ``at`` in microseconds)."""
    return rfc8785.dumps(dict(fields))


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

    Feed every stored event with :meth:`feed`, then every stored chain head
    with :meth:`check_head`; :attr:`breaks` holds at most one break per chain.
    """

    def __init__(self) -> None:
        self._last: dict[str, tuple[int, str]] = {}
        self._last_id: dict[str, int] = {}
        self._broken: dict[str, Break] = {}
        self.events = 0

    @property
    def breaks(self) -> list[Break]:
        return list(self._broken.values())

    def feed(
        self,
        event_id: int,
        columns: tuple[Any, ...],
        encoded: str,
        prev_hash: str,
        hash_: str,
    ) -> None:
        """One stored event: its id, its ``COLUMNS`` values, encoding and hashes."""
        self.events += 1
        chain, seq = columns[0], columns[1]
        if chain in self._broken:
            return
        last_seq, last_hash = self._last.get(chain, (0, GENESIS))
        problem = None
        if seq != last_seq + 1:
            problem = f"expected position {last_seq + 1} after {last_seq}: " + (
                "an event is missing" if seq > last_seq + 1 else "events were reordered"
            )
        elif prev_hash != last_hash:
            problem = (
                "it does not name the previous event's hash (an event was removed or replaced)"
            )
        elif chain_hash(prev_hash, encoded.encode("utf-8")) != hash_:
            problem = "its hash does not match its content (the event was edited)"
        else:
            try:
                parsed, end = _decode(encoded)
                stored = tuple(map(parsed.get, COLUMNS)) if end == len(encoded) else ()
            except (ValueError, AttributeError):
                stored = ()
            if stored != tuple(columns):
                problem = "its columns differ from its hashed content (a column was edited)"
            elif event_id <= self._last_id.get(chain, 0):
                # Within a chain, events are appended under one lock, so ids
                # grow with positions; a smaller id means rows were renumbered.
                problem = "its id is not after the previous event's (events were reordered)"
        if problem is not None:
            self._broken[chain] = Break(chain, seq, event_id, problem)
            return
        self._last[chain] = (seq, hash_)
        self._last_id[chain] = event_id

    def check_head(self, chain: str, seq: int, hash_: str) -> None:
        """A chain's recorded head: its last event must be exactly that one."""
        if chain in self._broken:
            return
        last_seq, last_hash = self._last.get(chain, (0, GENESIS))
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
    ):
        raise InvalidInput(
            f"invalid head {str(text)[:100]!r}: expected h1:ID:COUNT:SHA256 as printed by "
            "`modelbook audit head`"
        )
    return int(parts[1]), int(parts[2]), parts[3]
