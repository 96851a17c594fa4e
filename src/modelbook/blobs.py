"""Content-addressed artifact storage over fsspec.

Blobs live at ``<root>/sha256/ab/<sha256>`` (256 shard folders). A blob is written whole or not
at all: on a local folder it is streamed to a temporary file while hashed,
fsynced and renamed into place; on an object store (S3 and friends) it is
hashed first and then uploaded with one PUT, which the store makes visible
atomically. Identical content is stored once. Every read is verified against
the hash it was asked for.

Large local files are read once: each chunk is hashed on a second thread while
the same bytes are written, with direct I/O (``O_DIRECT``) where the file system
supports it, so that ingesting a big model neither fills the page cache with a
second copy of it nor leaves gigabytes of dirty pages for the final fsync.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import itertools
import mmap
import os
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from .errors import IntegrityError, InvalidInput, Unavailable

CHUNK = 1024 * 1024
SMALL = 1024 * 1024
# Large files are copied in chunks of this size, through two page-aligned buffers.
STREAM_CHUNK = 8 * 1024 * 1024
# Direct I/O only pays off for big files: below this size the few dirty pages of
# a buffered write are flushed quickly, and the page cache costs little.
DIRECT_MIN = 16 * 1024 * 1024
# Offsets and lengths of direct writes are kept to multiples of this.
DIRECT_ALIGN = 4096
# 0 where the platform has no direct I/O: every file is then written buffered.
O_DIRECT: int = getattr(os, "O_DIRECT", 0)
STALE_TMP_SECONDS = 24 * 3600
Progress = Callable[[int], None]


def _noop(_: int) -> None:
    return None


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _set_direct(fd: int, on: bool) -> bool:
    """Turn direct I/O on or off for ``fd``; False when the file system refuses it."""
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, (flags | O_DIRECT) if on else (flags & ~O_DIRECT))
    except OSError as exc:
        if on and exc.errno in (errno.EINVAL, errno.EOPNOTSUPP):
            return False
        raise
    return on


def _read_full(fd: int, buf: memoryview) -> int:
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


def _hash_part(digest: hashlib._Hash, buf: memoryview, n: int) -> None:
    with buf[:n] as part:
        digest.update(part)


def _write_all(fd: int, buf: memoryview, n: int, direct: bool, tmp: str) -> bool:
    """Write the first ``n`` bytes of ``buf``; returns whether direct I/O is still on.

    Direct I/O is switched off for good at an unaligned tail or short write,
    or when the file system refuses a direct write (EINVAL); the bytes are
    then written buffered at the same offset.
    """
    done = 0
    with buf[:n] as chunk:
        while done < n:
            if direct and (done % DIRECT_ALIGN or (n - done) % DIRECT_ALIGN):
                direct = _set_direct(fd, False)
            try:
                with chunk[done:] as rest:
                    step = os.writev(fd, [rest])
            except OSError as exc:
                if not (direct and exc.errno == errno.EINVAL):
                    raise
                direct = _set_direct(fd, False)
                continue
            if step == 0:
                raise OSError(errno.ENOSPC, "short write", tmp)
            done += step
    return direct


def hash_file(path: Path, progress: Progress = _noop) -> tuple[str, int]:
    """sha256 and size of a local file, streamed."""
    digest = hashlib.sha256()
    size = 0
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            digest.update(view[:n])
            size += n
            progress(n)
    return digest.hexdigest(), size


class BlobStore:
    """Artifacts by sha256 in a folder or bucket named by an fsspec URL."""

    def __init__(self, url: str, **storage_options: Any) -> None:
        self.url = url
        try:
            self.fs, root = fsspec.core.url_to_fs(url, **storage_options)
        except (ImportError, ValueError) as exc:
            raise InvalidInput(f"cannot use blob store {url!r}: {exc}") from exc
        self.root = root.rstrip("/")
        self.local = isinstance(self.fs, LocalFileSystem)
        self._made: set[str] = set()
        if self.local:
            self.remove_stale_temporaries()

    def remove_stale_temporaries(self, older_than: float = STALE_TMP_SECONDS) -> int:
        """Delete temporary files that a killed writer left behind.

        A temporary file never becomes a blob unless its writer renames it,
        so one older than a day belongs to a process that died mid-write.
        """
        removed = 0
        cutoff = time.time() - older_than
        try:
            entries = list(os.scandir(f"{self.root}/tmp"))
        except OSError:
            return 0
        for entry in entries:
            try:
                if entry.is_file() and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except OSError:
                continue
        return removed

    def path(self, sha256: str) -> str:
        return f"{self.root}/sha256/{sha256[:2]}/{sha256}"

    def exists(self, sha256: str) -> bool:
        try:
            if self.local:
                return os.path.exists(self.path(sha256))
            return bool(self.fs.exists(self.path(sha256)))
        except OSError as exc:
            raise Unavailable(f"blob store {self.url} cannot be reached: {exc}") from exc

    # writing -------------------------------------------------------------

    def put_file(self, src: Path, progress: Progress = _noop) -> tuple[str, int]:
        """Store one file and return its (sha256, size) once it is durable."""
        try:
            if self.local:
                return self._put_local(src, progress)
            return self._put_remote(src, progress)
        except OSError as exc:
            raise Unavailable(f"cannot store {src}: {exc}") from exc

    def _mkdir(self, path: str) -> None:
        """Create a folder once; a new folder's own entry is fsynced in its parent."""
        if path in self._made:
            return
        if not os.path.isdir(path):
            parent = os.path.dirname(path)
            self._mkdir(parent)
            try:
                os.mkdir(path)
            except FileExistsError:
                pass
            else:
                _fsync_dir(parent)
        self._made.add(path)

    def _put_local(self, src: Path, progress: Progress) -> tuple[str, int]:
        size = os.path.getsize(src)
        if size > SMALL:
            return self._put_large(
                src, direct=size >= DIRECT_MIN and O_DIRECT != 0, progress=progress
            )
        data = src.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        progress(len(data))
        final = self.path(sha)
        if self._intact_copy(final, data):
            return sha, len(data)
        return sha, self._land(final, data)

    def _put_large(self, src: Path, direct: bool, progress: Progress) -> tuple[str, int]:
        """Stream a large file into the store, reading it once.

        Each chunk is read into one of two buffers, hashed on a second thread
        and written from the same buffer, which is refilled only after both are
        done: the hash is of exactly the bytes written, and hashing, reading and
        writing overlap. With ``direct`` the chunks bypass the page cache, so a
        big ingest neither evicts other cached data nor has to fault in fresh
        page-cache memory (slow in VMs), and the closing fsync has next to
        nothing left to flush. Where direct I/O is refused the same loop writes buffered.
        """
        tmp_dir = f"{self.root}/tmp"
        self._mkdir(tmp_dir)
        tmp = f"{tmp_dir}/{uuid.uuid4().hex}"
        digest = hashlib.sha256()
        size = 0
        try:
            with contextlib.ExitStack() as stack:
                fin = os.open(src, os.O_RDONLY)
                stack.callback(os.close, fin)
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                stack.callback(os.close, fd)
                direct = direct and _set_direct(fd, True)
                bufs = [stack.enter_context(mmap.mmap(-1, STREAM_CHUNK)) for _ in range(2)]
                views = [stack.enter_context(memoryview(b)) for b in bufs]
                # Left first: waits for a hash still running before the buffers go.
                hasher = stack.enter_context(ThreadPoolExecutor(1))
                hashed: Future[None] | None = None
                for i in itertools.count():
                    whole = views[i % 2]  # not the buffer the hasher may still read
                    n = _read_full(fin, whole)
                    if hashed is not None:
                        hashed.result()
                    if n == 0:
                        break
                    hashed = hasher.submit(_hash_part, digest, whole, n)
                    direct = _write_all(fd, whole, n, direct, tmp)
                    size += n
                    progress(n)
                os.fsync(fd)
            sha = digest.hexdigest()
            final = self.path(sha)
            # An existing blob of this hash is replaced by the fresh copy rather
            # than trusted: if it was damaged, registering the file heals it.
            self._mkdir(os.path.dirname(final))
            os.replace(tmp, final)
            _fsync_dir(os.path.dirname(final))
            return sha, size
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _land(self, final: str, data: bytes) -> int:
        """Write a small blob whole: temporary file, fsync, rename, fsync the folder."""
        tmp_dir = f"{self.root}/tmp"
        self._mkdir(tmp_dir)
        tmp = f"{tmp_dir}/{uuid.uuid4().hex}"
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            self._mkdir(os.path.dirname(final))
            os.replace(tmp, final)
            _fsync_dir(os.path.dirname(final))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return len(data)

    @staticmethod
    def _intact_copy(final: str, data: bytes) -> bool:
        """True when a small blob already stored at ``final`` holds exactly ``data``."""
        try:
            with open(final, "rb") as f:
                return f.read(len(data) + 1) == data
        except FileNotFoundError:
            return False

    def _put_remote(self, src: Path, progress: Progress) -> tuple[str, int]:
        # Always uploaded, even when the key exists: one PUT replaces the
        # object atomically, so a damaged copy is healed instead of reused.
        sha, size = hash_file(src)
        self.fs.put_file(str(src), self.path(sha))
        progress(size)
        return sha, size

    # reading -------------------------------------------------------------

    def _chunks(self, sha256: str) -> Iterator[bytes]:
        path = self.path(sha256)
        try:
            with open(path, "rb") if self.local else self.fs.open(path, "rb") as f:
                while chunk := f.read(CHUNK):
                    yield chunk
        except FileNotFoundError:
            raise IntegrityError(f"artifact blob {sha256} is missing from {self.url}") from None
        except OSError as exc:
            raise Unavailable(f"cannot read blob {sha256} from {self.url}: {exc}") from exc

    def check(self, sha256: str, size: int) -> str | None:
        """None when the blob is intact, else what is wrong with it."""
        digest = hashlib.sha256()
        n = 0
        try:
            for chunk in self._chunks(sha256):
                digest.update(chunk)
                n += len(chunk)
        except IntegrityError:
            return "missing"
        if n != size:
            return f"size {n} bytes, expected {size}"
        if digest.hexdigest() != sha256:
            return f"content hashes to {digest.hexdigest()}"
        return None

    def read_verified(self, sha256: str, size: int) -> bytes:
        data = b"".join(self._chunks(sha256))
        if len(data) != size or hashlib.sha256(data).hexdigest() != sha256:
            raise IntegrityError(f"artifact blob {sha256} is corrupt (hash or size mismatch)")
        return data

    def copy_to(self, sha256: str, size: int, dest: Path, progress: Progress = _noop) -> None:
        """Write a blob to ``dest``; the file appears only if its hash is right."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.part")
        digest = hashlib.sha256()
        n = 0
        try:
            with open(tmp, "wb") as out:
                for chunk in self._chunks(sha256):
                    digest.update(chunk)
                    out.write(chunk)
                    n += len(chunk)
                    progress(len(chunk))
            if n != size or digest.hexdigest() != sha256:
                raise IntegrityError(
                    f"refusing {dest.name}: stored blob {sha256} is corrupt "
                    f"({n} bytes hashing to {digest.hexdigest()[:12]}...)"
                )
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
