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
transitions between them (see :func:`modelbook.lifecycle.build_graph`).

Every error in a policy names its line: ``policy.toml line 14: unknown check
'metrc' (known: ...)``. tomllib and PyYAML's loader keep no positions for
values, so the loader reads the text a second time to learn the line of
each key and list item (:class:`_TomlLines`, :func:`_yaml_lines`) and maps
the path of each problem (``tiers.low.candidate[0].check``) to the nearest
line it knows.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Literal

import yaml  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .checks import CheckSpec, get_check
from .domain import RISK_TIERS
from .errors import InvalidInput
from .lifecycle import DEFAULT_ORDER, DEFAULT_SERVING_ALIASES, StageGraph, build_graph
from .lifecycle import graph_problems as _graph_problems

Loc = tuple[str | int, ...]
Format = Literal["toml", "yaml"]
Problem = tuple[Loc, str]
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
    """

    graph: StageGraph
    gates: Mapping[tuple[str, str], tuple[CheckSpec, ...]]
    source: str
    text: str
    format: Format

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


def load_policy(text: str, *, source: str = "policy", format: Format | None = None) -> Policy:
    """Parse and check a policy.

    Args:
        text: the policy file's content.
        source: the name errors cite, e.g. ``"policy.toml"``; its suffix
            (``.toml``, ``.yaml``, ``.yml``) picks the format when ``format``
            is None.
        format: ``"toml"`` or ``"yaml"``; None guesses from ``source``, then
            from the text (a ``[table]`` or ``key = value`` line means TOML).

    Raises:
        InvalidInput: a syntax error, an unknown key, tier, stage or check,
            or a bad parameter. Each problem is one line of the message,
            ``SOURCE line N: what is wrong``, ordered by line.
    """
    if not isinstance(text, str):
        raise InvalidInput(f"{source}: a policy is text, got {type(text).__name__}")
    fmt = format or guess_format(text, source)
    if fmt == "toml":
        data, lines, problems = _parse_toml(text, source)
    elif fmt == "yaml":
        data, lines, problems = _parse_yaml(text, source)
    else:
        raise InvalidInput(f"unknown policy format {fmt!r}: choose toml or yaml")
    try:
        graph, gates = _check(data, problems)
    except _Problems as exc:
        raise InvalidInput(_render(exc.problems, lines, source)) from None
    return Policy(graph=graph, gates=MappingProxyType(gates), source=source, text=text, format=fmt)


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


class _PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    serving_aliases: list[str] = Field(default_factory=lambda: list(DEFAULT_SERVING_ALIASES))
    stages: _StagesFile = Field(default_factory=_StagesFile)
    tiers: dict[str, dict[str, list[dict[str, Any]]]]


def _known_file_keys(loc: Loc) -> Sequence[str]:
    model = _StagesFile if loc[:1] == ("stages",) else _PolicyFile
    return list(model.model_fields)


def _check(
    data: object, problems: list[Problem]
) -> tuple[StageGraph, dict[tuple[str, str], tuple[CheckSpec, ...]]]:
    if not isinstance(data, dict):
        raise _Problems(
            [*problems, ((), "a policy is a table of keys: serving_aliases, stages, tiers")]
        )
    try:
        file = _PolicyFile.model_validate(data)
    except ValidationError as exc:
        raise _Problems([*problems, *_from_pydantic(exc, (), _known_file_keys)]) from None
    order = file.stages.order if file.stages.order is not None else list(DEFAULT_ORDER)
    found = [
        (("serving_aliases", *loc[1:]) if loc[0] == "serving_aliases" else ("stages", *loc), msg)
        for loc, msg in _graph_problems(order, file.stages.transitions, file.serving_aliases)
    ]
    if found:
        raise _Problems([*problems, *found])
    graph = build_graph(order, file.stages.transitions, file.serving_aliases)
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
            problems.append((("tiers", tier), _unknown("tier", tier, RISK_TIERS)))
            continue
        for stage, entries in stages.items():
            if stage not in graph.stages:
                problems.append((("tiers", tier, stage), _unknown("stage", stage, graph.stages)))
                continue
            specs = [
                _spec(entry, ("tiers", tier, stage, i), problems) for i, entry in enumerate(entries)
            ]
            gates[(tier, stage)] = tuple(s for s in specs if s is not None)
    if problems:
        raise _Problems(problems)
    return graph, gates


def _spec(entry: dict[str, Any], loc: Loc, problems: list[Problem]) -> CheckSpec | None:
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
        problems.append(((*loc, "required"), f"required must be true or false, got {required!r}"))
        return None
    params = {k: v for k, v in entry.items() if k not in ENTRY_KEYS}
    try:
        validated = definition.params.model_validate(params)
    except ValidationError as exc:
        known = [*ENTRY_KEYS, *definition.params.model_fields]
        problems.extend(_from_pydantic(exc, loc, lambda _: known, f"check {name!r}"))
        return None
    return CheckSpec(
        check=definition.name, params=validated, required=required, definition=definition
    )


def _unknown(what: str, name: object, known: Sequence[str], owner: str = "") -> str:
    close = difflib.get_close_matches(str(name), known, n=1)
    guess = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {what} {name!r}{owner} (known: {', '.join(known)}){guess}"


def _path(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _from_pydantic(
    exc: ValidationError,
    prefix: Loc,
    known_keys: Callable[[Loc], Sequence[str]],
    owner: str = "",
) -> list[Problem]:
    problems: list[Problem] = []
    for error in exc.errors(include_url=False):
        rel: Loc = tuple(error["loc"])
        loc = (*prefix, *rel)
        kind = error["type"]
        if kind == "extra_forbidden":
            where = f" for {owner}" if owner else ""
            message = _unknown("key", rel[-1], known_keys(rel), where)
        elif kind == "missing":
            message = f"{_path(loc)} is missing"
        elif kind in ("value_error", "assertion_error"):
            message = f"{_path(loc)}: {error.get('ctx', {}).get('error', error['msg'])}"
        else:
            message = f"{_path(loc)}: {error['msg']}, got {error['input']!r}"
        problems.append((loc, message))
    return problems


def _render(problems: Sequence[Problem], lines: Mapping[Loc, int], source: str) -> str:
    def line_of(loc: Loc) -> int | None:
        for end in range(len(loc), 0, -1):
            if loc[:end] in lines:
                return lines[loc[:end]]
        return None

    located = sorted(
        {(line_of(loc) or 0, message) for loc, message in problems}, key=lambda p: p[0]
    )
    return "\n".join(
        f"{source} line {line}: {message}" if line else f"{source}: {message}"
        for line, message in located
    )


# TOML ---------------------------------------------------------------------------

_TOML_ERROR_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_TOML_ERROR_END = re.compile(r"\s*\(at end of document\)$")


def _parse_toml(text: str, source: str) -> tuple[object, dict[Loc, int], list[Problem]]:
    """The data, the line index, and no problems; a syntax error is raised with its line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        at = _TOML_ERROR_AT.search(message)
        if at:
            where = f"{source} line {at[1]}"
            message = f"{message[: at.start()]} (column {at[2]})"
        elif _TOML_ERROR_END.search(message):
            where = f"{source} line {text.count(chr(10)) + 1}"
            message = _TOML_ERROR_END.sub("", message)
        else:
            where = source
        raise InvalidInput(f"{where}: invalid TOML: {message}") from None
    try:
        lines = _TomlLines(text).scan()
    except _ScanError:
        # Only the line numbers in error messages are lost; the data is tomllib's.
        lines = {}
    return data, lines, []


