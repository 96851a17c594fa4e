"""gc on an object store: what an upload killed mid-way leaves (an incomplete multipart
upload at a blob's key on S3, a temporary key on a store whose files commit on close) is
listed, and with --apply aborted or removed, only under the store's own root."""

from __future__ import annotations

import functools
import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from modelbook import Registry, Unavailable
from modelbook.blobs import BlobStore
from modelbook.blobs_abandoned import abandoned
from modelbook.blobs_temp import TEMP_DIR, temp_name
from modelbook.domain import thaw
from modelbook.services.gc import GcService
from tests import test_blob_store_errors, test_cli
from tests.test_blob_store_errors import SECRET
from tests.test_cli import CLI
from tests.test_release_flow import ADMIN, events_of

home = test_cli.home
cli = test_cli.cli
unreachable_s3 = test_blob_store_errors.unreachable_s3


def blob_key(root: str, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    return f"{root}/sha256/{digest[:2]}/{digest}"


class Bucket:
    """The registry's bucket, seen through boto3 rather than through modelbook."""

    def __init__(self, endpoint: str, url: str) -> None:
        self.client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        self.name, self.root = url.removeprefix("s3://").split("/", 1)

    def start_upload(self, key: str, *parts: int) -> str:
        """An upload of parts of these sizes to ``key``, never completed: a killed one."""
        upload = self.client.create_multipart_upload(Bucket=self.name, Key=key)["UploadId"]
        for number, size in enumerate(parts, 1):
            self.client.upload_part(
                Bucket=self.name, Key=key, UploadId=upload, PartNumber=number, Body=b"p" * size
            )
        return str(upload)

    def uploads(self) -> set[tuple[str, str]]:
        found = self.client.list_multipart_uploads(Bucket=self.name).get("Uploads", [])
        return {(u["Key"], u["UploadId"]) for u in found}

    def began(self, upload: str) -> float:
        """When the server says ``upload`` was initiated, in epoch seconds."""
        found = self.client.list_multipart_uploads(Bucket=self.name)["Uploads"]
        return float(next(u["Initiated"] for u in found if u["UploadId"] == upload).timestamp())

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.name, Key=key, Body=data)

    def keys(self) -> set[str]:
        found = self.client.list_objects_v2(Bucket=self.name).get("Contents", [])
        return {o["Key"] for o in found}

    def shown(self, key: str, upload: str | None = None) -> str:
        """How gc names the key (and the upload to it)."""
        url = f"s3://{self.name}/{key}"
        return url if upload is None else f"{url} (incomplete multipart upload {upload})"


@pytest.fixture
def bucket(s3_server: str, s3_blobs: tuple[str, dict[str, object]]) -> Bucket:
    return Bucket(s3_server, s3_blobs[0])


@pytest.fixture
def s3_registry(db_uri: str, s3_blobs: tuple[str, dict[str, object]]) -> Iterator[Registry]:
    url, opts = s3_blobs
    reg = Registry(db_uri, blob_uri=url, blob_options=opts, actor=ADMIN)
    reg.grant_role(ADMIN, "admin", first_admin=True)
    yield reg
    reg.close()


def gc(reg: Registry, *, grace: float, apply: bool = False) -> Any:
    """gc with its grace given: -60 puts the cutoff a minute ahead, so all looks old."""
    return reg._gc.gc(actor=ADMIN, apply=apply, grace=grace)


