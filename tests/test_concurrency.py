"""Real concurrent processes: version numbering, model creation and schema migration.

Workers are separate Python interpreters. They wait on a file barrier: each
announces itself with a ``ready-N`` file and starts only when the test creates
``go`` after seeing all of them, so the work really overlaps.
"""

from __future__ import annotations

import itertools
import subprocess
import time
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from modelbook import Registry
from modelbook.store.engine import MIGRATIONS

from .procs import json_lines, run_python, wait_all

WORKERS = 8

BARRIER = """
import sys, time
from pathlib import Path

def barrier(folder, idx):
    Path(folder, f"ready-{idx}").touch()
    deadline = time.monotonic() + 120
    while not Path(folder, "go").exists():
        if time.monotonic() > deadline:
            sys.exit("barrier timed out")
        time.sleep(0.002)
"""

REGISTER_WORKER = (
    BARRIER
    + """
import json, os
from modelbook import Registry

uri, blobs, folder, idx, count, name = sys.argv[1:]
reg = Registry(uri, blob_uri=blobs, actor=f"worker-{idx}")
art = Path(folder, f"artifact-{idx}.bin")
art.write_bytes(os.urandom(256))
barrier(folder, idx)
for _ in range(int(count)):
    v = reg.register(name, [art], owners="team", capture_environment=False)
    print(json.dumps({"number": v.number, "semver": v.semver, "worker": idx}), flush=True)
reg.close()
"""
)

OPEN_WORKER = (
    BARRIER
    + """
import json
from modelbook import Registry

uri, blobs, folder, idx = sys.argv[1:]
barrier(folder, idx)
reg = Registry(uri, blob_uri=blobs, actor=f"worker-{idx}")
print(json.dumps({"models": len(reg.models().items)}), flush=True)
reg.close()
"""
)


def release(folder: Path, procs: list[subprocess.Popen[str]], timeout: float = 120) -> None:
    """Wait until every worker is at the barrier, then let them all go at once."""
    deadline = time.monotonic() + timeout
    while len(list(folder.glob("ready-*"))) < len(procs):
        for p in procs:
            if p.poll() is not None:
                _, err = p.communicate()
                raise AssertionError(f"worker exited {p.returncode} before the barrier:\n{err}")
        if time.monotonic() > deadline:
            raise AssertionError("workers did not reach the barrier in time")
        time.sleep(0.01)
    (folder / "go").touch()


def start(code: str, folder: Path, *args: str) -> list[subprocess.Popen[str]]:
    folder.mkdir(exist_ok=True)
    return [run_python(code, *args[:3], str(i), *args[3:]) for i in range(WORKERS)]


def head_revision() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def scalar(reg: Registry, sql: str) -> object:
    with reg.db.engine.connect() as conn:
        return conn.exec_driver_sql(sql).scalar_one()


@pytest.mark.timeout(300)
def test_eight_processes_register_200_versions_with_consecutive_numbers(
    db_uri: str, blob_dir: Path, tmp_path: Path
) -> None:
    """8 x 25 concurrent registrations of one model give numbers 1..200 and 200 distinct,
    increasing semvers, one model row and one registration event per version."""
    folder = tmp_path / "barrier"
    per_worker = 25
    procs = start(
        REGISTER_WORKER, folder, db_uri, str(blob_dir), str(folder), str(per_worker), "shared"
    )
    release(folder, procs)
    results = [r for out in wait_all(procs) for r in json_lines(out)]

    total = WORKERS * per_worker
    numbers = sorted(int(str(r["number"])) for r in results)
    assert numbers == list(range(1, total + 1))
    assert len({r["semver"] for r in results}) == total
    by_worker: dict[object, list[int]] = {}
    for r in results:
        by_worker.setdefault(r["worker"], []).append(int(str(r["number"])))
    assert all(nums == sorted(nums) for nums in by_worker.values())
    assert len(by_worker) == WORKERS

    with Registry(db_uri, blob_uri=str(blob_dir)) as reg:
        listed = []
        token = None
        while True:
            page = reg.versions("shared", limit=1000, page_token=token, newest_first=False)
            listed.extend(page.items)
            token = page.next_page_token
            if token is None:
                break
        assert [v.number for v in listed] == list(range(1, total + 1))
        # Each registration bumps the highest semver of its moment: MINOR for another
        # worker's file, PATCH for the same file again; always increasing with the number.
        parts = [tuple(int(x) for x in v.semver.split(".")) for v in listed]
        assert parts[0] == (1, 0, 0)
        assert all(a < b for a, b in itertools.pairwise(parts))
        assert reg.get_model("shared").latest_version == total
        assert scalar(reg, "SELECT COUNT(*) FROM models") == 1
        assert scalar(reg, "SELECT COUNT(*) FROM events WHERE action = 'version.register'") == total
        assert reg.verify("shared").ok
        nxt = reg.register("shared", [folder / "artifact-0.bin"], capture_environment=False)
        assert nxt.number == total + 1


@pytest.mark.timeout(300)
def test_eight_processes_create_a_new_model_once(
    db_uri: str, blob_dir: Path, tmp_path: Path
) -> None:
    """8 processes registering the first version of a new model at once: one model,
    created once, with versions 1..8."""
    folder = tmp_path / "barrier"
    procs = start(REGISTER_WORKER, folder, db_uri, str(blob_dir), str(folder), "1", "brand_new")
    release(folder, procs)
    results = [r for out in wait_all(procs) for r in json_lines(out)]
    assert sorted(int(str(r["number"])) for r in results) == list(range(1, WORKERS + 1))
    with Registry(db_uri, blob_uri=str(blob_dir)) as reg:
        assert [m.name for m in reg.models().items] == ["brand_new"]
        assert reg.get_model("brand_new").owners == ("team",)
        assert [v.number for v in reg.versions("brand_new").items] == list(range(WORKERS, 0, -1))
        assert scalar(reg, "SELECT COUNT(*) FROM models") == 1
        assert scalar(reg, "SELECT COUNT(*) FROM events WHERE action = 'model.create'") == 1


@pytest.mark.timeout(300)
def test_eight_processes_open_a_brand_new_registry_at_once(
    new_db_uri: str, blob_dir: Path, tmp_path: Path
) -> None:
    """8 processes opening the same empty database together all succeed; the schema is
    migrated once to the head revision and works afterwards."""
    folder = tmp_path / "barrier"
    procs = start(OPEN_WORKER, folder, new_db_uri, str(blob_dir), str(folder))
    release(folder, procs)
    results = [r for out in wait_all(procs) for r in json_lines(out)]
    assert results == [{"models": 0}] * WORKERS
    with Registry(new_db_uri, blob_uri=str(blob_dir)) as reg:
        with reg.db.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
        assert [r[0] for r in rows] == [head_revision()]
        model = tmp_path / "m.bin"
        model.write_bytes(b"weights")
        assert reg.register("after", [model], owners="o").number == 1
