"""Semver classification at registration: real retrains, renamed columns, dtype changes."""

from __future__ import annotations

import pickle
import tempfile
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from modelbook import Registry, infer_signature
from modelbook.errors import InvalidInput

from .flavor_models import Echo, EchoAgain, EchoNudged, Evil
from .test_register import count

IRIS_X, IRIS_Y = load_iris(return_X_y=True, as_frame=True)


def _sklearn(
    reg: Registry, tmp_path: Path, model: Any, X: pd.DataFrame, name: str = "iris", **kw: Any
) -> Any:
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "model.joblib"
    joblib.dump(model, path)
    sig = infer_signature(X, model.predict(X), model=model)
    return reg.register(
        name, [path], owners=["o"], signature=sig, sample=X, capture_environment=False, **kw
    )


def _pickled(reg: Registry, tmp_path: Path, obj: Any, X: pd.DataFrame, **kw: Any) -> Any:
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "model.pkl"
    path.write_bytes(pickle.dumps(obj))
    sig = infer_signature(X, np.zeros(len(X)))
    return reg.register(
        "echo", [path], owners=["o"], signature=sig, sample=X, capture_environment=False, **kw
    )


def test_a_retrain_that_changes_predictions_is_minor_with_the_count(
    registry: Registry, tmp_path: Path
) -> None:
    """The parent's sample is predicted by both models; the changed rows are counted."""
    first = LogisticRegression(max_iter=1000).fit(IRIS_X, IRIS_Y)
    v1 = _sklearn(registry, tmp_path, first, IRIS_X)
    weaker = LogisticRegression(C=0.01, max_iter=1000).fit(IRIS_X, IRIS_Y)
    v2 = _sklearn(registry, tmp_path, weaker, IRIS_X)
    sample = IRIS_X.head(100)
    truth = int((first.predict(sample) != weaker.predict(sample)).sum())
    assert truth > 0
    assert v2.semver == "1.1.0"
    c = v2.classification
    assert c is not None
    assert (c.parent, c.bump, c.method) == (v1.uri, "minor", "predictions")
    assert c.predictions is not None and c.predictions.compared
    assert (c.predictions.rows, c.predictions.changed) == (100, truth)
    assert f"predictions changed on {truth} of 100 sample rows" in c.reasons
    assert registry.get_version(v2.uri).classification == c


def test_same_predictions_from_other_bytes_is_patch(registry: Registry, tmp_path: Path) -> None:
    """Another file that predicts the same, within the tolerance, is a PATCH."""
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.5, 0.1, 0.2]})
    _pickled(registry, tmp_path, Echo(), X)
    again = _pickled(registry, tmp_path, EchoAgain(), X)
    assert again.semver == "1.0.1"
    assert again.classification is not None
    assert again.classification.predictions is not None
    assert again.classification.predictions.changed == 0
    nudged = _pickled(registry, tmp_path, EchoNudged(), X)
    assert nudged.semver == "1.0.2", nudged.classification
    strict = _pickled(registry, tmp_path, Echo(), X, tolerance=0.0)
    assert strict.semver == "1.1.0"
    assert strict.classification is not None
    assert strict.classification.predictions is not None
    assert strict.classification.predictions.changed == 3


def test_a_renamed_input_column_is_major_and_says_which(registry: Registry, tmp_path: Path) -> None:
    """A renamed column breaks every caller: MAJOR, with the rename in the evidence."""
    model = LogisticRegression(max_iter=1000).fit(IRIS_X, IRIS_Y)
    _sklearn(registry, tmp_path, model, IRIS_X)
    renamed = IRIS_X.rename(columns={"petal width (cm)": "petal_width"})
    v2 = _sklearn(
        registry, tmp_path, LogisticRegression(max_iter=1000).fit(renamed, IRIS_Y), renamed
    )
    assert v2.semver == "2.0.0"
    c = v2.classification
    assert c is not None and (c.bump, c.method) == ("major", "artifacts")
    assert c.predictions is None
    assert [(ch.change, ch.field) for ch in c.contract.incompatible] == [("renamed", "petal_width")]
    assert any("petal_width" in r for r in c.reasons)


