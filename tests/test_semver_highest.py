"""A new semver follows the model's highest one, so it is classified against the version
holding it too, not only against the parent (``--parent`` naming an older version)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from modelbook import Registry
from modelbook.errors import InvalidInput
from modelbook.semver import Bump

from . import test_cli
from .races import race
from .test_cli import CLI
from .test_register import count
from .test_semver_classification import _sklearn

# The fixtures of the CLI tests: a registry home in a temp folder, and one command run.
home = test_cli.home
cli = test_cli.cli

# The reviewer's models: four inputs a, b, c, d; m3 reads e where m1 reads d; m2 is m1
# with another regularisation, so its predictions differ on a few rows.
_X, _Y = load_breast_cancer(return_X_y=True, as_frame=True)
X = _X.iloc[:, :4].set_axis(["a", "b", "c", "d"], axis=1)
X_RENAMED = X.rename(columns={"d": "e"})
M1 = LogisticRegression(max_iter=5000).fit(X, _Y)
M2 = LogisticRegression(max_iter=5000, C=0.001).fit(X, _Y)
M3 = LogisticRegression(max_iter=5000).fit(X_RENAMED, _Y)


def _register(reg: Registry, tmp_path: Path, model: Any, X: pd.DataFrame, **kw: Any) -> Any:
    return _sklearn(reg, tmp_path, model, X, name="a", **kw)


def test_an_old_parent_does_not_hide_an_incompatible_change_from_the_highest(
    registry: Registry, tmp_path: Path
) -> None:
    """The reviewer's example: 1.0.0 reads d, 2.0.0 reads e; the first model again with
    ``--parent a/1`` is the same as its parent but incompatible with 2.0.0: MAJOR, 3.0.0.
    Both comparisons are in the evidence; an explicit MINOR or PATCH is refused naming
    the version it breaks, and a pin on major 2 refuses the new version."""
    v1 = _register(registry, tmp_path, M1, X)
    v2 = _register(registry, tmp_path, M3, X_RENAMED)
    assert (v1.semver, v2.semver) == ("1.0.0", "2.0.0")
    registry.set_alias("a", "stable", 2, reason="feed v2")
    registry.pin_alias("a", "stable", 2)

    before = (count(registry, "versions"), count(registry, "events"))
    for explicit in ("2.0.1", "2.1.0"):
        with pytest.raises(InvalidInput) as err:
            _register(registry, tmp_path, M1, X, parents=[v1.uri], semver=explicit)
        text = str(err.value)
        assert f"semver {explicit} is less than 3.0.0: this is a MAJOR change" in text
        assert "against models:/a/2 (2.0.0): incompatible: e looks renamed to d" in text
    assert (count(registry, "versions"), count(registry, "events")) == before

    v3 = _register(registry, tmp_path, M1, X, parents=[v1.uri])
    assert v3.semver == "3.0.0"
    c = v3.classification
    assert c is not None
    assert (c.parent, c.parent_semver, c.parent_bump, c.bump) == (
        v1.uri,
        "1.0.0",
        Bump.PATCH,
        Bump.MAJOR,
    )
    assert c.reasons == ("the same contract and the same artifacts",)
    assert c.highest is not None
    assert (c.highest.version, c.highest.semver, c.highest.bump) == (v2.uri, "2.0.0", Bump.MAJOR)
    assert [(ch.change, ch.field) for ch in c.highest.contract.incompatible] == [("renamed", "d")]
    assert registry.get_version(v3.uri).classification == c

    with pytest.raises(InvalidInput, match="pinned to major 2"):
        registry.set_alias("a", "stable", 3, reason="by accident")
    assert registry.resolve("models:/a@stable").number == 2


def test_an_old_parent_does_not_make_changed_predictions_a_patch(
    registry: Registry, tmp_path: Path
) -> None:
    """The predictions variant: 1.1.0 predicts differently from 1.0.0; the 1.0.0 model
    again with the parent 1.0.0 has the parent's very files, but predicts differently from
    1.1.0, whose semver it follows: MINOR, 1.2.0, with the rows counted."""
    v1 = _register(registry, tmp_path, M1, X)
    v2 = _register(registry, tmp_path, M2, X)
    assert v2.semver == "1.1.0"
    # An explicit PATCH is refused with the comparison that calls for MINOR.
    with pytest.raises(InvalidInput, match=r"against models:/a/2 \(1\.1\.0\): predictions"):
        _register(registry, tmp_path, M1, X, parents=[v1.uri], semver="1.1.1")
    v3 = _register(registry, tmp_path, M1, X, parents=[v1.uri])
    assert v3.semver == "1.2.0"
    c = v3.classification
    assert c is not None and (c.parent_bump, c.bump) == (Bump.PATCH, Bump.MINOR)
    assert c.highest is not None
    assert (c.highest.version, c.highest.method, c.highest.bump) == (
        v2.uri,
        "predictions",
        Bump.MINOR,
    )
    sample = X.head(100)
    truth = int((M1.predict(sample) != M2.predict(sample)).sum())
    assert truth > 0
    assert c.highest.predictions is not None
    assert (c.highest.predictions.rows, c.highest.predictions.changed) == (100, truth)
    assert f"predictions changed on {truth} of 100 sample rows" in c.highest.reasons


def test_the_parent_holding_the_highest_semver_is_compared_once(
    registry: Registry, tmp_path: Path
) -> None:
    """With only a parent of another model, the parent is the latest version, which holds
    the highest semver: one comparison, no ``highest``."""
    other = _register(registry, tmp_path, M1, X)
    elsewhere = registry.register("b", [_file(tmp_path)], owners=["ml"], capture_environment=False)
    v2 = _register(registry, tmp_path, M2, X, parents=[elsewhere.uri])
    c = v2.classification
    assert c is not None and c.highest is None
    assert (c.parent, c.parent_bump, c.bump, v2.semver) == (
        other.uri,
        Bump.MINOR,
        Bump.MINOR,
        "1.1.0",
    )


def _file(tmp_path: Path) -> Path:
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "weights.bin"
    path.write_bytes(b"weights")
    return path


@pytest.mark.parametrize(
    ("racer", "X_racer", "semver", "bump"),
    [(M3, X_RENAMED, "3.0.0", Bump.MAJOR), (M2, X, "1.2.0", Bump.MINOR)],
)
def test_a_version_registered_during_the_comparison_becomes_the_parent(
    registry: Registry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    racer: Any,
    X_racer: pd.DataFrame,
    semver: str,
    bump: Bump,
) -> None:
    """Another registration that commits while this one compares with the model as it
    was prepared: the transaction sees the model's newest number moved, rolls back, and
    compares again, in full, with that version as the parent."""
    _register(registry, tmp_path, M1, X)
    raced = race(
        monkeypatch,
        registry._registration,
        "_classify",
        [lambda: _register(registry, tmp_path, racer, X_racer)],
    )
    v = _register(registry, tmp_path, M1, X)
    assert (raced[0].number, v.number, v.semver) == (2, 3, semver)
    c = v.classification
    assert c is not None and (c.parent, c.parent_bump, c.bump) == ("models:/a/2", bump, bump)
    assert c.highest is None
    # The rolled-back attempt left nothing behind.
    assert [x.number for x in registry.versions("a").items] == [3, 2, 1]
    assert registry.verify_audit().ok


@pytest.mark.parametrize(
    ("racer", "X_racer", "semver", "bump"),
    [(M3, X_RENAMED, "3.0.0", Bump.MAJOR), (M2, X, "1.2.0", Bump.MINOR)],
)
def test_a_version_registered_during_the_second_comparison_is_compared_with_too(
    registry: Registry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    racer: Any,
    X_racer: pd.DataFrame,
    semver: str,
    bump: Bump,
) -> None:
    """When a version is registered during the comparison made again as well, the new
    semver follows that one, so the transaction compares with it (by the contract and
    the files' hashes: models are not loaded with the model's row locked)."""
    _register(registry, tmp_path, M1, X)
    # The first racer is the same model (a PATCH), the second the parametrised one.
    raced = race(
        monkeypatch,
        registry._registration,
        "_classify",
        [
            lambda: _register(registry, tmp_path, M1, X),
            lambda: _register(registry, tmp_path, racer, X_racer),
        ],
    )
    v = _register(registry, tmp_path, M1, X)
    assert ([r.number for r in raced], v.number, v.semver) == ([2, 3], 4, semver)
    c = v.classification
    assert c is not None and c.bump == bump
    assert (c.parent, c.parent_bump) == ("models:/a/2", Bump.PATCH)
    assert c.highest is not None and c.highest.version == "models:/a/3"
    assert c.highest.method == "artifacts"
    if bump is Bump.MINOR:
        assert c.highest.predictions is not None
        assert "models:/a/3 was registered while this version was being compared" in (
            c.highest.predictions.message
        )


def test_a_model_created_during_the_upload_is_compared_with(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two first registrations of one new model: the one that commits second finds the
    model's first version there and compares with it, instead of calling itself the
    first version."""
    raced = race(
        monkeypatch,
        registry._registration,
        "store_file",
        [lambda: _register(registry, tmp_path, M1, X)],
    )
    v = _register(registry, tmp_path, M1, X)
    assert (raced[0].number, raced[0].semver, v.number, v.semver) == (1, "1.0.0", 2, "1.0.1")
    c = v.classification
    assert c is not None and (c.parent, c.parent_bump, c.method) == (
        "models:/a/1",
        Bump.PATCH,
        "artifacts",
    )


