"""Predictions of two models on one sample, compared row by row.

Semantic versioning asks whether a new version predicts what its parent
predicted: :func:`run` (called in the smoke test's subprocess, under the same
limits) loads both models, predicts on the parent's stored sample and counts
the rows whose outputs differ; :func:`changed_rows` is the comparison itself.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

#: Absolute and relative tolerance of numeric outputs: differences below it are noise
#: of floating-point arithmetic (another BLAS, another summation order), not a change.
DEFAULT_TOLERANCE = 1e-6


def _rows(outputs: Any) -> Any:
    """Outputs as an array with one entry per row (a dict of outputs side by side)."""
    import numpy as np

    if isinstance(outputs, dict):
        columns = [np.asarray(v).reshape(len(np.asarray(v)), -1) for v in outputs.values()]
        return np.concatenate(columns, axis=1) if columns else np.empty((0, 0))
    if isinstance(outputs, list | tuple) and outputs and isinstance(outputs[0], dict):
        return np.asarray([[row.get(k) for k in sorted(row)] for row in outputs], dtype=object)
    if hasattr(outputs, "to_numpy"):
        return outputs.to_numpy()
    return np.asarray(outputs)


def changed_rows(before: Any, after: Any, tolerance: float = DEFAULT_TOLERANCE) -> tuple[int, int]:
    """``(rows, changed)``: how many rows ``before`` has and in how many ``after`` differs.

    Floating-point outputs are equal within ``tolerance`` (absolute and
    relative, NaN equal to NaN); integer outputs (labels, counts) and all
    others must be equal. Outputs of another row
    count or shape differ on every row.
    """
    import numpy as np

    a, b = _rows(before), _rows(after)
    rows = int(a.shape[0]) if a.ndim else 1
    if a.shape != b.shape:
        return rows, rows
    if a.ndim == 0:
        a, b = a.reshape(1), b.reshape(1)
    # Only inexact outputs (scores, probabilities) get the tolerance: integer outputs
    # are labels or counts, equal or not.
    inexact = np.issubdtype(a.dtype, np.inexact) or np.issubdtype(b.dtype, np.inexact)
    numeric = np.issubdtype(a.dtype, np.number) and np.issubdtype(b.dtype, np.number)
    if numeric and inexact:
        same = np.isclose(
            a.astype(np.float64),
            b.astype(np.float64),
            rtol=tolerance,
            atol=tolerance,
            equal_nan=True,
        )
    else:
        same = np.vectorize(lambda x, y: bool(x == y), otypes=[bool])(a, b)
    if same.ndim > 1:
        same = same.reshape(same.shape[0], -1).all(axis=1)
    return rows, int((~same).sum())


def run(request: dict[str, Any]) -> dict[str, Any]:
    """Load both models, predict on the sample, compare; a JSON-safe outcome (never raises).

    ``request`` holds ``parent`` and ``new`` (each ``uri``, ``folder``,
    ``path``, ``flavor``, ``signature``), ``sample`` (the Parquet file of the
    parent's sample), ``tolerance`` and ``allow_unsafe``.
    """
    from .. import flavors
    from .. import sample as samples
    from ..contract import parse_signature
    from ..services.loading import load_model
    from ..unpickling import unrestricted
    from .worker import out_of_memory

    out: dict[str, Any] = {"compared": False, "tolerance": request["tolerance"]}
    step = "reading the sample"
    try:
        data = samples.decode(Path(request["sample"]).read_bytes())
        out["rows"] = samples.row_count(data)
        predictions = []
        start = time.perf_counter()
        for side in ("parent", "new"):
            spec = request[side]
            step = f"loading the {side} model"
            flavor = flavors.get(spec["flavor"])
            sig = None if spec["signature"] is None else parse_signature(spec["signature"])
            with unrestricted(bool(request.get("allow_unsafe"))):
                model = load_model(
                    flavor, Path(spec["folder"]) / spec["path"], spec["uri"], spec["path"]
                )
            step = f"checking the sample against the {side} signature"
            inputs = flavors.check_inputs(sig, data, spec["uri"])
            step = f"predicting with the {side} model"
            predictions.append(flavor.predict(model, inputs, sig))
        step = "comparing the predictions"
        before, after = predictions
        rows, changed = changed_rows(before, after, float(request["tolerance"]))
        out.update(compared=True, rows=rows, changed=changed)
        out["message"] = (
            f"predicted the parent's {rows} sample row(s) with both models in "
            f"{(time.perf_counter() - start) * 1000:.0f} ms: {changed} differ"
        )
    except BaseException as exc:  # noqa: BLE001 - whatever the models do is the finding
        text = (str(exc).strip().splitlines() or [""])[0][:300]
        out["message"] = f"{step} failed: {type(exc).__name__}" + (f": {text}" if text else "")
        if out_of_memory(exc):
            out["message"] += (
                f" (both models did not fit in the comparison's memory limit of "
                f"{int(request['memory_mb'])} MiB)"
            )
    return out


__all__ = ["DEFAULT_TOLERANCE", "changed_rows", "run"]