def test_a_dtype_change_is_major_when_old_values_no_longer_fit(
    registry: Registry, tmp_path: Path
) -> None:
    """float64 to int64 loses values: MAJOR; an explicit MINOR is refused, nothing written."""
    model = LogisticRegression(max_iter=1000).fit(IRIS_X, IRIS_Y)
    _sklearn(registry, tmp_path, model, IRIS_X)
    as_int = (IRIS_X * 10).astype("int64")
    refit = LogisticRegression(max_iter=1000).fit(as_int, IRIS_Y)
    before = (count(registry, "versions"), count(registry, "events"))
    with pytest.raises(InvalidInput, match=r"1\.1\.0 is less than 2\.0\.0: this is a MAJOR change"):
        _sklearn(registry, tmp_path, refit, as_int, semver="1.1.0")
    assert (count(registry, "versions"), count(registry, "events")) == before
    v2 = _sklearn(registry, tmp_path, refit, as_int)
    assert v2.semver == "2.0.0"
    assert v2.classification is not None
    assert {ch.change for ch in v2.classification.contract.incompatible} == {"dtype"}


def test_an_added_nullable_input_is_minor(registry: Registry, tmp_path: Path) -> None:
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.5, 0.1, 0.2]})
    _pickled(registry, tmp_path, Echo(), X)
    wider = X.assign(c=[1.0, None, 2.0])
    v2 = _pickled(registry, tmp_path, Echo(), wider)
    assert v2.semver == "1.1.0"
    c = v2.classification
    assert c is not None and c.bump == "minor" and not c.contract.incompatible
    assert [ch.change for ch in c.contract.changes] == ["added"]
    # Compatible means it: a caller of version 1 leaves the new column out.
    assert list(registry.load(v2.uri).predict(X)) == [1.0, 2.0, 3.0]
    with pytest.raises(InvalidInput, match=r"missing column\(s\) 'b'|missing column\(s\) b"):
        registry.load(v2.uri).predict(X[["a"]])


def test_the_first_same_model_parent_is_the_one_compared(
    registry: Registry, tmp_path: Path
) -> None:
    """``parents=[...]`` of the same model names the version compared with; the new
    semver follows the highest (1.1.0, which added the input c), so it is compared with
    that version too: c removed breaks its callers, MAJOR, whatever the parent says."""
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.5, 0.1, 0.2]})
    v1 = _pickled(registry, tmp_path, Echo(), X)
    v2 = _pickled(registry, tmp_path, Echo(), X.assign(c=[1.0, None, 2.0]))
    v3 = _pickled(registry, tmp_path, EchoAgain(), X, parents=[v1.uri])
    c = v3.classification
    assert c is not None
    assert (c.parent, c.parent_bump, c.method) == (v1.uri, "patch", "predictions")
    assert c.highest is not None
    assert (c.highest.version, c.highest.bump) == (v2.uri, "major")
    assert [(ch.change, ch.field) for ch in c.highest.contract.incompatible] == [("removed", "c")]
    assert (c.bump, v3.semver) == ("major", "2.0.0")


def test_a_dangerous_pickle_is_not_loaded_to_compare(registry: Registry, tmp_path: Path) -> None:
    """The scan refuses the new file before anything unpickles it; the evidence says so."""
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.5, 0.1, 0.2]})
    _pickled(registry, tmp_path, Echo(), X)
    marker = tmp_path / "pwned"
    v2 = _pickled(registry, tmp_path, Evil(str(marker)), X)
    assert not marker.exists()
    c = v2.classification
    assert c is not None and c.method == "artifacts" and c.bump == "minor"
    assert c.predictions is not None and not c.predictions.compared
    assert "refused" in c.predictions.message


