"""The audit log filtered by model, on SQLite and on PostgreSQL: a name that never was a
model is NotFound (exit 3), not an empty page that would read as "no events"; the events
of a model whose row is gone stay listed."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from modelbook import NotFound

from .test_cli_release import CLI, cli
from .test_release_flow import Flow, events_of, flow

__all__ = ["cli", "flow"]  # fixtures, imported for pytest


def test_audit_log_of_an_unknown_model_exits_3(cli: CLI, tmp_path: Path) -> None:
    model = tmp_path / "model.bin"
    model.write_bytes(b"weights")
    assert cli("register", "ctr", model, "--owner", "ranking", "--no-capture").code == 0
    for command in (("audit", "log"), ("events",)):
        run = cli(*command, "--model", "ctx")
        assert (run.code, run.out, run.err) == (3, "", "error: model 'ctx' not found\n")
        # A model that exists but has no matching event is an empty page, not an error.
        quiet = cli(*command, "--model", "ctr", "--action", "version.deploy", "--json")
        assert quiet.json()["events"] == []
        assert [e["action"] for e in cli(*command, "--model", "ctr", "--json").json()["events"]]


def test_the_events_of_a_model_whose_row_is_gone_are_still_listed(flow: Flow) -> None:
    """modelbook never deletes a model; should its row be deleted by SQL, its history stays
    readable, and a name that never was a model is still NotFound."""
    reg = flow.reg
    reg.create_model("gone", owners="team", tags={"k": "v"})
    with reg.db.engine.begin() as conn:
        (model_id,) = conn.execute(sa.text("SELECT id FROM models WHERE name = 'gone'")).one()
        conn.execute(sa.text("DELETE FROM model_tags WHERE model_id = :i"), {"i": model_id})
        conn.execute(sa.text("DELETE FROM models WHERE id = :i"), {"i": model_id})
    assert [e.action for e in events_of(reg, "gone")] == ["model.create"]
    assert list(reg.events(model="gone", action="version.deploy").items) == []
    with pytest.raises(NotFound, match="model 'never' not found"):
        reg.events(model="never")
