"""Loaders: scikit-learn (joblib, pickle), ONNX, pickled objects; the safety scan; the config."""

from __future__ import annotations

import contextlib
import pickle
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LinearRegression, LogisticRegression

from modelbook import Registry, infer_signature
from modelbook.errors import InvalidInput, ModelbookError, UnsafeArtifact
from modelbook.flavors import FLAVORS, detect

from .flavor_models import Echo, Evil, MarksWhenLoaded, Sneaky, cancer_classifier


@pytest.fixture(scope="module")
def classifier() -> tuple[Any, pd.DataFrame]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return cancer_classifier(X, y), X


@pytest.fixture(scope="module")
def regressor() -> tuple[Any, pd.DataFrame]:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    return LinearRegression().fit(X, y), X


def _register(reg: Registry, name: str, path: Path, model: Any, X: Any, **kw: Any) -> str:
    sig = infer_signature(X, model.predict(X), model=model)
    v = reg.register(
        name, [path], owners=["ml"], signature=sig, sample=X, capture_environment=False, **kw
    )
    return v.uri


def test_sklearn_joblib_classifier_loads_and_predicts(
    registry: Registry, tmp_path: Path, classifier: tuple[Any, pd.DataFrame]
) -> None:
    model, X = classifier
    joblib.dump(model, tmp_path / "model.joblib")
    uri = _register(registry, "bc", tmp_path / "model.joblib", model, X)
    predictor = registry.load(uri)
    assert predictor.flavor.name == "sklearn"
    assert (predictor.predict(X.head(20)) == model.predict(X.head(20))).all()
    # Columns in another order are put back in the signature's order.
    assert (predictor.predict(X.head(5)[X.columns[::-1]]) == model.predict(X.head(5))).all()
    assert predictor.scan is not None and predictor.scan.verdict == "suspicious"
    scans = registry.annotations(uri).scans
    assert scans[-1].verdict == "suspicious" and scans[-1].purpose == "load"
    registry.load(uri)  # the same outcome again is not recorded twice
    assert len(registry.annotations(uri).scans) == 1


def test_inputs_are_checked_against_the_signature_naming_the_field(
    registry: Registry, tmp_path: Path, classifier: tuple[Any, pd.DataFrame]
) -> None:
    model, X = classifier
    joblib.dump(model, tmp_path / "model.joblib")
    predictor = registry.load(_register(registry, "bc", tmp_path / "model.joblib", model, X))
    with pytest.raises(InvalidInput, match=r"missing column.*mean radius"):
        predictor.predict(X.drop(columns=["mean radius"]).head())
    bad = X.head().astype({"mean area": str})
    with pytest.raises(InvalidInput, match="mean area: dtype string"):
        predictor.predict(bad)
    holes = X.head().copy()
    holes.loc[0, "worst texture"] = np.nan
    with pytest.raises(InvalidInput, match="worst texture: has missing values"):
        predictor.predict(holes)
    with pytest.raises(InvalidInput, match="expects a table"):
        predictor.predict(X.head().to_numpy())


def test_sklearn_pickle_regressor_and_onnx_versions_agree(
    registry: Registry, tmp_path: Path, regressor: tuple[Any, pd.DataFrame]
) -> None:
    from skl2onnx import to_onnx

    model, X = regressor
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(model))
    pkl = registry.load(_register(registry, "diabetes", tmp_path / "model.pkl", model, X))
    assert pkl.flavor.name == "sklearn"  # a pickle whose signature says scikit-learn
    onx = to_onnx(model, X.to_numpy()[:1].astype(np.float32))
    (tmp_path / "model.onnx").write_bytes(onx.SerializeToString())
    onnx = registry.load(_register(registry, "diabetes", tmp_path / "model.onnx", model, X))
    assert onnx.flavor.name == "onnx" and onnx.scan is None
    want = model.predict(X.head(10))
    assert np.allclose(pkl.predict(X.head(10)), want)
    got = onnx.predict(X.head(10))
    assert got.shape == want.shape and np.allclose(got, want, rtol=1e-3, atol=1e-2)
    with pytest.raises(InvalidInput, match=r"column.* not in the signature: extra"):
        onnx.predict(X.head().assign(extra=1.0))