@pytest.mark.parametrize("bad", [-1, 2, float("nan"), "0.1", True])
def test_a_bad_tolerance_is_refused_before_anything_is_written(
    registry: Registry, tmp_path: Path, bad: Any
) -> None:
    X = pd.DataFrame({"a": [1.0]})
    _pickled(registry, tmp_path, Echo(), X)
    before = count(registry, "versions")
    with pytest.raises(InvalidInput, match="tolerance must be a number from 0 to 1"):
        _pickled(registry, tmp_path, Echo(), X, tolerance=bad)
    assert count(registry, "versions") == before


def test_onnx_versions_are_compared_by_onnxruntime(registry: Registry, tmp_path: Path) -> None:
    """A retrained ONNX model is MINOR by its predictions; the same graph rebuilt is PATCH."""
    from skl2onnx import to_onnx
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    X = X.astype("float32")

    def register(model: Any, doc: str = "") -> Any:
        onx = to_onnx(model, X.to_numpy()[:1])
        onx.doc_string = doc
        path = Path(tempfile.mkdtemp(dir=tmp_path)) / "model.onnx"
        path.write_bytes(onx.SerializeToString())
        sig = infer_signature(X, model.predict(X).astype("float32"), model=model)
        return registry.register(
            "diabetes", [path], owners=["o"], signature=sig, sample=X, capture_environment=False
        )

    first = Ridge(alpha=1.0).fit(X, y)
    register(first)
    v2 = register(Ridge(alpha=10.0).fit(X, y))
    c = v2.classification
    assert c is not None and (c.method, c.bump, v2.semver) == ("predictions", "minor", "1.1.0")
    assert c.predictions is not None and c.predictions.rows == 100
    assert c.predictions.changed == 100
    v3 = register(Ridge(alpha=10.0).fit(X, y), doc="rebuilt")
    assert v3.classification is not None
    assert (v3.classification.method, v3.semver) == ("predictions", "1.1.1")


def test_a_sample_without_a_signature_records_the_model_files_runtime(
    registry: Registry, tmp_path: Path
) -> None:
    """register(sample=...) infers the signature with the framework of the model file, as
    the CLI's --sample does."""
    model = LogisticRegression(max_iter=1000).fit(IRIS_X, IRIS_Y)
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    v = registry.register("iris", [path], owners=["o"], sample=IRIS_X, capture_environment=False)
    assert v.contract is not None
    assert v.contract["runtime"]["framework"] == "scikit-learn"
    assert v.contract["runtime"]["framework_version"]


def test_a_declared_flavor_must_find_its_model_file(registry: Registry, tmp_path: Path) -> None:
    """A flavor declared for files it cannot read is refused before anything is written,
    on both registration paths."""
    (tmp_path / "weights.bin").write_bytes(b"not a model at all")
    before = count(registry, "versions")
    with pytest.raises(InvalidInput, match="flavor 'onnx' declared, but no onnx model file"):
        registry.register(
            "m", [tmp_path / "weights.bin"], owners=["o"], sample=IRIS_X, flavor="onnx"
        )
    stored = registry.store_file(tmp_path / "weights.bin", "weights.bin")
    with pytest.raises(InvalidInput, match="flavor 'onnx' declared"):
        registry.commit_version("m", [stored], owners=["o"], sample=IRIS_X, flavor="onnx")
    assert count(registry, "versions") == before


def test_integer_labels_are_compared_exactly_whatever_the_tolerance() -> None:
    """A tolerance is for scores: a class label 1 is not 'close' to 2."""
    from modelbook.flavors.compare import changed_rows

    before = np.array([0, 1, 2, 1])
    after = np.array([0, 2, 1, 1])
    assert changed_rows(before, after, tolerance=1.0) == (4, 2)
    assert changed_rows(before.astype(float), after.astype(float) + 1e-9, 1e-6) == (4, 2)
    assert changed_rows(np.array([0.5, 0.25]), np.array([0.5, 0.2500001]), 1e-3) == (2, 0)
