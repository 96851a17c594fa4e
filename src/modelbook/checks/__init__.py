"""Gate checks: the built-in kinds, by name, and how a gate is evaluated.

Each built-in check lives in its own module with a ``Params`` model (unknown
parameters refused) and a pure ``run(version, params, ctx)``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ..errors import InvalidInput
from . import (
    actor,
    approvals,
    attestation,
    compare,
    custom,
    expr,
    lineage_complete,
    metric,
    scan,
    schema,
    slice_gap,
    smoke_test,
)
from .base import (
    CheckContext,
    CheckDef,
    CheckParams,
    CheckResult,
    CheckSpec,
    GateOutcome,
    SmokeTest,
    evaluate_gate,
)

BUILTIN: Mapping[str, CheckDef[Any]] = MappingProxyType(
    {
        c.name: c
        for c in (
            metric.CHECK,
            slice_gap.CHECK,
            compare.CHECK,
            lineage_complete.CHECK,
            schema.CHECK,
            smoke_test.CHECK,
            scan.CHECK,
            approvals.CHECK,
            attestation.CHECK,
            actor.CHECK,
            expr.CHECK,
            custom.CHECK,
        )
    }
)
"""Check name → its definition."""


def get_check(name: str) -> CheckDef[Any]:
    """The built-in check called ``name``.

    Raises:
        InvalidInput: no such check; the message lists the known ones and the
            closest match.
    """
    try:
        return BUILTIN[name]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(str(name), BUILTIN, n=1)
        guess = f"; did you mean {close[0]!r}?" if close else ""
        raise InvalidInput(f"unknown check {name!r} (known: {', '.join(BUILTIN)}){guess}") from None


__all__ = [
    "BUILTIN",
    "CheckContext",
    "CheckDef",
    "CheckParams",
    "CheckResult",
    "CheckSpec",
    "GateOutcome",
    "SmokeTest",
    "evaluate_gate",
    "get_check",
]
