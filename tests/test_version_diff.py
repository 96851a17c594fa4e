"""The version diff: the pure module on hand-built versions, through the registry
(SQLite and PostgreSQL), and ``modelbook diff`` (text and ``--json``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from modelbook import InvalidInput, NotFound, Registry, infer_signature
from modelbook.domain import (
    Artifact,
    CodeRef,
    DataRef,
    Environment,
    Lineage,
    Metric,
    Training,
    Version,
)
from modelbook.errors import InvalidInput as InvalidInputError
from modelbook.errors import NotFound as NotFoundError
from modelbook.version_diff import Change, diff_versions
from tests import test_cli
from tests.test_cli import CLI, make_tree

home = test_cli.home
cli = test_cli.cli

AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def version(number: int = 1, **fields: Any) -> Version:
    base: dict[str, Any] = {
        "model": "ctr",
        "number": number,
        "semver": "1.0.0",
        "artifacts": (Artifact(path="model.bin", size=10, sha256="a" * 64),),
        "created_by": "alice",
        "created_at": AT,
    }
    return Version(**{**base, **fields})


def test_equal_versions_give_an_empty_diff() -> None:
    full = version(
        metrics=(Metric(name="auc", value=0.9, split="test", slice={"region": "eu"}),),
        lineage=Lineage(code=CodeRef(commit="abc"), data=(DataRef(snapshot="s1"),)),
        training=Training(params={"lr": "0.1"}, seed=1),
        environment=Environment(python="3.11", frameworks={"numpy": "2.0"}),
        tags={"t": "v"},
        contract={"free": "form"},
    )
    # Another number, time and actor are identity, not differences.
    other = full.model_copy(
        update={"number": 2, "created_by": "bob", "created_at": datetime.now(UTC)}
    )
    d = diff_versions(full, other)
    assert not d.changed and d.same_model and d.size_delta == 0
    assert (d.a.number, d.b.number) == (1, 2)
    assert d.model_dump(mode="json")["changed"] is False


def test_metrics_by_name_split_and_slice_with_deltas() -> None:
    a = version(
        metrics=(
            Metric(name="auc", value=0.80),
            Metric(name="auc", value=0.90, split="test", slice={"region": "eu"}),
            Metric(name="auc", value=0.70, split="test", slice={"region": "us"}),
            Metric(name="loss", value=0.3),
        )
    )
    b = version(
        2,
        metrics=(
            Metric(name="auc", value=0.80),
            Metric(name="auc", value=0.95, split="test", slice={"region": "eu"}),
            Metric(name="auc", value=0.65, split="test", slice={"region": "us"}),
            Metric(name="f1", value=0.5, split="test"),
        ),
    )
    got = [
        (m.name, m.split, dict(m.slice), m.change, m.before, m.after)
        for m in diff_versions(a, b).metrics
    ]
    assert got == [
        ("auc", "test", {"region": "eu"}, "changed", 0.90, 0.95),
        ("auc", "test", {"region": "us"}, "changed", 0.70, 0.65),
        ("f1", "test", {}, "added", None, 0.5),
        ("loss", None, {}, "removed", 0.3, None),
    ]
    deltas = [m.delta for m in diff_versions(a, b).metrics]
    assert deltas[0] == pytest.approx(0.05) and deltas[1] == pytest.approx(-0.05)
    assert deltas[2:] == [None, None]


def test_packages_added_removed_and_changed_and_the_environment() -> None:
    a = version(
        environment=Environment(
            python="3.11.7", frameworks={"numpy": "1.26", "scipy": "1.11", "torch": "2.1"}
        )
    )
    b = version(
        2,
        environment=Environment(
            python="3.12.1",
            image_digest="sha256:1",
            frameworks={"numpy": "2.0", "scipy": "1.11", "pandas": "2.2"},
        ),
    )
    d = diff_versions(a, b)
    assert [(p.name, p.change, p.before, p.after) for p in d.packages] == [
        ("numpy", "changed", "1.26", "2.0"),
        ("pandas", "added", None, "2.2"),
        ("torch", "removed", "2.1", None),
    ]
    assert d.environment == (
        Change(field="python", before="3.11.7", after="3.12.1"),
        Change(field="image_digest", after="sha256:1"),
    )


def test_lineage_training_fields_and_artifacts() -> None:
    a = version(
        semver="1.0.0",
        tags={"team": "ads", "old": "x"},
        aliases=("production",),
        lineage=Lineage(
            code=CodeRef(repo="r", commit="abc", dirty=False),
            data=(DataRef(snapshot="s1"), DataRef(snapshot="e1", role="eval", sha256="1")),
            parents=("ctr/1",),
        ),
        training=Training(params={"lr": "0.1", "depth": "6"}, seed=1),
        artifacts=(
            Artifact(path="model.bin", size=10, sha256="a" * 64),
            Artifact(path="old.txt", size=4, sha256="b" * 64),
            Artifact(path="same.txt", size=3, sha256="c" * 64),
        ),
    )
    b = version(
        2,
        semver="2.0.0",
        stage="candidate",
        tags={"team": "search"},
        lineage=Lineage(
            code=CodeRef(repo="r", commit="def", dirty=True),
            data=(DataRef(snapshot="s2"), DataRef(snapshot="e1", role="eval", sha256="2")),
            run_id="run-9",
            parents=("ctr/2",),
        ),
        training=Training(params={"lr": "0.2", "depth": "6"}, seed=2, hardware="gpu"),
        artifacts=(
            Artifact(path="model.bin", size=25, sha256="d" * 64),
            Artifact(path="new.txt", size=7, sha256="e" * 64),
            Artifact(path="same.txt", size=3, sha256="c" * 64),
        ),
    )
    d = diff_versions(a, b)
    assert [(c.field, c.before, c.after) for c in d.fields] == [
        ("semver", "1.0.0", "2.0.0"),
        ("stage", "staging", "candidate"),
        ("aliases", "production", None),
        ("tags.old", "x", None),
        ("tags.team", "ads", "search"),
    ]
    fields = {c.field: (c.before, c.after) for c in d.lineage}
    assert fields["code.commit"] == ("abc", "def") and fields["code.dirty"] == (False, True)
    assert fields["data[eval:e1]"][0]["sha256"] == "1"
    assert fields["data[eval:e1]"][1]["sha256"] == "2"
    assert fields["data[train:s1]"][1] is None and fields["data[train:s2]"][0] is None
    assert fields["run_id"] == (None, "run-9")
    assert [(c.before, c.after) for c in d.lineage if c.field == "parents"] == [
        ("ctr/1", None),
        (None, "ctr/2"),
    ]
    assert [(c.field, c.before, c.after) for c in d.training] == [
        ("params.lr", "0.1", "0.2"),
        ("seed", 1, 2),
        ("hardware", None, "gpu"),
    ]
    assert [(f.path, f.change, f.size_delta) for f in d.artifacts] == [
        ("model.bin", "changed", 15),
        ("new.txt", "added", 7),
        ("old.txt", "removed", -4),
    ]
    assert d.size_delta == 35 - 17 and d.changed
    with pytest.raises(TypeError):
        d.lineage[0].before["x"] = 1  # a diff is read-only, nested values too


def test_contract_changes_come_from_diff_contracts() -> None:
    frame = pd.DataFrame({"age": [1, 2], "income": [1.0, 2.0]})
    old = infer_signature(frame)
    new = infer_signature(frame.rename(columns={"income": "salary"}))
    a = version(contract=old.model_dump(mode="json"))
    b = version(2, contract=new.model_dump(mode="json"))
    c = diff_versions(a, b).contract
    assert c is not None and c.status == "changed" and c.compatible is False
    assert [(x.field, x.change) for x in c.changes] == [("salary", "renamed")]
    assert diff_versions(a, a).contract is None
    added = diff_versions(version(), a).contract
    assert added is not None and (added.status, added.compatible) == ("added", None)
    removed = diff_versions(a, version(2)).contract
    assert removed is not None and removed.status == "removed"
    free = diff_versions(version(contract={"x": 1}), version(contract={"x": 2})).contract
    assert free is not None and (free.status, free.compatible, free.changes) == (
        "changed",
        None,
        (),
    )


# through the registry ------------------------------------------------------------


def register_two(registry: Registry, tmp_path: Path) -> None:
    frame = pd.DataFrame({"age": [1, 2, 3], "income": [1.0, 2.0, 3.0]})
    first = tmp_path / "v1"
    make_tree(first, {"model.bin": b"one" * 10, "old.txt": b"old"})
    registry.register(
        "ctr",
        first,
        owners="o",
        metrics={"auc@test{region=eu}": 0.9, "auc": 0.8},
        params={"lr": 0.1},
        tags={"team": "ads"},
        signature=infer_signature(frame),
        capture_environment=False,
        environment={"python": "3.11.7", "frameworks": {"numpy": "1.26"}},
    )
    second = tmp_path / "v2"
    make_tree(second, {"model.bin": b"two" * 20, "new.txt": b"new"})
    registry.register(
        "ctr",
        second,
        metrics={"auc@test{region=eu}": 0.95, "auc": 0.8},
        params={"lr": 0.2},
        tags={"team": "search"},
        signature=infer_signature(frame.assign(extra=[None, 1.0, 2.0])),
        capture_environment=False,
        environment={"python": "3.12.1", "frameworks": {"numpy": "2.0", "pandas": "2.2"}},
    )
    registry.set_alias("ctr", "champion", 1, reason="first")


def test_registry_diff_by_number_semver_and_alias(registry: Registry, tmp_path: Path) -> None:
    register_two(registry, tmp_path)
    d = registry.diff("models:/ctr@champion", "ctr/1.1.0")
    assert (d.a.number, d.b.number, d.same_model) == (1, 2, True)
    assert registry.diff("ctr/1", "models:/ctr/2") == d
    fields = {c.field: (c.before, c.after) for c in d.fields}
    assert fields["semver"] == ("1.0.0", "1.1.0") and fields["tags.team"] == ("ads", "search")
    assert fields["aliases"] == ("champion", None)
    [m] = d.metrics
    assert (m.split, dict(m.slice)) == ("test", {"region": "eu"})
    assert m.delta == pytest.approx(0.05)
    assert [(c.field, c.before, c.after) for c in d.training] == [("params.lr", "0.1", "0.2")]
    assert [(p.name, p.change) for p in d.packages] == [("numpy", "changed"), ("pandas", "added")]
    assert d.contract is not None and d.contract.compatible is True
    assert [(c.field, c.change) for c in d.contract.changes] == [("extra", "added")]
    assert [(f.path, f.change) for f in d.artifacts] == [
        ("model.bin", "changed"),
        ("new.txt", "added"),
        ("old.txt", "removed"),
    ]
    assert d.size_delta == (60 + 3) - (30 + 3)
    assert not registry.diff("ctr/1", "ctr@champion").changed


def test_registry_diff_of_two_models_and_bad_uris(registry: Registry, tmp_path: Path) -> None:
    register_two(registry, tmp_path)
    registry.register("other", tmp_path / "v1", owners="o", capture_environment=False)
    d = registry.diff("ctr/1", "other/1")
    assert not d.same_model and (d.a.model, d.b.model) == ("ctr", "other")
    with pytest.raises(NotFound):
        registry.diff("ctr/1", "ctr/9")
    with pytest.raises(NotFound):
        registry.diff("ctr@nowhere", "ctr/1")
    with pytest.raises(NotFound):
        registry.diff("ctr/1", "nope/1")
    with pytest.raises(InvalidInput):
        registry.diff("ctr/1", "ctr/not a version")


# the command line ----------------------------------------------------------------


def test_cli_diff_text_and_json(cli: CLI, tmp_path: Path, home: Path) -> None:
    with Registry(home=home, actor="carol") as registry:
        register_two(registry, tmp_path)
        registry.register("other", tmp_path / "v1", owners="o", capture_environment=False)
    run = cli("diff", "ctr@champion", "ctr/2")
    assert run.code == 0, run
    for text in ("models:/ctr/1 -> models:/ctr/2", "tags.team", "+0.05", "region=eu",
                 "pandas", "new.txt", "extra", "size delta: +30 bytes"):  # fmt: skip
        assert text in run.out, text
    assert "different models" not in run.out
    same = cli("diff", "ctr/1", "ctr/1.0.0")
    assert same.code == 0 and "no differences" in same.out
    two = cli("diff", "ctr/1", "other/1")
    assert two.code == 0 and "two different models (ctr and other)" in two.out
    doc = json.loads(cli("diff", "ctr/1", "ctr/2", "--json").out)
    assert doc["same_model"] is True and doc["changed"] is True
    assert doc["metrics"][0]["delta"] == pytest.approx(0.05)
    assert {p["name"]: p["change"] for p in doc["packages"]} == {
        "numpy": "changed",
        "pandas": "added",
    }
    assert doc["contract"]["changes"][0]["field"] == "extra"
    assert cli("diff", "ctr/1", "ctr/7").code == NotFoundError.exit_code
    assert cli("diff", "ctr/1", "ctr/0").code == InvalidInputError.exit_code


def test_cli_diff_escapes_user_text(cli: CLI, tmp_path: Path, home: Path) -> None:
    src = make_tree(tmp_path / "m", {"model.bin": b"x"})
    with Registry(home=home, actor="carol") as registry:
        registry.register("m", src, owners="o", tags={"t": "a"}, capture_environment=False)
        registry.register("m", src, tags={"t": "\x1b[2Jevil"}, capture_environment=False)
    run = cli("diff", "m/1", "m/2")
    assert run.code == 0 and "\x1b" not in run.out and "\\x1b[2Jevil" in run.out