def test_register_and_show_name_each_comparison(
    cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI says which version each comparison was against, its semver, its role and
    its bump; an explicit semver below the computed one exits 6 with the reason."""
    for name, model, data in (("m1", M1, X), ("m3", M3, X_RENAMED)):
        (tmp_path / name).mkdir()
        joblib.dump(model, tmp_path / name / "model.joblib")
        data.to_csv(tmp_path / f"{name}.csv", index=False)
    m1, m3 = tmp_path / "m1" / "model.joblib", tmp_path / "m3" / "model.joblib"
    s1, s3 = tmp_path / "m1.csv", tmp_path / "m3.csv"
    assert cli("register", "a", m1, "--owner", "ml", "--sample", s1, "--no-capture").code == 0
    assert cli("register", "a", m3, "--sample", s3, "--no-capture").code == 0
    refused = cli("register", "a", m1, "--sample", s1, "--parent", "a/1", "--semver", "2.0.1")
    assert refused.code == 6
    assert "2.0.1 is less than 3.0.0: this is a MAJOR change" in refused.err
    run = cli("register", "a", m1, "--sample", s1, "--parent", "a/1", "--no-capture")
    assert run.code == 0, run.err
    expected = [
        "MAJOR change, the larger of:",
        "  PATCH from models:/a/1 (1.0.0, the parent):",
        "    the same contract and the same artifacts",
        "  MAJOR from models:/a/2 (2.0.0, the highest semver):",
        "    incompatible: e looks renamed to d (same dtype and position)",
    ]
    lines = run.out.splitlines()
    assert lines[0].startswith("registered models:/a/3 (semver 3.0.0,")
    assert lines[1:6] == expected
    shown = cli("show", "a/3").out.splitlines()
    start = shown.index(expected[0])
    assert shown[start : start + 5] == expected
    data = cli("show", "a/3", "--json").json()["classification"]
    assert (data["bump"], data["parent_bump"], data["highest"]["version"]) == (
        "major",
        "patch",
        "models:/a/2",
    )


def test_a_version_registered_while_the_files_are_stored_is_the_parent(
    registry: Registry, tmp_path: Path
) -> None:
    """The parent is the latest version when the comparison begins, after the new
    version's files are stored: one registered during that upload is the parent, not
    the version that was latest when the registration started."""
    first = tmp_path / "first.bin"
    first.write_bytes(b"first")
    registry.register("up", [first], owners="o", capture_environment=False)
    during = tmp_path / "during.bin"
    during.write_bytes(b"during")
    registered: list[Any] = []

    def progress(_done: int) -> None:
        if not registered:
            registered.append(
                registry.register("up", [during], owners="o", capture_environment=False)
            )

    last = tmp_path / "last.bin"
    last.write_bytes(b"last")
    third = registry.register(
        "up", [last], owners="o", capture_environment=False, progress=progress
    )
    assert [v.number for v in registered] == [2]
    assert third.number == 3
    assert third.classification is not None
    assert third.classification.parent == "models:/up/2"


@pytest.mark.parametrize(
    ("highest", "says"),
    [
        ("1.999999999.0", "give an explicit semver with a higher part"),
        ("999999999.999999999.999999999", "no version can follow it; register the next one"),
    ],
)
def test_a_model_at_the_end_of_its_semvers_is_told_what_can_still_be_done(
    highest: str, says: str
) -> None:
    """At the very last semver no higher part exists: the message must not ask for one."""
    from modelbook.semver import next_semver

    with pytest.raises(InvalidInput, match=says):
        next_semver("m", highest, bump=Bump.MINOR)