def test_gc_lists_and_aborts_what_killed_uploads_left_under_its_root_only(
    s3_registry: Registry, bucket: Bucket, tmp_path: Path
) -> None:
    reg = s3_registry
    model = tmp_path / "model.bin"
    model.write_bytes(os.urandom(2048))
    v = reg.register("m", [model], owners="o", capture_environment=False)
    root = bucket.root
    killed_key = blob_key(root, b"a large file whose upload was killed")
    killed = bucket.start_upload(killed_key, 5000, 300)
    # Other prefixes of the same bucket, one of which starts with the root's name.
    foreign = {
        (key, bucket.start_upload(key, 100))
        for key in (blob_key("elsewhere", b"x"), blob_key(f"{root}-old", b"y"))
    }
    temp_key = f"{root}/{TEMP_DIR}/{temp_name()}"
    bucket.put(temp_key, b"t" * 777)
    bucket.put(f"{root}/{TEMP_DIR}/notes.part", b"the user's own")
    keys = bucket.keys()

    # Within the grace from its start an upload is in progress: neither listed nor aborted.
    in_progress = time.time() - bucket.began(killed) + 600
    for apply in (False, True):
        report = gc(reg, grace=in_progress, apply=apply)
        assert (report.temporaries, report.temporary_bytes) == ((), 0)
    assert bucket.uploads() == {(killed_key, killed), *foreign}
    events = len(events_of(reg))

    dry = gc(reg, grace=-60)
    listed = (bucket.shown(killed_key, killed), bucket.shown(temp_key))
    assert not dry.applied and dry.blobs == ()
    assert dry.temporaries == tuple(sorted(listed))
    assert dry.temporary_bytes == 5300 + 777
    assert bucket.uploads() == {(killed_key, killed), *foreign}
    assert bucket.keys() == keys
    assert len(events_of(reg)) == events, "a dry run records nothing"

    applied = gc(reg, grace=-60, apply=True)
    assert applied.applied and applied.temporaries == dry.temporaries
    assert applied.temporary_bytes == 5300 + 777
    assert bucket.uploads() == foreign
    assert bucket.keys() == keys - {temp_key}
    last = events_of(reg)[-1]
    assert last.action == "blobs.gc"
    assert thaw(last.after) == {
        "removed": [],
        "bytes": 0,
        "temporaries": 2,
        "temporary_bytes": 6077,
    }
    again = gc(reg, grace=-60)
    assert (again.temporaries, again.temporary_bytes) == ((), 0)
    assert reg.read_artifact(v.uri, "model.bin") == model.read_bytes()
    assert reg.verify().ok and reg.verify_audit().ok


