"""``modelbook doctor``'s last line, on SQLite and PostgreSQL: it names the required
fields deployed versions actually miss, and says plainly when none misses any."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelbook import Registry

from .test_cli import run_main
from .test_reports import POLICY, build


def test_the_summary_names_what_is_missing_not_the_whole_required_list(
    registry: Registry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    reg = build(registry, tmp_path).registry
    monkeypatch.setenv("MODELBOOK_URI", reg.db.uri)
    monkeypatch.setenv("MODELBOOK_BLOB_URI", reg.blob_uri)
    run = run_main(["doctor", "--stage", "deployed"], capsys)
    assert run.code == 0, run.err
    last = run.out.strip().splitlines()[-1]
    assert "0 deployed" not in last
    assert last.endswith(
        "no deployed version misses a required field (the policy requires: "
        f"{', '.join(reg.doctor().required)})"
    )
    reg.set_policy(
        POLICY.replace('"approvals.review"]', '"approvals.review", "online.monitoring_job"]'),
        source="policy.toml",
    )
    run = run_main(["doctor", "--stage", "deployed"], capsys)
    assert run.code == 13
    last = run.out.strip().splitlines()[-1]
    assert last.endswith("1 deployed version(s) miss required fields: online.monitoring_job (1)")
    assert "identity.owners" not in last and "code.commit" not in last
