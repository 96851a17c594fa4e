"""The metadata checklist (pure) and the policy's ``[doctor] required`` table."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from modelbook import InvalidInput, Registry
from modelbook.annotations import AlertRule, Approval, Watch
from modelbook.checklist import DEFAULT_REQUIRED, FIELDS, SECTIONS, Facts
from modelbook.checks.metric import parse_rule
from modelbook.completeness import assess
from modelbook.domain import (
    Artifact,
    CodeRef,
    DataRef,
    Environment,
    FeatureSetRef,
    Lineage,
    LockfileRef,
    Metric,
    Model,
    Training,
    Version,
)
from modelbook.policy import default_policy, load_policy
from modelbook.store import schema as t

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
MODEL = Model(name="ctr", owners=("mlops@company",), created_at=NOW, created_by="ana")
FILE = Artifact(path="model.onnx", size=10, sha256="ab" * 32)
SIGNATURE = {
    "inputs": {"kind": "dataframe", "fields": [{"name": "age", "dtype": "int64"}]},
    "outputs": {"kind": "ndarray", "fields": [{"name": "score", "dtype": "float32"}]},
}


def version(**fields: object) -> Version:
    base: dict[str, object] = {
        "model": "ctr",
        "number": 1,
        "semver": "1.0.0",
        "artifacts": (FILE,),
        "created_by": "ana",
        "created_at": NOW,
    }
    return Version.model_validate({**base, **fields})


RICH = version(
    contract=SIGNATURE,
    lineage=Lineage(
        code=CodeRef(repo="git@example:ml/ctr.git", commit="abc123"),
        data=(DataRef(snapshot="ds_2025_10_01", sha256="9f" * 32, window="2025-09/2025-10"),),
        features=FeatureSetRef(name="feats", version="v7"),
        run_id="run-1",
    ),
    training=Training(params={"lr": "0.01"}, seed=42, hardware="A10G", duration_seconds=60),
    environment=Environment(
        frameworks={"onnxruntime": "1.17"},
        image_digest="sha256:" + "cd" * 32,
        lockfile=LockfileRef(path="uv.lock", sha256="ef" * 32),
    ),
    metrics=(Metric(name="auc", value=0.87, split="val"),),
    caveats=("weak on apac",),
    change_summary="Added user_age feature",
)
APPROVAL = Approval(actor="ml_lead", roles=("reviewer",), at=NOW)
WATCH = Watch(job="mon-1", alerts=(AlertRule(name="p99_ms", op=">", value=250),), actor="a", at=NOW)


def test_the_checklist_has_the_guides_ten_sections() -> None:
    assert list(SECTIONS) == [
        "identity",
        "code",
        "data",
        "training",
        "artifacts",
        "environment",
        "metrics",
        "approvals",
        "online",
        "change",
    ]
    assert {f.split(".")[0] for f in FIELDS} == set(SECTIONS)


def test_a_rich_version_answers_every_field() -> None:
    result = assess(
        Facts(
            version=RICH,
            model=MODEL,
            approvals=(APPROVAL,),
            watches=(WATCH,),
            thresholds=(parse_rule("auc@val >= 0.85"),),
        )
    )
    assert result.missing == ()
    assert result.score == 1.0 and result.percent == 100
    assert result.present == result.total == len(FIELDS)


def test_a_bare_version_answers_identity_and_files_only() -> None:
    result = assess(Facts(version=version(), model=MODEL))
    assert result.present == 5 and result.percent == 17
    assert result.missing == tuple(
        name for name in FIELDS if name.split(".")[0] != "identity" and name != "artifacts.files"
    )
    by_key = {s.key: s for s in result.sections}
    assert (by_key["identity"].present, by_key["identity"].total) == (4, 4)
    assert (by_key["code"].present, by_key["code"].total) == (0, 3)
    assert [f.name for f in by_key["online"].missing] == ["online.monitoring_job", "online.alerts"]
    # every absent field says how to provide it
    assert all(f.hint for s in result.sections for f in s.missing)
    assert result.missing_of(DEFAULT_REQUIRED) == (
        "code.commit",
        "data.snapshot",
        "metrics.offline",
        "approvals.review",
    )


def test_thresholds_count_only_when_they_name_a_metric_the_version_carries() -> None:
    def has_threshold(rule: str) -> bool:
        facts = Facts(version=RICH, model=MODEL, thresholds=(parse_rule(rule),))
        return "metrics.thresholds" not in assess(facts).missing

    assert has_threshold("auc@val >= 0.8")
    assert has_threshold("auc@val{*} >= 0.8")
    assert not has_threshold("auc@test >= 0.8")
    assert not has_threshold("recall@val >= 0.8")


def test_a_metric_without_its_split_and_a_dirty_feature_ref_are_gaps() -> None:
    v = version(
        metrics=(Metric(name="auc", value=0.9, split="val"), Metric(name="loss", value=0.3)),
        lineage=Lineage(features=FeatureSetRef(name="feats")),
    )
    missing = assess(Facts(version=v, model=MODEL)).missing
    assert "metrics.split" in missing and "metrics.offline" not in missing
    assert "data.features_version" in missing


def test_risk_notes_come_from_caveats_or_a_review_comment() -> None:
    commented = Approval(actor="lead", comment="PII reviewed, low risk", at=NOW)
    assert "approvals.risk_notes" in assess(Facts(version=version(), model=MODEL)).missing
    with_comment = assess(Facts(version=version(), model=MODEL, approvals=(commented,)))
    assert "approvals.risk_notes" not in with_comment.missing
    assert "approvals.risk_notes" not in assess(Facts(version=RICH, model=MODEL)).missing


def test_only_a_sha256_counts_as_a_dataset_or_lockfile_hash() -> None:
    """Text that is not 64 hex digits (stored before registration refused it) is no
    hash: the checklist agrees with the bill of materials, which files it as a
    property."""

    def missing(sha: str) -> tuple[str, ...]:
        v = version(
            lineage=Lineage(data=(DataRef(snapshot="s", sha256=sha),)),
            environment=Environment(lockfile=LockfileRef(path="uv.lock", sha256=sha)),
        )
        return assess(Facts(version=v, model=MODEL)).missing

    for junk in ("nothex", "", "9f" * 31, "9f" * 33, "g" * 64, " " + "9f" * 32):
        assert {"data.sha256", "environment.lockfile"} <= set(missing(junk)), junk
    for good in ("9f" * 32, "9F" * 32):
        assert not {"data.sha256", "environment.lockfile"} & set(missing(good))
    mixed = version(
        lineage=Lineage(
            data=(DataRef(snapshot="a", sha256="9f" * 32), DataRef(snapshot="b", sha256="x"))
        )
    )
    assert "data.sha256" in assess(Facts(version=mixed, model=MODEL)).missing


def _register(reg: Registry, folder: Path, **kw: Any) -> Any:
    path = folder / "model.bin"
    path.write_bytes(b"weights")
    return reg.register("ctr", [path], owners=["ana"], capture_environment=False, **kw)


HEX = "9f" * 32


def test_registration_refuses_a_dataset_or_lockfile_hash_that_is_no_sha256(
    registry: Registry, tmp_path: Path
) -> None:
    lock = {"path": "uv.lock", "sha256": HEX}
    for junk in ("nothex", "", HEX[:-1], HEX + "0", "z" * 64):
        with pytest.raises(InvalidInput, match="not a SHA-256: give its 64 hex digits"):
            _register(registry, tmp_path, data=[DataRef(snapshot="s", sha256=junk)])
        with pytest.raises(InvalidInput, match=r"lock file 'uv\.lock' is .*not a SHA-256"):
            _register(registry, tmp_path, environment={"lockfile": {**lock, "sha256": junk}})
    assert registry.models().items == []
    v = _register(
        registry,
        tmp_path,
        data=[DataRef(snapshot="s", sha256=HEX.upper()), "unhashed"],
        environment={"lockfile": lock},
    )
    assert v.lineage.data[0].sha256 == HEX.upper() and v.environment.lockfile is not None


def test_registration_cli_refuses_a_data_sha256_that_is_no_sha256(
    db_uri: str, blob_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from modelbook.cli import main

    path = tmp_path / "model.bin"
    path.write_bytes(b"weights")
    base = ["--uri", db_uri, "--blob-uri", str(blob_dir), "register", "ctr", str(path)]
    args = [*base, "--owner", "ana", "--no-capture", "--data-snapshot", "s"]
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--data-sha256", "nothex"])
    assert exit_.value.code == 6
    assert "the sha256 of data snapshot 's' is 'nothex', not a SHA-256" in capsys.readouterr().err


def test_a_junk_hash_stored_before_registration_checked_it_is_missing_everywhere(
    registry: Registry, db_uri: str, blob_dir: Path, tmp_path: Path
) -> None:
    """A version an older modelbook stored with text for its dataset and lock file
    hashes still reads; the report, doctor, a policy that requires the hash, the
    lineage_complete check and the bill of materials all count no hash."""
    from modelbook.hashes import data_hashed, lockfile_hashed

    from .test_checks import run as run_check

    v = _register(
        registry,
        tmp_path,
        data=[DataRef(snapshot="s", sha256=HEX)],
        environment={"lockfile": {"path": "uv.lock", "sha256": HEX}},
    )
    engine = sa.create_engine(db_uri)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("DROP TRIGGER versions_frozen ON versions"))
        else:
            conn.execute(sa.text("DROP TRIGGER versions_frozen"))
        row = t.versions.c
        doc = json.loads(conn.execute(sa.select(row.doc)).scalar_one())
        doc["lineage"]["data"][0]["sha256"] = "nothex"
        doc["environment"]["lockfile"]["sha256"] = "nothex"
        conn.execute(sa.update(t.versions).values(doc=json.dumps(doc)))
    engine.dispose()
    with Registry(db_uri, blob_uri=str(blob_dir), actor="tester") as reg:
        stored = reg.get_version(v.uri)
        assert stored.lineage.data[0].sha256 == "nothex"
        assert not data_hashed(stored) and not lockfile_hashed(stored)
        reg.grant_role("tester", "admin", first_admin=True)
        reg.set_policy('[doctor]\nrequired = ["data.sha256"]\n' + TIERS, source="p.toml")
        (entry,) = reg.doctor().entries
        assert {"data.sha256", "environment.lockfile"} <= set(entry.missing)
        assert entry.missing_required == ("data.sha256",)
        report = reg.report(v.uri)
        assert "the recorded 'nothex' is not a SHA-256" in report
        assert "# expect nothex" not in report
        fields = ["data.sha256", "environment.lockfile"]
        result = run_check("lineage_complete", stored, fields=fields)
        assert not result.passed
        assert result.evidence["fields"] == {"data.sha256": False, "environment.lockfile": False}
        bom = {c["bom-ref"]: c for c in json.loads(reg.bom(v.uri))["components"]}
        assert "hashes" not in bom["dataset:s"]
        assert {"name": "modelbook:sha256", "value": "nothex"} in bom["dataset:s"]["properties"]


# the policy's [doctor] table ------------------------------------------------------

TIERS = "\n[tiers.low]\n[tiers.medium]\n[tiers.high]\n"


def test_the_default_policy_requires_the_default_fields() -> None:
    assert default_policy().required_fields == DEFAULT_REQUIRED
    assert load_policy(TIERS, source="p.toml").required_fields == DEFAULT_REQUIRED
    text = "[doctor]\nrequired = []\n" + TIERS
    assert load_policy(text, source="p.toml").required_fields == ()


def test_an_unknown_required_field_is_refused_on_its_line() -> None:
    text = '[doctor]\nrequired = [\n  "code.commit",\n  "code.comit",\n]\n' + TIERS
    with pytest.raises(InvalidInput) as err:
        load_policy(text, source="p.toml")
    assert err.value.message.startswith(
        "p.toml line 4: doctor.required[1]: unknown checklist field 'code.comit' (known: "
    )
    assert err.value.message.endswith("did you mean 'code.commit'?")


def test_an_unknown_key_and_a_wrong_type_in_doctor_are_refused() -> None:
    with pytest.raises(
        InvalidInput, match=r"p.toml line 2: unknown key 'requird' \(known: required\)"
    ):
        load_policy("[doctor]\nrequird = []\n" + TIERS, source="p.toml")
    with pytest.raises(InvalidInput, match=r"p\.toml line 2: doctor\.required"):
        load_policy('[doctor]\nrequired = "code.commit"\n' + TIERS, source="p.toml")


def test_yaml_policies_name_the_line_too() -> None:
    text = (
        "tiers: {low: {}, medium: {}, high: {}}\n"
        "doctor:\n  required:\n    - data.snapshot\n    - data.snapsht\n"
    )
    with pytest.raises(
        InvalidInput, match=r"p\.yaml line 5: doctor\.required\[1\]: unknown checklist"
    ):
        load_policy(text, source="p.yaml")
    ok = text.replace("data.snapsht", "data.window")
    assert load_policy(ok, source="p.yaml").required_fields == ("data.snapshot", "data.window")


def test_set_policy_refuses_a_bad_doctor_table_and_keeps_the_old_policy(
    registry: Registry,
) -> None:
    registry.grant_role("tester", "admin", first_admin=True)
    before = registry.policy()
    with pytest.raises(InvalidInput, match="unknown checklist field 'owners'"):
        registry.set_policy('[doctor]\nrequired = ["owners"]\n' + TIERS, source="p.toml")
    assert registry.policy() == before
    registry.set_policy('[doctor]\nrequired = ["change.summary"]\n' + TIERS, source="p.toml")
    assert registry.doctor().required == ("change.summary",)


def test_every_checklist_field_is_documented() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "reports.md").read_text()
    for name in FIELDS:
        assert f"| `{name}`" in text, name
    for name in DEFAULT_REQUIRED:
        assert f"| `{name}` \\*" in text, name
