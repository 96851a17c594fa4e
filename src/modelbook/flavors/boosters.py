"""XGBoost and LightGBM models in their native files, where those packages are installed.

- XGBoost: ``.ubj``, ``.xgb``, ``.bst``, or a ``.json`` model (``{"learner": ...}``),
  loaded as a ``Booster`` and called through a ``DMatrix``;
- LightGBM: ``.lgb``, or a text model (``tree\\nversion=...``), loaded as a ``Booster``.

Neither format is a pickle, so neither is scanned.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..contract import Signature
from .base import Flavor, suffix_is


def _xgb_matches(path: str, head: bytes) -> bool:
    if suffix_is(path, ".ubj", ".xgb", ".bst"):
        return True
    return suffix_is(path, ".json") and head.lstrip().startswith(b'{"learner"')


def _xgb_load(file: Path) -> Any:
    import xgboost

    booster = xgboost.Booster()
    booster.load_model(str(file))
    return booster


def _xgb_predict(model: Any, inputs: Any, signature: Signature | None) -> Any:
    import xgboost

    return model.predict(xgboost.DMatrix(inputs))


def _lgb_matches(path: str, head: bytes) -> bool:
    return suffix_is(path, ".lgb") or head.startswith(b"tree\nversion=")


def _lgb_load(file: Path) -> Any:
    import lightgbm

    return lightgbm.Booster(model_file=str(file))


def _lgb_predict(model: Any, inputs: Any, signature: Signature | None) -> Any:
    return model.predict(inputs)


XGBOOST = Flavor(
    name="xgboost",
    framework="xgboost",
    summary="XGBoost Booster (native file)",
    pickled=False,
    modules=("xgboost",),
    install="pip install xgboost",
    matches=_xgb_matches,
    load=_xgb_load,
    predict=_xgb_predict,
)
LIGHTGBM = Flavor(
    name="lightgbm",
    framework="lightgbm",
    summary="LightGBM Booster (native text file)",
    pickled=False,
    modules=("lightgbm",),
    install="pip install lightgbm",
    matches=_lgb_matches,
    load=_lgb_load,
    predict=_lgb_predict,
)
