"""Temporary files of a local blob store: where they live, and the sweep of stale ones.

Temporary files live in ``<root>/.modelbook/tmp/``, named ``mb-<32 hex>.part``;
the folder holds a marker file, written by the store that created the folder.
Only files of that name in a marked folder are ever removed as stale, and only
by a write (the first write of a process) or by ``modelbook gc --apply``, never
when a store is opened or read: a blob folder may be the user's own folder, or
read-only.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import threading
import time
import uuid
from collections.abc import Callable

STALE_TMP_SECONDS = 24 * 3600
# Temporaries, relative to the blob root, and the marker that says the folder is ours.
TEMP_DIR = ".modelbook/tmp"
TEMP_MARKER = "MODELBOOK-TEMPORARIES"
TEMP_NAME = re.compile(r"mb-[0-9a-f]{32}\.part")

# Temporary folders this process has already swept.
_swept: set[tuple[int, str]] = set()
_swept_lock = threading.Lock()


def fsync_dir(path: str) -> None:
    """Make a folder's entries (a rename, a new file) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_name() -> str:
    """A fresh name for a temporary file, matching :data:`TEMP_NAME`."""
    return f"mb-{uuid.uuid4().hex}.part"


def remove_stale(temp_dir: str, older_than: float = STALE_TMP_SECONDS) -> int:
    """Delete temporary files that a killed writer left in ``temp_dir``; return how many.

    Only regular files named like :data:`TEMP_NAME`, last modified more than
    ``older_than`` seconds ago, in ``temp_dir`` when it holds the marker file,
    are removed; nothing else is looked at. A temporary never becomes a blob
    unless its writer renames it, so one that old belongs to a process that
    died mid-write.

    Never raises: this is housekeeping, and a folder that cannot be cleaned
    must not stop the write that asked for it.
    """
    return len(stale(temp_dir, time.time() - older_than, remove=True))


def stale(temp_dir: str, cutoff: float, *, remove: bool = False) -> list[tuple[str, int]]:
    """The temporaries of ``temp_dir`` last modified before ``cutoff`` (epoch seconds),
    as (path, size in bytes), sorted by path; with ``remove``, those that were deleted.

    Looks only at what :func:`remove_stale` would delete. Each file's time is
    read again just before it is removed, so a temporary written since it was
    listed is kept. Never raises: a folder that cannot be read lists nothing.
    """
    found: list[tuple[str, int]] = []
    try:
        # Opened without following a link, and worked on through the
        # descriptor, so a folder swapped meanwhile is never the one cleaned.
        folder = os.open(temp_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return found
    try:
        marker = os.stat(TEMP_MARKER, dir_fd=folder, follow_symlinks=False)
        if not stat.S_ISREG(marker.st_mode):
            return found
        with os.scandir(folder) as entries:
            names = sorted(e.name for e in entries if TEMP_NAME.fullmatch(e.name))
        for name in names:
            with contextlib.suppress(OSError):
                st = os.stat(name, dir_fd=folder, follow_symlinks=False)
                if stat.S_ISREG(st.st_mode) and st.st_mtime < cutoff:
                    if remove:
                        os.unlink(name, dir_fd=folder)
                    found.append((f"{temp_dir}/{name}", st.st_size))
    except OSError:
        return found
    finally:
        os.close(folder)
    return found


def sweep_once(temp_dir: str) -> None:
    """:func:`remove_stale` at the first write of this process to the store."""
    key = (os.getpid(), temp_dir)
    with _swept_lock:
        if key in _swept:
            return
        _swept.add(key)
    remove_stale(temp_dir)


def new_temp(temp_dir: str, made: set[str], mkdir: Callable[[str], None]) -> str:
    """A path for a new temporary file in ``temp_dir``; creates and marks the folder
    the first time (``made`` remembers it; ``mkdir`` makes its parent)."""
    if temp_dir not in made:
        parent = os.path.dirname(temp_dir)
        mkdir(parent)
        try:
            os.mkdir(temp_dir)
        except FileExistsError:
            pass
        else:
            # Only a folder this store created is marked, and so may be swept.
            fd = os.open(f"{temp_dir}/{TEMP_MARKER}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.close(fd)
            fsync_dir(temp_dir)
            fsync_dir(parent)
        made.add(temp_dir)
    return f"{temp_dir}/{temp_name()}"
