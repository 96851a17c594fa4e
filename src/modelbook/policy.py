"""The release policy: which evidence a version needs to enter each stage.

One policy per registry, written as TOML or YAML (the service keeps its text
and parses it here). For each risk tier (``low``, ``medium``, ``high``) and
each stage it lists the checks of that stage's gate::

    serving_aliases = ["production"]

    [[tiers.high.approved]]
    check = "approvals"
    count = 2

    [[tiers.high.approved]]
    check = "attestation"
    name = "pii_review"

Optionally ``[stages]`` declares the team's own ordered stages and the
transitions between them (see :func:`modelbook.lifecycle.build_graph`), and
``[doctor] required = [...]`` the checklist fields (:mod:`modelbook.checklist`)
that ``modelbook doctor`` requires of every deployed version.

Every error in a policy names its line: ``policy.toml line 14: unknown check
'metrc' (known: ...)``. tomllib and PyYAML's loader keep no positions for
values, so the loader reads the text a second time to learn the line of
each key and list item (:mod:`modelbook.policy_lines`) and maps
the path of each problem (``tiers.low.candidate[0].check``) to the nearest
line it knows (:mod:`modelbook.policy_problems`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from .checklist import DEFAULT_REQUIRED, known_field
from .checks import CheckSpec, get_check
from .display import as_written
from .domain import RISK_TIERS
from .errors import InvalidInput
from .lifecycle import ARCHIVED, DEFAULT_ORDER, DEFAULT_SERVING_ALIASES, StageGraph, build_graph
from .lifecycle import graph_problems as _graph_problems
from .policy_lines import Loc, Problem
from .policy_parse import parse_toml, parse_yaml
from .policy_problems import from_pydantic, listed_twice, place, render, unknown

Format = Literal["toml", "yaml"]
ENTRY_KEYS = ("check", "required")
"""Keys of a gate entry that are not the check's parameters."""


@dataclass(frozen=True)
class Policy:
    """A loaded, checked policy.

    Attributes:
        graph: the stages and the moves allowed between them.
        gates: ``(tier, stage)`` → the checks of that gate, in policy order.
        source: the name errors were reported under (``policy.toml``).
        text: the policy as written.
        format: ``"toml"`` or ``"yaml"``.
        required_fields: the checklist fields a deployed version must carry
            (``[doctor] required``; :data:`~modelbook.checklist.DEFAULT_REQUIRED`
            when the policy has no ``[doctor]`` table).
    """

    graph: StageGraph
    gates: Mapping[tuple[str, str], tuple[CheckSpec, ...]]
    source: str
    text: str
    format: Format
    required_fields: tuple[str, ...] = DEFAULT_REQUIRED

    @property
    def serving_aliases(self) -> tuple[str, ...]:
        """Aliases that serve traffic: a version they point at is ``deployed``."""
        return self.graph.serving_aliases

    def gate(self, tier: str, stage: str) -> tuple[CheckSpec, ...]:
        """The checks a version of risk ``tier`` must pass to enter ``stage``.

        Returns an empty tuple when the policy lists none.

        Raises:
            InvalidInput: an unknown tier or stage; the message lists the valid ones.
        """
        if tier not in RISK_TIERS:
            raise InvalidInput(f"unknown risk tier {tier!r}: choose one of {', '.join(RISK_TIERS)}")
        return self.gates.get((tier, self.graph.stage(stage)), ())


def load_policy(
    text: str, *, source: str = "policy", format: Format | None = None, as_stored: bool = False
) -> Policy:
    """Parse and check a policy.

    Args:
        text: the policy file's content.
        source: the name errors cite, e.g. ``"policy.toml"``; its suffix
            (``.toml``, ``.yaml``, ``.yml``) picks the format when ``format``
            is None.
        format: ``"toml"`` or ``"yaml"``; None guesses from ``source``, then
            from the text (a ``[table]`` or ``key = value`` line means TOML).
        as_stored: the text is the policy a registry already holds. Rules
            added since it may have been set (strict parameter types, every
            stage reachable) are not applied to it, so that gates keep
            working after an upgrade as they did; ``policy set`` applies them.

    Raises:
        InvalidInput: a syntax error, an unknown key, tier, stage or check,
            or a bad parameter. Each problem is one line of the message,
            ``SOURCE line N: what is wrong``, ordered by line.
    """
    if not isinstance(text, str):
        raise InvalidInput(f"{source}: a policy is text, got {type(text).__name__}")
    fmt = format or guess_format(text, source)
    if fmt == "toml":
        data, lines, problems = parse_toml(text, source)
    elif fmt == "yaml":
        data, lines, problems = parse_yaml(text, source)
    else:
        raise InvalidInput(f"unknown policy format {fmt!r}: choose toml or yaml")
    try:
        graph, gates, required = _check(data, problems, strict=not as_stored)
    except _Problems as exc:
        raise InvalidInput(render(exc.problems, lines, source)) from None
    return Policy(
        graph=graph,
        gates=MappingProxyType(gates),
        source=source,
        text=text,
        format=fmt,
        required_fields=required,
    )


