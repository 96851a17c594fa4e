"""Reading a policy file's text: its data and the line of each key, or why it is refused.

Each refusal is an :class:`~modelbook.errors.InvalidInput` naming the line: a
TOML or YAML syntax error, tables and lists nested deeper than
:data:`~modelbook.policy_lines.MAX_DEPTH` (found before a parser recurses that
deep, and again on the data, which YAML aliases can nest many times over in
few lines), a YAML alias to a collection that contains it (data without end),
and a number too long to read. The line index comes from
:mod:`modelbook.policy_lines`.
"""

from __future__ import annotations

import re
import tomllib

import yaml  # type: ignore[import-untyped]

from .errors import InvalidInput
from .policy_lines import MAX_DEPTH, Loc, Problem, ScanError, TomlLines, TooDeep, yaml_lines


def _too_deep(source: str, line: int | None) -> InvalidInput:
    where = f"{source} line {line}" if line else source
    return InvalidInput(
        f"{where}: tables and lists nested more than {MAX_DEPTH} deep; "
        "a policy needs far fewer (tiers.high.approved[0].fields is 5 deep)"
    )


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
    except ScanError:
        # Only the line numbers in error messages are lost; the data is tomllib's.
        lines = {}
    except TooDeep as exc:
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
    lines, problems = yaml_lines(root)
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
