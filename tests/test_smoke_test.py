"""The smoke test: a fresh subprocess under limits; every failure of the model is a record."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from modelbook import Registry, infer_signature
from modelbook.checks import CheckContext, get_check
from modelbook.errors import InvalidInput
from modelbook.flavors.worker import out_of_memory
from modelbook.smoke import recorded

from .flavor_models import (
    BadAlloc,
    Echo,
    Evil,
    Hangs,
    Hungry,
    HungryAtLoad,
    MapsTooMuch,
    Raises,
    StarvesThenWaits,
    WrongOutput,
)

X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.5, 0.1, 0.2, 0.3]})


def _object(reg: Registry, tmp_path: Path, obj: Any, name: str = "m") -> str:
    (tmp_path / f"{name}.pkl").write_bytes(pickle.dumps(obj))
    sig = infer_signature(X, np.array([1.0, 2.0, 3.0, 4.0]))
    v = reg.register(
        name,
        [tmp_path / f"{name}.pkl"],
        owners=["o"],
        signature=sig,
        sample=X,
        capture_environment=False,
    )
    return v.uri


def _iris(registry: Registry, tmp_path: Path) -> Any:
    """A real scikit-learn classifier registered with its signature and sample."""
    Xi, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=1000).fit(Xi, y)
    joblib.dump(model, tmp_path / "iris.joblib")
    sig = infer_signature(Xi, model.predict(Xi), model=model)
    return registry.register(
        "iris",
        [tmp_path / "iris.joblib"],
        owners=["o"],
        signature=sig,
        sample=Xi,
        capture_environment=False,
    )


def test_a_real_classifier_passes_and_is_recorded(registry: Registry, tmp_path: Path) -> None:
    v = _iris(registry, tmp_path)
    result = registry.smoke(v.uri, timeout_s=120)
    assert result.passed, result.message
    assert result.flavor == "sklearn" and result.rows == 100
    assert result.predict_ms is not None and result.load_ms is not None
    assert registry.annotations(v.uri).smoke_tests == (result,)
    check = recorded([result])(v)
    assert check.passed and check.evidence["rows"] == 100


@pytest.mark.parametrize(
    ("obj", "timeout", "memory", "message"),
    [
        (Raises(), 60, None, "predicting failed: RuntimeError: model exploded"),
        (Hangs(), 3, None, "did not finish within 3 s: killed"),
        (Hungry(), 60, 1024, "out of memory"),
        (WrongOutput(), 60, None, "the outputs break the output signature"),
    ],
    ids=["raises", "hangs", "memory", "contract"],
)
def test_a_failing_model_is_a_failed_smoke_test(
    registry: Registry,
    tmp_path: Path,
    obj: Any,
    timeout: float,
    memory: int | None,
    message: str,
) -> None:
    uri = _object(registry, tmp_path, obj)
    result = registry.smoke(uri, timeout_s=timeout, memory_mb=memory)
    assert not result.passed and message in result.message, result.message
    assert registry.annotations(uri).smoke_tests[-1] == result


def test_an_unsafe_or_unloadable_model_fails_without_running(
    registry: Registry, tmp_path: Path
) -> None:
    marker = tmp_path / "PWNED"
    result = registry.smoke(_object(registry, tmp_path, Evil(str(marker)), "evil"))
    assert not result.passed and "dangerous" in result.message and not marker.exists()
    (tmp_path / "notes.txt").write_text("no model here")
    v = registry.register(
        "none", [tmp_path / "notes.txt"], owners=["o"], sample=X, capture_environment=False
    )
    result = registry.smoke(v.uri)
    assert not result.passed and "no model file" in result.message
    v = registry.register(
        "nosample", [tmp_path / "notes.txt"], owners=["o"], capture_environment=False
    )
    assert "no stored input sample" in registry.smoke(v.uri).message
    with pytest.raises(InvalidInput, match="memory limit"):
        registry.smoke(v.uri, memory_mb=10)


def test_the_gate_reads_the_recorded_smoke_test_and_scans(
    registry: Registry, tmp_path: Path
) -> None:
    uri = _object(registry, tmp_path, Echo())
    version = registry.get_version(uri)
    assert not recorded([])(version).passed
    registry.smoke(uri)
    assert recorded(registry.annotations(uri).smoke_tests)(version).passed
    # the scan check, with the release service's scanner
    from modelbook.services.loading import scanner

    check = get_check("scan")
    ctx = CheckContext(
        model=registry.get_model("m"),
        target_stage="candidate",
        actor="a",
        now=pd.Timestamp.now(tz="UTC").to_pydatetime(),
        scan=scanner(registry.blobs.read_verified),
    )
    assert check.run(version, check.params(), ctx).passed
    evil = registry.get_version(_object(registry, tmp_path, Evil("x"), "evil"))
    result = check.run(evil, check.params(), ctx)
    assert not result.passed and "posix.system" in result.message


@pytest.mark.parametrize(
    ("obj", "timeout", "message"),
    [
        (HungryAtLoad(), 60, "loading the model failed"),
        (MapsTooMuch(), 60, "predicting failed: OSError"),
        (BadAlloc(), 60, "std::bad_alloc"),
        (StarvesThenWaits(), 10, "did not finish within 10 s: killed; it had used"),
    ],
    ids=["memoryerror-at-load", "mmap-enomem", "bad-alloc", "hangs-at-the-limit"],
)
def test_a_failure_under_the_memory_limit_names_the_limit(
    registry: Registry, tmp_path: Path, obj: Any, timeout: float, message: str
) -> None:
    """Not "model.pkl cannot be loaded": the same file loads with more memory. (These
    test models' own __setstate__ or methods misbehave on purpose, which loading
    refuses unless allowed.)"""
    uri = _object(registry, tmp_path, obj)
    result = registry.smoke(uri, timeout_s=timeout, memory_mb=1024, allow_unsafe=True)
    assert not result.passed and message in result.message, result.message
    assert "(the memory limit of 1024 MiB may be too low" in result.message, result.message


def test_a_library_that_cannot_be_mapped_is_blamed_on_the_limit(
    registry: Registry, tmp_path: Path
) -> None:
    """The reviewer's case: scikit-learn's shared libraries need more than 256 MiB of
    address space on some machines (``ImportError: ... failed to map segment``)."""
    Xi, y = load_iris(return_X_y=True, as_frame=True)
    joblib.dump(LogisticRegression(max_iter=1000).fit(Xi, y), tmp_path / "iris.joblib")
    v = registry.register(
        "iris", [tmp_path / "iris.joblib"], owners=["o"], sample=Xi, capture_environment=False
    )
    result = registry.smoke(v.uri, timeout_s=120, memory_mb=256)
    if not result.passed:
        assert "(the memory limit of 256 MiB may be too low" in result.message, result.message
    try:
        raise ImportError(
            "/site-packages/scipy/_propack.so: failed to map segment from shared object"
        )
    except ImportError:
        try:
            # As the loader re-raises a framework's failure: modelbook's own, from None.
            raise InvalidInput("model.joblib cannot be loaded by the sklearn flavor") from None
        except InvalidInput as exc:
            assert out_of_memory(exc)
    assert out_of_memory("terminate called after throwing an instance of 'std::bad_alloc'")
    assert not out_of_memory(InvalidInput("model.joblib cannot be loaded: not a pickle"))
    assert not out_of_memory(ValueError("mmap_mode must be r, r+ or c"))


def test_a_modelbook_folder_in_the_working_folder_is_not_run(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The smoke test's subprocess imports this modelbook, not a package of that name
    # in the folder the user runs from.
    v = _iris(registry, tmp_path)
    workdir = tmp_path / "work"
    planted = workdir / "modelbook"
    (planted / "flavors").mkdir(parents=True)
    ran = tmp_path / "planted-ran"
    (planted / "__init__.py").write_text(f"open({str(ran)!r}, 'w').close()\n")
    (planted / "flavors" / "__init__.py").write_text("")
    (planted / "flavors" / "worker.py").write_text("def main():\n    raise SystemExit(3)\n")
    monkeypatch.chdir(workdir)
    result = registry.smoke(v.uri, timeout_s=120)
    assert result.passed, result.message
    assert not ran.exists()
