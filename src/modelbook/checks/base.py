"""What every gate check shares: its context, its result, and the gate evaluation.

A check is a pure function ``run(version, params, ctx) -> CheckResult``. The
service gathers everything a check may look at into a :class:`CheckContext`
(approvals, attestations, the versions aliases serve, online observations,
the time) so that checks do no I/O. :func:`evaluate_gate` runs the checks a
policy names for a stage and says whether the gate passes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue
from pydantic_core import PydanticSerializationError, to_jsonable_python

from ..annotations import Approval, Attestation, CheckRecord, Observation, Rejection
from ..domain import Frozen, FrozenDict, FrozenJSON, Model, Version, thaw
from ..errors import GateFailed, InvalidInput
from ..limits import MAX_CHECK_EVIDENCE, MAX_CHECK_MESSAGE, check_text

SmokeTest = Callable[[Version], "CheckResult | bool"]
"""Loads a version and predicts on a sample; returns a result, or True/False."""
SampleReader = Callable[[Version], Any]
"""Reads a version's stored input sample (verified); None when it has none."""
ScanReader = Callable[[Version], Any]
"""Scans a version's pickle-based artifacts (a :class:`modelbook.safety.ScanReport`)."""


class CheckResult(Frozen):
    """The outcome of one check on one version.

    Attributes:
        check: the check's name (``metric``, ``approvals`` ...).
        passed: whether the version meets it.
        message: what the check saw, in one sentence.
        hint: what would make it pass; None when it passed.
        evidence: the inputs it judged, JSON-safe, kept with the version.
        required: whether a failure blocks the gate (``False``: advisory).
    """

    check: str
    passed: bool
    message: str
    hint: str | None = None
    evidence: FrozenJSON = Field(default_factory=FrozenDict)
    required: bool = True


