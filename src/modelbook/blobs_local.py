"""Writing blobs to a local folder: whole or not at all, and durable once stored.

A blob is written to a temporary file (:mod:`modelbook.blobs_temp`), fsynced,
renamed into place with one ``os.replace`` and its folder fsynced: a crash
leaves either the old entry or the complete new blob, never a torn one, and a
blob reported stored survives a power cut. A shard folder created on the way
has its own entry fsynced in its parent, for the same reason.

The file is read from one open descriptor and refused if it changed while it
was read (see :class:`modelbook.files.Source`): the hash is of exactly the
bytes stored.

Small files are held in memory: a copy already stored under their hash is
compared byte for byte and reused only if it holds exactly those bytes;
anything else there is replaced by the fresh copy. Large files are read once,
each chunk hashed on a second thread while the same bytes are written, with
direct I/O (``O_DIRECT``) where the file system supports it, so that
ingesting a big model neither fills the page cache with a second copy of it
nor leaves gigabytes of dirty pages for the final fsync; an existing blob of
their hash is replaced rather than trusted, which heals a damaged one.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import mmap
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from . import files
from .blobs_temp import fsync_dir
from .direct_io import (
    DIRECT_MIN,
    O_DIRECT,
    STREAM_CHUNK,
    hash_part,
    read_full,
    set_direct,
    write_all,
)
from .errors import IntegrityError, Unavailable
from .files import Progress, Source, noop, show

CHUNK = 1024 * 1024
# Files up to this size are read whole into memory; larger ones are streamed.
SMALL = 1024 * 1024


def hash_file(path: Path, progress: Progress = noop) -> tuple[str, int]:
    """sha256 (hex) and size in bytes of a local file, streamed; ``progress`` gets byte counts.

    Raises:
        InvalidInput: the path is missing, unreadable, not a regular file, or
            changed while it was read.
        Unavailable: reading failed.
    """
    with files.open_source(path) as source:
        try:
            digest = hashlib.sha256()
            size = 0
            for chunk in source.chunks(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                progress(len(chunk))
            source.check_unchanged(size)
        except OSError as exc:
            raise Unavailable(f"cannot read {show(path)}: {exc}") from exc
    return digest.hexdigest(), size


def mkdir(path: str, made: set[str]) -> None:
    """Create a folder and its parents once (``made`` remembers them); a new
    folder's own entry is fsynced in its parent. Raises OSError."""
    if path in made:
        return
    if not os.path.isdir(path):
        parent = os.path.dirname(path)
        mkdir(parent, made)
        try:
            os.mkdir(path)
        except FileExistsError:
            pass
        else:
            fsync_dir(parent)
    made.add(path)


def put_local(
    source: Source,
    path_of: Callable[[str], str],
    new_temp: Callable[[], str],
    made: set[str],
    progress: Progress,
) -> tuple[str, int]:
    """Store ``source`` in a local blob folder; return (sha256 hex, size in bytes) once durable.

    ``path_of`` maps a hash to its blob's path, ``new_temp`` gives a path for a
    temporary file (called only when one is written), ``made`` holds the
    folders known to exist; ``progress`` gets the byte counts read.

    Raises:
        InvalidInput: the file changed while it was read (nothing is stored).
        OSError: the folder could not be written.
    """
    if source.size > SMALL:
        return _put_large(
            source,
            path_of,
            new_temp,
            made,
            direct=source.size >= DIRECT_MIN and O_DIRECT != 0,
            progress=progress,
        )
    data = b"".join(source.chunks(SMALL + 1))
    progress(len(data))
    source.check_unchanged(len(data))
    sha = hashlib.sha256(data).hexdigest()
    final = path_of(sha)
    if _intact_copy(final, data):
        # Reused: its time is refreshed so that gc sees it as just written.
        os.utime(final)
        return sha, len(data)
    return sha, _land(final, data, new_temp(), made)


def _put_large(
    source: Source,
    path_of: Callable[[str], str],
    new_temp: Callable[[], str],
    made: set[str],
    direct: bool,
    progress: Progress,
) -> tuple[str, int]:
    """Stream a large file into the store, reading it once.

    Each chunk is read into one of two buffers, hashed on a second thread
    and written from the same buffer, which is refilled only after both are
    done: the hash is of exactly the bytes written, and hashing, reading and
    writing overlap. With ``direct`` the chunks bypass the page cache, so a
    big ingest neither evicts other cached data nor has to fault in fresh
    page-cache memory (slow in VMs), and the closing fsync has next to
    nothing left to flush. Where direct I/O is refused the same loop writes buffered.
    """
    tmp = new_temp()
    digest = hashlib.sha256()
    size = 0
    try:
        with contextlib.ExitStack() as stack:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            stack.callback(os.close, fd)
            direct = direct and set_direct(fd, True)
            bufs = [stack.enter_context(mmap.mmap(-1, STREAM_CHUNK)) for _ in range(2)]
            views = [stack.enter_context(memoryview(b)) for b in bufs]
            # Left first: waits for a hash still running before the buffers go.
            hasher = stack.enter_context(ThreadPoolExecutor(1))
            hashed: Future[None] | None = None
            os.lseek(source.fd, 0, os.SEEK_SET)
            for i in itertools.count():
                whole = views[i % 2]  # not the buffer the hasher may still read
                n = read_full(source.fd, whole)
                if hashed is not None:
                    hashed.result()
                if n == 0:
                    break
                if size + n > source.size:
                    raise source.changed()  # it grew: stop reading now
                hashed = hasher.submit(hash_part, digest, whole, n)
                direct = write_all(fd, whole, n, direct, tmp)
                size += n
                progress(n)
            os.fsync(fd)
        source.check_unchanged(size)
        sha = digest.hexdigest()
        final = path_of(sha)
        # An existing blob of this hash is replaced by the fresh copy rather
        # than trusted: if it was damaged, registering the file heals it.
        mkdir(os.path.dirname(final), made)
        os.replace(tmp, final)
        fsync_dir(os.path.dirname(final))
        return sha, size
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _land(final: str, data: bytes, tmp: str, made: set[str]) -> int:
    """Write a small blob whole: temporary file, fsync, rename, fsync the folder."""
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        mkdir(os.path.dirname(final), made)
        os.replace(tmp, final)
        fsync_dir(os.path.dirname(final))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return len(data)


def _intact_copy(final: str, data: bytes) -> bool:
    """True when a small blob already stored at ``final`` holds exactly ``data``."""
    try:
        fd, _ = files.open_regular(final, "artifact blob", IntegrityError)
    except (FileNotFoundError, IntegrityError):
        return False  # missing, or not a file: replaced by the fresh copy
    with open(fd, "rb") as f:
        return f.read(len(data) + 1) == data
