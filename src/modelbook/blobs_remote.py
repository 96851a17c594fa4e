"""Uploads to object stores (S3, GCS, Azure ...): committed only when verified.

The file is hashed, then sent from the same descriptor while hashed again;
the upload is committed only if it carried exactly the bytes first hashed
from an unchanged file, so a good object at that key is never overwritten by
other bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from typing import IO, Any

from fsspec.spec import AbstractBufferedFile

from .files import Progress, Source

CHUNK = 1024 * 1024


def _abandon(out: AbstractBufferedFile) -> None:
    """Drop an upload without committing it: nothing becomes visible at its key."""
    out.discard()
    # close() would commit whatever is buffered; a file marked closed does nothing.
    out.closed = True


def upload(
    fs: Any, source: Source, path_of: Callable[[str], str], probe_key: str, progress: Progress
) -> tuple[str, int]:
    """Hash the file, then upload it from the same descriptor to its key.

    The upload is hashed again as it is sent and committed only if it
    carried exactly the bytes first hashed from an unchanged file; otherwise
    it is abandoned, so a good object already at that key is never
    overwritten by other bytes. It is always uploaded, even when the key
    exists: one commit replaces the object atomically, so a damaged copy is
    healed instead of reused.
    """
    digest = hashlib.sha256()
    size = 0
    for chunk in source.chunks(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    source.check_unchanged(size)
    sha = digest.hexdigest()
    final = path_of(sha)
    # Most object-store files (S3, GCS, Azure) send nothing before a full
    # block and commit only on close, so they can be abandoned; probing with
    # a temporary key tells whether this one can, at no cost.
    probe = fs.open(probe_key, "wb")
    if isinstance(probe, AbstractBufferedFile):
        _abandon(probe)
        out = fs.open(final, "wb")
        committed = False
        try:
            _send(source, out, sha, progress)
            out.close()
            committed = True
        finally:
            if not committed:
                # The error that got here is the one to report; an upload whose
                # abort also fails is left to the bucket's lifecycle rules.
                with contextlib.suppress(OSError):
                    _abandon(out)
        return sha, size
    # A file that commits whenever it is closed is written under the
    # temporary key and moved to its final key only once verified.
    try:
        with probe:
            _send(source, probe, sha, progress)
        fs.mv(probe_key, final)
    except BaseException:
        with contextlib.suppress(OSError, FileNotFoundError):
            fs.rm(probe_key)
        raise
    return sha, size


def _send(source: Source, out: IO[bytes], sha: str, progress: Progress) -> None:
    """Write the file to ``out``; raise unless the bytes sent hash to ``sha``."""
    digest = hashlib.sha256()
    sent = 0
    for chunk in source.chunks(CHUNK):
        out.write(chunk)
        digest.update(chunk)
        sent += len(chunk)
        progress(len(chunk))
    source.check_unchanged(sent)
    if digest.hexdigest() != sha:
        raise source.changed()