class _ScanError(Exception):
    """The text is not the TOML the scanner expects (it parsed, so a scanner gap)."""


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class _TomlLines:
    """The line of every key, table header and array item of a valid TOML text.

    Keys are recorded by their full path, as tomllib nests them: a header
    ``[[tiers.low.candidate]]`` opens ``("tiers", "low", "candidate", N)``
    for its N-th occurrence, ``fields = [...]`` under it is that path plus
    ``"fields"``, and each item of the array adds its index. Values are read
    only far enough to step over them: strings (all four kinds), arrays,
    inline tables and bare scalars.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.lines: dict[Loc, int] = {}
        self.tables_of_arrays: dict[Loc, int] = {}

    def scan(self) -> dict[Loc, int]:
        table: Loc = ()
        while True:
            self._skip(newlines=True)
            if self.pos >= len(self.text):
                return self.lines
            line = self.line
            if self.text.startswith("[[", self.pos):
                self._advance(2)
                path = self._header("]]")
                index = self.tables_of_arrays.get(path, 0)
                self.tables_of_arrays[path] = index + 1
                table = (*path, index)
                self._mark(table, line)
            elif self._peek() == "[":
                self._advance(1)
                table = self._header("]")
                self._mark(table, line)
            else:
                self._pair(table)

    def _peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def _advance(self, count: int) -> None:
        self.line += self.text.count("\n", self.pos, self.pos + count)
        self.pos += count

    def _expect(self, token: str) -> None:
        if not self.text.startswith(token, self.pos):
            raise _ScanError(f"expected {token!r} on line {self.line}")
        self._advance(len(token))

    def _skip(self, *, newlines: bool) -> None:
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in " \t":
                self._advance(1)
            elif char == "#":
                end = self.text.find("\n", self.pos)
                self._advance((len(self.text) if end < 0 else end) - self.pos)
            elif newlines and char in "\r\n":
                self._advance(1)
            else:
                return

    def _mark(self, path: Loc, line: int) -> None:
        for end in range(1, len(path)):
            self.lines.setdefault(path[:end], line)
        self.lines[path] = line

    def _header(self, close: str) -> Loc:
        self._skip(newlines=False)
        parts = self._key()
        self._expect(close)
        # Inside [[a]], a later [a.b] or [[a.b]] belongs to the last item of a.
        path: Loc = ()
        for i, part in enumerate(parts):
            path = (*path, part)
            if i < len(parts) - 1 and path in self.tables_of_arrays:
                path = (*path, self.tables_of_arrays[path] - 1)
        return path

    def _key(self) -> tuple[str, ...]:
        parts: list[str] = []
        while True:
            self._skip(newlines=False)
            if self._peek() in ('"', "'"):
                start = self.pos
                self._string()
                # tomllib decodes the quoted key exactly as it did in the document.
                parts.append(tomllib.loads(f"k = {self.text[start : self.pos]}")["k"])
            else:
                bare = _BARE_KEY.match(self.text, self.pos)
                if bare is None:
                    raise _ScanError(f"expected a key on line {self.line}")
                parts.append(bare.group())
                self._advance(len(bare.group()))
            self._skip(newlines=False)
            if self._peek() != ".":
                return tuple(parts)
            self._advance(1)

    def _pair(self, table: Loc) -> None:
        line = self.line
        path = (*table, *self._key())
        self._mark(path, line)
        self._expect("=")
        self._skip(newlines=False)
        self._value(path)

    def _value(self, path: Loc) -> None:
        char = self._peek()
        if char in ('"', "'"):
            self._string()
        elif char == "[":
            self._array(path)
        elif char == "{":
            self._inline_table(path)
        else:
            start = self.pos
            while self.pos < len(self.text) and self.text[self.pos] not in ",]}#\r\n":
                self._advance(1)
            if self.pos == start:
                raise _ScanError(f"expected a value on line {self.line}")

    def _string(self) -> None:
        quote = self._peek()
        if self.text.startswith(quote * 3, self.pos):
            self._advance(3)
            while self.pos < len(self.text):
                if quote == '"' and self._peek() == "\\":
                    self._advance(2)
                elif self.text.startswith(quote * 3, self.pos):
                    # Up to two quotes may end the content: the last three close it.
                    run = len(self.text) - len(self.text[self.pos :].lstrip(quote))
                    self._advance(min(run - self.pos, 5))
                    return
                else:
                    self._advance(1)
            raise _ScanError("unterminated multi-line string")
        self._advance(1)
        while self.pos < len(self.text) and self._peek() != "\n":
            if quote == '"' and self._peek() == "\\":
                self._advance(2)
            elif self._peek() == quote:
                self._advance(1)
                return
            else:
                self._advance(1)
        raise _ScanError(f"unterminated string on line {self.line}")

    def _array(self, path: Loc) -> None:
        self._advance(1)
        index = 0
        while True:
            self._skip(newlines=True)
            if self._peek() == "]":
                self._advance(1)
                return
            self._mark((*path, index), self.line)
            self._value((*path, index))
            self._skip(newlines=True)
            if self._peek() != ",":
                self._expect("]")
                return
            self._advance(1)
            index += 1

    def _inline_table(self, path: Loc) -> None:
        self._advance(1)
        while True:
            self._skip(newlines=True)
            if self._peek() == "}":
                self._advance(1)
                return
            self._pair(path)
            self._skip(newlines=True)
            if self._peek() != ",":
                self._expect("}")
                return
            self._advance(1)


# YAML ---------------------------------------------------------------------------


def _parse_yaml(text: str, source: str) -> tuple[object, dict[Loc, int], list[Problem]]:
    """The data, the line index, and keys given twice; a syntax error is raised with its line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source} line {mark.line + 1}" if mark is not None else source
        what = " ".join(p for p in (exc.context, exc.problem) if p)
        raise InvalidInput(f"{where}: invalid YAML: {what}") from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{source}: invalid YAML: {exc}") from None
    lines, problems = _yaml_lines(root)
    return ({} if data is None else data), lines, problems


def _yaml_lines(root: Any) -> tuple[dict[Loc, int], list[Problem]]:
    """The line of every key and list item, and the keys given twice (YAML keeps the last)."""
    lines: dict[Loc, int] = {}
    problems: list[Problem] = []
    seen: set[int] = set()
    stack: list[tuple[Any, Loc]] = [] if root is None else [(root, ())]
    while stack:
        node, path = stack.pop()
        # An aliased node (*anchor) is one object; reading it once keeps this linear.
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
                line = key_node.start_mark.line + 1
                if key in first:
                    again: Loc = (*path, key, "<again>")
                    lines[again] = line
                    problems.append(
                        (again, f"key {key!r} is given twice (first on line {first[key]})")
                    )
                    continue
                first[key] = line
                lines[(*path, key)] = line
                stack.append((value_node, (*path, key)))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[(*path, index)] = item.start_mark.line + 1
                stack.append((item, (*path, index)))
    return lines, problems
