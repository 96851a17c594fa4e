"""Whether a blob store is there at all: its local folder, or its object store's bucket.

A blob that is not found is told apart from a store that is not there: only
then is the store's root asked about (the local folder, the bucket of an
object store), so a read that finds its blob costs nothing more, and a URL
naming a folder or bucket that does not exist is :class:`NotFound` ("no blob
store at ...") rather than every file missing. Buckets are never created.
"""

from __future__ import annotations

import os
from pathlib import Path

from fsspec import AbstractFileSystem

from .blobs_errors import StoreErrors
from .errors import NotFound
from .files import show


def check_root(
    fs: AbstractFileSystem, store_root: str, *, local: bool, url: str, errors: StoreErrors
) -> None:
    """Raise NotFound when ``store_root``, a blob store's root, does not exist: a local
    folder that is not there (or is no folder), an object store's bucket that does
    not exist, a remote folder that is not there. ``url`` is the store as it may be
    shown, and ``errors`` hides the URL's secrets in the root's name.

    Asked only when a blob is not found, so that a read that finds its blob
    costs no request more: with no root at all, the store URL is wrong
    (mistyped, another machine's path, another account's bucket), and
    reporting each of its files as missing would read as data loss. Writing
    creates a local folder, never a bucket. Raises Unavailable (inside the
    caller's boundary) when the root cannot be asked about.
    """
    if local:
        if os.path.isdir(store_root):
            return
        what = "is not a folder" if os.path.lexists(store_root) else "does not exist"
        raise NotFound(
            f"no blob store at {show(Path(store_root))}: the folder {what}",
            hint="check the blob store URL (--blob-uri, MODELBOOK_BLOB_URI)",
        ) from None
    hint = "check the blob store URL (--blob-uri, MODELBOOK_BLOB_URI)"
    # Object stores (s3fs, gcsfs, adlfs) name their bucket or container first.
    split = getattr(fs, "split_path", None)
    if callable(split):
        kind, root = "bucket", str(split(store_root)[0])
        hint += "; modelbook does not create buckets"
    else:
        kind, root = "folder", store_root
    if not root.strip("/"):
        return
    try:
        info = fs.info(root)
    except FileNotFoundError as exc:
        if isinstance(exc.__cause__, OSError | TimeoutError):
            # fsspec's HTTP store says "not found" for a server it cannot reach:
            # that is the store unavailable (the caller's boundary), not absent.
            raise exc.__cause__ from None
        what = "does not exist"
    else:
        if kind == "bucket" or info.get("type") == "directory":
            return
        what = "is not a folder"
    raise NotFound(
        f"no blob store at {url}: the {kind} {errors.hide(root)!r} {what}",
        hint=hint,
    ) from None
