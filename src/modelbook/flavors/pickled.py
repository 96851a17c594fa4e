"""Any pickled object with a ``predict`` method (``.pkl``, ``.pickle``, or a pickle stream).

The file is scanned before it is unpickled (see :mod:`modelbook.safety`); the
classes it names must be importable in the loading process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..contract import Signature
from ..errors import InvalidInput
from ..safety import is_pickled
from .base import Flavor


def _matches(path: str, head: bytes) -> bool:
    return is_pickled(path, head)


def _load(file: Path) -> Any:
    from ..unpickling import load_pickle

    # Scanned before it is loaded (modelbook.safety), and every global checked as it is.
    model = load_pickle(file)
    if not callable(getattr(model, "predict", None)):
        raise InvalidInput(
            f"{file.name} holds a {type(model).__name__}, which has no predict method"
        )
    return model


def _predict(model: Any, inputs: Any, signature: Signature | None) -> Any:
    return model.predict(inputs)


FLAVOR = Flavor(
    name="pickle",
    summary="pickled object with a predict method",
    pickled=True,
    modules=(),
    install="",
    matches=_matches,
    load=_load,
    predict=_predict,
)
