"""Verifying a large audit log on two cores: the chains after one boundary in a second process.

Chains verify independently, so ``audit verify`` splits them at one chain
name: this process walks the chains before it while a second one walks the
rest and hands back what it found (:meth:`modelbook.audit.ChainVerifier.export`).
The database orders the chain names on both sides, so the two walks cover
every event exactly once whatever its collation; the boundary is picked from
the chain heads to give each side about half the events. Both read only
events up to the high-water id the first process read, which are committed
and never change, so the two reads see one log.

The second process is the verifier, so it must run this modelbook and
nothing else: it is started isolated (``python -I``: neither the working
directory, nor a script's directory, nor ``PYTHONPATH`` or the user's
site-packages are on its path) with the directory this modelbook was
imported from put first, so a ``modelbook`` package planted where the
auditor stands is never imported. Its answer is checked before it is used
(:func:`accepted`): well-formed, about chains this process did not walk, and
counting exactly the events this process left to it. When the second process
cannot start, fails, or answers anything else, this one walks its chains
too: the result never depends on it.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from .. import audit, audit_records, audit_state
from ..audit_state import ReplayExport
from ..errors import InvalidInput, shown
from ..processes import PACKAGE_ROOT

#: Below this many events a second process costs more (starting Python and
#: importing modelbook, about 0.3 s) than it saves.
MIN_EVENTS = 200_000

_ENV = "MODELBOOK_VERIFY_PROCESSES"


def processes() -> int:
    """How many processes may verify: ``MODELBOOK_VERIFY_PROCESSES``, 1 or 2
    (default 2). InvalidInput naming the variable and its range otherwise."""
    text = os.environ.get(_ENV, "").strip()
    if not text:
        return 2
    if text not in ("1", "2"):
        raise InvalidInput(f"{_ENV} must be a whole number from 1 to 2, got {shown(text)}")
    return int(text)


def boundary(
    heads: Sequence[tuple[str, int, str]], count: int, extra: Callable[[], int] | None = None
) -> str | None:
    """The chain that starts the second half, or None to verify in one process.

    ``heads`` are (chain, position, hash): a chain's position is its number
    of events. ``extra``: what else this process does while the second one
    walks, in walked events (asked for only when there is a second process);
    this process walks that many fewer. ``MODELBOOK_VERIFY_PROCESSES=1`` keeps
    verification in one process.
    """
    if processes() == 1 or count < MIN_EVENTS or (os.cpu_count() or 1) < 2:
        return None
    half, seen = max(count - (extra() if extra else 0), 0) / 2, 0
    for (_, seq, _), (after, _, _) in itertools.pairwise(sorted(heads)):
        seen += seq
        if seen >= half:
            # The chain that reaches half the events stays on this side. The database
            # may order names otherwise (its collation): the halves are then uneven,
            # never wrong.
            return after
    return None


#: What the second process runs: read the request, put this modelbook first on its
#: path, verify. Under ``-I`` its path holds only the standard library and the
#: interpreter's site-packages until then, so the imports before are the standard
#: library's own.
_BOOTSTRAP = (
    "import json, sys\n"
    "request = json.loads(sys.stdin.buffer.read())\n"
    "sys.path.insert(0, request['root'])\n"
    "from modelbook.services.audit_partition import serve\n"
    "serve(request)\n"
)


def command() -> list[str]:
    """The command line of the second process (no request in it)."""
    return [sys.executable, "-I", "-c", _BOOTSTRAP]


def start(uri: str, through_id: int, first_chain: str) -> subprocess.Popen[bytes] | None:
    """Start verifying the chains from ``first_chain`` on in a second process."""
    try:
        proc = subprocess.Popen(
            command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    except OSError:
        return None
    assert proc.stdin is not None
    # The URI may hold a password: it goes through the pipe, not the command line.
    request = {"root": PACKAGE_ROOT, "uri": uri, "through": through_id, "start": first_chain}
    try:
        proc.stdin.write(json.dumps(request).encode())
        proc.stdin.close()
    except OSError:
        proc.kill()
        proc.wait()
        return None
    return proc


_Hash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
_Count = Annotated[int, Field(ge=0)]


class Found(BaseModel):
    """The second process's answer, as :meth:`modelbook.audit.ChainVerifier.export` writes it.

    Strict: a value of another JSON type, a missing or an unknown field is refused.
    """

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    events: _Count
    #: How many of those events' encodings hold no id.
    unproven_ids: _Count
    #: chain: (position, hash, id) of its last verified event.
    last: dict[str, tuple[_Count, _Hash, _Count]]
    #: (chain, position, event id or None, problem) of each broken chain; a position
    #: is as stored, whatever a tamperer wrote.
    broken: list[tuple[str, int, int | None, str]]
    #: chain: (position, hash) of its last stored event, as stored.
    stored: dict[str, tuple[int, str]]
    records: list[tuple[int, _Count]]
    more_records: list[tuple[int, _Count]]
    #: The state its events imply (:meth:`modelbook.audit_state.Replay.export`).
    state: ReplayExport


def accepted(found: Found, walked: Mapping[str, Any], events_left: int) -> bool:
    """Whether an answer can be what the second process was asked for.

    ``walked``: the chains this process walked; ``events_left``: how many of
    the events this process read the high-water mark of it did not walk.
    The answer must count exactly those and name only other chains, each
    broken one, and each one it replayed state of, among those it walked.
    """
    chains = found.stored.keys()
    return (
        found.events == events_left
        and found.unproven_ids <= found.events
        and found.last.keys() == chains
        and not any(chain in walked for chain in chains)
        and all(chain in chains for chain, *_ in found.broken)
        and len({chain for chain, *_ in found.broken}) == len(found.broken)
        and all(chain in chains for chain in found.state.chains_held())
    )


def finish(
    proc: subprocess.Popen[bytes] | None, walked: Mapping[str, Any], events_left: int
) -> Found | None:
    """What the second process found, or None when it failed or its answer is not one
    (:func:`accepted`)."""
    if proc is None:
        return None
    if proc.stdin is not None and not proc.stdin.closed:
        proc.stdin.close()  # a child still reading its request must see the end of it
    assert proc.stdout is not None
    with proc.stdout:
        out = proc.stdout.read()
    if proc.wait() != 0:
        return None
    try:
        found = Found.model_validate_json(out)
    except ValidationError:
        return None
    if not accepted(found, walked, events_left):
        return None
    return found


def verify_part(uri: str, through_id: int, first_chain: str) -> dict[str, Any]:
    """Verify the chains from ``first_chain`` on, of events up to ``through_id``."""
    from ..store import Database
    from ..store import events as event_rows

    replay = audit_state.Replay()
    checker = verifier(replay)
    db = Database(uri, create=False)
    try:
        with db.read() as conn:
            for rows in event_rows.walk(conn, through_id, start=first_chain):
                checker.feed(rows)
    finally:
        db.dispose()
    return {**checker.export(), "state": replay.export()}


def verifier(replay: audit_state.Replay) -> audit.ChainVerifier:
    """A chain verifier that keys annotations' events and feeds state events to ``replay``."""
    return audit.ChainVerifier(
        audit_records.event_key, audit_records.NOTE_ACTIONS, replay.handlers()
    )


def serve(request: Mapping[str, Any]) -> None:
    """The second process's work: verify what ``request`` names and write the answer."""
    found = verify_part(str(request["uri"]), int(request["through"]), str(request["start"]))
    state = found.pop("state")
    # The records' identities are 128-bit integers, which only the standard library
    # writes; the replayed state, most of the answer, is written by orjson.
    head = json.dumps(found).encode()
    sys.stdout.buffer.write(head[:-1] + b', "state": ' + orjson.dumps(state) + b"}")