class CheckParams(BaseModel):
    """Base of every check's parameters: frozen, and unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True, kw_only=True)
class CheckContext:
    """Everything a check may consult besides the version; built by the service.

    Attributes:
        model: the model the version belongs to (its risk tier picks the gate).
        target_stage: the stage the version is asked to enter.
        actor: who asks for the move.
        actor_roles: the role names the actor holds.
        served: alias name → the version that alias points at now, for every
            alias of the model (``compare`` reads ``production`` by default).
        approvals: approvals recorded on this version, oldest first.
        rejections: rejections recorded on this version, oldest first.
        attestations: attestations recorded on this version.
        observations: version number → online observations recorded on it,
            for this version and the versions in ``served``.
        now: the time of the evaluation (timezone-aware).
        smoke_test: loads the version and predicts on a sample, or None when
            no loader exists for its flavor.
        sample: reads the version's stored input sample, or None when the
            service offers no reader; called only by the checks that need it.
        scan: scans the version's pickle-based artifacts, or None when the
            service offers no scanner; called only by the ``scan`` check.
    """

    model: Model
    target_stage: str
    actor: str
    actor_roles: frozenset[str] = frozenset()
    served: Mapping[str, Version] = field(default_factory=dict)
    approvals: tuple[Approval, ...] = ()
    rejections: tuple[Rejection, ...] = ()
    attestations: tuple[Attestation, ...] = ()
    observations: Mapping[int, tuple[Observation, ...]] = field(default_factory=dict)
    now: datetime
    smoke_test: SmokeTest | None = None
    sample: SampleReader | None = None
    scan: ScanReader | None = None

    def __post_init__(self) -> None:
        if self.now.utcoffset() is None:
            raise InvalidInput("the time of a gate evaluation must be timezone-aware")
        # A context may be handed to custom checks; read-only views keep one
        # check from changing what the next one sees.
        object.__setattr__(self, "served", MappingProxyType(dict(self.served)))
        object.__setattr__(self, "observations", MappingProxyType(dict(self.observations)))
        object.__setattr__(self, "actor_roles", frozenset(self.actor_roles))

    def observed(self, number: int, key: str) -> float | None:
        """The latest observed value of metric ``key`` on version ``number``, or None."""
        latest: Observation | None = None
        for obs in self.observations.get(number, ()):
            if obs.metric == key and (latest is None or obs.at >= latest.at):
                latest = obs
        return None if latest is None else latest.value


P = TypeVar("P", bound=CheckParams)


@dataclass(frozen=True)
class CheckDef(Generic[P]):
    """A check kind: its name, its parameter model and its function."""

    name: str
    params: type[P]
    run: Callable[[Version, P, CheckContext], CheckResult]
    summary: str


@dataclass(frozen=True)
class CheckSpec:
    """One check of a gate, as the policy declares it.

    Attributes:
        check: the check's name.
        params: its validated parameters.
        required: whether a failure blocks the gate.
        definition: the check kind that runs it.
    """

    check: str
    params: CheckParams
    required: bool
    definition: CheckDef[Any] = field(repr=False)

    def params_json(self) -> dict[str, JsonValue]:
        """The parameters as JSON-safe data, as written in the policy."""
        data: dict[str, JsonValue] = self.params.model_dump(mode="json")
        return data

    def run(self, version: Version, ctx: CheckContext) -> CheckResult:
        """Run the check; the result carries this spec's ``required``.

        A result that cannot be stored (see :func:`storable`) becomes a failed
        one naming the problem.
        """
        result = storable(self.definition.run(version, self.params, ctx))
        return result.model_copy(update={"required": self.required})


@dataclass(frozen=True)
class GateOutcome:
    """The results of every check of one gate, in policy order.

    ``passed`` is true when every required check passed; advisory checks
    (``required = false``) are recorded but never block.
    """

    target_stage: str
    specs: tuple[CheckSpec, ...]
    results: tuple[CheckResult, ...]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results if r.required)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        """Required checks that failed: what blocks the gate."""
        return tuple(r for r in self.results if r.required and not r.passed)

    @property
    def warnings(self) -> tuple[CheckResult, ...]:
        """Advisory checks that failed: recorded, not blocking."""
        return tuple(r for r in self.results if not r.required and not r.passed)

    def records(self, *, actor: str, at: datetime) -> tuple[CheckRecord, ...]:
        """The results as :class:`CheckRecord` values for the service to store."""
        return tuple(
            CheckRecord(
                check=result.check,
                params=spec.params_json(),
                evidence=thaw(result.evidence),
                passed=result.passed,
                required=result.required,
                message=result.message,
                hint=result.hint,
                at=at,
                actor=actor,
                target_stage=self.target_stage,
            )
            for spec, result in zip(self.specs, self.results, strict=True)
        )

    def raise_if_failed(self, version: Version) -> None:
        """Raise :meth:`refusal` when a required check failed."""
        refused = self.refusal(version)
        if refused is not None:
            raise refused

    def refusal(self, version: Version) -> GateFailed | None:
        """The error a refused gate raises, or None when the gate passed.

        Services record the evaluation first and raise this after their
        transaction commits, so the evidence of a refusal is kept.
        The message names the stage, the version and each failing check with
        its hint; ``failures`` holds the results.
        """
        if self.passed:
            return None
        return GateFailed(
            f"{version.uri} cannot enter {self.target_stage!r}: "
            f"{len(self.failures)} required check(s) failed",
            failures=self.failures,
            items=[failure_line(r) for r in self.failures],
        )


def failure_line(result: CheckResult) -> str:
    """A failing check as one item of a refusal: ``check: message (to pass: hint)``."""
    return f"{result.check}: {result.message}" + (
        f" (to pass: {result.hint})" if result.hint else ""
    )


def evaluate_gate(specs: Sequence[CheckSpec], version: Version, ctx: CheckContext) -> GateOutcome:
    """Run every check of a gate on ``version``; none is skipped after a failure.

    Args:
        specs: the gate, from :meth:`modelbook.policy.Policy.gate`.
        version: the version asking to enter ``ctx.target_stage``.
        ctx: what the checks may consult.

    Returns:
        every result, in the order of ``specs``. Custom checks and smoke
        tests that raise become failed results; the gate never crashes.
    """
    results = tuple(spec.run(version, ctx) for spec in specs)
    return GateOutcome(target_stage=ctx.target_stage, specs=tuple(specs), results=results)


# What user code may hand back ----------------------------------------------------


@dataclass(frozen=True)
class Raised:
    """What user code raised instead of returning (see :func:`call_user`)."""

    error: BaseException

    def describe(self, limit: int = 1000) -> str:
        """``TypeName: text``, at most about ``limit`` characters."""
        try:
            text = str(self.error)
        except KeyboardInterrupt:
            raise
        except BaseException:  # noqa: BLE001 - a __str__ that fails still names the error
            text = "(its message could not be read)"
        if len(text) > limit:
            text = f"{text[:limit]}... ({len(text)} characters)"
        return f"{type(self.error).__name__}: {text}" if text else type(self.error).__name__


def call_user(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, or :class:`Raised` with what it raised.

    User code (custom checks, loaders) must never end the gate: ``SystemExit``
    from ``sys.exit()`` and every other exception become a :class:`Raised`.
    Only ``KeyboardInterrupt`` passes, so Ctrl-C still stops the command.
    ``os._exit()`` ends the process and cannot be caught in it.
    """
    try:
        return fn(*args)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - see the docstring
        return Raised(exc)


