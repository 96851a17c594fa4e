"""``smoke_test``: the version loads and predicts on a sample.

Policy::

    check = "smoke_test"
    required = false     # advisory until every model has a loadable flavor

The release service passes ``ctx.smoke_test``, which judges the version's
latest recorded smoke test (``modelbook smoke URI``, ``Registry.smoke``: the
model loaded in a fresh subprocess under a time and memory limit, predicted
on the stored sample, outputs checked against the output signature). The
gate does not run the model itself: a promotion holds the model's write
lock, and a smoke test may take minutes. No recorded test fails the check
with the command to run. ``ctx.smoke_test`` returns a :class:`CheckResult`
or True/False; an exception it raises (``SystemExit`` too) becomes a failed result.
"""

from __future__ import annotations

from ..display import article
from ..domain import Version
from .base import (
    CheckContext,
    CheckDef,
    CheckParams,
    CheckResult,
    Raised,
    call_user,
    failed,
    passed,
)

NAME = "smoke_test"


class Params(CheckParams):
    """No parameters."""


def run(version: Version, params: Params, ctx: CheckContext) -> CheckResult:
    """Pass when the loader loads the version and predicts without error."""
    if ctx.smoke_test is None:
        return failed(
            NAME,
            "no smoke test available: the version was not loaded",
            "run `modelbook smoke URI`, or keep this check advisory (required = false)",
        )
    outcome = call_user(ctx.smoke_test, version)
    if isinstance(outcome, Raised):
        return failed(
            NAME,
            f"loading or predicting raised {outcome.describe()}",
            "fix the model so that it loads and predicts on the sample",
        )
    if isinstance(outcome, CheckResult):
        return outcome.model_copy(update={"check": NAME})
    if outcome is True:
        return passed(NAME, f"version {version.number} loaded and predicted on a sample")
    if outcome is False:
        return failed(
            NAME,
            f"the smoke test of version {version.number} failed",
            "fix the model so that it loads and predicts on the sample",
        )
    return failed(
        NAME,
        f"the loader returned {article(type(outcome).__name__)}, not a CheckResult or True/False",
        "make the loader return a CheckResult or a bool",
    )


CHECK = CheckDef(NAME, Params, run, "the version loads and predicts on a sample")
