"""``expr``: a Common Expression Language (CEL) condition over the version.

Policy::

    check = "expr"
    expression = 'version.metrics["auc@test"] >= 0.8 && version.lineage.code.commit != ""'
    message = "AUC on test of at least 0.8, from a known commit"   # optional

The expression is compiled when the policy is loaded (a syntax error names
the policy line) and evaluated at the gate; it must give ``true`` to pass.
An expression that cannot be evaluated (a missing key, mismatched types)
fails the check with CEL's message and a hint for that kind of error.

Every evaluation has a budget of :data:`modelbook.limits.MAX_EXPR_COST`
operations (:mod:`modelbook.checks.cel_cost`): one that spends it stops and
fails the check, and an expression that would spend it whatever the version
is refused when the policy is set. So is one nested deeper than
:data:`MAX_NESTING` brackets and unary operators, or :data:`MAX_TREE_DEPTH`
levels once parsed: cel-python recurses once per level.

The names an expression sees:

- ``version``: the version as JSON-like data: ``model``, ``number``,
  ``semver``, ``stage``, ``uri``, ``size`` (bytes), ``created_by``,
  ``created_at`` (a timestamp), ``change_summary``, ``caveats`` (list),
  ``tags`` (map), ``contract`` (map or null), ``artifacts`` (list of
  ``{path, size, sha256}``), ``lineage`` (``code {repo, commit, dirty,
  branch}``, ``data`` list of ``{snapshot, sha256, window, sampling, role}``,
  ``features {name, version}`` or null, ``run_id``, ``experiment_id``,
  ``parents``), ``training`` (``params``, ``seed``, ``hardware``,
  ``duration_seconds``), ``environment`` (``python``, ``platform``,
  ``packages_sha256``, ``frameworks``, ``lockfile {path, sha256}`` or null,
  ``image_digest``, ``cpu``, ``gpu``), and ``metrics``: a map from metric key
  (``auc``, ``auc@test``, ``auc@test{region=eu}``) to its value.
- ``model``: ``name``, ``owners``, ``task``, ``risk_tier``, ``description``,
  ``tags``.
- ``target_stage``: the stage asked for; ``actor`` and ``actor_roles``.
- ``online``: metric key → the latest online observation on this version.
- ``served``: alias → the version it serves, in the same shape as ``version``.
- ``approvals``: list of ``{actor, roles, comment, at}``; ``attestations``:
  list of ``{name, actor, roles, comment, at}``.
- ``now``: the time of the evaluation.

Absent optional fields are ``null``; test optional map keys with ``in``
(``"auc@test" in version.metrics``). Metric values are doubles: compare them
with numbers written with a decimal point (``>= 1.0``, not ``>= 1``).
"""

from __future__ import annotations

from typing import Any

import celpy
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError
from pydantic import ValidationInfo, field_validator

from ..domain import Version
from ..limits import MAX_EXPR_COST
from . import cel_cost
from .base import CheckContext, CheckDef, CheckParams, CheckResult, failed, passed

NAME = "expr"
MAX_EXPRESSION = 4096
#: Brackets and unary operators (``!``, ``-``) inside each other, counted in the text
#: before cel-python parses it: its parser and evaluator recurse once per level.
MAX_NESTING = 20
#: Levels of the parsed expression (a bracket adds about 10, a unary operator or an
#: operand of a chain such as ``a && b && c`` one); evaluation recurses about twice
#: per level, which keeps it well within Python's recursion limit of 1000 frames.
MAX_TREE_DEPTH = 256


class OverBudget(ValueError):
    """An expression that costs more than :data:`MAX_EXPR_COST` whatever the version."""

    def __init__(self, message: str, least: int) -> None:
        super().__init__(message)
        self.least = least


class TooDeep(ValueError):
    """An expression nested deeper than cel-python can parse or evaluate."""


