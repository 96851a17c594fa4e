"""``verify`` compares the rows ``search`` reads (``metrics``, ``params``, ``lineage``)
with the rows each version's stored record yields, by the rule registration writes them
with: a row edited, deleted or inserted in SQL is refused with IntegrityError (exit 7)
naming the version and the table, before any file is hashed. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from modelbook import Registry
from modelbook.domain import DataRef, FeatureSetRef
from modelbook.errors import IntegrityError
from modelbook.search_rows import COLUMNS, of_record
from modelbook.services.artifacts import _check_agree
from modelbook.store import versions as version_rows

from .test_audit_log import sql
from .test_audit_state import version_id
from .test_cli_lineage import Run, in_process
from .test_release_flow import Flow, make_flow

# Floats that a round trip through text or a database could change: the comparison is exact.
_AWKWARD = [
    0.1 + 0.2,
    1 / 3,
    -0.0,
    5e-324,
    2.2250738585072014e-308,
    1.7976931348623157e308,
    float(2**53 + 1),
    123456789.12345679,
    -1e-7,
]


@pytest.fixture
def run(db_uri: str, blob_dir: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    return in_process(db_uri, blob_dir, capsys)


@pytest.fixture
def flow(registry: Registry, tmp_path: Path) -> Flow:
    """m 1 (every kind of metric, param and lineage row) and m 2 (its child), other 1."""
    flow = make_flow(registry, tmp_path)
    rng = random.Random(7)
    floats = _AWKWARD + [
        struct.unpack("<d", struct.pack("<Q", rng.getrandbits(62)))[0] for _ in range(20)
    ]
    metrics: dict[str, float] = {
        "auc": 0.91,
        "auc@test": 0.875,
        "auc@test{region=eu}": 0.5,
        "auc@test{device=mobile,region=north america}": 0.25,
        "recall{region='x y'}": 3,
    }
    metrics.update({f"f{i}@test": v for i, v in enumerate(floats)})
    flow.add(
        "m",
        metrics=metrics,
        params={"lr": "0.1", "depth": "8", "note": "a b, c=d"},
        code={"repo": "git@example.com:m.git", "commit": "c" * 40},
        data=[
            DataRef(snapshot="ds_1", sha256="a" * 64, role="train"),
            DataRef(snapshot="ds_1", sha256="a" * 64, role="eval"),
            DataRef(snapshot='odd "snap"\nshot'),
        ],
        features=FeatureSetRef(name="txn", version="3"),
        run_id="run-1",
        experiment_id="exp-1",
    )
    flow.add(
        "m",
        metrics={"auc": 0.92},
        features="txn",
        parents=["models:/m/1"],
        commit=None,
    )
    flow.add("other", commit=None)
    return flow


def _verify_refuses(reg: Registry, run: Callable[..., Run], uri: str, table: str) -> None:
    """Python and the CLI refuse with exit 7, naming ``uri`` and ``table``; a verify of
    another model (whose rows are as written) passes."""
    with pytest.raises(IntegrityError) as caught:
        reg.verify()
    assert f"{uri}: its {table} table" in caught.value.message, caught.value.message
    with pytest.raises(IntegrityError, match=f"{uri}: its {table} table"):
        reg.verify(uri.split("/")[1])
    for args in (("verify",), ("verify", "--json")):
        cli = run(*args)
        assert cli.code == 7, (cli.code, cli.out, cli.err)
        assert f"{uri}: its {table} table" in cli.err, cli.err
    assert reg.verify("other").ok
    assert run("verify", "other").code == 0


def test_an_untouched_registry_verifies_clean(
    flow: Flow, registry: Registry, run: Callable[..., Run]
) -> None:
    report = registry.verify()
    assert report.ok and report.versions == 3
    assert registry.verify("m").ok
    cli = run("verify")
    assert cli.code == 0, (cli.out, cli.err)
    # The registry holds rows of every kind the rule writes, and they are the ones read.
    with registry.db.engine.connect() as conn:
        stored = version_rows.stored_search_rows(conn, "m")
    kinds = {(r.kind, r.key) for r in stored["lineage"]}
    assert kinds == {
        ("code", "repo"),
        ("code", "commit"),
        ("data", "snapshot"),
        ("data", "sha256"),
        ("features", "name"),
        ("features", "ref"),
        ("run", "id"),
        ("experiment", "id"),
        ("parent", "version"),
    }
    assert {r.split for r in stored["metrics"]} == {"", "test"}
    assert {r.slice for r in stored["metrics"]} > {"", "region=eu"}
    assert len(stored["params"]) == 3
    one = registry.get_version("models:/m/1")
    assert len(of_record(one).metrics) == len(one.metrics)


def test_the_rule_yields_what_registration_wrote(flow: Flow, registry: Registry) -> None:
    """Each version's stored rows are exactly, float for float, what its record yields."""
    with registry.db.engine.connect() as conn:
        stored = version_rows.stored_search_rows(conn, None)
    for v in registry.versions("m").items + registry.versions("other").items:
        vid = version_id(registry, v.model, v.number)
        rows = of_record(registry.get_version(v.uri))
        for table in COLUMNS:
            got = sorted(tuple(r)[1:] for r in stored[table] if r.version_id == vid)
            assert got == list(getattr(rows, table)), (v.uri, table)


