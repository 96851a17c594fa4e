"""Custom gate checks named by dotted path in the tests of ``modelbook.checks.custom``."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

from modelbook.checks import CheckContext, CheckResult
from modelbook.domain import Version

NOT_A_FUNCTION = 3


def has_artifacts(version: Version, args: dict[str, Any], ctx: CheckContext) -> bool:
    """True when the version has at least ``args["min"]`` files (default 1)."""
    return len(version.artifacts) >= int(args.get("min", 1))


def explains(version: Version, args: dict[str, Any], ctx: CheckContext) -> CheckResult:
    """A failing result with its own message and hint."""
    return CheckResult(
        check="anything",
        passed=False,
        message=f"label overlap {args['overlap']} is too high",
        hint="deduplicate the training and test sets",
        evidence={"overlap": args["overlap"]},
    )


def explodes(version: Version, args: dict[str, Any], ctx: CheckContext) -> bool:
    raise RuntimeError("the feature store is down")


def scribbles(version: Version, args: dict[str, Any], ctx: CheckContext) -> bool:
    """Edits its arguments; the policy's parameters must not change."""
    args["seen"] = True
    return True


def answers_in_words(version: Version, args: dict[str, Any], ctx: CheckContext) -> str:
    return "yes"


def exits(version: Version, args: dict[str, Any], ctx: CheckContext) -> bool:
    """Ends the interpreter the polite way: ``sys.exit(0)``."""
    sys.exit(0)


def interrupted(version: Version, args: dict[str, Any], ctx: CheckContext) -> bool:
    """Ctrl-C while the check runs."""
    raise KeyboardInterrupt


def unstorable(version: Version, args: dict[str, Any], ctx: CheckContext) -> CheckResult:
    """A passing result whose evidence is no JSON value."""
    return CheckResult(check="x", passed=True, message="fine", evidence={"obj": object()})


def verbose(version: Version, args: dict[str, Any], ctx: CheckContext) -> CheckResult:
    """A passing result of ``args["message"]`` characters and as many of evidence."""
    return CheckResult(
        check="x",
        passed=True,
        message="m" * int(args.get("message", 0)) or "fine",
        evidence={"blob": "e" * int(args.get("evidence", 0))},
    )


# Checks the tests of gates evaluated outside the write steer ---------------------------

ENTERED = threading.Event()
"""Set by :func:`waits` when it starts."""
RELEASE = threading.Event()
"""What :func:`waits` waits for (at most a minute, so a failing test still ends)."""
HOOKS: list[Callable[[], object]] = []
"""Run by :func:`runs_hooks`: the first one, once each call; every call with ``every``."""
CALLS: list[int] = []
"""The numbers of the versions :func:`runs_hooks` judged, one per call."""


def waits(version: Version, args: dict[str, Any], ctx: CheckContext) -> bool:
    """A check that hangs until the test lets it go."""
    ENTERED.set()
    return RELEASE.wait(timeout=60)


def runs_hooks(version: Version, args: dict[str, Any], ctx: CheckContext) -> bool:
    """A passing check that, while it runs, does what the test put in :data:`HOOKS`."""
    CALLS.append(version.number)
    if HOOKS:
        (HOOKS[0] if args.get("every") else HOOKS.pop(0))()
    return True