def source_nesting(source: str) -> int:
    """How deep brackets and runs of unary operators (``!``, ``-``) nest in ``source``,
    outside string literals: one pass over the text, no parsing."""
    deepest = depth = run = 0
    quote = ""
    i = 0
    while i < len(source):
        ch = source[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if source.startswith(quote, i):
                i += len(quote)
                quote = ""
                continue
        elif ch in "'\"":
            quote = ch * 3 if source.startswith(ch * 3, i) else ch
            i += len(quote)
            run = 0
            continue
        elif ch in "([{":
            depth += 1
            run = 0
        elif ch in ")]}":
            depth = max(depth - 1, 0)
            run = 0
        elif ch in "!-" and not source.startswith("!=", i):
            run += 1
        elif not ch.isspace():
            run = 0
        deepest = max(deepest, depth + run)
        i += 1
    return deepest


def _tree_depth(ast: Any) -> int:
    deepest = 0
    stack = [(ast, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in getattr(node, "children", ()))
    return deepest


def _too_deep(what: str) -> TooDeep:
    return TooDeep(
        f"expression nested too deep: {what}; write it flatter, or split it into "
        "several expr checks"
    )


def compile_expression(source: str) -> celpy.Runner:
    """A runnable CEL program.

    Raises:
        ValueError: a syntax error, with its line and column in the expression;
            or an expression that costs more than :data:`MAX_EXPR_COST`
            operations whatever the version it judges.
    """
    nesting = source_nesting(source)
    if nesting > MAX_NESTING:
        raise _too_deep(
            f"{nesting} brackets and unary operators (! -) inside each other, "
            f"the limit is {MAX_NESTING}"
        )
    env = celpy.Environment()
    try:
        ast = env.compile(source)
    except RecursionError:
        raise _too_deep(f"more than {MAX_TREE_DEPTH} levels once parsed") from None
    except CELParseError as exc:
        where = (
            f"column {exc.column}"
            if exc.line in (None, 1)
            else f"line {exc.line}, column {exc.column}"
        )
        raise ValueError(f"invalid CEL expression {source!r}: syntax error at {where}") from None
    levels = _tree_depth(ast)
    if levels > MAX_TREE_DEPTH:
        raise _too_deep(
            f"{levels} levels once parsed, the limit is {MAX_TREE_DEPTH} (a bracket adds "
            "about 10, a unary operator or an operand of a chain such as a && b && c one)"
        )
    least = cel_cost.least_cost(ast)
    if least > MAX_EXPR_COST:
        raise OverBudget(
            f"the expression costs at least {least} operations to evaluate, over the budget "
            f"of {MAX_EXPR_COST} per expr check (a comprehension such as map() over a "
            "literal list costs its body once per element, and nested ones multiply): "
            "write an expression that does less work",
            least,
        )
    return env.program(ast)


class Params(CheckParams):
    """``expression`` (CEL text), ``message`` (optional: what the expression asks for)."""

    expression: str
    message: str | None = None

    @field_validator("expression")
    @classmethod
    def _compiles(cls, value: str, info: ValidationInfo) -> str:
        if len(value) > MAX_EXPRESSION:
            raise ValueError(
                f"expression is {len(value)} characters; the limit is {MAX_EXPRESSION}"
            )
        try:
            compile_expression(value)
        except (OverBudget, TooDeep):
            # A policy stored before the budget (or the nesting limit) was checked
            # still loads: its gates then fail this check naming the limit (see run),
            # and `policy show` and `policy set` keep working to replace it.
            if not (info.context or {}).get("as_stored"):
                raise
        return value


def version_view(version: Version) -> dict[str, Any]:
    """The version as the expression sees it (see the module docstring)."""
    data: dict[str, Any] = version.model_dump(mode="json")
    data["metrics"] = {m.key: m.value for m in version.metrics}
    data["created_at"] = version.created_at
    data["uri"] = version.uri
    data["size"] = version.size
    return data


def activation(version: Version, ctx: CheckContext) -> dict[str, Any]:
    """Every name an expression sees, as plain data."""
    model = ctx.model.model_dump(
        mode="json", include={"name", "owners", "task", "risk_tier", "description", "tags"}
    )
    online: dict[str, float] = {}
    for obs in sorted(ctx.observations.get(version.number, ()), key=lambda o: o.at):
        online[obs.metric] = obs.value
    return {
        "version": version_view(version),
        "model": model,
        "target_stage": ctx.target_stage,
        "actor": ctx.actor,
        "actor_roles": sorted(ctx.actor_roles),
        "online": online,
        "served": {alias: version_view(v) for alias, v in ctx.served.items()},
        "approvals": [
            {"actor": a.actor, "roles": list(a.roles), "comment": a.comment, "at": a.at}
            for a in ctx.approvals
        ],
        "attestations": [
            {
                "name": a.name,
                "actor": a.actor,
                "roles": list(a.roles),
                "comment": a.comment,
                "at": a.at,
            }
            for a in ctx.attestations
        ],
        "now": ctx.now,
    }


_NAMES = (
    "version, model, target_stage, actor, actor_roles, online, served, approvals, attestations, now"
)


def _describe(exc: CELEvalError) -> str:
    text = str(exc.args[0]) if exc.args else "evaluation error"
    if text.startswith("undeclared reference to "):
        # celpy appends its whole activation (every name and value) to this message.
        return text.split(" (in activation", 1)[0]
    if len(exc.args) > 2 and exc.args[2]:
        text += ": " + ", ".join(str(a) for a in exc.args[2])
    return text


def _hint(exc: CELEvalError) -> str:
    """What usually fixes this kind of evaluation error."""
    text = str(exc.args[0]) if exc.args else ""
    kind = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], type) else None
    if text.startswith("undeclared reference to "):
        return f"use only the names an expression sees ({_NAMES}) and CEL's functions"
    if kind is not None and issubclass(kind, ZeroDivisionError):
        return "guard the divisor: x != 0.0 ? a / x : ..."
    if kind is not None and issubclass(kind, KeyError):
        return "test optional keys with 'in' or has() before reading them"
    if kind is not None and issubclass(kind, IndexError):
        return "test size(list) before indexing it"
    if kind is not None and issubclass(kind, TypeError):
        return (
            "give operators and functions values of matching types: compare doubles with "
            "doubles (1.0, not 1), and convert with double(), int() or string()"
        )
    if "overflow" in text:
        return "keep integers within 64 bits, and convert only text that holds a number"
    if text == "match error":
        return "fix the regular expression (RE2 syntax)"
    return "see the CEL language definition (cel.dev) for this operation"


