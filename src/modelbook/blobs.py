"""Content-addressed artifact storage over fsspec.

Blobs live at ``<root>/sha256/ab/<sha256>`` (256 shard folders). A blob is written whole or not
at all: on a local folder it is streamed to a temporary file while hashed,
fsynced and renamed into place; on an object store (S3 and friends) it is
hashed first and then uploaded, and the upload is committed (made visible, in
one step) only if it carried exactly the bytes that were hashed. Identical
content is stored once. Every read is verified against the hash it was asked
for, and a hash is checked to be 64 lowercase hex characters before any path
is built from it.

A blob that is not found is told apart from a store that is not there
(:mod:`modelbook.blobs_root`): a URL naming a folder or bucket that does not
exist is :class:`NotFound` rather than every file missing.

A file is stored from one open descriptor and refused if it changed while it
was read (see :class:`modelbook.files.Source`): what is registered is what was
read.

:class:`BlobStore` is the one entry point; it reads, lists and removes blobs
itself and hands each write to the module of its kind of storage:

- :mod:`modelbook.blobs_local`: the write to a local folder (fsync of file and
  folder, replace in one rename, large files read once with direct I/O);
- :mod:`modelbook.blobs_remote`: the verified upload to an object store;
- :mod:`modelbook.blobs_temp`: temporary files and the sweep of stale ones.
- :mod:`modelbook.blobs_abandoned`: what killed uploads leave in an object store.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from . import files
from .blobs_abandoned import abandoned
from .blobs_errors import StoreErrors
from .blobs_listing import local_blobs, remote_blobs, remove_local_if_older, remove_remote_if_older
from .blobs_local import CHUNK, SMALL, hash_file, mkdir, put_local
from .blobs_remote import upload
from .blobs_root import check_root
from .blobs_temp import (
    STALE_TMP_SECONDS,
    TEMP_DIR,
    new_temp,
    remove_stale,
    stale,
    sweep_once,
    temp_name,
)
from .blobs_url import redact
from .direct_io import DIRECT_MIN, STREAM_CHUNK
from .errors import IntegrityError, InvalidInput, Unavailable
from .files import Progress, Source, check_sha256, noop, show


class _Missing(IntegrityError):
    """A blob that is not in the store at all (as opposed to damaged)."""


class BlobStore:
    """Artifacts by sha256 in a folder or bucket named by an fsspec URL.

    Opening a store reads nothing and writes nothing: a read-only folder can be
    checked and read. Folders are created on the first write.
    """

    def __init__(self, url: str, **storage_options: Any) -> None:
        """``url``: a local folder or fsspec URL (``s3://bucket/prefix``).

        Raises:
            InvalidInput: the URL's scheme is unknown or its driver is not installed.
            Unavailable: the driver connects when it is made (``ftp``) and could not.
        """
        # Only the redacted form is kept: whatever shows the store (errors, reprs)
        # cannot show a password of its URL.
        self.url = redact(url)
        self._errors = StoreErrors(url)
        try:
            with self._errors.translated("open {store}"):
                self.fs, root = fsspec.core.url_to_fs(url, **storage_options)
        except (ImportError, ValueError) as exc:
            raise InvalidInput(
                f"cannot use blob store {self.url}: {self._errors.text(exc)}"
            ) from None
        self.root = root.rstrip("/")
        self.local = isinstance(self.fs, LocalFileSystem)
        # Local folders known to exist: each is created, and its entry fsynced, once.
        self._made: set[str] = set()

    # temporaries ---------------------------------------------------------

    @property
    def temp_dir(self) -> str:
        """The folder of this store's temporary files (it may not exist yet)."""
        return f"{self.root}/{TEMP_DIR}"

    def remove_stale_temporaries(self, older_than: float = STALE_TMP_SECONDS) -> int:
        """Delete temporary files that a killed writer left behind; return how many
        (see :func:`modelbook.blobs_temp.remove_stale`). Does nothing on an object store."""
        return remove_stale(self.temp_dir, older_than) if self.local else 0

    def stale_temporaries(self, cutoff: float, *, remove: bool = False) -> list[tuple[str, int]]:
        """Temporary files last written before ``cutoff`` (epoch seconds), as (path, size);
        with ``remove``, those deleted (:func:`.blobs_temp.stale`); on an object store, what
        killed uploads left, as (URL, size) (:func:`.blobs_abandoned.abandoned`). Raises
        Unavailable (an object store that cannot be listed or written)."""
        if self.local:
            return stale(self.temp_dir, cutoff, remove=remove)
        with self._errors.translated("list the abandoned uploads of {store}"):
            return abandoned(self.fs, self.root, cutoff, remove=remove)

    def _sweep_once(self) -> None:
        """Look for stale temporaries at the first write of this process to this store."""
        if self.local:
            sweep_once(self.temp_dir)

    def _new_temp(self) -> str:
        """A path for a new temporary file; creates and marks the folder the first time."""
        return new_temp(self.temp_dir, self._made, lambda folder: mkdir(folder, self._made))

    def require_writable(self, doing: str) -> None:
        """Raise InvalidInput when the store can neither list nor remove blobs (``https``);
        ``doing`` is a clause in which ``{store}`` stands for the store."""
        self._errors.require_writable(doing)

    # addressing ----------------------------------------------------------

    def path(self, sha256: str) -> str:
        """Where the blob of ``sha256`` lives.

        Raises:
            IntegrityError: ``sha256`` is not 64 lowercase hex characters.
        """
        check_sha256(sha256)
        return f"{self.root}/sha256/{sha256[:2]}/{sha256}"

    def iter_blobs(self) -> Iterator[tuple[str, int, float]]:
        """Every stored blob as (sha256, size in bytes, last write as epoch seconds).

        Entries that are not blobs (foreign files, temporaries) are left out.
        A local folder with no blobs yet lists nothing.

        Raises:
            NotFound: the store is an object store whose bucket does not exist.
            Unavailable: the store cannot be listed.
        """
        base = f"{self.root}/sha256"
        with self._errors.translated("list the blobs of {store}"):
            if not self.local:
                try:
                    found = self.fs.find(base, detail=True)
                except FileNotFoundError:
                    # An object store lists a prefix with nothing under it as empty: not
                    # found means its bucket is not there.
                    self._no_store()
                    return
                yield from remote_blobs(found)
                return
            yield from local_blobs(base)

    def remove_if_older(self, sha256: str, cutoff: float) -> bool:
        """Remove a blob unless it was written at or after ``cutoff`` (epoch seconds), or
        is not the store's own (:mod:`modelbook.blobs_listing`).

        Returns whether it was removed. Raises IntegrityError for a malformed
        hash, Unavailable when the store cannot be written.
        """
        path = self.path(sha256)
        with self._errors.translated(f"remove blob {sha256} from {{store}}"):
            try:
                if self.local:
                    return remove_local_if_older(path, cutoff)
                return remove_remote_if_older(self.fs, path, cutoff)
            except FileNotFoundError:
                return False

    def stored_size(self, sha256: str) -> int | None:
        """The size in bytes of the stored blob of ``sha256``, or None when it is not stored.

        Raises:
            IntegrityError: ``sha256`` is malformed.
            NotFound: the store's folder or bucket does not exist (see :meth:`_no_store`).
            Unavailable: the store cannot be reached.
        """
        path = self.path(sha256)
        with self._errors.translated(f"look up blob {sha256} in {{store}}"):
            try:
                if self.local:
                    return os.stat(path).st_size
                return int(self.fs.size(path))
            except FileNotFoundError:
                self._no_store()
                return None

    def exists(self, sha256: str) -> bool:
        """Whether a blob of ``sha256`` is stored (its content is not checked).

        Raises:
            IntegrityError: ``sha256`` is malformed.
            NotFound: the store's folder or bucket does not exist (see :meth:`_no_store`).
            Unavailable: the store cannot be reached.
        """
        path = self.path(sha256)
        with self._errors.translated(f"look up blob {sha256} in {{store}}"):
            found = os.path.exists(path) if self.local else bool(self.fs.exists(path))
            if not found:
                self._no_store()
            return found

    def _no_store(self) -> None:
        """Raise NotFound when this store's folder or bucket does not exist; asked only
        once a blob is not found (see :func:`modelbook.blobs_root.check_root`)."""
        check_root(self.fs, self.root, local=self.local, url=self.url, errors=self._errors)

    # writing -------------------------------------------------------------

    def put_file(self, src: Path, progress: Progress = noop) -> tuple[str, int]:
        """Store one local file; return its (sha256 hex, size in bytes) once it is durable.

        The file is opened once, without blocking (a FIFO is refused at once),
        and everything stored is read from that descriptor; ``progress`` gets
        the byte counts read. The first call in a process also removes stale
        temporaries (:meth:`remove_stale_temporaries`).

        Raises:
            InvalidInput: ``src`` is missing, unreadable or not a regular file,
                or it changed while it was being stored (nothing is stored then);
                the store's protocol cannot write files (``https://``).
            NotFound: the store is an object store whose bucket does not exist
                (it is not created), naming the bucket.
            Unavailable: the store could not be written (disk full, I/O error,
                unreachable, credentials refused), naming ``src``, the store and the cause.
        """
        self._sweep_once()
        storing = self._errors.translated(f"store {show(src)} in {{store}}")
        with files.open_source(src) as source, storing:
            if self.local:
                return put_local(source, self.path, self._new_temp, self._made, progress)
            try:
                return self._put_remote(source, progress)
            except FileNotFoundError:
                # Nothing at the store's root to write into: its bucket is not there.
                self._no_store()
                raise

    def _put_remote(self, source: Source, progress: Progress) -> tuple[str, int]:
        """Upload to an object store, committed only if verified (see :mod:`.blobs_remote`)."""
        return upload(self.fs, source, self.path, f"{self.temp_dir}/{temp_name()}", progress)

    # reading -------------------------------------------------------------

    def _missing(self, sha256: str) -> _Missing:
        self._no_store()
        return _Missing(f"artifact blob {sha256} is missing from {self.url}")

    def _open(self, sha256: str) -> IO[bytes]:
        path = self.path(sha256)
        with self._errors.translated(f"read blob {sha256} from {{store}}"):
            try:
                if self.local:
                    # Not blocking, and checked on the descriptor: a FIFO or device
                    # planted at a blob's path is refused, not waited on.
                    fd, _ = files.open_regular(path, "artifact blob", IntegrityError)
                    return open(fd, "rb")
                return self.fs.open(path, "rb")  # type: ignore[no-any-return]
            except FileNotFoundError:
                raise self._missing(sha256) from None

    def _chunks(self, sha256: str) -> Iterator[bytes]:
        f = self._open(sha256)
        with self._errors.translated(f"read blob {sha256} from {{store}}"):
            try:
                with f:
                    while chunk := f.read(CHUNK):
                        yield chunk
            except FileNotFoundError:
                raise self._missing(sha256) from None

    def head(self, sha256: str, n: int = 16) -> bytes:
        """The first ``n`` bytes of blob ``sha256``, unverified: enough to tell file kinds
        apart. Raises IntegrityError (missing), Unavailable (the store cannot be read)."""
        return next(self._chunks(sha256), b"")[:n]

    def check(self, sha256: str, size: int) -> str | None:
        """None when the blob of ``sha256`` holds ``size`` bytes hashing to it, else what is wrong.

        The verdict is ``"missing"``, or a one-line description of the damage
        (wrong size, wrong hash, not a regular file, malformed stored hash), so
        that a verification can report every bad file instead of stopping at
        the first.

        Raises:
            NotFound: the store's folder or bucket does not exist: its files
                are not missing, the store is not there (see :meth:`_no_store`).
            Unavailable: the store cannot be read.
        """
        try:
            check_sha256(sha256)
        except IntegrityError as exc:
            return exc.message
        digest = hashlib.sha256()
        n = 0
        try:
            for chunk in self._chunks(sha256):
                digest.update(chunk)
                n += len(chunk)
        except _Missing:
            return "missing"
        except IntegrityError as exc:
            return exc.message
        if n != size:
            return f"size {n} bytes, expected {size}"
        if digest.hexdigest() != sha256:
            return f"content hashes to {digest.hexdigest()}"
        return None

    def read_verified(self, sha256: str, size: int) -> bytes:
        """The ``size`` bytes of blob ``sha256``, verified; for small files (held in memory).

        Raises:
            IntegrityError: the hash is malformed, or the blob is missing or corrupt.
            NotFound: the store's folder or bucket does not exist.
            Unavailable: the store cannot be read.
        """
        data = b"".join(self._chunks(sha256))
        if len(data) != size or hashlib.sha256(data).hexdigest() != sha256:
            raise IntegrityError(f"artifact blob {sha256} is corrupt (hash or size mismatch)")
        return data

    def copy_to(self, sha256: str, size: int, dest: Path, progress: Progress = noop) -> None:
        """Write blob ``sha256`` (``size`` bytes) to the file ``dest``, verified.

        The bytes go to a temporary file beside ``dest``, which is renamed to
        ``dest`` only if its size and hash are right; ``progress`` gets byte
        counts. Parent folders are created. This is the ``fetch`` of
        :func:`modelbook.downloads.place`.

        Raises:
            IntegrityError: the hash is malformed, or the blob is missing or corrupt.
            NotFound: the store's folder or bucket does not exist.
            Unavailable: the store cannot be read, or ``dest`` cannot be written.
        """
        self.path(sha256)  # a malformed hash is refused before anything is written
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.part")
        digest = hashlib.sha256()
        n = 0
        try:
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
                with open(tmp, "xb") as out:
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
            except OSError as exc:
                raise Unavailable(f"cannot write {show(dest)}: {exc}") from exc
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise


__all__ = ["CHUNK", "DIRECT_MIN", "SMALL", "STREAM_CHUNK", "BlobStore", "hash_file"]