def test_onnx_classifier(
    registry: Registry, tmp_path: Path, classifier: tuple[Any, pd.DataFrame]
) -> None:
    from skl2onnx import to_onnx

    model, X = classifier
    onx = to_onnx(model, X.to_numpy()[:1].astype(np.float32), options={"zipmap": False})
    (tmp_path / "clf.onnx").write_bytes(onx.SerializeToString())
    predictor = registry.load(_register(registry, "bc", tmp_path / "clf.onnx", model, X))
    agree = (predictor.predict(X) == model.predict(X)).mean()
    assert agree > 0.99


def test_a_pickled_object_with_predict(registry: Registry, tmp_path: Path) -> None:
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 6.0]})
    (tmp_path / "echo.pkl").write_bytes(pickle.dumps(Echo()))
    v = registry.register(
        "echo", [tmp_path / "echo.pkl"], owners=["o"], sample=X, capture_environment=False
    )
    predictor = registry.load(v.uri)
    assert predictor.flavor.name == "pickle"
    assert list(predictor.predict(X)) == [1.0, 2.0, 3.0]


def test_a_malicious_pickle_is_refused_and_never_executed(
    registry: Registry, tmp_path: Path
) -> None:
    marker = tmp_path / "PWNED"
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(Evil(str(marker))))
    joblib.dump(Evil(str(marker)), tmp_path / "model.joblib", compress=3)
    for i, name in enumerate(("model.pkl", "model.joblib")):
        v = registry.register(
            f"evil{i}", [tmp_path / name], owners=["o"], capture_environment=False
        )
        with pytest.raises(UnsafeArtifact, match=r"dangerous.*imports (posix|os)\.system") as e:
            registry.load(v.uri)
        assert e.value.exit_code == 11
        assert not marker.exists()
        [scan] = registry.annotations(v.uri).scans
        assert scan.verdict == "dangerous" and not scan.allowed_unsafe
        report = registry.scan(v.uri)
        assert report.unsafe and report.files[0].path == name
    actions = [e.action for e in registry.events(model="evil0").items]
    assert "version.scan" in actions


def test_a_pickle_that_calls_a_function_is_refused_though_the_scanner_only_suspects_it(
    registry: Registry, tmp_path: Path
) -> None:
    """picklescan rates a function it does not know "suspicious", not dangerous; the
    scan judges it by the pickle flavor's rule (a function, not a class) and calls it
    dangerous, loading refuses it, and nothing runs."""
    marker = tmp_path / "ran"
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(Sneaky(str(marker))))
    v = registry.register(
        "sneaky", [tmp_path / "model.pkl"], owners=["o"], capture_environment=False
    )
    with pytest.raises(UnsafeArtifact, match=r"imports tests\.flavor_models\.write_marker"):
        registry.load(v.uri)
    assert not marker.exists()
    [scan] = registry.annotations(v.uri).scans
    assert scan.verdict == "dangerous"
    assert registry.smoke(v.uri).passed is False
    assert not marker.exists()
    # A pickle of the user's own class with pandas values inside still loads.
    (tmp_path / "echo.pkl").write_bytes(pickle.dumps(Echo()))
    ok = registry.register("echo", [tmp_path / "echo.pkl"], owners=["o"], capture_environment=False)
    assert registry.load(ok.uri).flavor.name == "pickle"


def test_allow_unsafe_is_explicit_and_recorded(registry: Registry, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(Evil(str(marker))))
    v = registry.register("evil", [tmp_path / "model.pkl"], owners=["o"], capture_environment=False)
    # os.system returns an int, which has no predict: the load fails after running it.
    with pytest.raises(InvalidInput, match="no predict method"):
        registry.load(v.uri, allow_unsafe=True)
    assert marker.exists()
    assert registry.annotations(v.uri).scans[-1].allowed_unsafe


