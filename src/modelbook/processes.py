"""Ending every process a subprocess started, including those that left its group.

A model run by the smoke test may start processes of its own, and one started
with ``start_new_session=True`` (or that calls ``setsid``) leaves the process
group, so killing the group misses it; one whose parent exits is adopted by
init and no longer descends from anything of ours. :func:`kill_tree` finds
them two ways: the live descendants of the root (by parent pid, from
``/proc``), and every process whose environment carries the run's marker
(:data:`MARKER`, set by the caller in the root's environment and inherited
unless a process clears it). It stops each with SIGSTOP until no new one
appears, so none can start another meanwhile, then kills them all with
SIGKILL and waits until each is gone.

Linux only in full (``/proc``); elsewhere only the root's process group is
killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

#: The environment variable whose value marks the processes of one run.
MARKER = "MODELBOOK_PROCESS_RUN"

#: The directory this modelbook was imported from (the one holding the package). A
#: subprocess of ours puts it first on its path, so that what it imports as
#: ``modelbook`` is this code, whatever its working folder holds.
PACKAGE_ROOT = str(Path(os.path.abspath(__file__)).parents[1])

_PROC = Path("/proc")
# How long to wait for killed processes to be gone (they are gone within
# milliseconds unless the machine is stalled).
_GONE_WITHIN_S = 10.0


def _parent_of(pid: int) -> int | None:
    try:
        stat = (_PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return None
    # The command name (in parentheses) may hold spaces: the fields follow its last ')'.
    fields = stat[stat.rfind(b")") + 2 :].split()
    return int(fields[1]) if len(fields) > 1 else None


def _state(pid: int) -> bytes | None:
    """The process's state letter (``Z`` for a zombie), or None when it is gone."""
    try:
        stat = (_PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()
    return fields[0] if fields else None


def _marked(pid: int, marker: bytes) -> bool:
    try:
        return marker in (_PROC / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:  # gone, or another user's
        return False


def _pids() -> list[int]:
    try:
        return [int(p.name) for p in _PROC.iterdir() if p.name.isdigit()]
    except OSError:
        return []


def _members(root: int | None, marker: bytes | None) -> set[int]:
    """The root, its live descendants, and every process carrying ``marker``."""
    me = os.getpid()
    pids = _pids()
    children: dict[int, list[int]] = {}
    for pid in pids:
        parent = _parent_of(pid)
        if parent is not None:
            children.setdefault(parent, []).append(pid)
    found = set() if root is None else {root}
    todo = list(found)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    if marker is not None:
        found.update(pid for pid in pids if _marked(pid, marker))
    found.discard(me)
    return found


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def kill_tree(root: int | None, run: str | None = None) -> None:
    """Kill ``root`` (a live child of this process, not yet waited for), its process
    group and its descendants, and every process marked with ``run`` (the value of
    :data:`MARKER` in its environment); return once they are gone (or zombies,
    waiting for their parent). Give ``root`` None once the child was waited for: its
    pid may belong to another process by then, so only the marked ones are killed."""
    if root is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(root, signal.SIGSTOP)
    if not _PROC.is_dir():
        if root is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(root, signal.SIGKILL)
        return
    marker = None if run is None else f"{MARKER}={run}".encode()
    stopped: set[int] = set()
    while True:
        # Stopped processes start no others: repeat until a pass finds no new one.
        new = _members(root, marker) - stopped
        if not new:
            break
        for pid in new:
            _signal(pid, signal.SIGSTOP)
        stopped |= new
    for pid in stopped:
        _signal(pid, signal.SIGKILL)
    if root is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(root, signal.SIGKILL)
    deadline = time.monotonic() + _GONE_WITHIN_S
    while time.monotonic() < deadline:
        if all(_state(pid) in (None, b"Z", b"X") for pid in stopped):
            return
        time.sleep(0.01)
