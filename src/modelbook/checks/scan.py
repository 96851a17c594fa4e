"""``scan``: no pickle-based artifact of the version would run code when loaded.

Policy::

    check = "scan"
    required = true

The service passes ``ctx.scan``, which reads every artifact of the version
(verified) and scans the pickle-based ones with picklescan (see
:mod:`modelbook.safety`). The check fails when a file imports something
dangerous (``os.system``, ``builtins.eval``, or a function where loading
allows only classes, such as ``numpy.savetxt``) or cannot be scanned to its
end (a joblib stream past its first NumPy array is read under the
scikit-learn rule; one that cannot be is unscannable); it passes when every
pickle is clean or only suspicious (not on the scanner's known-safe list, as
every scikit-learn class is), and when there is no pickle at all. Evidence:
the scanner, the verdict and each file's findings.
"""

from __future__ import annotations

from typing import Any

from ..domain import Version
from ..errors import ModelbookError
from .base import CheckContext, CheckDef, CheckParams, CheckResult, failed, passed

NAME = "scan"


class Params(CheckParams):
    """No parameters."""


def run(version: Version, params: Params, ctx: CheckContext) -> CheckResult:
    """Pass when no pickle-based artifact is dangerous or unscannable."""
    if ctx.scan is None:
        return failed(NAME, "no scanner available: the files were not scanned", None)
    try:
        report: Any = ctx.scan(version)
    except ModelbookError as exc:
        return failed(
            NAME,
            f"the artifacts could not be scanned: {exc}",
            "install the scanner (pip install 'modelbook[loaders]') and run `modelbook verify`",
        )
    evidence = {
        "scanner": report.scanner,
        "verdict": report.verdict,
        "files": [f.model_dump(mode="json") for f in report.files],
    }
    if report.unsafe:
        return failed(
            NAME,
            f"unsafe artifact: {report.summary()}",
            "register the model in a format that runs no code on load (ONNX), or remove "
            "what the pickle imports",
            **evidence,
        )
    return passed(NAME, f"scan: {report.summary()}", **evidence)


CHECK = CheckDef(NAME, Params, run, "no pickle-based artifact runs code when loaded")