def storable(result: CheckResult) -> CheckResult:
    """``result`` when it can be stored and shown; else a failed result naming why.

    The message and the hint are text of at most
    :data:`~modelbook.limits.MAX_CHECK_MESSAGE` characters each; the evidence
    is JSON (no NaN or infinity, no NUL, valid UTF-8) of at most
    :data:`~modelbook.limits.MAX_CHECK_EVIDENCE` bytes. Nothing is cut short:
    a check that reports more fails, so that what is kept is what it said.
    """
    problem = _unstorable(result)
    if problem is None:
        return result
    return CheckResult(
        check=result.check,
        passed=False,
        message=f"the result of {result.check} cannot be kept: {problem}",
        hint=f"make {result.check} report less, as JSON-safe evidence",
        evidence={},
        required=result.required,
    )


def _unstorable(result: CheckResult) -> str | None:
    for what, value in (("message", result.message), ("hint", result.hint)):
        if value is None and what == "hint":
            continue
        try:
            check_text(value, what, MAX_CHECK_MESSAGE)
        except InvalidInput as exc:
            return f"{exc.message} (MAX_CHECK_MESSAGE)" if "limit" in exc.message else exc.message
    try:
        data = to_jsonable_python(thaw(result.evidence))
        text = json.dumps(data, allow_nan=False, ensure_ascii=False)
        size = len(text.encode("utf-8"))
    except (PydanticSerializationError, TypeError, ValueError, RecursionError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"its evidence is not JSON ({first[:200]})"
    if size > MAX_CHECK_EVIDENCE:
        return (
            f"its evidence is {size} bytes as JSON; the limit is {MAX_CHECK_EVIDENCE} "
            "(MAX_CHECK_EVIDENCE)"
        )
    try:
        if _holds_nul(data):
            return "its evidence holds a NUL character, which no database stores in JSON"
    except RecursionError:
        return "its evidence is nested too deeply"
    return None


def _holds_nul(data: Any) -> bool:
    if isinstance(data, str):
        return "\x00" in data
    if isinstance(data, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in data.items())
    if isinstance(data, list):
        return any(_holds_nul(v) for v in data)
    return False


# Helpers shared by the checks ----------------------------------------------------


def passed(check: str, message: str, **evidence: JsonValue) -> CheckResult:
    """A passing result."""
    return CheckResult(check=check, passed=True, message=message, evidence=evidence)


def failed(check: str, message: str, hint: str | None, **evidence: JsonValue) -> CheckResult:
    """A failing result with what would make it pass."""
    return CheckResult(check=check, passed=False, message=message, hint=hint, evidence=evidence)


def number(value: float) -> JsonValue:
    """A float for evidence: JSON has no NaN or infinity, so those become text."""
    return value if math.isfinite(value) else str(value)


def is_online(key: str) -> bool:
    """Whether a metric key names an online split (``ctr@online``, ``ctr@online-eu``).

    Only such metrics are recorded after registration (``observe``); every
    other split is frozen with the version, so an observation can never stand
    in for a registered offline metric.
    """
    _, at, rest = key.partition("@")
    split = rest.split("{", 1)[0]
    return bool(at) and (split == "online" or split.startswith("online-"))


def metric_value(version: Version, key: str, ctx: CheckContext | None = None) -> float | None:
    """The value of metric ``key`` on ``version``: registered, or for an online key the
    latest observed.

    Registered metrics are frozen with the version; online metrics such as
    ``ctr@online`` come from observations in ``ctx``.
    """
    for m in version.metrics:
        if m.key == key:
            return m.value
    if ctx is None or not is_online(key):
        return None
    return ctx.observed(version.number, key)
