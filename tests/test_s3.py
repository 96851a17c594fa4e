"""Artifacts on S3-compatible object storage (a local moto server), on both databases."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from modelbook import IntegrityError, Registry


@pytest.fixture
def s3_registry(db_uri: str, s3_blobs: tuple[str, dict[str, object]]) -> Iterator[Registry]:
    url, opts = s3_blobs
    reg = Registry(db_uri, blob_uri=url, blob_options=opts, actor="tester")
    yield reg
    reg.close()


@pytest.fixture
def bucket(s3_server: str, s3_blobs: tuple[str, dict[str, object]]) -> tuple[Any, str]:
    """(boto3 client, bucket name) of the registry's blob store."""
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    return client, s3_blobs[0].removeprefix("s3://").split("/", 1)[0]


def keys(bucket: tuple[Any, str]) -> list[str]:
    client, name = bucket
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=name)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def key_of(bucket: tuple[Any, str], digest: str) -> str:
    return next(k for k in keys(bucket) if k.endswith(digest))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


FILES = {
    "model.bin": os.urandom(3 * 1024 * 1024 + 5),
    "meta/config.json": b'{"k": 1}',
}


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    for rel, data in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def test_register_download_and_verify_on_s3(
    s3_registry: Registry, model_dir: Path, tmp_path: Path, bucket: tuple[Any, str]
) -> None:
    """Files stored in the bucket come back identical and verify clean."""
    v = s3_registry.register("s3model", model_dir, owners="o", capture_environment=False)
    assert [(a.path, a.size, a.sha256) for a in v.artifacts] == sorted(
        (rel, len(data), sha(data)) for rel, data in FILES.items()
    )
    stored = keys(bucket)
    assert len(stored) == 2
    assert {k.rsplit("/", 1)[-1] for k in stored} == {sha(d) for d in FILES.values()}
    out = s3_registry.download(v.uri, tmp_path / "out")
    for rel, data in FILES.items():
        assert (out / rel).read_bytes() == data
    assert s3_registry.read_artifact(v.uri, "meta/config.json") == FILES["meta/config.json"]
    report = s3_registry.verify()
    assert report.ok and report.files == 2 and report.bytes == sum(map(len, FILES.values()))


def test_identical_content_is_one_object(
    s3_registry: Registry, model_dir: Path, tmp_path: Path, bucket: tuple[Any, str]
) -> None:
    """The same bytes registered again, under another name or model, make no new object."""
    s3_registry.register("a", model_dir, owners="o", capture_environment=False)
    copy = tmp_path / "renamed.bin"
    copy.write_bytes(FILES["model.bin"])
    s3_registry.register("a", [copy], capture_environment=False)
    s3_registry.register("b", [copy], owners="o", capture_environment=False)
    assert len(keys(bucket)) == 2
    assert s3_registry.verify().ok


def test_corrupt_and_missing_objects_are_detected(
    s3_registry: Registry, model_dir: Path, tmp_path: Path, bucket: tuple[Any, str]
) -> None:
    """A changed object fails verify and download; a deleted one is reported missing."""
    v = s3_registry.register("s3model", model_dir, owners="o", capture_environment=False)
    client, name = bucket
    client.put_object(Bucket=name, Key=key_of(bucket, sha(FILES["model.bin"])), Body=b"evil")
    report = s3_registry.verify()
    assert [(p.version, p.path, p.kind) for p in report.problems] == [(1, "model.bin", "corrupt")]
    dest = tmp_path / "out"
    with pytest.raises(IntegrityError):
        s3_registry.download(v.uri, dest)
    assert not (dest / "model.bin").exists()
    with pytest.raises(IntegrityError):
        s3_registry.read_artifact(v.uri, "model.bin")

    client.delete_object(Bucket=name, Key=key_of(bucket, sha(FILES["meta/config.json"])))
    kinds = sorted((p.path, p.kind) for p in s3_registry.verify("s3model").problems)
    assert kinds == [("meta/config.json", "missing"), ("model.bin", "corrupt")]