def guess_format(text: str, source: str = "") -> Format:
    """``"yaml"`` or ``"toml"``, from the source's suffix or else the first statement."""
    name = source.lower()
    if name.endswith((".yaml", ".yml")):
        return "yaml"
    if name.endswith(".toml"):
        return "toml"
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") or re.match(r"[\w.\"'-]+\s*=", line):
            return "toml"
        if line.startswith(("---", "- ")) or re.match(r"[\w\"'-]+\s*:", line):
            return "yaml"
        break
    return "toml"


DEFAULT_POLICY_TEXT: str = (
    resources.files("modelbook").joinpath("policies/default.toml").read_text(encoding="utf-8")
)
"""The policy a registry uses until an admin sets its own (``policies/default.toml``)."""


@cache
def default_policy() -> Policy:
    """The shipped default policy, parsed once."""
    return load_policy(DEFAULT_POLICY_TEXT, source="default.toml", format="toml")


# Checking the parsed data ---------------------------------------------------------


class _Problems(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems)
        self.problems = problems


class _StagesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order: list[str] | None = None
    transitions: dict[str, list[str]] | None = None


class _DoctorFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    required: tuple[Annotated[str, AfterValidator(known_field)], ...] = DEFAULT_REQUIRED


class _PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    serving_aliases: list[str] = Field(default_factory=lambda: list(DEFAULT_SERVING_ALIASES))
    stages: _StagesFile = Field(default_factory=_StagesFile)
    tiers: dict[str, dict[str, list[dict[str, Any]]]]
    doctor: _DoctorFile = Field(default_factory=_DoctorFile)


def _known_file_keys(loc: Loc) -> Sequence[str]:
    tables: dict[str, type[BaseModel]] = {"stages": _StagesFile, "doctor": _DoctorFile}
    model = tables.get(str(loc[0]), _PolicyFile) if len(loc) > 1 else _PolicyFile
    return list(model.model_fields)


def _check(
    data: object, problems: list[Problem], *, strict: bool
) -> tuple[StageGraph, dict[tuple[str, str], tuple[CheckSpec, ...]], tuple[str, ...]]:
    if not isinstance(data, dict):
        raise _Problems(
            [*problems, ((), "a policy is a table of keys: serving_aliases, stages, tiers, doctor")]
        )
    # The [doctor] table is checked apart, so that its problems and those of the
    # rest of the file are all reported, each at its line.
    rest = {k: v for k, v in data.items() if k != "doctor"}
    try:
        doctor = _DoctorFile.model_validate(data.get("doctor", {}))
    except ValidationError as exc:
        doctor = _DoctorFile()
        problems = [*problems, *from_pydantic(exc, ("doctor",), _doctor_keys)]
    else:
        if strict and isinstance(data.get("doctor"), dict):
            problems = [*problems, *listed_twice(data["doctor"].get("required"), _REQUIRED)]
    try:
        file = _PolicyFile.model_validate(rest)
    except ValidationError as exc:
        raise _Problems([*problems, *from_pydantic(exc, (), _known_file_keys)]) from None
    order = file.stages.order if file.stages.order is not None else list(DEFAULT_ORDER)
    found = [
        (("serving_aliases", *loc[1:]) if loc[0] == "serving_aliases" else ("stages", *loc), msg)
        for loc, msg in _graph_problems(
            order, file.stages.transitions, file.serving_aliases, strict=strict
        )
    ]
    if found:
        raise _Problems([*problems, *found])
    graph = build_graph(order, file.stages.transitions, file.serving_aliases, strict=strict)
    gates: dict[tuple[str, str], tuple[CheckSpec, ...]] = {}
    for tier in RISK_TIERS:
        if tier not in file.tiers:
            problems.append(
                (
                    ("tiers",),
                    f"tier {tier!r} is missing: declare every tier ({', '.join(RISK_TIERS)}), "
                    f"an empty [tiers.{tier}] meaning no checks",
                )
            )
    for tier, stages in file.tiers.items():
        if tier not in RISK_TIERS:
            problems.append((("tiers", tier), unknown("tier", tier, RISK_TIERS)))
        for stage, entries in stages.items():
            if stage not in graph.stages:
                problems.append((("tiers", tier, stage), unknown("stage", stage, graph.stages)))
            # The entries under a misspelled tier or stage are checked too, so
            # that fixing the name does not reveal problems one at a time.
            specs = [
                _spec(entry, ("tiers", tier, stage, i), problems, strict)
                for i, entry in enumerate(entries)
            ]
            gates[(tier, stage)] = tuple(s for s in specs if s is not None)
            if strict and entries:
                problems.extend(_unenforced(graph, tier, stage, entries))
    if problems:
        raise _Problems(problems)
    # A stored policy that predates the refusal of repeats names each field once.
    return graph, gates, tuple(dict.fromkeys(doctor.required))


