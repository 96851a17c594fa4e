"""Copying a large file with direct I/O: page-aligned chunks that bypass the page cache.

Used by the blob store for files of :data:`DIRECT_MIN` bytes and more: each
chunk is read into an aligned buffer and written with ``O_DIRECT`` where the
file system allows it, so a big ingest neither evicts other cached data nor
leaves gigabytes of dirty pages for the closing fsync. Direct I/O is dropped,
for the rest of a file, at an unaligned tail, a short write, or a file system
that refuses it; the same bytes are then written buffered.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os

# Large files are copied in chunks of this size, through two page-aligned buffers.
STREAM_CHUNK = 8 * 1024 * 1024
# Direct I/O only pays off for big files: below this size the few dirty pages of
# a buffered write are flushed quickly, and the page cache costs little.
DIRECT_MIN = 16 * 1024 * 1024
# Offsets and lengths of direct writes are kept to multiples of this.
DIRECT_ALIGN = 4096
# 0 where the platform has no direct I/O: every file is then written buffered.
O_DIRECT: int = getattr(os, "O_DIRECT", 0)


def set_direct(fd: int, on: bool) -> bool:
    """Turn direct I/O on or off for ``fd``; False when the file system refuses it."""
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, (flags | O_DIRECT) if on else (flags & ~O_DIRECT))
    except OSError as exc:
        if on and exc.errno in (errno.EINVAL, errno.EOPNOTSUPP):
            return False
        raise
    return on


def read_full(fd: int, buf: memoryview) -> int:
    """Fill ``buf`` from ``fd``; fewer bytes only at the end of the file.

    Only the last chunk can then be short, which keeps every other direct
    write aligned.
    """
    got = 0
    while got < len(buf):
        with buf[got:] as rest:
            n = os.readv(fd, [rest])
        if n == 0:
            break
        got += n
    return got


def hash_part(digest: hashlib._Hash, buf: memoryview, n: int) -> None:
    with buf[:n] as part:
        digest.update(part)


def write_all(fd: int, buf: memoryview, n: int, direct: bool, tmp: str) -> bool:
    """Write the first ``n`` bytes of ``buf``; returns whether direct I/O is still on.

    Direct I/O is switched off for good at an unaligned tail or short write,
    or when the file system refuses a direct write (EINVAL); the bytes are
    then written buffered at the same offset.
    """
    done = 0
    with buf[:n] as chunk:
        while done < n:
            if direct and (done % DIRECT_ALIGN or (n - done) % DIRECT_ALIGN):
                direct = set_direct(fd, False)
            try:
                with chunk[done:] as rest:
                    step = os.writev(fd, [rest])
            except OSError as exc:
                if not (direct and exc.errno == errno.EINVAL):
                    raise
                direct = set_direct(fd, False)
                continue
            if step == 0:
                raise OSError(errno.ENOSPC, "short write", tmp)
            done += step
    return direct
