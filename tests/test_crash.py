"""A registering process killed with SIGKILL leaves no trace a user can see."""

from __future__ import annotations

import hashlib
import os
import signal
import time
from pathlib import Path

import pytest

from modelbook import NotFound, Registry

from .procs import run_python

BLOCK = 1024 * 1024
BLOCKS = 256

WORKER = """
import sys
from modelbook import Registry

uri, blobs, path = sys.argv[1:]
reg = Registry(uri, blob_uri=blobs, actor="doomed")
reg.register("big", [path], owners="team", capture_environment=False)
print("registered", flush=True)
"""


def large_file(path: Path) -> str:
    """Write BLOCKS MiB of random-looking data; return its sha256."""
    blocks = [os.urandom(BLOCK) for _ in range(8)]
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        for i in range(BLOCKS):
            chunk = blocks[i % len(blocks)] if i % 3 else os.urandom(BLOCK)
            f.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def partial_files(blob_dir: Path, known: set[str], total: int) -> list[Path]:
    """Files in the blob store that are neither known blobs nor complete."""
    found = []
    for p in blob_dir.rglob("*"):
        try:
            if p.is_file() and p.name not in known and 0 < p.stat().st_size < total:
                found.append(p)
        except FileNotFoundError:
            continue
    return found


@pytest.mark.timeout(300)
def test_sigkill_during_registration_leaves_no_version(
    db_uri: str, blob_dir: Path, tmp_path: Path, model_file: Path
) -> None:
    """Killed while storing a large file: no version, verify clean, and the next
    registration (of the same file) works and takes the next number."""
    with Registry(db_uri, blob_uri=str(blob_dir), actor="tester") as reg:
        first = reg.register("big", [model_file], owners="team", capture_environment=False)
    known = {a.sha256 for a in first.artifacts}
    big = tmp_path / "big.bin"
    big_sha = large_file(big)
    total = BLOCKS * BLOCK

    proc = run_python(WORKER, db_uri, str(blob_dir), str(big))
    try:
        deadline = time.monotonic() + 120
        while not partial_files(blob_dir, known, total):
            if proc.poll() is not None:
                out, err = proc.communicate()
                raise AssertionError(
                    f"worker ended ({proc.returncode}) before a partial file was seen:\n{out}{err}"
                )
            if time.monotonic() > deadline:
                raise AssertionError("no partial file appeared in the blob store")
            time.sleep(0.001)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == -signal.SIGKILL

    with Registry(db_uri, blob_uri=str(blob_dir), actor="tester") as reg:
        assert [v.number for v in reg.versions("big").items] == [1]
        assert reg.get_model("big").latest_version == 1
        with pytest.raises(NotFound):
            reg.get_version("models:/big/2")
        with reg.db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT COUNT(*) FROM versions").scalar_one() == 1
            actions = [r[0] for r in conn.exec_driver_sql("SELECT action FROM events")]
        assert actions.count("version.register") == 1
        report = reg.verify()
        assert report.ok and report.files == 1

        again = reg.register("big", [big], capture_environment=False)
        assert again.number == 2
        assert [(a.size, a.sha256) for a in again.artifacts] == [(total, big_sha)]
        report = reg.verify()
        assert report.ok and report.files == 2 and report.bytes == total + first.size