def _unenforced(
    graph: StageGraph, tier: str, stage: str, entries: Sequence[dict[str, Any]]
) -> list[Problem]:
    """The rules of a gate that would never hold a version: a gate on the stage a
    version enters without one, and separation of duties waived where it cannot be.
    A stored policy that predates these refusals is read as it was set."""
    loc: Loc = ("tiers", tier, stage)
    if stage == ARCHIVED:
        return [
            (
                loc,
                f"a version enters {ARCHIVED!r} by archive, which runs no gate (who may "
                "archive is decided by role: a deployer for a deployed version or a rollback "
                f"target); remove [tiers.{tier}.{stage}]",
            )
        ]
    if stage == graph.first:
        nxt = graph.order[1] if len(graph.order) > 1 else stage
        return [
            (
                loc,
                f"{stage!r} is the first stage: every version enters it by registration, "
                f"which runs no gate; put these checks on the next stage ({nxt!r})",
            )
        ]
    problems: list[Problem] = []
    if tier == "high":
        for i, entry in enumerate(entries):
            if (
                entry.get("check") in ("approvals", "attestation")
                and entry.get("separation_of_duties") is False
            ):
                problems.append(
                    (
                        (*loc, i, "separation_of_duties"),
                        "separation_of_duties cannot be false for high risk: the person "
                        "who registered a high-risk version never approves or signs it "
                        "off (approve and attest refuse them); remove the key",
                    )
                )
    return problems


_REQUIRED: Loc = ("doctor", "required")


def _doctor_keys(loc: Loc) -> Sequence[str]:
    return list(_DoctorFile.model_fields)


def _spec(
    entry: dict[str, Any], loc: Loc, problems: list[Problem], strict: bool
) -> CheckSpec | None:
    name = entry.get("check")
    if name is None:
        problems.append((loc, 'an entry needs check = NAME, e.g. check = "metric"'))
        return None
    try:
        definition = get_check(name)
    except InvalidInput as exc:
        problems.append(((*loc, "check"), exc.message))
        return None
    required = entry.get("required", True)
    if not isinstance(required, bool):
        problems.append(
            (
                (*loc, "required"),
                f"{place((*loc, 'required'))} must be true or false, got {as_written(required)}",
            )
        )
    # Strict, for every check alike: a boolean is never a number (count = true),
    # text never a number or a boolean (count = "2", separation_of_duties = "yes");
    # a stored policy is read as it was when it was set. The file's lists stand
    # for the models' tuples, whose items stay strict.
    params = {
        k: tuple(v) if isinstance(v, list) else v for k, v in entry.items() if k not in ENTRY_KEYS
    }
    try:
        # ``as_stored``: a check may accept what it refuses in a new policy (an expr
        # over its budget) and fail when it runs, naming the fix.
        validated = definition.params.model_validate(
            params, strict=strict, context={"as_stored": not strict}
        )
    except ValidationError as exc:
        known = [*ENTRY_KEYS, *definition.params.model_fields]
        problems.extend(from_pydantic(exc, loc, lambda _: known, f"check {name!r}"))
        return None
    if strict and definition.params.__module__.startswith("modelbook."):
        # A built-in check's lists (principals, roles, metrics, fields ...) name each
        # item once; a plugin's lists mean what the plugin says.
        repeats = [p for k, v in entry.items() for p in listed_twice(v, (*loc, k))]
        if repeats:
            problems.extend(repeats)
            return None
    if not isinstance(required, bool):
        return None
    return CheckSpec(
        check=definition.name, params=validated, required=required, definition=definition
    )
