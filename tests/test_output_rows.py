"""One output row per input row: a model that returns another count breaks its output
contract, in the smoke test, in load's predictor and in ``modelbook predict``
(SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelbook import Registry, infer_signature
from modelbook.errors import InvalidInput
from modelbook.flavors import output_problems
from modelbook.flavors.predictor import output_rows

from .flavor_models import DropsARow, ReturnsGenerator, ReturnsMapping, ReturnsNone
from .test_cli import CLI, cli, home  # noqa: F401 - fixtures

X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.5, 0.1, 0.2, 0.3]})


def _register(reg: Registry, tmp_path: Path, with_outputs: bool) -> str:
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(DropsARow()))
    sig = infer_signature(X, np.array([1.0, 2.0, 3.0, 4.0]) if with_outputs else None)
    v = reg.register(
        "m", [tmp_path / "m.pkl"], owners="o", signature=sig, sample=X, capture_environment=False
    )
    return v.uri


def test_the_rule() -> None:
    assert output_problems(None, np.zeros(4), 4) == ()
    assert output_problems(None, np.zeros(3), 4) == (
        "4 input row(s) gave 3 output row(s): one per row expected",
    )
    assert output_problems(None, 1.5, 4) == (
        "4 input row(s) gave 1 output row(s): one per row expected",
    )
    assert output_problems(None, 1.5, 1) == () and output_problems(None, np.zeros(3)) == ()


@pytest.mark.parametrize(
    ("outputs", "rows"),
    [
        (np.zeros(4), 4),
        (np.zeros((4, 3)), 4),
        (np.zeros((4, 2, 5)), 4),
        (np.float64(1.5), 1),
        (np.array(1.5), 1),
        (np.bool_(True), 1),
        ([1, 2, 3], 3),
        ((np.zeros(4), np.zeros(4)), 2),
        ([{"a": 1}, {"a": 2}], 2),
        (pd.DataFrame({"a": [1, 2, 3, 4], "b": [1, 2, 3, 4]}), 4),
        (pd.Series([1, 2]), 2),
        ({"label": np.zeros(4), "score": [0.1, 0.2, 0.3, 0.4]}, 4),
        ({"a": 1}, 1),
        ({"a": 1, "b": "x"}, 1),
        ({"a": {"b": np.zeros(3)}}, 3),
        (7, 1),
        (True, 1),
        ("text", 1),
        (b"bytes", 1),
        (pd.Timestamp("2026-01-01"), 1),
        (range(5), 5),
    ],
    ids=repr,
)
def test_every_output_form_is_counted(outputs: object, rows: int) -> None:
    assert output_rows(outputs) == rows


class _Opaque:
    pass


@pytest.mark.parametrize(
    ("outputs", "why"),
    [
        (None, "nothing (None)"),
        ((x for x in range(4)), "a generator, which cannot be counted without consuming it"),
        (iter([1, 2, 3, 4]), "a list_iterator, which cannot be counted"),
        ({1, 2, 3, 4}, "a set, which has no row order"),
        ({}, "an empty mapping (no output columns)"),
        ({"a": np.zeros(4), "b": np.zeros(3)}, "columns of different lengths ('a': 4, 'b': 3)"),
        ({"a": None}, "a mapping whose column 'a' is nothing (None)"),
        (_Opaque(), "a _Opaque, which has no length"),
    ],
    ids=["none", "generator", "iterator", "set", "empty-dict", "ragged", "none-column", "opaque"],
)
def test_outputs_that_cannot_be_counted_are_a_problem(outputs: object, why: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        output_rows(outputs)
    assert why in str(caught.value)
    assert output_problems(None, outputs, 4) == (
        f"4 input row(s) gave {caught.value}: one output row per input row expected",
    )


def test_a_mapping_of_the_wrong_row_count_is_a_problem() -> None:
    """The finding: {"a": 1} for 100 rows passed as if it were 100 rows."""
    assert output_problems(None, {"a": 1}, 100) == (
        "100 input row(s) gave 1 output row(s): one per row expected",
    )
    assert output_problems(None, {"a": np.zeros(100), "b": np.zeros(100)}, 100) == ()


@pytest.mark.parametrize("with_outputs", [True, False], ids=["outputs", "no-outputs"])
def test_a_smoke_test_fails_naming_the_counts(
    registry: Registry, tmp_path: Path, with_outputs: bool
) -> None:
    uri = _register(registry, tmp_path, with_outputs)
    result = registry.smoke(uri, timeout_s=60)
    assert not result.passed
    assert "4 input row(s) gave 3 output row(s)" in result.message, result.message
    assert registry.annotations(uri).smoke_tests[-1] == result


def test_the_loaded_predictor_and_predict_say_it(
    cli: CLI,  # noqa: F811
    db_uri: str,
    tmp_path: Path,
) -> None:
    blobs = tmp_path / "blobs"
    reg = Registry(db_uri, blob_uri=str(blobs))
    try:
        uri = _register(reg, tmp_path, True)
        predictor = reg.load(uri)
        out = predictor.predict(X)
        assert predictor.output_problems(out) == (
            "4 input row(s) gave 3 output row(s): one per row expected",
        )
        assert predictor.output_problems(out, rows=3) == ()
    finally:
        reg.close()
    X.to_csv(tmp_path / "in.csv", index=False)
    run = cli("--uri", db_uri, "--blob-uri", blobs, "predict", uri, "--input", tmp_path / "in.csv")
    assert run.code == 0 and "4 input row(s) gave 3 output row(s)" in run.err, run


def test_a_smoke_test_fails_on_outputs_of_any_wrong_form(
    registry: Registry, tmp_path: Path
) -> None:
    cases = {
        "mapping": (ReturnsMapping(), "4 input row(s) gave 1 output row(s)"),
        "none": (ReturnsNone(), "4 input row(s) gave nothing (None)"),
        "generator": (ReturnsGenerator(), "4 input row(s) gave a generator"),
    }
    for name, (model, message) in cases.items():
        (tmp_path / f"{name}.pkl").write_bytes(pickle.dumps(model))
        v = registry.register(
            name, [tmp_path / f"{name}.pkl"], owners="o", sample=X, capture_environment=False
        )
        result = registry.smoke(v.uri, timeout_s=60)
        assert not result.passed and message in result.message, (name, result.message)
        assert any(message in p for p in result.problems), result.problems


def test_predict_warns_of_a_mapping_of_the_wrong_row_count(
    cli: CLI,  # noqa: F811
    tmp_path: Path,
) -> None:
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(ReturnsMapping()))
    X.to_csv(tmp_path / "in.csv", index=False)
    run = cli("register", "m", tmp_path / "m.pkl", "--owner", "o", "--no-capture")
    assert run.code == 0, run
    run = cli("predict", "m/1", "--input", tmp_path / "in.csv", "--json")
    assert run.code == 0 and json.loads(run.out)["outputs"] == {"a": 1}, run
    assert "warning: the outputs break the output signature: 4 input row(s) gave 1" in run.err
    (tmp_path / "g.pkl").write_bytes(pickle.dumps(ReturnsGenerator()))
    assert cli("register", "g", tmp_path / "g.pkl", "--owner", "o", "--no-capture").code == 0
    run = cli("predict", "g/1", "--input", tmp_path / "in.csv", "--json")
    # Not a bug of modelbook's (exit 1): the outputs named, and why they cannot be written.
    assert run.code == 6 and "cannot be written as JSON" in run.err, run
    assert "4 input row(s) gave a generator" in run.err
