"""The smoke test's subprocess: load a staged model under limits, predict on its sample.

Run as ``python -m modelbook.flavors.worker REQUEST.json`` by
:mod:`modelbook.services.smoke` (and, with ``"mode": "compare"``, by semver
classification: :func:`modelbook.flavors.compare.run`). The request names the staged folder, the
model file, the flavor, the signature and the limits; the outcome is written
as JSON to the request's ``result`` path. The address-space limit
(``RLIMIT_AS``) and the CPU-time limit (``RLIMIT_CPU``) are set before
anything of the model is imported, so they cover its imports too; the
parent enforces the wall-clock limit and kills the process group.
"""

from __future__ import annotations

import json
import math
import resource
import sys
import time
from pathlib import Path
from typing import Any


def _limit(memory_mb: int, timeout_s: float) -> None:
    size = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (size, size))
    cpu = math.ceil(timeout_s) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))


def _first_line(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [""])[0][:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run(request: dict[str, Any]) -> dict[str, Any]:
    """Load, predict and check; the outcome as a JSON-safe dict (never raises)."""
    stage = "loading the model"
    out: dict[str, Any] = {"passed": False}
    try:
        from .. import flavors
        from .. import sample as samples
        from ..contract import SAMPLE_PATH, parse_signature
        from ..services.loading import load_model
        from ..unpickling import unrestricted

        flavor = flavors.get(request["flavor"])
        sig = None if request["signature"] is None else parse_signature(request["signature"])
        folder = Path(request["folder"])
        start = time.perf_counter()
        with unrestricted(bool(request.get("allow_unsafe"))):
            model = load_model(flavor, folder / request["path"], request["uri"], request["path"])
        out["load_ms"] = (time.perf_counter() - start) * 1000
        stage = "reading the sample"
        data = samples.decode((folder / SAMPLE_PATH).read_bytes())
        out["rows"] = samples.row_count(data)
        stage = "checking the sample against the signature"
        inputs = flavors.check_inputs(sig, data, request["uri"])
        stage = "predicting"
        start = time.perf_counter()
        outputs = flavor.predict(model, inputs, sig)
        out["predict_ms"] = (time.perf_counter() - start) * 1000
        stage = "checking the outputs"
        problems = flavors.output_problems(sig, outputs, out["rows"])
        out["problems"] = list(problems)
        if problems:
            out["message"] = "the outputs break the output signature: " + "; ".join(problems)
        else:
            out["passed"] = True
            out["message"] = (
                f"loaded in {out['load_ms']:.0f} ms and predicted {out['rows']} row(s) in "
                f"{out['predict_ms']:.1f} ms; the outputs conform"
                + ("" if sig is not None and sig.outputs is not None else " (none declared)")
            )
    except MemoryError:
        out["message"] = f"ran out of memory {stage} (limit {request['memory_mb']} MiB)"
    except BaseException as exc:  # noqa: BLE001 - whatever the model does is the test's finding
        out["message"] = f"{stage} failed: {_first_line(exc)}"
    return out


def main() -> None:
    request = json.loads(Path(sys.argv[1]).read_text())
    _limit(int(request["memory_mb"]), float(request["timeout_s"]))
    if request.get("mode") == "compare":
        from .compare import run as compare

        outcome = compare(request)
    else:
        outcome = run(request)
    Path(request["result"]).write_text(json.dumps(outcome))


if __name__ == "__main__":
    main()
