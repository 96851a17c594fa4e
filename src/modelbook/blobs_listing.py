"""The blobs a store holds, and removing one of them, for gc.

Only a blob at its own place counts: ``sha256/<first two hex>/<sha256>`` below
the store's root, a regular file in a real folder (never reached through a
link, which could lead outside the store) or an object at exactly that key.
What gc lists is then what it may remove, and nothing else.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from typing import Any

from .blobs_abandoned import epoch_seconds

Listed = tuple[str, int, float]


def is_sha256(name: str) -> bool:
    """Whether ``name`` is a blob's name: 64 lowercase hexadecimal characters."""
    return len(name) == 64 and all(c in "0123456789abcdef" for c in name)


def local_blobs(base: str) -> Iterator[Listed]:
    """The blobs below the folder ``base`` (``<root>/sha256``) as (sha256, size in bytes,
    last write in epoch seconds); nothing when the folder does not exist."""
    if not os.path.isdir(base):
        return
    for shard in sorted(os.scandir(base), key=lambda e: e.name):
        if not shard.is_dir(follow_symlinks=False):
            continue
        for entry in os.scandir(shard.path):
            if (
                is_sha256(entry.name)
                and entry.name[:2] == shard.name
                and entry.is_file(follow_symlinks=False)
            ):
                st = entry.stat(follow_symlinks=False)
                yield entry.name, st.st_size, st.st_mtime


def remote_blobs(found: dict[str, dict[str, Any]]) -> Iterator[Listed]:
    """The blobs among an object store's listing (``fs.find(base, detail=True)``)."""
    for info in found.values():
        key = str(info["name"])
        name = key.rsplit("/", 1)[-1]
        if is_sha256(name) and key.endswith(f"sha256/{name[:2]}/{name}"):
            yield name, int(info.get("size") or 0), _modified(info)


def remove_local_if_older(path: str, cutoff: float) -> bool:
    """Remove the blob file at ``path`` unless it was written at or after ``cutoff``
    (epoch seconds) or is not a regular file in a real folder; whether it was removed.

    Raises:
        OSError: it cannot be read or removed (FileNotFoundError: it is gone).
    """
    shard = os.lstat(os.path.dirname(path))
    st = os.lstat(path)
    if not (stat.S_ISDIR(shard.st_mode) and stat.S_ISREG(st.st_mode)):
        return False
    if st.st_mtime >= cutoff:
        return False
    os.unlink(path)
    return True


def remove_remote_if_older(fs: Any, path: str, cutoff: float) -> bool:
    """Remove the object at ``path`` unless it was written at or after ``cutoff``;
    whether it was removed. Its time is asked of the store, not of the listing fsspec
    may have cached: the blob may have been uploaded again since gc listed it (a
    registration of the same bytes).

    Raises:
        OSError, or the driver's own error: the store cannot be read or written
            (FileNotFoundError: the object is gone).
    """
    fs.invalidate_cache(path)
    if _modified(fs.info(path)) >= cutoff:
        return False
    fs.rm_file(path)
    return True


def _modified(info: dict[str, Any]) -> float:
    return epoch_seconds(info.get("LastModified") or info.get("mtime")) or 0.0
