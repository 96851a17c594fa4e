"""What an upload killed mid-way leaves in an object store, found and removed by gc.

Two kinds, each looked for only where the blob store itself writes, under its
own root (never elsewhere in the bucket), and only when it began before a
cutoff:

- a temporary key ``<root>/.modelbook/tmp/mb-<32 hex>.part``: a store whose
  files commit on close writes an upload there and moves it into place once
  verified (:mod:`modelbook.blobs_remote`). Its age is its modification time
  (``LastModified``, ``mtime``, ``last_modified``, ``updated`` or ``modified``
  of its listing, else the store's ``modified``); a key whose store gives no
  such time is skipped, since a temporary in use cannot be told from one left.
- on S3 (s3fs), an incomplete multipart upload at a blob's key
  ``<root>/sha256/<2 hex>/<sha256>``: a large file is uploaded in parts,
  committed on close; a kill leaves the parts, which the bucket keeps (and
  bills) until the upload is aborted. Its age is when it was initiated, so an
  upload still running after the whole grace is aborted too (its registration
  then fails, and nothing it wrote stays). Its bytes are the sizes of its
  parts (``list_parts``).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from .blobs_temp import TEMP_DIR, TEMP_NAME

# A blob's key below the root: its shard is the first two characters of its hash.
_BLOB_KEY = re.compile(r"sha256/([0-9a-f]{2})/\1[0-9a-f]{62}")
_TIME_FIELDS = ("LastModified", "mtime", "last_modified", "updated", "modified")


def abandoned(fs: Any, root: str, cutoff: float, *, remove: bool = False) -> list[tuple[str, int]]:
    """The leftovers of killed uploads in the object store ``fs`` under ``root`` that
    began before ``cutoff`` (epoch seconds), as (URL, size in bytes), sorted; with
    ``remove``, those deleted or aborted. An incomplete multipart upload is shown as
    ``s3://<bucket>/<key> (incomplete multipart upload <id>)``.

    One that vanishes meanwhile (completed, or removed by another gc) is left out.

    Raises:
        OSError, or the driver's own error: the store could not be listed or written.
    """
    found = _temporaries(fs, f"{root}/{TEMP_DIR}", cutoff, remove)
    if callable(getattr(fs, "call_s3", None)):
        found += _uploads(fs, root, cutoff, remove)
    return sorted(found)


def epoch_seconds(value: Any) -> float | None:
    """A time as a listing gives it (datetime, epoch number, ISO text) in epoch seconds."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return None


def _modified(fs: Any, path: str, info: dict[str, Any]) -> float | None:
    """When the file at ``path`` was last written, or None when its store does not say."""
    for field in _TIME_FIELDS:
        stamp = epoch_seconds(info.get(field))
        if stamp is not None:
            return stamp
    try:
        return epoch_seconds(fs.modified(path))
    except NotImplementedError:
        return None


def _temporaries(fs: Any, temp_dir: str, cutoff: float, remove: bool) -> list[tuple[str, int]]:
    fs.invalidate_cache(temp_dir)
    try:
        entries = fs.find(temp_dir, maxdepth=1, detail=True)
    except FileNotFoundError:
        return []
    found: list[tuple[str, int]] = []
    for path, info in sorted(entries.items()):
        if not TEMP_NAME.fullmatch(path.rsplit("/", 1)[-1]) or info.get("type") == "directory":
            continue
        stamp = _modified(fs, path, info)
        if stamp is None or stamp >= cutoff:
            continue
        if remove:
            # Its time is read again just before: a temporary written since it was listed is kept.
            fs.invalidate_cache(path)
            try:
                again = _modified(fs, path, fs.info(path))
                if again is None or again >= cutoff:
                    continue
                fs.rm_file(path)
            except FileNotFoundError:
                continue
        found.append((fs.unstrip_protocol(path), int(info.get("size") or 0)))
    return found


def _uploads(fs: Any, root: str, cutoff: float, remove: bool) -> list[tuple[str, int]]:
    bucket, key, _ = fs.split_path(root)
    prefix = f"{key}/" if key else ""
    found: list[tuple[str, int]] = []
    for upload in _list_uploads(fs, bucket, f"{prefix}sha256/"):
        name, upload_id = str(upload["Key"]), str(upload["UploadId"])
        if not _BLOB_KEY.fullmatch(name[len(prefix) :]):
            continue
        began = epoch_seconds(upload.get("Initiated"))
        if began is None or began >= cutoff:
            continue
        size = _parts_size(fs, bucket, name, upload_id)
        if size is None:
            continue
        if remove:
            try:
                fs.call_s3("abort_multipart_upload", Bucket=bucket, Key=name, UploadId=upload_id)
            except FileNotFoundError:
                continue
        url = fs.unstrip_protocol(f"{bucket}/{name}")
        found.append((f"{url} (incomplete multipart upload {upload_id})", size))
    return found


def _list_uploads(fs: Any, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    """Every incomplete multipart upload of ``bucket`` under ``prefix``, page by page."""
    markers: dict[str, str] = {}
    while True:
        page = fs.call_s3("list_multipart_uploads", Bucket=bucket, Prefix=prefix, **markers)
        yield from page.get("Uploads") or []
        if not page.get("IsTruncated"):
            return
        after = {
            "KeyMarker": str(page.get("NextKeyMarker") or ""),
            "UploadIdMarker": str(page.get("NextUploadIdMarker") or ""),
        }
        if not after["KeyMarker"] or after == markers:
            raise OSError(f"the listing of incomplete uploads of bucket {bucket} does not advance")
        markers = after


def _parts_size(fs: Any, bucket: str, key: str, upload_id: str) -> int | None:
    """The bytes of the parts an upload holds, or None when it is no longer there."""
    total = 0
    marker = 0
    while True:
        try:
            page = fs.call_s3(
                "list_parts", Bucket=bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker
            )
        except FileNotFoundError:
            return None
        total += sum(int(part.get("Size") or 0) for part in page.get("Parts") or [])
        following = int(page.get("NextPartNumberMarker") or 0)
        if not page.get("IsTruncated"):
            return total
        if following <= marker:
            raise OSError(f"the listing of the parts of upload {upload_id} does not advance")
        marker = following
