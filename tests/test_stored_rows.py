"""Rows of a registry edited in SQL, outside modelbook, are damage (IntegrityError, exit 7)
naming the alias, model or version, never the caller's input, never a crash; nothing is
written on them. On SQLite and PostgreSQL.

- An alias row whose stored number disagrees with the version it points at
  (``aliases.number`` or ``aliases.version_id`` edited): the version row is the truth.
- A model row whose owners, tags or risk tier no modelbook writes, met by a rollback drill.
- An artifact row (``artifacts.sha256``) edited apart from the version's manifest: every
  read uses the manifest; ``verify`` and ``gc``, which read the rows, refuse.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from modelbook import Registry
from modelbook.errors import IntegrityError

from .test_audit_log import sql
from .test_audit_state import scalar
from .test_cli_lineage import Run, in_process
from .test_release_flow import DEPLOYERS, OPEN, Flow, make_flow
from .test_stored_values import written


@pytest.fixture
def run(db_uri: str, blob_dir: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    return in_process(db_uri, blob_dir, capsys)


@pytest.fixture
def flow(registry: Registry, tmp_path: Path) -> Flow:
    flow = make_flow(registry, tmp_path)
    registry.set_policy(OPEN, actor="tester")
    return flow


# aliases ------------------------------------------------------------------------------------


def _edit_alias(reg: Registry, how: str) -> None:
    """production (at 3) made to disagree with the version it points at."""
    if how == "number":
        sql(reg, "UPDATE aliases SET number = 2 WHERE name = 'production'")
    elif how == "version_id":
        vid = scalar(
            reg,
            "SELECT v.id FROM versions v JOIN models m ON m.id = v.model_id "
            "WHERE m.name = 'm' AND v.number = 2",
        )
        sql(reg, "UPDATE aliases SET version_id = :v WHERE name = 'production'", v=vid)
    else:  # another model's version
        vid = scalar(
            reg,
            "SELECT v.id FROM versions v JOIN models m ON m.id = v.model_id "
            "WHERE m.name = 'other' AND v.number = 1",
        )
        sql(reg, "UPDATE aliases SET version_id = :v WHERE name = 'production'", v=vid)


@pytest.fixture(params=["number", "version_id", "other model"])
def edited_alias(request: pytest.FixtureRequest, flow: Flow) -> Flow:
    """m 1, 2, 3 deployed in turn (production at 3), then production's row edited."""
    flow.deployed()
    flow.deployed()
    third = flow.deployed()
    flow.reg.pin_alias("m", "production", int(str(third.semver).split(".")[0]), actor="tester")
    flow.add("other")
    _edit_alias(flow.reg, request.param)
    return flow


ALIAS_READS: dict[str, Callable[[Registry], Any]] = {
    "aliases": lambda r: r.aliases("m"),
    "alias_pins": lambda r: r.alias_pins("m"),
    "resolve": lambda r: r.resolve("models:/m@production"),
    "get_version": lambda r: r.get_version("models:/m@production"),
    "rollback": lambda r: r.rollback("m", reason_code="kpi_drop", actor=DEPLOYERS[0]),
    "rollback dry run": lambda r: r.rollback(
        "m", reason_code="kpi_drop", dry_run=True, actor=DEPLOYERS[0]
    ),
    "drill": lambda r: r.drill("m", actor=DEPLOYERS[0]),
    "deploy": lambda r: r.deploy("models:/m/1", reason="x", actor=DEPLOYERS[0]),
    "set_alias": lambda r: r.set_alias("m", "production", 1, reason="x", actor=DEPLOYERS[0]),
}


@pytest.mark.parametrize("operation", list(ALIAS_READS))
def test_an_alias_that_disagrees_with_its_version_is_damage(
    edited_alias: Flow, operation: str
) -> None:
    reg = edited_alias.reg
    before = written(reg)
    with pytest.raises(IntegrityError) as err:
        ALIAS_READS[operation](reg)
    assert "models:/m@production" in err.value.message, err.value.message
    assert written(reg) == before


@pytest.mark.parametrize(
    "args",
    [
        ("alias", "list", "m"),
        ("rollback", "m", "--reason-code", "kpi_drop"),
        ("rollback", "m", "--drill"),
        ("show", "models:/m@production"),
    ],
    ids=["alias list", "rollback", "drill", "show"],
)
def test_the_cli_exits_7_naming_an_alias_that_disagrees_with_its_version(
    edited_alias: Flow,
    run: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
) -> None:
    before = written(edited_alias.reg)
    monkeypatch.setenv("MODELBOOK_USER", DEPLOYERS[0])
    cli = run(*args)
    assert cli.code == 7, (cli.code, cli.out, cli.err)
    assert "models:/m@production" in cli.err
    assert written(edited_alias.reg) == before


# a drill on a damaged model row -------------------------------------------------------------

MODEL_DAMAGE = {
    "owners": "UPDATE models SET owners = 'not json' WHERE name = 'm'",
    "tags": "UPDATE models SET tags = '[1, 2' WHERE name = 'm'",
    "risk tier": "UPDATE models SET risk_tier = 'bogus' WHERE name = 'm'",
}


@pytest.mark.parametrize("damage", list(MODEL_DAMAGE))
def test_a_drill_reports_a_damaged_model_row_as_the_rollback_would(
    flow: Flow, damage: str, run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = flow.reg
    flow.deployed()
    flow.deployed()
    sql(reg, MODEL_DAMAGE[damage])
    before = written(reg)
    with pytest.raises(IntegrityError, match="model 'm'"):
        reg.rollback("m", reason_code="kpi_drop", actor=DEPLOYERS[0])
    with pytest.raises(IntegrityError, match="model 'm'"):
        reg.drill("m", actor=DEPLOYERS[0])
    monkeypatch.setenv("MODELBOOK_USER", DEPLOYERS[0])
    cli = run("rollback", "m", "--drill")
    assert cli.code == 7, (cli.code, cli.out, cli.err)
    assert "model 'm'" in cli.err
    assert written(reg) == before


# artifact rows edited apart from the manifest ---------------------------------------------


def test_an_artifact_row_edited_apart_from_the_manifest_never_loses_the_blob(
    flow: Flow, tmp_path: Path, run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The manifest in the version's record is the truth every read uses; the artifact rows
    are its copy, which ``verify`` and ``gc`` read and check against it first. gc took
    the rows for the truth and deleted the blob of a file whose row was edited."""
    reg = flow.reg
    flow.deployed()
    flow.deployed()
    one = reg.get_version("models:/m/1").artifacts[0]
    sql(
        reg,
        "UPDATE artifacts SET sha256 = :s WHERE sha256 = :o",
        s="f" * 64,
        o=one.sha256,
    )
    before = written(reg)
    with pytest.raises(IntegrityError, match="models:/m/1"):
        reg._gc.gc(actor="tester", apply=True, grace=0)
    with pytest.raises(IntegrityError, match="models:/m/1"):
        reg.gc(actor="tester")
    with pytest.raises(IntegrityError, match="models:/m/1"):
        reg.verify()
    monkeypatch.setenv("MODELBOOK_USER", "tester")
    cli = run("gc", "--apply")
    assert cli.code == 7, (cli.code, cli.out, cli.err)
    assert "models:/m/1" in cli.err
    assert written(reg) == before
    assert reg.get_version("models:/m/1").artifacts[0].sha256 == one.sha256
    assert reg.read_artifact("models:/m/1", one.path)
    dest = reg.download("models:/m/1", tmp_path / "dest")
    assert (dest / one.path).is_file()
