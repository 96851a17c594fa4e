"""Time zones of date-time fields are recorded and checked; the CLI records the model's
framework for a signature inferred from ``--sample``, as infer_signature(model=) does,
a plain pickle of a scikit-learn object included (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import pickle
from pathlib import Path

import joblib
import pandas as pd
import pytest
import sklearn
from sklearn.datasets import load_iris
from sklearn.linear_model import Ridge
from sklearn.tree import DecisionTreeClassifier

from modelbook import InvalidInput, Registry, infer_signature
from modelbook.contract import conformance
from modelbook.contract import parse_signature as parse
from modelbook.contract_diff import diff_contracts

from .flavor_models import Echo
from .test_cli import CLI, cli, home  # noqa: F401 - fixtures

TIMES = pd.to_datetime(["2024-01-01 10:00", "2024-06-01 10:00"])
PARIS = pd.DataFrame({"t": TIMES.tz_localize("Europe/Paris"), "x": [1.0, 2.0]})


def test_the_time_zone_is_inferred_from_every_kind_of_value() -> None:
    assert infer_signature(PARIS).inputs.fields[0].tz == "Europe/Paris"
    assert infer_signature(PARIS.assign(t=TIMES)).inputs.fields[0].tz is None
    utc = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert infer_signature([{"t": utc}]).inputs.fields[0].tz == "UTC"
    assert infer_signature(utc).inputs.fields[0].tz == "UTC"
    mixed = infer_signature([{"t": utc}, {"t": dt.datetime(2024, 1, 1)}]).inputs.fields[0]
    assert (mixed.dtype, mixed.tz) == ("object", None)
    assert parse(infer_signature(PARIS).to_json()).inputs.fields[0].tz == "Europe/Paris"


def test_another_time_zone_breaks_the_contract() -> None:
    sig = infer_signature(PARIS)
    assert conformance(sig.inputs, PARIS) == ()
    assert conformance(sig.inputs, PARIS.assign(t=TIMES)) == (
        "t: time zone none (naive date-times), the signature says Europe/Paris",
    )
    utc = PARIS.assign(t=PARIS["t"].dt.tz_convert("UTC"))
    assert conformance(sig.inputs, utc) == ("t: time zone UTC, the signature says Europe/Paris",)
    change = diff_contracts(sig, infer_signature(utc))
    assert not change.compatible
    assert [c.detail for c in change.changes] == ["t: time zone Europe/Paris -> UTC"]


def test_registered_checked_and_read_back_from_csv(registry: Registry, tmp_path: Path) -> None:
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(Echo()))
    sig = infer_signature(PARIS)
    with pytest.raises(InvalidInput, match="t: time zone none"):
        registry.register("m", [tmp_path / "m.pkl"], owners="o", signature=sig,
                          sample=PARIS.assign(t=TIMES), capture_environment=False)  # fmt: skip
    assert registry.models().items == []
    PARIS.to_csv(tmp_path / "s.csv", index=False)  # offsets in the text: +01:00, +02:00
    v = registry.register("m", [tmp_path / "m.pkl"], owners="o", signature=sig,
                          sample=tmp_path / "s.csv", capture_environment=False)  # fmt: skip
    assert v.contract["inputs"]["fields"][0]["tz"] == "Europe/Paris"
    predictor = registry.load(v.uri)
    with pytest.raises(InvalidInput, match="t: time zone UTC"):
        predictor.predict(PARIS.assign(t=PARIS["t"].dt.tz_convert("UTC")))
    assert registry.smoke(v.uri, timeout_s=120).passed


def test_the_cli_records_the_framework_of_a_sample_signature(
    cli: CLI,  # noqa: F811
    db_uri: str,
    tmp_path: Path,
) -> None:
    X, y = load_iris(return_X_y=True, as_frame=True)
    model = DecisionTreeClassifier(random_state=0).fit(X, y)
    joblib.dump(model, tmp_path / "iris.joblib")
    X.to_csv(tmp_path / "in.csv", index=False)
    base = ("--uri", db_uri, "--blob-uri", tmp_path / "blobs")
    run = cli(*base, "register", "iris", tmp_path / "iris.joblib", "--owner", "o",
              "--sample", tmp_path / "in.csv", "--no-capture", "--json")  # fmt: skip
    runtime = run.json()["contract"]["runtime"]
    python = infer_signature(X, model=model).runtime
    assert runtime["framework"] == python.framework == "scikit-learn"
    assert runtime["framework_version"] == python.framework_version == sklearn.__version__
    (tmp_path / "echo.pkl").write_bytes(pickle.dumps(Echo()))  # a plain pickle: no framework
    run = cli(*base, "register", "echo", tmp_path / "echo.pkl", "--owner", "o",
              "--sample", tmp_path / "in.csv", "--no-capture", "--json")  # fmt: skip
    assert run.json()["contract"]["runtime"]["framework"] is None
    (tmp_path / "iris.pkl").write_bytes(pickle.dumps(model))  # a pickle of scikit-learn's
    run = cli(*base, "register", "iris_pkl", tmp_path / "iris.pkl", "--owner", "o",
              "--sample", tmp_path / "in.csv", "--no-capture", "--json")  # fmt: skip
    assert run.json()["contract"]["runtime"]["framework"] == "scikit-learn"


def test_a_pickle_of_a_scikit_learn_model_records_scikit_learn(
    registry: Registry, tmp_path: Path
) -> None:
    X, y = load_iris(return_X_y=True, as_frame=True)
    model = Ridge().fit(X, y)
    (tmp_path / "j").mkdir()
    (tmp_path / "p").mkdir()
    joblib.dump(model, tmp_path / "j" / "model.joblib")
    with (tmp_path / "p" / "model.pkl").open("wb") as f:
        pickle.dump(model, f)
    first = registry.register("ridge", tmp_path / "j", owners="o", sample=X,
                              capture_environment=False)  # fmt: skip
    again = registry.register("ridge", tmp_path / "p", sample=X, capture_environment=False)
    runtime = again.contract["runtime"]
    assert runtime["framework"] == first.contract["runtime"]["framework"] == "scikit-learn"
    assert runtime["framework_version"] == sklearn.__version__
    # The same model under another file format: not an incompatible contract.
    assert again.classification is not None and again.classification.bump != "major"
    assert again.semver in ("1.0.1", "1.1.0"), again.classification
    predictor = registry.load(again.uri)
    assert predictor.flavor.name == "sklearn"
    assert (predictor.predict(X.head(5)) == model.predict(X.head(5))).all()


def test_the_class_of_a_pickled_object_is_read_without_unpickling_it() -> None:
    import io

    from modelbook.flavors.pickled import top_level_class

    model = Ridge().fit([[1.0], [2.0]], [1.0, 2.0])
    ridge = "sklearn.linear_model._ridge.Ridge"
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        assert top_level_class(pickle.dumps(model, protocol=protocol)) == ridge, protocol
    for compress in (0, 3, ("gzip", 3)):
        buf = io.BytesIO()
        joblib.dump(model, buf, compress=compress)
        assert top_level_class(buf.getvalue()[:4096]) == ridge, compress
    assert top_level_class(pickle.dumps(Echo())) == "tests.flavor_models.Echo"
    # Not an object of a class: a container of one, or no pickle at all.
    assert top_level_class(pickle.dumps({"model": model})) is None
    assert top_level_class(pickle.dumps([model], protocol=0)) is None
    assert top_level_class(b"not a pickle") is None
    assert top_level_class(b"") is None
    assert top_level_class(pickle.dumps(model)[:3]) is None  # cut before the class