def test_pickles_can_be_turned_off(
    registry: Registry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    classifier: tuple[Any, pd.DataFrame],
) -> None:
    model, X = classifier
    joblib.dump(model, tmp_path / "model.joblib")
    uri = _register(registry, "bc", tmp_path / "model.joblib", model, X)
    monkeypatch.setenv("MODELBOOK_ALLOW_PICKLE", "0")
    with pytest.raises(UnsafeArtifact, match=r"MODELBOOK_ALLOW_PICKLE=0.*model.joblib"):
        registry.load(uri)
    monkeypatch.setenv("MODELBOOK_ALLOW_PICKLE", "maybe")
    with pytest.raises(InvalidInput, match="MODELBOOK_ALLOW_PICKLE"):
        registry.load(uri)
    monkeypatch.setenv("MODELBOOK_ALLOW_PICKLE", "1")
    assert registry.load(uri).flavor.name == "sklearn"


def test_declared_flavor_is_stored_and_checked(registry: Registry, tmp_path: Path) -> None:
    X = pd.DataFrame({"a": [1.0, 2.0]})
    (tmp_path / "m.bin").write_bytes(pickle.dumps(Echo()))
    v = registry.register(
        "echo",
        [tmp_path / "m.bin"],
        owners=["o"],
        sample=X,
        flavor="pickle",
        capture_environment=False,
    )
    assert v.contract is not None and v.contract["runtime"]["flavor"] == "pickle"
    assert registry.load(v.uri).flavor.name == "pickle"
    with pytest.raises(InvalidInput, match="no onnx model file"):
        registry.load(v.uri, flavor="onnx")
    with pytest.raises(InvalidInput, match=r"unknown flavor 'onx'.*did you mean 'onnx'"):
        registry.register(
            "echo", [tmp_path / "m.bin"], sample=X, flavor="onx", capture_environment=False
        )
    with pytest.raises(InvalidInput, match="give a signature or a sample"):
        registry.register("echo", [tmp_path / "m.bin"], flavor="pickle", capture_environment=False)


def test_optional_flavors_say_what_to_install(registry: Registry, tmp_path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(tmp_path / "net.pt", "w") as z:
        z.writestr("net/code/__torch__.py", "")
    v = registry.register("net", [tmp_path / "net.pt"], owners=["o"], capture_environment=False)
    if FLAVORS["torchscript"].available():
        pytest.skip("torch is installed")
    with pytest.raises(InvalidInput, match=r"torchscript flavor needs torch.*pip install torch"):
        registry.load(v.uri)


def test_detection() -> None:
    pkl = b"\x80\x04\x95"
    assert (
        detect([("m.onnx", b"\x08\x07"), ("_modelbook/sample.parquet", b"PAR1")])[0].name == "onnx"
    )
    assert detect([("model.joblib", b"x\x9c")])[0].name == "sklearn"
    assert detect([("blob", pkl)])[0].name == "pickle"
    assert detect([("m.pkl", pkl)], framework="scikit-learn")[0].name == "sklearn"
    assert detect([("m.lgb", b"tree\nversion=v4")])[0].name == "lightgbm"
    assert detect([("m.ubj", b"{")])[0].name == "xgboost"
    with pytest.raises(InvalidInput, match="several files could be the model"):
        detect([("a.joblib", b""), ("b.onnx", b"")])
    with pytest.raises(InvalidInput, match=r"no model file modelbook can load .*notes.txt"):
        detect([("notes.txt", b"hello")])


def test_a_payload_after_an_array_is_refused_where_the_scan_cannot_reach(
    registry: Registry, tmp_path: Path, classifier: tuple[Any, pd.DataFrame]
) -> None:
    """joblib stores a NumPy array's raw bytes inside the stream and the scanner stops
    there: a call to os.system after an array would go unread. The scan reads such a
    stream to its end under the scikit-learn rule and finds it; loading checks every
    global again; neither runs the payload, through scan, load or the smoke test."""
    marker = tmp_path / "PWNED"
    _, X = classifier
    joblib.dump([np.zeros(1000), Evil(str(marker))], tmp_path / "model.joblib")
    joblib.dump([np.zeros(1000), Evil(str(marker))], tmp_path / "model.pkl")
    uris = []
    for i, name in enumerate(("model.joblib", "model.pkl")):
        v = registry.register(
            f"hidden{i}", [tmp_path / name], owners=["o"], sample=X.head(5),
            capture_environment=False,
        )  # fmt: skip
        scanned = registry.scan(v.uri).files[0]
        assert scanned.verdict == "dangerous" and scanned.checked, scanned
        assert scanned.dangerous in (("posix.system",), ("os.system",))
        with pytest.raises(UnsafeArtifact) as refused:
            registry.load(v.uri)
        assert "posix.system" in str(refused.value) or "os.system" in str(refused.value)
        smoke = registry.smoke(v.uri, timeout_s=60)
        assert not smoke.passed
        assert not marker.exists()
        uris.append(v.uri)
    # The control: allowed explicitly, joblib reaches the payload, which is real and runs.
    with contextlib.suppress(ModelbookError):
        registry.load(uris[0], allow_unsafe=True)
    assert marker.exists()


def test_genuine_scikit_learn_models_load_under_the_global_check(
    registry: Registry, tmp_path: Path, classifier: tuple[Any, pd.DataFrame]
) -> None:
    """Every global a fitted estimator's joblib file names passes the check."""
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    _, X = classifier
    y = (X.iloc[:, 0] > X.iloc[:, 0].median()).astype(int)
    fitted = [
        RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y),
        HistGradientBoostingClassifier(max_iter=3).fit(X, y),
        make_pipeline(StandardScaler(), SVC()).fit(X, y),
    ]
    for i, model in enumerate(fitted):
        for compress in (0, 3):
            path = tmp_path / f"m{i}-{compress}" / "model.joblib"
            path.parent.mkdir()
            joblib.dump(model, path, compress=compress)
            uri = _register(registry, f"genuine{i}-{compress}", path, model, X)
            assert (registry.load(uri).predict(X.head(5)) == model.predict(X.head(5))).all()


