"""Content-addressed artifact storage over fsspec.

Blobs live at ``<root>/sha256/ab/<sha256>`` (256 shard folders). A blob is written whole or not
at all: on a local folder it is streamed to a temporary file while hashed,
fsynced and renamed into place; on an object store (S3 and friends) it is
hashed first and then uploaded with one PUT, which the store makes visible
atomically. Identical content is stored once. Every read is verified against
the hash it was asked for.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from .errors import IntegrityError, InvalidInput, Unavailable

CHUNK = 1024 * 1024
SMALL = 1024 * 1024
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
        if os.path.getsize(src) <= SMALL:
            data = src.read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            progress(len(data))
            final = self.path(sha)
            if self._intact_copy(final, data):
                return sha, len(data)
            return sha, self._land(final, data)
        tmp_dir = f"{self.root}/tmp"
        self._mkdir(tmp_dir)
        tmp = f"{tmp_dir}/{uuid.uuid4().hex}"
        digest = hashlib.sha256()
        size = 0
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        try:
            with (
                open(src, "rb", buffering=0) as fin,
                open(tmp, "wb", buffering=0) as fout,
                ThreadPoolExecutor(1) as hasher,
            ):
                # One pass: each chunk is hashed on a second thread while this
                # thread writes it (both release the GIL), so hashing and
                # copying overlap and the hash is of exactly the bytes written.
                while n := fin.readinto(buf):
                    chunk = view[:n]
                    hashed = hasher.submit(digest.update, chunk)
                    written = 0
                    while written < n:
                        step = fout.write(chunk[written:])
                        if not step:
                            raise OSError(errno.ENOSPC, "short write", tmp)
                        written += step
                    hashed.result()
                    size += n
                    progress(n)
                os.fsync(fout.fileno())
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
