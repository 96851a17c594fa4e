"""ONNX models (``.onnx``, ``.ort``), run with onnxruntime on the CPU.

Inputs are fed by the model's own input names and types:

- one model input and a table (DataFrame) of several columns: the columns,
  in the signature's order, stacked into one 2-D tensor (how skl2onnx
  converts a scikit-learn estimator: ``float_input [None, n]``);
- several model inputs: each fed from the column of the same name, as a
  column vector;
- an array: fed as it is, cast to the model input's type.

The first output is returned (a classifier's labels, a regressor's values);
a ``(n, 1)`` result is flattened when the output signature says one value per row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..contract import Signature
from ..errors import InvalidInput
from .base import Flavor, suffix_is

# onnxruntime's type names -> NumPy dtypes.
_TYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(int16)": "int16",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(bool)": "bool",
    "tensor(string)": "object",
}


def _matches(path: str, head: bytes) -> bool:
    return suffix_is(path, ".onnx", ".ort")


def _load(file: Path) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: warnings about the graph are not the caller's
    return onnxruntime.InferenceSession(
        str(file), sess_options=options, providers=["CPUExecutionProvider"]
    )


def _dtype(node: Any) -> str:
    try:
        return _TYPES[node.type]
    except KeyError:
        raise InvalidInput(
            f"ONNX input {node.name!r} has type {node.type}, not supported"
        ) from None


def _feeds(session: Any, inputs: Any) -> dict[str, Any]:
    import numpy as np

    nodes = session.get_inputs()
    is_table = hasattr(inputs, "columns")
    if len(nodes) == 1:
        node = nodes[0]
        array = inputs.to_numpy() if is_table or hasattr(inputs, "to_numpy") else inputs
        array = np.asarray(array)
        if array.ndim == 1 and len(node.shape) == 2:
            array = array.reshape(-1, 1)
        return {node.name: array.astype(_dtype(node), copy=False)}
    if not is_table:
        raise InvalidInput(
            f"the ONNX model takes {len(nodes)} inputs ({', '.join(n.name for n in nodes)}); "
            "give a table with a column for each"
        )
    feeds = {}
    for node in nodes:
        if node.name not in inputs.columns:
            raise InvalidInput(
                f"the ONNX model's input {node.name!r} is not a column of the inputs"
            )
        column = inputs[node.name].to_numpy().astype(_dtype(node), copy=False)
        feeds[node.name] = column.reshape(-1, 1) if len(node.shape) == 2 else column
    return feeds


def _predict(model: Any, inputs: Any, signature: Signature | None) -> Any:
    first = model.run(None, _feeds(model, inputs))[0]
    wants_flat = (
        signature is not None
        and signature.outputs is not None
        and len(signature.outputs.fields) == 1
        and len(signature.outputs.fields[0].shape) == 1
    )
    if wants_flat and getattr(first, "ndim", 0) == 2 and first.shape[1] == 1:
        return first.ravel()
    return first


FLAVOR = Flavor(
    name="onnx",
    framework="onnxruntime",
    summary="ONNX model (onnxruntime)",
    pickled=False,
    modules=("onnxruntime",),
    install="pip install 'modelbook[onnx]'",
    matches=_matches,
    load=_load,
    predict=_predict,
)