def test_the_global_check_allows_what_models_need_and_nothing_else() -> None:
    from modelbook.unpickling import sklearn_global_allowed as allowed

    for module, name in [
        ("sklearn.linear_model._logistic", "LogisticRegression"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy", "dtype"),
        ("numpy.random._pickle", "__randomstate_ctor"),
        ("joblib.numpy_pickle", "NumpyArrayWrapper"),
        ("scipy.sparse._csr", "csr_matrix"),
        ("builtins", "slice"),
        ("copyreg", "_reconstructor"),
    ]:
        assert allowed(module, name), (module, name)
    for module, name in [
        ("os", "system"),
        ("posix", "system"),
        ("builtins", "eval"),
        ("builtins", "getattr"),
        ("subprocess", "Popen"),
        ("numpy.testing._private.utils", "runstring"),
        ("sklearn.utils._testing", "assert_run_python_script_without_output"),
        ("sklearn.datasets._openml", "fetch_openml"),
        ("numpy.f2py", "compile"),
        ("scipy._lib._testutils", "PytestTester"),
    ]:
        assert not allowed(module, name), (module, name)


class _WritesAFile:
    """Unpickling it calls numpy.savetxt: a NumPy function, not a class."""

    def __init__(self, path: str, text: str) -> None:
        self.path, self.text = path, text

    def __reduce__(self) -> Any:
        return (np.savetxt, (self.path, [self.text], "%s"))


class _LoadsAPickle:
    """Unpickling it calls numpy.load with allow_pickle=True on a file."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (np.load, (self.path, None, True))


@pytest.mark.parametrize("name", ["model.joblib", "model.pkl"])
def test_a_numpy_function_chain_in_a_working_model_never_runs(
    registry: Registry, tmp_path: Path, classifier: tuple[Any, pd.DataFrame], name: str
) -> None:
    """A genuine model carrying numpy.savetxt (writes a pickle as text) then numpy.load
    (unpickles it unchecked) in an attribute: every NumPy module is allowed, but a
    function is not a class. Scan, the scan gate's verdict, load, smoke and the
    classification of a later version all refuse it, and the payload never runs."""
    marker = tmp_path / "PWNED"
    stage = tmp_path / "stage.txt"
    inner = f"cposix\nsystem\n(Vtouch {marker}\ntR."
    model, X = classifier
    model._payload = [_WritesAFile(str(stage), inner), _LoadsAPickle(str(stage))]
    path = tmp_path / name
    if name.endswith(".joblib"):
        joblib.dump(model, path)
    else:
        path.write_bytes(pickle.dumps(model))
    v = registry.register(
        "chain", [path], owners=["o"], sample=X.head(5), capture_environment=False
    )
    report = registry.scan(v.uri)
    assert report.unsafe and report.verdict == "dangerous", report
    assert any("savetxt" in d for f in report.files for d in f.dangerous), report
    with pytest.raises(UnsafeArtifact, match="savetxt"):
        registry.load(v.uri)
    assert not registry.smoke(v.uri, timeout_s=60).passed
    del model._payload
    clean = tmp_path / "clean" / name
    clean.parent.mkdir()
    joblib.dump(model, clean) if name.endswith(".joblib") else clean.write_bytes(
        pickle.dumps(model)
    )
    registry.register("chain", [clean], owners=["o"], sample=X.head(5), capture_environment=False)
    assert not stage.exists() and not marker.exists()


def test_a_pickle_s_standard_library_module_is_judged_before_it_is_imported(
    registry: Registry, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Importing `this` prints the Zen of Python: a module's own code runs on import, so
    a standard-library module a pickle names is refused by name, before the import."""
    import sys

    sys.modules.pop("this", None)
    path = tmp_path / "model.pkl"
    path.write_bytes(b"cthis\ns\n.")
    v = registry.register("imp", [path], owners=["o"], capture_environment=False)
    with pytest.raises(UnsafeArtifact, match=r"this\.s"):
        registry.load(v.uri)
    assert "this" not in sys.modules
    assert "Zen of Python" not in capfd.readouterr().out


def test_dangerous_numpy_and_scipy_parts_are_refused_by_what_they_are() -> None:
    from modelbook.unpickling import pickle_global_allowed, sklearn_global_allowed

    for module, name in [
        ("numpy", "savetxt"),
        ("numpy", "load"),
        ("numpy", "save"),
        ("numpy", "fromfile"),
        ("numpy", "memmap"),
        ("numpy", "ndarray.tofile"),
        ("numpy.lib.format", "open_memmap"),
        ("scipy.io", "savemat"),
        ("scipy.io", "FortranFile"),
        ("sklearn.tree", "export_graphviz"),
        ("sklearn.utils._joblib", "load"),
        ("collections", "namedtuple"),
    ]:
        assert not sklearn_global_allowed(module, name), (module, name)
    for module, name in [
        ("numpy", "log1p"),
        ("sklearn.feature_selection._univariate_selection", "f_classif"),
        ("sklearn.metrics", "roc_auc_score"),
        ("collections", "OrderedDict"),
    ]:
        assert sklearn_global_allowed(module, name), (module, name)
    assert not pickle_global_allowed("numpy", "savetxt", np.savetxt)
    assert not pickle_global_allowed("numpy", "memmap", np.memmap)
    assert pickle_global_allowed("tests.flavor_models", "Echo", Echo)


def _dotted_call(module: str, name: str, *argv: str) -> bytes:
    """A protocol-4 stream that calls ``module`` + dotted ``name`` with the list ``argv``."""

    def text(s: str) -> bytes:
        data = s.encode()
        return b"\x8c" + bytes([len(data)]) + data

    args = b"](" + b"".join(text(a) for a in argv) + b"e"
    return b"\x80\x04" + text(module) + text(name) + b"\x93" + args + b"\x85R."


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("scipy", "_lib._testutils.subprocess.Popen"),
        ("numpy", "_core._internal.ctypes.CDLL"),
    ],
)
def test_a_dotted_name_cannot_leave_the_module_it_names(
    registry: Registry, tmp_path: Path, module: str, name: str
) -> None:
    """Protocol 4 follows a dotted name attribute by attribute: an allowed module's
    name can reach subprocess.Popen through the modules it imports. Each step must
    be a class, and the class reached is judged by the module that defines it."""
    from modelbook.unpickling import pickle_name_refused, sklearn_global_allowed

    marker = tmp_path / "PWNED"
    assert not sklearn_global_allowed(module, name)
    assert pickle_name_refused(module, name)
    for file in ("model.pkl", "model.joblib"):
        path = tmp_path / file
        path.write_bytes(_dotted_call(module, name, "sh", "-c", f"touch {marker}"))
        v = registry.register(
            f"dotted-{file[-3:]}", [path], owners=["o"], capture_environment=False
        )
        with pytest.raises(UnsafeArtifact):
            registry.load(v.uri)
        assert not registry.smoke(v.uri, timeout_s=60).passed
    assert not marker.exists()


