"""``custom``: a check written in Python by the team that owns the model.

Policy::

    check = "custom"
    function = "teamchecks.leakage:no_label_leakage"   # package.module:function
    # or: entry_point = "no_label_leakage"            # group modelbook.checks
    args = { max_overlap = 0.01 }                      # passed as a dict
    name = "no_label_leakage"                          # optional: recorded name

The callable is called as ``function(version, args, ctx)`` with the
:class:`~modelbook.domain.Version`, a fresh ``dict`` of ``args`` and the
:class:`~modelbook.checks.base.CheckContext`, and returns a
:class:`~modelbook.checks.base.CheckResult` or ``True``/``False``.

It is imported when the gate runs, in the process that evaluates the gate
(the registry or its server), so the package must be installed there. An
import error, an exception from the callable or a return value of another
type becomes a failed result carrying the message: the gate never crashes.
Policies name code that runs with the registry's rights, which is one reason
setting a policy needs the admin role.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from importlib import metadata
from typing import Any

from pydantic import Field, JsonValue, field_validator, model_validator

from ..domain import FrozenJSON, Version, thaw
from .base import CheckContext, CheckDef, CheckParams, CheckResult, failed, passed

NAME = "custom"
GROUP = "modelbook.checks"
_DOTTED = re.compile(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*")


class Params(CheckParams):
    """``function`` or ``entry_point`` (exactly one), ``args`` (a table), ``name``."""

    function: str | None = None
    entry_point: str | None = None
    args: FrozenJSON = Field(default_factory=dict)
    name: str | None = None

    @field_validator("function")
    @classmethod
    def _dotted(cls, value: str | None) -> str | None:
        if value is not None and not _DOTTED.fullmatch(value):
            raise ValueError(
                f"function {value!r} must be written package.module:function, "
                "e.g. teamchecks.leakage:no_label_leakage"
            )
        return value

    @model_validator(mode="after")
    def _one_target(self) -> Params:
        if (self.function is None) == (self.entry_point is None):
            raise ValueError(
                "give exactly one of function = 'package.module:function' or entry_point"
            )
        return self

    @property
    def label(self) -> str:
        """The name the result is recorded under."""
        return self.name or self.function or self.entry_point or NAME


def load(params: Params) -> Callable[..., Any]:
    """The callable the parameters name.

    Raises:
        ImportError, AttributeError, LookupError: it cannot be found.
    """
    if params.function is not None:
        module_name, _, attr_path = params.function.partition(":")
        target: Any = importlib.import_module(module_name)
        for attr in attr_path.split("."):
            target = getattr(target, attr)
    else:
        found = metadata.entry_points(group=GROUP, name=params.entry_point or "")
        if not found:
            raise LookupError(f"no entry point {params.entry_point!r} in group {GROUP!r}")
        target = next(iter(found)).load()
    if not callable(target):
        raise TypeError(f"{params.label} is a {type(target).__name__}, not a function")
    fn: Callable[..., Any] = target
    return fn


def run(version: Version, params: Params, ctx: CheckContext) -> CheckResult:
    """Call the custom check; every failure to run it is a failed result."""
    label = params.label
    evidence: dict[str, JsonValue] = {"function": params.function or params.entry_point}
    try:
        fn = load(params)
    except Exception as exc:  # noqa: BLE001 - a missing plug-in fails its check, not the gate
        return failed(
            label,
            f"cannot load {label}: {type(exc).__name__}: {exc}",
            f"install the package that provides {params.function or params.entry_point} "
            "where the registry runs",
            **evidence,
        )
    try:
        outcome = fn(version, thaw(params.args), ctx)
    except Exception as exc:  # noqa: BLE001 - user code must never crash the gate
        return failed(
            label,
            f"{label} raised {type(exc).__name__}: {exc}",
            f"fix {label} or the version it judges",
            **evidence,
        )
    if isinstance(outcome, CheckResult):
        return outcome.model_copy(update={"check": label})
    if isinstance(outcome, bool):
        if outcome:
            return passed(label, f"{label} passed", **evidence)
        return failed(label, f"{label} failed", f"a version {label} accepts", **evidence)
    return failed(
        label,
        f"{label} returned a {type(outcome).__name__}, not a CheckResult or True/False",
        f"make {label} return a CheckResult or a bool",
        **evidence,
    )


CHECK = CheckDef(NAME, Params, run, "a Python function named by path or entry point")
