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

import errno
import json
import math
import re
import resource
import sys
import time
from pathlib import Path
from typing import Any

# How a failure under the address-space limit reads when it is not a MemoryError: a
# shared library that cannot be mapped (``ImportError: ... failed to map segment from
# shared object``), an allocation or thread stack refused, C++'s ``std::bad_alloc``.
_OUT_OF_MEMORY = re.compile(
    r"failed to map segment|cannot map|mmap failed|cannot allocate memory|out of memory"
    r"|MemoryError|bad_alloc|unable to allocate|memory allocation failed|can't start new thread",
    re.IGNORECASE,
)


def out_of_memory(failure: BaseException | str) -> bool:
    """Whether ``failure`` (an exception, any exception it was raised from or while
    handling, or the text a crashed process left on stderr) looks like memory that
    could not be had: the address-space limit is the likely cause."""
    if isinstance(failure, str):
        return bool(_OUT_OF_MEMORY.search(failure))
    seen: set[int] = set()
    exc: BaseException | None = failure
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, MemoryError) or (isinstance(exc, OSError) and exc.errno == errno.ENOMEM):
            return True
        if _OUT_OF_MEMORY.search(str(exc)):
            return True
        # A framework's failure is re-raised as modelbook's own "from None": the
        # original is still its context.
        exc = exc.__cause__ or exc.__context__
    return False


def memory_note(memory_mb: int) -> str:
    """What a failure that :func:`out_of_memory` recognises adds to its message."""
    return (
        f" (the memory limit of {memory_mb} MiB may be too low: "
        "give a higher one, --memory MIB or memory_mb=)"
    )


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
        out["message"] = f"ran out of memory {stage}" + memory_note(int(request["memory_mb"]))
    except BaseException as exc:  # noqa: BLE001 - whatever the model does is the test's finding
        out["message"] = f"{stage} failed: {_first_line(exc)}"
        if out_of_memory(exc):
            # Blame the limit, not the file: the same file loads with more room.
            out["message"] += memory_note(int(request["memory_mb"]))
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
