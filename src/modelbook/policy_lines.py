"""Where each key of a policy file is: the line of every table, key and list item.

tomllib and PyYAML's loader keep no positions for values, so the policy text
is read a second time to learn the line of each path
(``tiers.low.candidate[0].check``); :mod:`modelbook.policy_problems` maps each problem
to the nearest line it knows. :class:`TomlLines` is a small scanner of TOML's
structure (tables, arrays of tables, dotted and quoted keys, every string
kind, inline tables, arrays); YAML's node marks give the lines directly
(:func:`yaml_lines`). Reading the text itself is :mod:`modelbook.policy_parse`.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

import yaml  # type: ignore[import-untyped]

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]

MAX_DEPTH = 32
"""How many tables and lists a policy may nest in one another below its top
level: ``tiers.high.approved[0].fields`` is 5 deep (``tiers``, ``high``, the
list ``approved``, its first entry, the list ``fields``). The limit keeps a
file of ``[[[[...`` or ``- - - -...`` from exhausting the parsers' recursion."""


class TooDeep(Exception):
    """A table or list nested deeper than MAX_DEPTH, met by the scan on ``line``."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


class ScanError(Exception):
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
            raise ScanError(f"expected {token!r} on line {self.line}")
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
            raise TooDeep(self.line)

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
                    raise ScanError(f"expected a key on line {self.line}")
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
                raise ScanError(f"expected a value on line {self.line}")

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
            raise ScanError("unterminated multi-line string")
        self._advance(1)
        while self.pos < len(self.text) and self._peek() != "\n":
            if quote == '"' and self._peek() == "\\":
                self._advance(2)
            elif self._peek() == quote:
                self._advance(1)
                return
            else:
                self._advance(1)
        raise ScanError(f"unterminated string on line {self.line}")

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


def yaml_lines(root: Any) -> tuple[dict[Loc, int], list[Problem]]:
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
