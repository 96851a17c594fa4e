"""A registration's new blobs are made durable on a worker thread while it compares the
version and writes its rows; nothing reads them, and nothing commits, before they are."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from sklearn.linear_model import LogisticRegression

from modelbook import Registry, Unavailable
from modelbook import blobs_landing as landing

from .test_register import count
from .test_semver_classification import IRIS_X, IRIS_Y, _sklearn


class _Held(Future[None]):
    """A landing that runs only when someone waits for it: whatever needs the blob
    before waiting for it finds it missing."""

    def __init__(self, fn: Callable[..., None], args: tuple[Any, ...]) -> None:
        super().__init__()
        self._work = (fn, args)
        held.append(self)

    def result(self, timeout: float | None = None) -> None:
        if not self.done():
            fn, args = self._work
            try:
                fn(*args)
            except BaseException as exc:  # noqa: BLE001 - handed to the waiter, as a worker would
                self.set_exception(exc)
            else:
                self.set_result(None)
        return super().result(timeout)


held: list[_Held] = []


@pytest.fixture
def held_landings(monkeypatch: pytest.MonkeyPatch) -> list[_Held]:
    held.clear()
    monkeypatch.setattr(landing, "submit", lambda fn, *args: _Held(fn, args))
    return held


def test_a_version_is_committed_only_once_its_blobs_are_durable(
    registry: Registry, tmp_path: Path, held_landings: list[_Held]
) -> None:
    src = tmp_path / "w.bin"
    src.write_bytes(b"weights" * 100)
    v = registry.register("m", [src], owners=["o"], capture_environment=False)
    assert len(held_landings) == 1 and held_landings[0].done()
    assert registry.read_artifact(v.uri, "w.bin") == src.read_bytes()
    assert registry.verify("m").ok


def test_predictions_are_compared_once_the_new_blobs_are_durable(
    registry: Registry, tmp_path: Path, held_landings: list[_Held]
) -> None:
    """The comparison with the parent loads the new model from the blob store."""
    _sklearn(registry, tmp_path, LogisticRegression(max_iter=1000).fit(IRIS_X, IRIS_Y), IRIS_X)
    other = LogisticRegression(max_iter=1000, C=0.01).fit(IRIS_X, IRIS_Y)
    v2 = _sklearn(registry, tmp_path, other, IRIS_X)
    c = v2.classification
    assert c is not None and c.method == "predictions", c


def test_a_blob_that_cannot_be_made_durable_leaves_no_version(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's fsync fails: the registration raises Unavailable naming the file,
    writes no row and leaves no blob or temporary behind."""
    src = tmp_path / "w.bin"
    src.write_bytes(b"weights" * 100)
    registry.register("m", [src], owners=["o"], capture_environment=False)
    blobs_before = sorted(p.name for p in Path(registry.blob_uri).rglob("*") if p.is_file())
    rows = count(registry, "versions"), count(registry, "events")
    real_fsync = os.fsync

    def failing(fd: int) -> None:
        real_fsync(fd)
        raise OSError(errno.EIO, "Input/output error")

    from modelbook import blobs

    monkeypatch.setattr(blobs.os, "fsync", failing)
    src.write_bytes(b"other weights" * 100)
    with pytest.raises(Unavailable, match=r"cannot store .*w\.bin.*Input/output error"):
        registry.register("m", [src], owners=["o"], capture_environment=False)
    monkeypatch.undo()
    assert (count(registry, "versions"), count(registry, "events")) == rows
    after = sorted(p.name for p in Path(registry.blob_uri).rglob("*") if p.is_file())
    assert after == blobs_before
