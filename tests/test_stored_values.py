"""A value read back from the registry is never taken for the caller's input: a row
damaged or edited in SQL is a damaged registry (IntegrityError, exit 7) naming the
version, refused before anything is written, on SQLite and PostgreSQL.

- An artifact path in a version's stored record (``versions.doc``) that no
  registration writes (absolute, with ``..``) names a file outside the folder a
  download or a load writes to.
- An artifact in a version's stored record that no registration writes (a path
  outside its folder, a sha256 that is not 64 lowercase hex characters) is refused by
  every read of the version, not only by a download or a load: shown, exported,
  verified, drilled, approved or deployed, it is damage.
- A stage in ``versions.stage`` that the registry's stage graph does not have.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from modelbook import Registry
from modelbook.errors import IntegrityError

from .test_audit_frozen import drop_frozen_trigger
from .test_audit_log import sql
from .test_audit_state import scalar, version_id
from .test_cli_lineage import Run, in_process
from .test_release_flow import DEPLOYERS, OPEN, REGISTRANT, REVIEWERS, Flow, make_flow


@pytest.fixture
def run(db_uri: str, blob_dir: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    return in_process(db_uri, blob_dir, capsys)


def written(reg: Registry) -> tuple[Any, ...]:
    """What a refused operation must leave as it was: stages, aliases, events, annotations."""
    with reg.db.engine.connect() as conn:
        versions = conn.exec_driver_sql(
            "SELECT number, stage, deprecated_at, aliases FROM versions ORDER BY id"
        ).all()
    return (
        scalar(reg, "SELECT count(*) FROM events"),
        scalar(reg, "SELECT count(*) FROM annotations"),
        [tuple(r) for r in versions],
    )


# stored artifact paths ---------------------------------------------------------------------


def _stored_path(reg: Registry, model: str, number: int, path: str) -> None:
    vid = version_id(reg, model, number)
    doc = json.loads(scalar(reg, "SELECT doc FROM versions WHERE id = :v", v=vid))
    doc["artifacts"][0]["path"] = path
    sql(reg, "UPDATE versions SET doc = :d WHERE id = :v", d=json.dumps(doc), v=vid)


@pytest.fixture(params=["absolute", "dotdot"])
def escaping(request: pytest.FixtureRequest, registry: Registry, tmp_path: Path) -> Path:
    """models:/m/1 whose one stored artifact path names ``tmp_path/outside/escaped.bin``."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "model.bin").write_bytes(b"weights")
    registry.register("m", [src / "model.bin"], owners="o", capture_environment=False)
    drop_frozen_trigger(registry)
    target = tmp_path / "outside" / "escaped.bin"
    # Relative to any folder directly under tmp_path (the download's, the load's is not).
    stored = str(target) if request.param == "absolute" else "../outside/escaped.bin"
    _stored_path(registry, "m", 1, stored)
    return target


def test_a_stored_path_outside_the_folder_fails_download_as_damage(
    registry: Registry, escaping: Path, tmp_path: Path, run: Callable[..., Run]
) -> None:
    dest = tmp_path / "dest"
    with pytest.raises(IntegrityError) as err:
        registry.download("models:/m/1", dest)
    assert "models:/m/1" in err.value.message
    assert "escaped.bin" in err.value.message
    assert "damaged or edited" in err.value.message
    cli = run("download", "models:/m/1", dest)
    assert cli.code == 7, cli.err
    assert "models:/m/1" in cli.err
    assert not dest.exists()
    assert not escaping.parent.exists()
    assert any("models:/m/1" in p for p in registry.verify_audit().record_problems)


def test_a_stored_path_outside_the_folder_fails_load_as_damage(
    registry: Registry, escaping: Path
) -> None:
    before = written(registry)
    with pytest.raises(IntegrityError, match="models:/m/1"):
        registry.load("models:/m/1")
    assert not escaping.parent.exists()
    assert written(registry) == before


# stored manifests, wherever the version is read -------------------------------------------


def _stored_artifact(reg: Registry, number: int, field: str, value: str) -> None:
    vid = version_id(reg, "m", number)
    doc = json.loads(scalar(reg, "SELECT doc FROM versions WHERE id = :v", v=vid))
    doc["artifacts"][0][field] = value
    sql(reg, "UPDATE versions SET doc = :d WHERE id = :v", d=json.dumps(doc), v=vid)


DAMAGE = {
    "dotdot": ("path", "../../../evil.joblib"),
    "absolute": ("path", "/tmp/evil.joblib"),
    "sha256": ("sha256", "../../../../etc/passwd"),
}


