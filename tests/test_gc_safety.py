"""gc removes only the store's own unreferenced blobs: never a file reached through a
link planted in the store, never a key that is not a blob's own, and never a blob
written again after gc listed it (a registration of the same bytes in between)."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelbook import Registry
from modelbook.blobs import BlobStore

from .test_gc_object_store import Bucket, blob_key, bucket, gc, s3_registry  # noqa: F401
from .test_release_flow import ADMIN

DAY = 86_400


@pytest.fixture
def admin_registry(registry: Registry) -> Registry:
    registry.grant_role(ADMIN, "admin", first_admin=True)
    return registry


def _aged(path: Path, days: float = 3) -> None:
    then = time.time() - days * DAY
    os.utime(path, (then, then), follow_symlinks=False)


def test_a_shard_that_links_outside_the_store_is_neither_listed_nor_removed(
    admin_registry: Registry, blob_dir: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    precious = outside / ("ee" + "1" * 62)
    precious.write_bytes(b"the user's own file")
    _aged(precious)
    (blob_dir / "sha256").mkdir(exist_ok=True)
    (blob_dir / "sha256" / "ee").symlink_to(outside)
    # A blob file that is itself a link, in a real shard.
    linked = outside / ("ab" + "2" * 62)
    linked.write_bytes(b"also the user's")
    _aged(linked)
    (blob_dir / "sha256" / "ab").mkdir()
    (blob_dir / "sha256" / "ab" / linked.name).symlink_to(linked)
    # An orphan blob of the store's own, which gc does remove.
    data = b"an orphan"
    digest = hashlib.sha256(data).hexdigest()
    (blob_dir / "sha256" / digest[:2]).mkdir(exist_ok=True)
    orphan = blob_dir / "sha256" / digest[:2] / digest
    orphan.write_bytes(data)
    _aged(orphan)

    dry = gc(admin_registry, grace=DAY)
    assert dry.blobs == (digest,)
    applied = gc(admin_registry, grace=DAY, apply=True)
    assert applied.blobs == (digest,)
    assert not orphan.exists()
    assert precious.read_bytes() == b"the user's own file"
    assert linked.read_bytes() == b"also the user's"


def test_a_blob_in_the_wrong_shard_is_not_listed(admin_registry: Registry, blob_dir: Path) -> None:
    data = b"misplaced"
    digest = hashlib.sha256(data).hexdigest()
    wrong = "00" if digest[:2] != "00" else "01"
    (blob_dir / "sha256" / wrong).mkdir(parents=True)
    misplaced = blob_dir / "sha256" / wrong / digest
    misplaced.write_bytes(data)
    _aged(misplaced)
    assert gc(admin_registry, grace=DAY).blobs == (), "listed, but gc would not remove it"
    assert gc(admin_registry, grace=DAY, apply=True).blobs == ()
    assert misplaced.exists()


def test_an_object_key_that_is_not_a_blobs_own_is_not_listed(
    s3_registry: Registry,  # noqa: F811
    bucket: Bucket,  # noqa: F811
) -> None:
    data = b"nested"
    digest = hashlib.sha256(data).hexdigest()
    nested = f"{bucket.root}/sha256/{digest[:2]}/deep/{digest}"
    wrong = f"{bucket.root}/sha256/zz/{digest}"
    own = blob_key(bucket.root, b"an orphan of the store's own")
    for key in (nested, wrong, own):
        bucket.put(key, data)
    assert gc(s3_registry, grace=-60).blobs == (own.rsplit("/", 1)[-1],)
    report = gc(s3_registry, grace=-60, apply=True)
    assert report.blobs == (own.rsplit("/", 1)[-1],)
    left = bucket.keys()
    assert {nested, wrong} <= left and own not in left


def test_a_blob_written_again_after_gc_listed_it_is_kept(
    s3_registry: Registry,  # noqa: F811
    bucket: Bucket,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = b"an orphan that a registration uploads again"
    key = blob_key(bucket.root, data)
    bucket.put(key, data)
    stamp = bucket.client.head_object(Bucket=bucket.name, Key=key)["LastModified"].timestamp()
    # The store keeps whole seconds: the upload again must fall in a later one.
    while time.time() < stamp + 1.05:
        time.sleep(0.05)
    listing = BlobStore.iter_blobs

    def listed_then_uploaded_again(self: BlobStore) -> Iterator[tuple[str, int, float]]:
        yield from listing(self)
        bucket.put(key, data)

    monkeypatch.setattr(BlobStore, "iter_blobs", listed_then_uploaded_again)
    # The cutoff falls between the first upload and the second.
    report = gc(s3_registry, grace=time.time() - (stamp + 0.5), apply=True)
    assert report.blobs == ()
    left = bucket.keys()
    assert key in left