def run(version: Version, params: Params, ctx: CheckContext) -> CheckResult:
    """Pass when the expression evaluates to true within its budget of operations."""
    wanted = params.message or params.expression
    evidence: dict[str, Any] = {"expression": params.expression}
    try:
        program = compile_expression(params.expression)
    except OverBudget as exc:
        evidence.update(budget=MAX_EXPR_COST, least_cost=exc.least)
        return failed(
            NAME,
            f"could not evaluate {wanted!r}: it costs at least {exc.least} operations whatever "
            f"the version, over the budget of {MAX_EXPR_COST} operations per expr check "
            "(MAX_EXPR_COST); the policy in force was stored before that budget was checked",
            "rewrite the expression to do less work (fewer or shallower map()/filter()/all() "
            "over literal lists) and store the policy again with `modelbook policy set FILE` "
            "(admin), which checks the budget",
            **evidence,
        )
    except TooDeep as exc:
        return _cannot(
            wanted,
            f"{exc}; the policy in force was stored before that limit was checked",
            "rewrite the expression with less nesting and store the policy again with "
            "`modelbook policy set FILE` (admin), which checks the limit",
            evidence,
        )
    except ValueError as exc:
        return _cannot(wanted, str(exc), "fix the expression and store the policy again", evidence)
    try:
        names = {k: json_to_cel(v) for k, v in activation(version, ctx).items()}
        result, spent = cel_cost.evaluate(
            program.ast, program.new_activation(), names, MAX_EXPR_COST
        )
    except cel_cost.CostExceeded as exc:
        evidence["budget"] = exc.budget
        return failed(
            NAME,
            f"could not evaluate {wanted!r}: it spent its budget of {exc.budget} operations "
            "(MAX_EXPR_COST) and was stopped",
            "write an expression that does less work: fewer or shallower map()/filter()/all() "
            "over large lists, no concatenation in a loop",
            **evidence,
        )
    except CELEvalError as exc:
        return _cannot(wanted, _describe(exc), _hint(exc), evidence)
    except RecursionError:
        # compile_expression bounds the depth; this is the last guard, should the
        # stack be deeper when a gate runs.
        return _cannot(
            wanted,
            f"expression nested too deep to evaluate (the limit is {MAX_TREE_DEPTH} levels)",
            "write it flatter, or split it into several expr checks",
            evidence,
        )
    except Exception as exc:  # noqa: BLE001 - a policy's expression must never crash the gate
        return _cannot(
            wanted,
            f"{type(exc).__name__}: {exc}",
            "see the CEL language definition (cel.dev) for this operation",
            evidence,
        )
    if isinstance(result, CELEvalError):
        return _cannot(wanted, _describe(result), _hint(result), evidence)
    evidence["cost"] = spent
    if not isinstance(result, celtypes.BoolType):
        return failed(
            NAME,
            f"the expression gave {_shown(result)}, not true or false",
            "write an expression that gives true or false",
            **evidence,
        )
    evidence["result"] = bool(result)
    if result:
        return passed(NAME, f"holds: {wanted}", **evidence)
    return failed(
        NAME,
        f"does not hold: {wanted}",
        f"a version for which {params.expression} is true",
        **evidence,
    )


def _shown(value: object, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _cannot(wanted: str, why: str, hint: str, evidence: dict[str, Any]) -> CheckResult:
    return failed(NAME, f"could not evaluate {wanted!r}: {why}", hint, **evidence)


CHECK = CheckDef(NAME, Params, run, "a CEL expression over the version is true")