@pytest.fixture(params=list(DAMAGE))
def damaged(request: pytest.FixtureRequest, flow: Flow) -> Flow:
    """m 1 and 2 deployed (production at 2, 1 its rollback target), then 1's stored
    manifest edited in SQL behind the frozen-record trigger."""
    flow.deployed()
    flow.deployed()
    drop_frozen_trigger(flow.reg)
    _stored_artifact(flow.reg, 1, *DAMAGE[request.param])
    return flow


READS: dict[str, Callable[[Registry], Any]] = {
    "get_version": lambda r: r.get_version("models:/m/1"),
    "bom": lambda r: r.bom("models:/m/1"),
    "verify": lambda r: r.verify(),
    "drill": lambda r: r.drill("m", actor=DEPLOYERS[0]),
    "approve": lambda r: r.approve("models:/m/1", actor=REVIEWERS[0]),
    "deploy": lambda r: r.deploy("models:/m/1", reason="x", actor=DEPLOYERS[0]),
}


@pytest.mark.parametrize("shape", ["twice", "file as folder"])
def test_a_stored_manifest_that_is_no_folder_tree_is_damage(flow: Flow, shape: str) -> None:
    """Each path of the right shape, but one file named twice, or a file's path used as
    another's folder: no registration writes it and no download could write it out."""
    flow.deployed()
    flow.deployed()
    reg = flow.reg
    drop_frozen_trigger(reg)
    vid = version_id(reg, "m", 1)
    doc = json.loads(scalar(reg, "SELECT doc FROM versions WHERE id = :v", v=vid))
    first = doc["artifacts"][0]
    extra = dict(first, path=first["path"] + ("" if shape == "twice" else "/inner.bin"))
    doc["artifacts"].append(extra)
    sql(reg, "UPDATE versions SET doc = :d WHERE id = :v", d=json.dumps(doc), v=vid)
    before = written(reg)
    for operation in ("get_version", "drill", "deploy"):
        with pytest.raises(IntegrityError, match="models:/m/1"):
            READS[operation](reg)
    assert written(reg) == before
    assert reg.resolve("models:/m@production").number == 2


@pytest.mark.parametrize("operation", list(READS))
def test_a_stored_manifest_no_registration_writes_is_damage_on_every_read(
    damaged: Flow, operation: str
) -> None:
    reg = damaged.reg
    before = written(reg)
    with pytest.raises(IntegrityError) as err:
        READS[operation](reg)
    assert "models:/m/1" in err.value.message
    assert written(reg) == before
    assert reg.resolve("models:/m@production").number == 2


@pytest.mark.parametrize(
    "args",
    [
        ("show", "models:/m/1"),
        ("bom", "models:/m/1"),
        ("verify",),
        ("rollback", "m", "--drill"),
        ("approve", "models:/m/1"),
        ("deploy", "models:/m/1", "--reason", "x"),
    ],
    ids=lambda a: a[0] + (" --drill" if "--drill" in a else ""),
)
def test_the_cli_exits_7_naming_a_version_whose_stored_manifest_was_edited(
    damaged: Flow,
    run: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    args: tuple[str, ...],
) -> None:
    before = written(damaged.reg)
    monkeypatch.setenv("MODELBOOK_USER", DEPLOYERS[0] if args[0] != "approve" else REVIEWERS[0])
    monkeypatch.chdir(tmp_path)
    cli = run(*args)
    assert cli.code == 7, (cli.code, cli.out, cli.err)
    assert "models:/m/1" in cli.err
    assert written(damaged.reg) == before
    assert damaged.reg.resolve("models:/m@production").number == 2


def test_verify_refuses_artifact_rows_that_differ_from_the_manifest(flow: Flow) -> None:
    """The rows verify hashes are a copy of the version's manifest: edited apart, the
    version is damaged, not a clean bill for files it does not name."""
    flow.add()
    sql(flow.reg, "UPDATE artifacts SET path = 'other.bin'")
    with pytest.raises(IntegrityError, match="models:/m/1"):
        flow.reg.verify()


# stored stages ----------------------------------------------------------------------------


def _bogus(reg: Registry, number: int) -> None:
    sql(
        reg,
        "UPDATE versions SET stage = 'bogus' WHERE number = :n "
        "AND model_id = (SELECT id FROM models WHERE name = 'm')",
        n=number,
    )


OPERATIONS: dict[str, Callable[[Registry, str], Any]] = {
    "promote": lambda r, u: r.promote(u, to="candidate", actor=REGISTRANT),
    "promote --auto": lambda r, u: r.promote(u, auto=True, actor=REGISTRANT),
    "approve": lambda r, u: r.approve(u, actor=REVIEWERS[0]),
    "attest": lambda r, u: r.attest(u, "pii_review", actor=REVIEWERS[0]),
    "archive": lambda r, u: r.archive(u, note="old", actor=DEPLOYERS[0]),
    "deprecate": lambda r, u: r.deprecate(u, note="old", actor=DEPLOYERS[0]),
    "deploy": lambda r, u: r.deploy(u, reason="ship", actor=DEPLOYERS[0]),
    "mark healthy": lambda r, u: r.mark_healthy(u, signal="fine", actor=DEPLOYERS[0]),
}


