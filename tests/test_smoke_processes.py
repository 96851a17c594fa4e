"""The smoke test ends every process the model started, even one that left the process
group or was orphaned, whether the model hangs past the limit or returns; and its
memory limit has a range (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from modelbook import InvalidInput, Registry
from modelbook.services.smoke import MAX_MEMORY_MB

from .flavor_models import Escapes
from .test_cli import CLI, cli, home  # noqa: F401 - fixtures

X = pd.DataFrame({"a": [1.0, 2.0]})


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs: a zombie waiting to be reaped has ended."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def _smoke(reg: Registry, tmp_path: Path, model: Any, timeout: float) -> Any:
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(model))
    v = reg.register("m", [tmp_path / "m.pkl"], owners="o", sample=X, capture_environment=False)
    return reg.smoke(v.uri, timeout_s=timeout)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize(
    ("hang", "orphan"),
    [(True, False), (True, True), (False, False), (False, True)],
    ids=["timeout", "timeout-orphan", "returns", "returns-orphan"],
)
def test_no_process_the_model_started_survives(
    registry: Registry, tmp_path: Path, hang: bool, orphan: bool
) -> None:
    pidfile = tmp_path / "grandchild.pid"
    # A hanging model runs to the limit, so its limit is short; one that returns gets
    # room for a slow start on a loaded machine.
    limit = 8 if hang else 20
    result = _smoke(registry, tmp_path, Escapes(str(pidfile), hang=hang, orphan=orphan), limit)
    assert pidfile.exists(), result.message  # the model got as far as starting it
    pid = int(pidfile.read_text())
    try:
        assert not _alive(pid)
    finally:
        if _alive(pid):
            os.kill(pid, 9)
    if hang:
        assert not result.passed and f"did not finish within {limit} s: killed" in result.message
    else:
        assert result.passed, result.message


def test_the_memory_limit_has_a_range(
    registry: Registry,
    cli: CLI,  # noqa: F811
    db_uri: str,
    blob_dir: Path,
    tmp_path: Path,
) -> None:
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(Escapes("unused", hang=False)))
    v = registry.register(
        "m", [tmp_path / "m.pkl"], owners="o", sample=X, capture_environment=False
    )
    for bad in (MAX_MEMORY_MB + 1, 10**15, 10):
        with pytest.raises(InvalidInput, match=r"from 256 to 1048576 \(1 TiB\)"):
            registry.smoke(v.uri, memory_mb=bad)
    run = cli("--uri", db_uri, "--blob-uri", blob_dir, "smoke", v.uri, "--memory", 10**9)
    assert run.code == 6 and "from 256 to 1048576" in run.err, run
    assert registry.annotations(v.uri).smoke_tests == ()  # nothing recorded