def test_the_cli_lists_and_aborts_an_incomplete_upload(
    cli: CLI, db_uri: str, s3_server: str, bucket: Bucket, s3_blobs: tuple[str, dict[str, object]],
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    import s3fs

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    s3fs.S3FileSystem.clear_instance_cache()
    monkeypatch.setattr(GcService, "gc", functools.partialmethod(GcService.gc, grace=-60))
    base = ["--uri", db_uri, "--blob-uri", s3_blobs[0]]
    model = tmp_path / "x.bin"
    model.write_bytes(b"weights")
    assert cli(*base, "register", "bm", model, "--owner", "o", "--no-capture").code == 0
    assert cli(*base, "role", "grant", "carol", "admin", "--first-admin").code in (0, 5)
    key = blob_key(bucket.root, b"killed")
    upload = bucket.start_upload(key, 4000)
    shown = bucket.shown(key, upload)

    dry = cli(*base, "gc")
    assert dry.code == 0, dry.err
    assert f"would remove temporary {shown}" in dry.out
    assert "would remove 1 abandoned temporary file(s), 4000 bytes" in dry.out
    listed = cli(*base, "gc", "--json").json()
    assert (listed["temporaries"], listed["temporary_bytes"]) == ([shown], 4000)
    assert bucket.uploads() == {(key, upload)}

    applied = cli(*base, "gc", "--apply")
    assert applied.code == 0, applied.err
    assert f"removed temporary {shown}" in applied.out
    assert bucket.uploads() == set()
    assert cli(*base, "verify").code == 0


@pytest.fixture
def memory_store() -> Iterator[BlobStore]:
    """A store whose files commit whenever closed: uploads go through a temporary key."""
    store = BlobStore(f"memory://mb-{uuid.uuid4().hex}/blobs")
    yield store
    store.fs.rm(store.root, recursive=True)


def test_a_temporary_key_left_in_a_store_that_commits_on_close_is_removed(
    memory_store: BlobStore, tmp_path: Path
) -> None:
    src = tmp_path / "f.bin"
    src.write_bytes(b"stored")
    digest, _ = memory_store.put_file(src)
    left = f"{memory_store.temp_dir}/{temp_name()}"
    memory_store.fs.pipe(left, b"k" * 321)
    memory_store.fs.pipe(f"{memory_store.temp_dir}/mine.part", b"not the store's")
    shown = memory_store.fs.unstrip_protocol(left)

    assert memory_store.stale_temporaries(time.time() - 3600) == []
    assert memory_store.stale_temporaries(time.time() + 60) == [(shown, 321)]
    assert memory_store.fs.exists(left)
    assert memory_store.stale_temporaries(time.time() + 60, remove=True) == [(shown, 321)]
    assert not memory_store.fs.exists(left)
    assert memory_store.fs.exists(f"{memory_store.temp_dir}/mine.part")
    assert memory_store.read_verified(digest, 6) == b"stored"


class PagedS3:
    """An S3 file system answering in pages of one, as a bucket with many uploads does."""

    def __init__(self, uploads: list[tuple[str, str]]) -> None:
        self.uploads = uploads
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def invalidate_cache(self, path: str) -> None:
        pass

    def find(self, path: str, **kwargs: Any) -> dict[str, Any]:
        return {}

    def split_path(self, path: str) -> tuple[str, str, None]:
        bucket, key = path.split("/", 1)
        return bucket, key, None

    def unstrip_protocol(self, path: str) -> str:
        return f"s3://{path}"

    def call_s3(self, method: str, **kwargs: Any) -> dict[str, Any]:
        self.calls.append((method, kwargs))
        if method == "list_parts":
            number = kwargs["PartNumberMarker"] + 1
            more = number < 3
            return {"Parts": [{"Size": 10 * number}], "IsTruncated": more,
                    "NextPartNumberMarker": number}  # fmt: skip
        assert method == "list_multipart_uploads"
        keys = [key for key, _ in self.uploads]
        at = keys.index(kwargs["KeyMarker"]) + 1 if "KeyMarker" in kwargs else 0
        key, upload = self.uploads[at]
        page = {"Key": key, "UploadId": upload, "Initiated": 0}
        more = at + 1 < len(self.uploads)
        return {"Uploads": [page], "IsTruncated": more, "NextKeyMarker": key,
                "NextUploadIdMarker": upload}  # fmt: skip


def test_every_page_of_incomplete_uploads_and_of_their_parts_is_read() -> None:
    keys = [blob_key("r", bytes([n])) for n in range(3)]
    fs = PagedS3([(key, f"u{n}") for n, key in enumerate(keys)])
    found = abandoned(fs, "b/r", 1.0)
    assert found == sorted(
        (f"s3://b/{key} (incomplete multipart upload u{n})", 60) for n, key in enumerate(keys)
    )
    listings = [kw for method, kw in fs.calls if method == "list_multipart_uploads"]
    assert [(kw.get("KeyMarker"), kw.get("UploadIdMarker")) for kw in listings] == [
        (None, None),
        (keys[0], "u0"),
        (keys[1], "u1"),
    ]
    assert all(kw["Prefix"] == "r/sha256/" for kw in listings)


def test_a_store_that_cannot_be_listed_is_unavailable_without_its_secrets(
    unreachable_s3: str,
) -> None:
    store = BlobStore(f"s3://bucket/blobs?access_key={SECRET}&secret_key={SECRET}")
    with pytest.raises(Unavailable) as caught:
        store.stale_temporaries(time.time())
    message = caught.value.message
    assert "cannot list the abandoned uploads of blob store s3://bucket/blobs?" in message
    assert SECRET not in message