EDITS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "metric value": (
        "metrics",
        "UPDATE metrics SET value = 0.99 WHERE version_id = :v AND name = 'auc'",
        {},
    ),
    "metric value by its last bit": (
        "metrics",
        "UPDATE metrics SET value = :x WHERE version_id = :v AND name = 'auc' AND split = ''",
        {"x": 0.9100000000000001},
    ),
    "metric slice": (
        "metrics",
        "UPDATE metrics SET slice = 'region=us' WHERE version_id = :v AND slice = 'region=eu'",
        {},
    ),
    "metric deleted": ("metrics", "DELETE FROM metrics WHERE version_id = :v AND name = 'f3'", {}),
    "params row deleted": ("params", "DELETE FROM params WHERE version_id = :v AND key = 'lr'", {}),
    "param value": (
        "params",
        "UPDATE params SET value = '0.2' WHERE version_id = :v AND key = 'lr'",
        {},
    ),
    "param inserted": (
        "params",
        "INSERT INTO params (version_id, key, value) VALUES (:v, 'extra', '1')",
        {},
    ),
    "lineage row inserted": (
        "lineage",
        "INSERT INTO lineage (version_id, kind, key, value) "
        "VALUES (:v, 'data', 'snapshot', 'ds_9')",
        {},
    ),
    "lineage value": (
        "lineage",
        "UPDATE lineage SET value = 'run-2' WHERE version_id = :v AND kind = 'run'",
        {},
    ),
    "lineage deleted": (
        "lineage",
        "DELETE FROM lineage WHERE version_id = :v AND kind = 'features'",
        {},
    ),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_a_row_edited_in_sql_fails_verify_naming_version_and_table(
    edit: str, flow: Flow, registry: Registry, run: Callable[..., Run]
) -> None:
    table, statement, params = EDITS[edit]
    sql(registry, statement, v=version_id(registry, "m", 1), **params)
    _verify_refuses(registry, run, "models:/m/1", table)


