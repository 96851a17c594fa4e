"""scikit-learn estimators saved with joblib (``.joblib``) or pickle (``.pkl``).

Loaded with ``joblib.load``, which reads plain pickles too; the file is
scanned before (see :mod:`modelbook.safety`), and unpickled with every global
it names checked against what a scikit-learn model needs
(:mod:`modelbook.unpickling`). ``predict`` calls the
estimator's ``predict``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..contract import Signature
from .base import Flavor, suffix_is


def _matches(path: str, head: bytes) -> bool:
    return suffix_is(path, ".joblib")


def _load(file: Path) -> Any:
    from ..unpickling import load_sklearn

    return load_sklearn(file)


def _predict(model: Any, inputs: Any, signature: Signature | None) -> Any:
    return model.predict(inputs)


FLAVOR = Flavor(
    name="sklearn",
    framework="scikit-learn",
    summary="scikit-learn estimator (joblib or pickle)",
    pickled=True,
    modules=("sklearn", "joblib"),
    install="pip install scikit-learn",
    matches=_matches,
    load=_load,
    predict=_predict,
)