@pytest.fixture
def flow(registry: Registry, tmp_path: Path) -> Flow:
    flow = make_flow(registry, tmp_path)
    registry.set_policy(OPEN, actor="tester")
    return flow


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_a_stage_the_graph_lacks_fails_every_move_as_damage(flow: Flow, operation: str) -> None:
    reg = flow.reg
    flow.add()
    _bogus(reg, 1)
    before = written(reg)
    with pytest.raises(IntegrityError) as err:
        OPERATIONS[operation](reg, "models:/m/1")
    assert "models:/m/1" in err.value.message and "'bogus'" in err.value.message
    assert written(reg) == before
    assert reg.get_version("models:/m/1").stage.value == "bogus"


def test_a_rollback_target_in_a_stage_the_graph_lacks_is_damage(flow: Flow) -> None:
    reg = flow.reg
    flow.deployed()
    flow.deployed()
    _bogus(reg, 1)
    before = written(reg)
    with pytest.raises(IntegrityError, match="models:/m/1"):
        reg.rollback("m", reason_code="kpi_drop", actor=DEPLOYERS[0])
    with pytest.raises(IntegrityError, match="models:/m/1"):
        reg.rollback("m", reason_code="kpi_drop", to=1, actor=DEPLOYERS[0])
    assert written(reg) == before


@pytest.mark.parametrize(
    "args",
    [
        ("promote", "models:/m/1", "--to", "candidate"),
        ("archive", "models:/m/1", "--note", "old"),
        ("deploy", "models:/m/1", "--reason", "ship"),
    ],
)
def test_the_cli_exits_7_naming_the_version_of_a_stage_the_graph_lacks(
    flow: Flow, run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    flow.add()
    _bogus(flow.reg, 1)
    before = written(flow.reg)
    monkeypatch.setenv("MODELBOOK_USER", DEPLOYERS[0])
    cli = run(*args)
    assert cli.code == 7, cli.err
    assert "models:/m/1" in cli.err and "'bogus'" in cli.err
    assert written(flow.reg) == before


def test_audit_verify_names_a_stage_edited_in_sql(flow: Flow) -> None:
    flow.add()
    _bogus(flow.reg, 1)
    result = flow.reg.verify_audit()
    assert not result.ok
    assert any("models:/m/1" in p and "bogus" in p for p in result.record_problems)


# stored risk tiers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "operation",
    [
        lambda r: r.approve("models:/m/1", actor=REVIEWERS[0]),
        lambda r: r.set_risk_tier("m", "high", reason="audit", actor="tester"),
        lambda r: r.attest("models:/m/1", "pii_review", actor=REVIEWERS[0]),
        lambda r: r.deprecate("models:/m/1", note="x", actor=DEPLOYERS[0]),
        lambda r: r.archive("models:/m/1", note="x", actor=DEPLOYERS[0]),
    ],
    ids=["approve", "risk-tier", "attest", "deprecate", "archive"],
)
def test_a_risk_tier_edited_in_sql_is_damage_naming_the_model(
    flow: Flow, operation: Callable[[Registry], Any]
) -> None:
    reg = flow.reg
    flow.add()
    reg.promote("models:/m/1", to="candidate", actor=REGISTRANT)
    sql(reg, "UPDATE models SET risk_tier = 'bogus' WHERE name = 'm'")
    before = written(reg)
    with pytest.raises(IntegrityError, match="model 'm'"):
        operation(reg)
    assert written(reg) == before
    assert scalar(reg, "SELECT risk_tier FROM models WHERE name = 'm'") == "bogus"


# the stored policy ------------------------------------------------------------------------


def test_a_policy_text_edited_in_sql_is_damage_not_a_bad_policy(
    flow: Flow,
    db_uri: str,
    blob_dir: Path,
    run: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reg = flow.reg
    flow.add()
    sql(reg, "UPDATE policies SET text = 'serving_aliases = ['")
    before = written(reg)
    with (
        Registry(db_uri, blob_uri=str(blob_dir), actor=REGISTRANT) as fresh,
        pytest.raises(IntegrityError, match=r"policy in force.*sha256"),
    ):
        fresh.promote("models:/m/1", to="candidate")
    monkeypatch.setenv("MODELBOOK_USER", REGISTRANT)
    cli = run("promote", "models:/m/1", "--to", "candidate")
    assert cli.code == 7, cli.err
    assert "may have been altered" in cli.err
    assert written(reg) == before
