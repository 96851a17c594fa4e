"""PyTorch TorchScript modules (``torch.jit.save``): optional, when PyTorch is installed.

TorchScript archives are zip files holding ``code/`` and ``constants.pkl``.
Without PyTorch installed, loading says so and what to install.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..contract import Signature
from .base import Flavor, suffix_is


def _matches(path: str, head: bytes) -> bool:
    return suffix_is(path, ".pt", ".pth", ".ts", ".torchscript") and head.startswith(b"PK\x03\x04")


def _load(file: Path) -> Any:
    import torch

    module = torch.jit.load(str(file), map_location="cpu")
    module.eval()
    return module


def _predict(model: Any, inputs: Any, signature: Signature | None) -> Any:
    import numpy as np
    import torch

    array = np.asarray(inputs.to_numpy() if hasattr(inputs, "to_numpy") else inputs)
    with torch.no_grad():
        out = model(torch.from_numpy(np.ascontiguousarray(array)))
    return out.numpy()


FLAVOR = Flavor(
    name="torchscript",
    framework="torch",
    summary="PyTorch TorchScript module",
    # torch.jit.load reads its archive with TorchScript's own restricted unpickler.
    pickled=False,
    modules=("torch",),
    install="an optional extra, not installed with modelbook: pip install torch",
    matches=_matches,
    load=_load,
    predict=_predict,
)
