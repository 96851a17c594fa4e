"""A version's whole frozen record against its registration event: `audit verify`
finds metrics, lineage or any other part of a version's document rewritten in SQL.

The ``version.register`` event records the sha256 of the version's stored document
(``versions.doc``). A tamperer who drops the ``versions_frozen`` trigger and forges
a metric and a data snapshot passes a gate on the forged numbers; ``audit verify``
names the version. A registration event written before registrations recorded the
sha256 leaves the document unchecked, not broken. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from modelbook import Registry
from modelbook.errors import GateFailed

from .test_audit_frozen import drop_frozen_trigger, verify_cli
from .test_audit_log import chain_rows, drop_append_only_trigger, rehash_last, sql
from .test_audit_state import scalar, version_id
from .test_release_flow import ADMIN

POLICY = """\
[[tiers.low.candidate]]
check = "metric"
rules = ["auc@test >= 0.8"]

[[tiers.low.candidate]]
check = "lineage_complete"
fields = ["data"]

[tiers.medium]
[tiers.high]
"""


def forge(reg: Registry, model: str, number: int) -> None:
    """Raise every metric of the version to 0.95 and give it a data snapshot, in its
    document and its indexed metrics, as a tamperer with SQL access would."""
    drop_frozen_trigger(reg)
    vid = version_id(reg, model, number)
    doc = json.loads(scalar(reg, "SELECT doc FROM versions WHERE id = :v", v=vid))
    for metric in doc["metrics"]:
        metric["value"] = 0.95
    doc["lineage"]["data"] = [{"snapshot": "fake@1"}]
    sql(reg, "UPDATE versions SET doc = :d WHERE id = :v", d=json.dumps(doc), v=vid)
    sql(reg, "UPDATE metrics SET value = 0.95 WHERE version_id = :v", v=vid)


def test_forged_metrics_and_lineage_fail_audit_verify_naming_the_version(
    registry: Registry,
    model_file: Path,
    db_uri: str,
    blob_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry.grant_role(ADMIN, "admin", actor=ADMIN, first_admin=True)
    registry.set_policy(POLICY, actor=ADMIN)
    registry.register("t", [model_file], owners="a@x", risk_tier="low", metrics={"auc@test": 0.5})
    with pytest.raises(GateFailed):
        registry.promote("models:/t/1", to="candidate")
    forge(registry, "t", 1)
    # The gate reads the document: the forged numbers pass it.
    registry.promote("models:/t/1", to="candidate")
    run = verify_cli(registry, db_uri, blob_dir, capsys)
    assert run.code == 7, run.err
    (line,) = [line for line in run.err.splitlines() if line.startswith("disagrees: ")]
    assert line.startswith("disagrees: models:/t/1: its frozen record (metrics, lineage"), line
    assert "changed outside modelbook" in line
    doc = scalar(registry, "SELECT doc FROM versions WHERE id = :v", v=version_id(registry, "t", 1))
    assert f"hashes to sha256 {hashlib.sha256(doc.encode()).hexdigest()}" in line
    result = registry.verify_audit()
    assert not result.ok and result.record_problems == (line.removeprefix("disagrees: "),)


def test_an_untouched_registry_verifies(registry: Registry, model_file: Path) -> None:
    registry.register(
        "clean",
        [model_file],
        owners="o",
        metrics={"auc@test": 0.5},
        data=["snap@1"],
        params={"lr": "0.1"},
        tags={"team": "x"},
    )
    registry.register("clean", [model_file], owners="o", metrics={"auc@test": 0.6})
    result = registry.verify_audit()
    assert result.ok and result.record_problems == () and result.unchecked == ()


def test_a_registration_without_the_sha256_leaves_the_record_unchecked(
    registry: Registry, model_file: Path
) -> None:
    registry.register("old", [model_file], owners="o", metrics={"auc@test": 0.5})
    last = chain_rows(registry, "model:old")[-1]
    event = json.loads(last.canonical)
    assert event["action"] == "version.register" and "doc_sha256" in event["after"]
    # What a registration wrote before registrations recorded the document's sha256.
    del event["after"]["doc_sha256"]
    text = json.dumps(event, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    rehash_last(registry, "model:old", text)
    forge(registry, "old", 1)
    result = registry.verify_audit()
    assert result.ok, result.record_problems
    (line,) = [u for u in result.unchecked if "models:/old" in u]
    assert line.startswith("the frozen records (metrics, lineage, contract, training"), line
    assert "of 1 version of models:/old could not be checked" in line
    # What the event does record is still compared.
    sql(registry, "UPDATE artifacts SET size = size + 1")
    assert any(
        "models:/old/1" in p and "artifacts" in p for p in registry.verify_audit().record_problems
    )


@pytest.mark.parametrize("undone", [False, True], ids=["effect-left", "effect-undone"])
def test_a_chain_cut_short_below_the_largest_id_is_found_only_by_what_it_left(
    registry: Registry, model_file: Path, undone: bool
) -> None:
    """The newest event of a chain deleted and the model's head set to the one before:
    its id is below another chain's, and ids may have gaps, so the chains verify. A
    tag the deleted event wrote, left in place, disagrees with the log; undone too,
    only a head kept from before finds the cut."""
    registry.register("a", [model_file], owners="o")
    registry.set_tags("models:/a/1", {"k": "v"})
    registry.register("b", [model_file], owners="o")
    head = registry.audit_head()
    assert registry.verify_audit(expect_head=head).ok
    *kept, cut = chain_rows(registry, "model:a")
    assert cut.id < max(r.id for r in chain_rows(registry, "model:b"))
    drop_append_only_trigger(registry)
    sql(registry, "DELETE FROM events WHERE id = :id", id=cut.id)
    sql(
        registry,
        "UPDATE models SET event_seq = :s, event_hash = :h WHERE name = 'a'",
        s=kept[-1].seq,
        h=kept[-1].hash,
    )
    if undone:
        vid = version_id(registry, "a", 1)
        sql(registry, "DELETE FROM version_tags WHERE version_id = :v", v=vid)
        sql(registry, "UPDATE versions SET tags = '{}' WHERE id = :v", v=vid)
    result = registry.verify_audit()
    assert result.breaks == ()
    if undone:
        assert result.ok, result.record_problems
    else:
        assert not result.ok
        assert any("models:/a/1: the tags" in p for p in result.record_problems)
    anchored = registry.verify_audit(expect_head=head)
    assert not anchored.ok and anchored.expected_head_ok is False