def test_a_version_with_no_rows_left_and_one_given_rows_are_named(
    flow: Flow, registry: Registry, run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every metric of m/2 deleted, and a metric row given to other/1 (which has none):
    both versions are named, each with its table, before any file is hashed."""
    sql(registry, "DELETE FROM metrics WHERE version_id = :v", v=version_id(registry, "m", 2))
    sql(
        registry,
        "INSERT INTO metrics (version_id, name, split, slice, value) "
        "VALUES (:v, 'auc', '', '', 0.99)",
        v=version_id(registry, "other", 1),
    )
    hashed: list[str] = []
    store = registry.blobs
    check = store.check
    monkeypatch.setattr(store, "check", lambda sha, size: hashed.append(sha) or check(sha, size))
    with pytest.raises(IntegrityError) as caught:
        registry.verify()
    message = caught.value.message
    assert "the versions' stored records (versions.doc)" in message
    assert "models:/m/2: its metrics table lacks a row (name='auc', split=''" in message
    assert "models:/other/1: its metrics table has a row (name='auc'" in message
    assert hashed == []
    cli = run("verify")
    assert cli.code == 7 and "models:/m/2" in cli.err and "models:/other/1" in cli.err


def test_rows_of_a_version_registered_after_the_records_were_read_are_left_alone(
    flow: Flow, registry: Registry
) -> None:
    """verify reads the records first, then the rows: rows of an id it read no record
    of belong to a version registered meanwhile, not to damage."""
    with registry.db.engine.connect() as conn:
        manifests = version_rows.manifest_rows(conn, None)
        rows = version_rows.artifact_rows(conn, None)
    flow.add("m", metrics={"auc": 0.5}, params={"lr": "1"})
    with registry.db.engine.connect() as conn:
        indexed = version_rows.stored_search_rows(conn, None)
    assert {r.version_id for r in indexed["params"]} - {m.id for m in manifests}
    _check_agree(manifests, rows, indexed)


def test_the_check_reads_each_table_once(flow: Flow, registry: Registry) -> None:
    statements: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    sa.event.listen(registry.db.engine, "before_cursor_execute", listener)
    try:
        assert registry.verify().ok
    finally:
        sa.event.remove(registry.db.engine, "before_cursor_execute", listener)
    for table in COLUMNS:
        reads = [s for s in statements if f"FROM {table}" in s]
        assert len(reads) == 1, (table, statements)


def test_a_version_registered_while_verify_reads_is_not_taken_for_damage(
    flow: Flow, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A registration that commits between verify's reads (on PostgreSQL each
    statement sees what is committed when it starts) is not a version whose artifact
    rows are missing: verify and gc's listing read the records before the rows."""
    added: list[str] = []

    def then_register(real: Callable[..., Any]) -> Callable[..., Any]:
        def read(conn: Any, name: str | None) -> Any:
            found = real(conn, name)
            if not added:  # after the first of the two reads, whichever it is
                added.append(flow.add("m", metrics={"auc": 0.5}).uri)
            return found

        return read

    for read in ("manifest_rows", "artifact_rows"):
        monkeypatch.setattr(version_rows, read, then_register(getattr(version_rows, read)))
    report = registry.verify()
    assert report.ok and len(added) == 1
    added.clear()
    listed = registry.gc()
    assert len(added) == 1
    (file,) = registry.get_version(added[0]).artifacts
    assert file.sha256 not in listed.blobs
    assert registry.verify().ok


def test_a_tag_row_moved_to_another_model_fails_verify(
    flow: Flow, registry: Registry, run: Callable[..., Run]
) -> None:
    """Search by model and tag walks the tag rows by their model: a row edited to name
    another model hides the version from ``name = X and tags.K = V``."""
    registry.set_tags("models:/m/1", {"team": "a"})
    assert [v.uri for v in registry.search("name = 'm' and tags.team = 'a'").items] == [
        "models:/m/1"
    ]
    sql(
        registry,
        "UPDATE version_tags SET model_id = (SELECT id FROM models WHERE name = 'other') "
        "WHERE version_id = :v",
        v=version_id(registry, "m", 1),
    )
    # Nor does the row make the version another model's, in full or summed up.
    for fields in ("full", "summary"):
        found = registry.search("name = 'other' and tags.team = 'a'", fields=fields)  # type: ignore[call-overload]
        assert found.items == [] and found.unreadable == ()
    for check in (registry.verify, lambda: registry.verify("m")):
        with pytest.raises(IntegrityError, match="models:/m/1: a tag row names another model"):
            check()
    cli = run("verify")
    assert cli.code == 7 and "models:/m/1: a tag row names another model" in cli.err
    assert registry.verify("other").ok
