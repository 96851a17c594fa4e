"""Where each key of a policy file is: the line of every table, key and list item.

tomllib and PyYAML's loader keep no positions for values, so the policy text
is read a second time to learn the line of each path
(``tiers.low.candidate[0].check``); :mod:`modelbook.policy` maps each problem
to the nearest line it knows. :class:`TomlLines` is a small scanner of TOML's
structure (tables, arrays of tables, dotted and quoted keys, every string
kind, inline tables, arrays); YAML's node marks give the lines directly.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

import yaml  # type: ignore[import-untyped]

from .errors import InvalidInput

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]

MAX_DEPTH = 32
"""How many tables and lists a policy may nest in one another below its top
level: ``tiers.high.approved[0].fields`` is 5 deep (``tiers``, ``high``, the
list ``approved``, its first entry, the list ``fields``). The limit keeps a
file of ``[[[[...`` or ``- - - -...`` from exhausting the parsers' recursion."""


def _too_deep(source: str, line: int | None) -> InvalidInput:
    where = f"{source} line {line}" if line else source
    return InvalidInput(
        f"{where}: tables and lists nested more than {MAX_DEPTH} deep; "
        "a policy needs far fewer (tiers.high.approved[0].fields is 5 deep)"
    )


class _TooDeep(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


# TOML ---------------------------------------------------------------------------

_TOML_ERROR_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_TOML_ERROR_END = re.compile(r"\s*\(at end of document\)$")


def parse_toml(text: str, source: str) -> tuple[object, dict[Loc, int], list[Problem]]:
    """The data, the line index, and no problems.

    Raises InvalidInput naming the line: a syntax error, or nesting deeper
    than :data:`MAX_DEPTH` (found by the scan, which runs first so that
    tomllib never recurses that deep).
    """
    try:
        lines = TomlLines(text).scan()
    except _ScanError:
        # Only the line numbers in error messages are lost; the data is tomllib's.
        lines = {}
    except _TooDeep as exc:
        raise _too_deep(source, exc.line) from None
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise _too_deep(source, None) from None
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
    except ValueError:
        raise _unreadable_number(text, source, "TOML") from None
    _check_depth(data, lines, source)
    return data, lines, []


_LONG_DIGITS = re.compile(r"[0-9][0-9_]{99,}")


def _unreadable_number(text: str, source: str, kind: str) -> InvalidInput:
    """A value the parser could not turn into a number (more digits than Python reads
    from text, or a date that does not exist), at the line of its long digits."""
    long = _LONG_DIGITS.search(text)
    if long is None:
        return InvalidInput(f"{source}: invalid {kind}: a value cannot be read as written")
    line = text.count("\n", 0, long.start()) + 1
    return InvalidInput(
        f"{source} line {line}: a number of {len(long[0])} digits; a policy's numbers "
        "are far smaller (a count, a number of days, a metric value)"
    )


class _ScanError(Exception):
    """The text is not the TOML the scanner expects (it parsed, so a scanner gap)."""


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class TomlLines:
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

    def _nest(self, path: Loc) -> None:
        """Refuse a table or list at ``path`` nested more than MAX_DEPTH deep (before
        the scan recurses into it, or marks each part of a long dotted key)."""
        if len(path) > MAX_DEPTH:
            raise _TooDeep(self.line)

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
        # [[a]] opens an item table of the array a: one level deeper than a.
        self._nest((*path, 0) if close == "]]" else path)
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
            # Each part is a table: refuse a key too long to fit before
            # building paths from it (quadratic in its parts).
            self._nest(tuple(parts))
            self._advance(1)

    def _pair(self, table: Loc) -> None:
        line = self.line
        path = (*table, *self._key())
        # a.b.c = ... makes the tables a and a.b.
        self._nest(path[:-1])
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
        self._nest(path)
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
        self._nest(path)
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


def parse_yaml(text: str, source: str) -> tuple[object, dict[Loc, int], list[Problem]]:
    """The data, the line index, and keys given twice.

    Raises InvalidInput naming the line: a syntax error, or nesting deeper
    than :data:`MAX_DEPTH` (found in PyYAML's events, which it reads without
    recursion, before its composer recurses into the nodes).
    """
    try:
        depth = -1  # the top level is not counted
        # The anchors of the collections still open: an alias to one of them would
        # make the collection contain itself, data without end.
        open_anchors: list[str | None] = []
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _too_deep(source, event.start_mark.line + 1)
                open_anchors.append(event.anchor)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
                open_anchors.pop()
            elif isinstance(event, yaml.AliasEvent) and event.anchor in open_anchors:
                raise _self_alias(source, event.start_mark.line + 1, event.anchor)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except RecursionError:
        raise _too_deep(source, None) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source} line {mark.line + 1}" if mark is not None else source
        what = " ".join(p for p in (exc.context, exc.problem) if p)
        raise InvalidInput(f"{where}: invalid YAML: {what}") from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{source}: invalid YAML: {exc}") from None
    except ValueError:
        raise _unreadable_number(text, source, "YAML") from None
    lines, problems = _yaml_lines(root)
    _check_depth(data, lines, source)
    return ({} if data is None else data), lines, problems


def _self_alias(source: str, line: int | None, anchor: str | None) -> InvalidInput:
    where = source if line is None else f"{source} line {line}"
    named = f" (*{anchor} inside &{anchor})" if anchor else ""
    return InvalidInput(
        f"{where}: a YAML alias refers to itself{named}: the collection would contain "
        "itself without end; write the values out instead"
    )


def _check_depth(data: object, lines: dict[Loc, int], source: str) -> None:
    """Refuse data nested deeper than MAX_DEPTH, at the line of its deepest known key,
    and data that contains itself.

    YAML aliases (``*a``) can nest a collection in itself many times over in
    few lines, so the depth is measured on the data; each object is measured
    once, which keeps shared ones linear. An object met again while it is being
    measured contains itself (``parse_yaml`` refuses that first, at its line).
    """
    height: dict[int, int] = {}
    measuring: set[int] = set()
    stack: list[tuple[object, bool]] = [(data, False)]
    while stack:
        node, done = stack.pop()
        children = _children(node)
        if done:
            height[id(node)] = 1 + max((height[id(c)] for _, c in children), default=0)
            measuring.discard(id(node))
        elif id(node) not in height:
            if id(node) in measuring:
                raise _self_alias(source, None, None)
            measuring.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for _, c in children if id(c) not in height)
    # The top level is a table of height 1 and depth 0.
    if height.get(id(data), 0) <= MAX_DEPTH + 1:
        return
    path: Loc = ()
    node = data
    while len(path) <= MAX_DEPTH:
        children = _children(node)
        if not children:
            break
        key, node = max(children, key=lambda kc: height[id(kc[1])])
        path = (*path, key)
    known = [lines[path[:end]] for end in range(len(path), 0, -1) if path[:end] in lines]
    raise _too_deep(source, known[0] if known else None)


def _children(node: object) -> list[tuple[str | int, object]]:
    if isinstance(node, dict):
        return [(str(k), v) for k, v in node.items() if isinstance(v, dict | list)]
    if isinstance(node, list):
        return [(i, v) for i, v in enumerate(node) if isinstance(v, dict | list)]
    return []


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
