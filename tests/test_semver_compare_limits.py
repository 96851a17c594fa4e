"""The prediction comparison of a registration has its own time limit, and can be turned
off: a parent whose model hangs does not cost every later registration minutes."""

from __future__ import annotations

import inspect
import json
import math
import pickle
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import typer.main

from modelbook import Registry, infer_signature
from modelbook.cli import app
from modelbook.errors import InvalidInput
from modelbook.semver import Bump
from modelbook.services.classify import DEFAULT_COMPARE_TIMEOUT_S
from modelbook.smoke import DEFAULT_TIMEOUT_S

from . import test_cli
from .flavor_models import Echo, EchoAgain, Hangs
from .test_cli import CLI
from .test_register import count

home = test_cli.home
cli = test_cli.cli

X = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.5, 0.1, 0.2]})


def _pickled(reg: Registry, tmp_path: Path, obj: Any, **kw: Any) -> Any:
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "model.pkl"
    path.write_bytes(pickle.dumps(obj))
    sig = infer_signature(X, X["a"].to_numpy())
    return reg.register(
        "h", [path], owners=["o"], signature=sig, sample=X, capture_environment=False, **kw
    )


def test_a_hanging_parent_costs_the_comparison_limit_and_no_more(
    registry: Registry, tmp_path: Path
) -> None:
    """The parent's model hangs: the comparison is killed at compare_timeout_s, the
    classification falls back to the files' hashes (MINOR) and says why."""
    _pickled(registry, tmp_path, Hangs())
    start = time.monotonic()
    v2 = _pickled(registry, tmp_path, Echo(), compare_timeout_s=3)
    took = time.monotonic() - start
    # Far below the default limit: the given one applied.
    assert took < DEFAULT_COMPARE_TIMEOUT_S - 5, took
    c = v2.classification
    assert c is not None
    assert (v2.semver, c.bump, c.method) == ("1.1.0", Bump.MINOR, "artifacts")
    assert c.predictions is not None and not c.predictions.compared
    assert "did not finish within 3 s" in c.predictions.message
    assert "--compare-timeout" in c.predictions.message


def test_predictions_turned_off_classify_by_the_hashes_never_patch(
    registry: Registry, tmp_path: Path
) -> None:
    """compare_predictions=False: no model is loaded (the hanging parent costs nothing);
    other bytes are MINOR even when the predictions would be equal, and the evidence says
    predictions were turned off. The same bytes again are still a PATCH."""
    v1 = _pickled(registry, tmp_path, Hangs())
    start = time.monotonic()
    v2 = _pickled(registry, tmp_path, EchoAgain(), compare_predictions=False)
    assert time.monotonic() - start < DEFAULT_COMPARE_TIMEOUT_S - 5
    c = v2.classification
    assert c is not None and c.parent == v1.uri
    assert (v2.semver, c.bump, c.method) == ("1.1.0", Bump.MINOR, "artifacts")
    assert c.predictions is not None and not c.predictions.compared
    assert "turned off" in c.predictions.message
    assert "artifacts changed (model.pkl) and predictions were not compared" in c.reasons
    # With predictions compared, EchoAgain after Echo is a PATCH (the same predictions);
    # without, only the same bytes are.
    v3 = _pickled(registry, tmp_path, Echo(), compare_predictions=False)
    v4 = _pickled(registry, tmp_path, Echo(), compare_predictions=False)
    assert (v3.semver, v4.semver) == ("1.2.0", "1.2.1")
    assert v4.classification is not None and v4.classification.predictions is None


@pytest.mark.parametrize(
    ("option", "bad"),
    [
        ("compare_timeout_s", 0),
        ("compare_timeout_s", -1),
        ("compare_timeout_s", math.nan),
        ("compare_timeout_s", math.inf),
        ("compare_timeout_s", 3601),
        ("compare_timeout_s", "5"),
        ("compare_timeout_s", True),
        ("compare_predictions", "no"),
        ("compare_predictions", 0),
        ("compare_predictions", None),
    ],
)
def test_bad_comparison_options_are_refused_before_anything_is_written(
    registry: Registry, tmp_path: Path, option: str, bad: Any
) -> None:
    _pickled(registry, tmp_path, Echo())
    before = (count(registry, "versions"), count(registry, "events"))
    name = "compare timeout" if option == "compare_timeout_s" else "compare_predictions"
    with pytest.raises(InvalidInput, match=name):
        _pickled(registry, tmp_path, EchoAgain(), **{option: bad})
    assert (count(registry, "versions"), count(registry, "events")) == before


def test_the_default_limit_is_shorter_than_the_smoke_tests_and_the_same_everywhere() -> None:
    from modelbook import Registry
    from modelbook.services.drafts import prepare

    assert 0 < DEFAULT_COMPARE_TIMEOUT_S < DEFAULT_TIMEOUT_S
    for fn in (Registry.register, prepare):
        assert inspect.signature(fn).parameters["compare_timeout_s"].default == (
            DEFAULT_COMPARE_TIMEOUT_S
        )
    command = typer.main.get_command(app).commands["register"]  # type: ignore[attr-defined]
    option = next(p for p in command.params if p.name == "compare_timeout")
    assert option.default == DEFAULT_COMPARE_TIMEOUT_S


def test_the_cli_options(cli: CLI, tmp_path: Path) -> None:
    """--compare-timeout out of range exits 6 before the registry is made;
    --no-compare-predictions says in the output that predictions were not compared."""
    sample = tmp_path / "sample.csv"
    X.to_csv(sample, index=False)
    files = []
    for n, obj in enumerate((Echo(), EchoAgain())):
        files.append(tmp_path / f"m{n}" / "model.pkl")
        files[-1].parent.mkdir()
        files[-1].write_bytes(pickle.dumps(obj))
    for bad in ("0", "-2", "nan", "3601"):
        run = cli("register", "h", files[0], "--owner", "o", "--compare-timeout", bad)
        assert run.code == 6, (bad, run)
        assert "compare timeout must be more than 0 and at most 3600 seconds" in run.err
    assert not (tmp_path / "home").exists()
    assert cli("register", "h", files[0], "--owner", "o", "--sample", sample).code == 0
    run = cli("register", "h", files[1], "--sample", sample, "--no-compare-predictions")
    assert run.code == 0, run.err
    assert run.out.splitlines()[1:] == [
        "MINOR change from models:/h/1:",
        "  artifacts changed (model.pkl) and predictions were not compared",
        "  predictions not compared: turned off "
        "(compare_predictions=False, --no-compare-predictions)",
    ]
    timed = cli("register", "h", files[0], "--sample", sample, "--compare-timeout", "60", "--json")
    assert timed.code == 0, timed.err
    evidence = json.loads(timed.out)["classification"]
    assert (evidence["method"], evidence["bump"]) == ("predictions", "patch")