def test_a_package_s_command_line_module_is_not_imported() -> None:
    from modelbook.unpickling import pickle_module_allowed

    assert not pickle_module_allowed("pytest.__main__", "x")
    assert not pickle_module_allowed("pip.__main__", "x")


def test_a_user_s_object_holding_pandas_values_loads(tmp_path: Path) -> None:
    """A user's class holding a DataFrame with an index, dates, categoricals, nullable
    and string columns, a Series and a Generator (the default protocols): pandas and
    pyarrow rebuild them through helpers of their own, which the rule allows."""
    from modelbook.unpickling import load_pickle

    from .flavor_models import Echo

    held = Echo()
    held.frame = pd.DataFrame(  # type: ignore[attr-defined]
        {
            "a": pd.array([1, None], dtype="Int64"),
            "t": pd.to_datetime(["2020-01-01", "2020-01-02"]),
            "c": pd.Categorical(["x", "y"]),
            "s": pd.array(["p", None], dtype="string"),
        },
        index=pd.Index(["r1", "r2"]),
    )
    held.series = pd.Series([1.5, None])  # type: ignore[attr-defined]
    held.rng = np.random.default_rng(0)  # type: ignore[attr-defined]
    # Protocol 2 rebuilds some of these through builtins.getattr, which is refused.
    for protocol in (4, 5):
        path = tmp_path / f"held{protocol}.pkl"
        path.write_bytes(pickle.dumps(held, protocol=protocol))
        back = load_pickle(path)
        pd.testing.assert_frame_equal(back.frame, held.frame)  # type: ignore[attr-defined]


