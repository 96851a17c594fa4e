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
import error, an exception from the callable (``SystemExit`` from
``sys.exit()`` too; only ``KeyboardInterrupt`` stops the command) or a return
value of another type becomes a failed result carrying the message: the gate
never crashes. ``os._exit()`` ends the process and cannot be caught in it.
A result too large to keep, or whose evidence is not JSON, is refused as a
failed result too (:func:`~modelbook.checks.base.storable`).
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

from ..display import article
from ..domain import FrozenDict, FrozenJSON, Version, thaw
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

NAME = "custom"
GROUP = "modelbook.checks"
_DOTTED = re.compile(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*")


class Params(CheckParams):
    """``function`` or ``entry_point`` (exactly one), ``args`` (a table), ``name``."""

    function: str | None = None
    entry_point: str | None = None
    args: FrozenJSON = Field(default_factory=FrozenDict)
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


class NotCallable(TypeError):
    """The path names something that is not a function."""


def load(params: Params) -> Callable[..., Any]:
    """The callable the parameters name.

    Raises:
        ImportError, AttributeError, LookupError: it cannot be found.
        NotCallable: it is found but cannot be called.
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
        raise NotCallable(
            f"{params.function or params.entry_point} is {article(type(target).__name__)}, "
            "not a function"
        )
    fn: Callable[..., Any] = target
    return fn


def run(version: Version, params: Params, ctx: CheckContext) -> CheckResult:
    """Call the custom check; every failure to run it is a failed result."""
    label = params.label
    target = params.function or params.entry_point
    evidence: dict[str, JsonValue] = {"function": target}
    fn = call_user(load, params)
    if isinstance(fn, Raised):
        if isinstance(fn.error, NotCallable):
            hint = f"point {target} at a function taking (version, args, ctx)"
        else:
            hint = f"install the package that provides {target} where the registry runs"
        return failed(label, f"cannot load {label}: {fn.describe()}", hint, **evidence)
    outcome = call_user(fn, version, thaw(params.args), ctx)
    if isinstance(outcome, Raised):
        return failed(
            label,
            f"{label} raised {outcome.describe()}",
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
        f"{label} returned {article(type(outcome).__name__)}, not a CheckResult or True/False",
        f"make {label} return a CheckResult or a bool",
        **evidence,
    )


CHECK = CheckDef(NAME, Params, run, "a Python function named by path or entry point")
