"""Verifying a large audit log on two cores: the chains after one boundary in a second process.

Chains verify independently, so ``audit verify`` splits them at one chain
name: this process walks the chains before it while a second one
(``python -m modelbook.services.audit_partition``) walks the rest and hands
back what it found (:meth:`modelbook.audit.ChainVerifier.export`). The
database orders the chain names on both sides, so the two walks cover every
event exactly once whatever its collation; the boundary is picked from the
chain heads to give each side about half the events. Both read only events
up to the high-water id the first process read, which are committed and
never change, so the two reads see one log. When the second process cannot
start or fails, this one walks its chains too: the result never depends on it.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

#: Below this many events a second process costs more (starting Python and
#: importing modelbook, about 0.3 s) than it saves.
MIN_EVENTS = 200_000

_ENV = "MODELBOOK_VERIFY_PROCESSES"


def boundary(heads: Sequence[tuple[str, int, str]], count: int) -> str | None:
    """The chain that starts the second half, or None to verify in one process.

    ``heads`` are (chain, position, hash): a chain's position is its number
    of events. ``MODELBOOK_VERIFY_PROCESSES=1`` keeps verification in one process.
    """
    if count < MIN_EVENTS or os.environ.get(_ENV, "2") == "1" or (os.cpu_count() or 1) < 2:
        return None
    half, seen = count / 2, 0
    for (_, seq, _), (after, _, _) in itertools.pairwise(sorted(heads)):
        seen += seq
        if seen >= half:
            # The chain that reaches half the events stays on this side. The database
            # may order names otherwise (its collation): the halves are then uneven,
            # never wrong.
            return after
    return None


def start(uri: str, through_id: int, first_chain: str) -> subprocess.Popen[bytes] | None:
    """Start verifying the chains from ``first_chain`` on in a second process."""
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "modelbook.services.audit_partition"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    except OSError:
        return None
    assert proc.stdin is not None
    # The URI may hold a password: it goes through the pipe, not the command line.
    try:
        proc.stdin.write(
            json.dumps({"uri": uri, "through": through_id, "start": first_chain}).encode()
        )
        proc.stdin.close()
    except OSError:
        proc.kill()
        proc.wait()
        return None
    return proc


def finish(proc: subprocess.Popen[bytes] | None) -> dict[str, Any] | None:
    """What the second process found, or None when it gave nothing usable."""
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
        found: dict[str, Any] = json.loads(out)
    except ValueError:
        return None
    return found


def verify_part(uri: str, through_id: int, first_chain: str) -> dict[str, Any]:
    """Verify the chains from ``first_chain`` on, of events up to ``through_id``."""
    from .. import audit, audit_records
    from ..store import Database
    from ..store import events as event_rows

    checker = audit.ChainVerifier(audit_records.event_key, audit_records.NOTE_ACTIONS)
    db = Database(uri, create=False)
    try:
        with db.read() as conn:
            for rows in event_rows.walk(conn, through_id, start=first_chain):
                checker.feed(rows)
    finally:
        db.dispose()
    return checker.export()


def main() -> None:
    request = json.loads(sys.stdin.buffer.read())
    found = verify_part(str(request["uri"]), int(request["through"]), str(request["start"]))
    sys.stdout.write(json.dumps(found))


if __name__ == "__main__":
    main()
