"""The smoke test's outcome, and how a recorded one becomes the ``smoke_test`` gate result.

The test itself runs in :mod:`modelbook.services.smoke` (a fresh subprocess
with a time and memory limit, :mod:`modelbook.flavors.worker`); what it
found is a :class:`SmokeRecord`, kept on the version (annotation ``smoke``,
event ``version.smoke``). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from .checks.base import CheckResult, failed, passed
from .domain import Frozen, Version

#: Seconds the subprocess may take to load and predict, unless told otherwise.
DEFAULT_TIMEOUT_S = 120.0
#: Address space the subprocess may use (MiB), unless told otherwise.
DEFAULT_MEMORY_MB = 4096


class SmokeRecord(Frozen):
    """One smoke test of one version.

    Attributes:
        passed: whether the model loaded, predicted on the sample and its
            outputs conform to the output signature.
        message: what happened, in one sentence (the error when it failed).
        flavor, path: the flavor and the model file, when they were found.
        rows: the sample rows predicted on.
        load_ms, predict_ms: how long loading and predicting took.
        problems: how the outputs break the output signature.
        timeout_s, memory_mb: the limits the subprocess ran under.
        actor, at: who ran it, and when.
    """

    passed: bool
    message: str
    flavor: str | None = None
    path: str | None = None
    rows: int | None = None
    load_ms: float | None = None
    predict_ms: float | None = None
    problems: tuple[str, ...] = ()
    timeout_s: float
    memory_mb: int
    actor: str
    at: datetime


def latest(records: Sequence[SmokeRecord]) -> SmokeRecord | None:
    """The most recent of a version's recorded smoke tests, or None."""
    return max(records, key=lambda r: r.at, default=None)


def recorded(records: Sequence[SmokeRecord]) -> Callable[[Version], CheckResult]:
    """The ``smoke_test`` check's judge: the latest of ``records`` (the version's), as a result."""

    def judge(version: Version) -> CheckResult:
        last = latest(records)
        if last is None:
            return failed(
                "smoke_test",
                f"no smoke test recorded on version {version.number}",
                f"run `modelbook smoke {version.uri}`",
            )
        evidence = last.model_dump(mode="json", exclude={"actor", "message", "passed"})
        evidence["by"] = last.actor
        if last.passed:
            return passed("smoke_test", f"smoke test passed: {last.message}", **evidence)
        return failed(
            "smoke_test",
            f"smoke test failed: {last.message}",
            f"fix the model, then run `modelbook smoke {version.uri}` again",
            **evidence,
        )

    return judge