def _text(s: str) -> bytes:
    data = s.encode()
    return b"\x8c" + bytes([len(data)]) + data


def _global(module: str, name: str) -> bytes:
    return _text(module) + _text(name) + b"\x93"


def test_what_a_stream_does_with_allowed_globals_is_checked(tmp_path: Path) -> None:
    """Allowed globals can still be misused: BUILD on a class sets its attributes for
    the whole process, REDUCE can call an object the stream built (a scorer whose
    __call__ looks up a method by name), a third-party class's constructor or
    __setstate__ can run code (Mako compiles and runs a template), and joblib's own
    _unpickle reads a nested file unchecked. Each is refused before it runs."""
    import collections

    from modelbook.unpickling import load_pickle, load_sklearn

    marker = tmp_path / "PWNED"
    streams = {
        # BUILD on the class collections.Counter: setattr for the whole process.
        "class-build": b"\x80\x04" + _global("collections", "Counter")
        + b"N}" + _text("estimator_type") + _text("regressor") + b"s\x86b.",
        # REDUCE whose callable is an OrderedDict the stream built, not a global.
        "call-built": b"\x80\x04" + _global("collections", "OrderedDict")
        + b")R)R.",
        # A Mako template compiles and runs its <%! %> block when constructed.
        "mako": b"\x80\x04" + _global("mako.template", "Template")
        + _text(f"<%! open({str(marker)!r}, 'w').write('x') %>") + b"\x85R.",
        # fsspec's local file reopens (truncates) its file in __setstate__.
        "setstate": b"\x80\x04" + _global("fsspec.implementations.local", "LocalFileOpener")
        + b")\x81}" + _text("path") + _text(str(marker)) + _text("mode") + _text("wb")
        + b"\x86" + b"b.",
        # joblib's _unpickle reads a nested stream with an unchecked unpickler.
        "nested": b"\x80\x04" + _global("joblib.numpy_pickle", "_unpickle") + b"NN\x86R.",
    }  # fmt: skip
    before = dict(vars(collections.Counter))
    for case, data in streams.items():
        path = tmp_path / f"{case}.pkl"
        path.write_bytes(data)
        for load in (load_pickle, load_sklearn):
            with pytest.raises(UnsafeArtifact):
                load(path)
        assert not marker.exists(), case
    assert dict(vars(collections.Counter)) == before


def test_a_user_s_classes_load_only_from_trusted_modules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beyond NumPy, SciPy, scikit-learn and pandas, a pickle may take classes only from
    the modules MODELBOOK_TRUSTED_MODULES names: any installed class could otherwise
    be built with any state (fsspec's FSMap writes a file when an item is set)."""
    from modelbook.unpickling import TRUSTED_ENV, load_pickle

    path = tmp_path / "echo.pkl"
    path.write_bytes(pickle.dumps(Echo()))
    monkeypatch.delenv(TRUSTED_ENV, raising=False)
    with pytest.raises(UnsafeArtifact, match="MODELBOOK_TRUSTED_MODULES"):
        load_pickle(path)
    monkeypatch.setenv(TRUSTED_ENV, "elsewhere, tests.flavor_models")
    assert isinstance(load_pickle(path), Echo)
    monkeypatch.setenv(TRUSTED_ENV, "tests.flavor")  # a prefix of a name is not its module
    with pytest.raises(UnsafeArtifact):
        load_pickle(path)


def test_items_and_state_cannot_reach_a_method_the_stream_chose(tmp_path: Path) -> None:
    """APPEND, APPENDS, SETITEMS and ADDITEMS look append, extend and add up on the
    instance, and BUILD looks __setstate__ up there: state an earlier BUILD gave it
    would be called. A shared dict a module holds cannot be filled, and bytearray
    cannot be asked for gigabytes of zeros."""
    from modelbook.unpickling import load_pickle, load_sklearn

    echo = _global("tests.flavor_models", "Echo") + b")\x81"
    shadow = b"}" + _text("append") + _global("collections", "OrderedDict") + b"sb"
    streams = {
        "append": echo + shadow + b"Na.",
        "appends": echo + shadow + b"(Ne.",
        "setstate": echo + b"}" + _text("__setstate__")
        + _global("collections", "OrderedDict") + b"sb}b.",
        "shared-dict": b"\x80\x04" + _global("pandas._config.config", "_registered_options")
        + b"N" + _text("x") + b"s.",
        "zeros": b"\x80\x04" + _global("builtins", "bytearray")
        + b"\x8a\x05\x00\x00\x00\x00\x01\x85R.",  # 2**32
    }  # fmt: skip
    for case, body in streams.items():
        path = tmp_path / f"{case}.pkl"
        path.write_bytes(body if body.startswith(b"\x80") else b"\x80\x04" + body)
        for load in (load_pickle, load_sklearn):
            with pytest.raises(UnsafeArtifact):
                load(path)


def test_only_classes_a_model_is_made_of_are_built(tmp_path: Path) -> None:
    """Classes are allowed by where they are defined, not by package: pandas'
    expression evaluator runs code when constructed, NumPy's DataSource deletes its
    folder when collected, SciPy's MapWrapper starts a process pool; and a state
    BUILD applies without __setstate__ must be a plain dict (it calls state.items()
    and setattr for each slot key, __class__ included)."""
    from modelbook.unpickling import load_pickle, load_sklearn

    victim = tmp_path / "victim"
    victim.mkdir()
    streams = {
        "expr": _global("pandas.core.computation.expr", "Expr") + _text("1+1") + b"\x85R.",
        "datasource": _global("numpy.lib.npyio", "DataSource") + b")\x81}("
        + _text("_istmpdest") + b"\x88" + _text("_destpath") + _text(str(victim)) + b"ub.",
        "mapwrapper": _global("scipy._lib._util", "MapWrapper") + b"K\x02\x85R.",
        "slots": _global("joblib.numpy_pickle", "NumpyArrayWrapper") + b")\x81N}"
        + _text("__class__") + _text("x") + b"s\x86b.",
    }  # fmt: skip
    for case, body in streams.items():
        path = tmp_path / f"{case}.pkl"
        path.write_bytes(b"\x80\x04" + body)
        for load in (load_pickle, load_sklearn):
            with pytest.raises(UnsafeArtifact):
                load(path)
        assert victim.exists(), case


def test_a_stream_cannot_change_what_a_module_holds(tmp_path: Path) -> None:
    """pandas.options is a value pandas holds; BUILD with slot state would set an
    option through its __setattr__ (the plotting backend option imports the module
    it names). And a private scikit-learn helper that calls a method by name
    (sklearn.metrics._scorer._cached_call) is not a parameter function."""
    import pandas as pd

    from modelbook.unpickling import load_pickle, load_sklearn, sklearn_global_allowed

    backend = pd.get_option("plotting.backend")
    path = tmp_path / "options.pkl"
    path.write_bytes(
        b"\x80\x04" + _global("pandas", "options") + b"}" + _text("d") + b"}"
        + _text("plotting.backend") + b"K\x00ss}" + _text("plotting.backend")
        + _text("antigravity") + b"s\x86b."
    )  # fmt: skip
    for load in (load_pickle, load_sklearn):
        with pytest.raises(UnsafeArtifact):
            load(path)
    assert pd.get_option("plotting.backend") == backend
    assert not sklearn_global_allowed("sklearn.metrics._scorer", "_cached_call")
    assert sklearn_global_allowed("sklearn.metrics", "roc_auc_score")


def test_a_decompression_bomb_is_unscannable_not_a_crash(tmp_path: Path) -> None:
    """A zlib stream that grows more than MAX_EXPANSION times is refused before it is
    inflated in the scanning process; real compressed models are scanned as before."""
    import zlib

    from modelbook.safety import MAX_EXPANSION, scan_file

    bomb = zlib.compress(b"\x80\x04" + bytes(MAX_EXPANSION * 4 * (1 << 20)), 9)
    found = scan_file("bomb.joblib", bomb)
    assert found.verdict == "unscannable" and "decompresses to more than" in (found.error or "")
    model = LogisticRegression(max_iter=200).fit(np.eye(4), [0, 1, 0, 1])
    for method in ("zlib", "gzip", "bz2", "xz"):
        path = tmp_path / f"m.{method}"
        joblib.dump(model, path, compress=(method, 3))
        assert scan_file(path.name, path.read_bytes()).verdict in ("clean", "suspicious"), method


def test_a_stream_cannot_build_a_class(tmp_path: Path) -> None:
    """Calling a metaclass builds a class whose namespace the stream chose: enum.Enum's
    functional form runs the namespace's __init__ (here numpy.add, which a stream may
    hold but not call) for each member. Neither enum nor any metaclass is callable."""
    from modelbook.pickle_rules import may_call
    from modelbook.unpickling import load_pickle, load_sklearn

    path = tmp_path / "enum.pkl"
    path.write_bytes(
        b"\x80\x04" + _global("enum", "Enum") + _text("Pwn") + b"}(" + _text("A")
        + b"K\x01" + _text("__init__") + _global("numpy", "add") + b"u\x86R."
    )  # fmt: skip
    for load in (load_pickle, load_sklearn):
        with pytest.raises(UnsafeArtifact):
            load(path)
    assert not may_call("sklearn.base", "ABCMeta", type(LogisticRegression), sklearn=True)


def test_a_scan_runs_none_of_the_users_own_code(registry: Registry, tmp_path: Path) -> None:
    """A scan reads a stream to its end without running the ``__setstate__`` of a class
    of the user's trusted code: that code runs only where the model is loaded (a smoke
    test's worker, under its memory and time limits), not in the process that scans."""
    marker = tmp_path / "loaded"
    path = tmp_path / "marks.pkl"
    path.write_bytes(pickle.dumps(MarksWhenLoaded(str(marker))))
    v = registry.register("marks", [path], owners=["o"], capture_environment=False)
    report = registry.scan(v.uri)
    assert report.files[0].verdict == "suspicious" and report.files[0].complete, report
    assert not marker.exists()
    assert registry.load(v.uri).model.marker == str(marker)
    assert marker.exists()
