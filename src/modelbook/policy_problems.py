"""How a policy's problems read: pydantic's errors in the file's words, and every
problem at the line of the file it concerns (:mod:`modelbook.policy_lines`)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence

from pydantic import ValidationError

from .display import as_written
from .policy_lines import Loc, Problem


def unknown(what: str, name: object, known: Sequence[str], owner: str = "") -> str:
    """``unknown WHAT 'NAME'OWNER (known: ...)``, with the closest known name as a guess."""
    close = difflib.get_close_matches(str(name), known, n=1)
    guess = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {what} {name!r}{owner} (known: {', '.join(known)}){guess}"


def listed_twice(items: object, loc: Loc) -> list[Problem]:
    """A problem at each item of the list ``items`` (at ``loc``) that repeats an earlier
    one: a list of names or keys means each once, and a repeat likely stands where
    another was meant (``required = ["code.commit", "code.commit"]``)."""
    if not isinstance(items, list | tuple):
        return []
    first: dict[str, int] = {}
    problems: list[Problem] = []
    for i, item in enumerate(items):
        key = as_written(item)
        if key in first:
            problems.append(
                (
                    (*loc, i),
                    f"{key} is listed twice (first as item {first[key] + 1}): list it once",
                )
            )
        else:
            first[key] = i
    return problems


def place(loc: Loc) -> str:
    """A place in the file as written: ``tiers.low.candidate[0].check``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def from_pydantic(
    exc: ValidationError,
    prefix: Loc,
    known_keys: Callable[[Loc], Sequence[str]],
    owner: str = "",
) -> list[Problem]:
    """``exc``'s errors as problems at ``prefix`` + each error's place, in the file's
    words; ``known_keys(loc)`` lists the keys the table at ``loc`` may hold, for an
    unknown key, and ``owner`` names whose keys they are (``" for check 'metric'"``)."""
    problems: list[Problem] = []
    errors = exc.errors(include_url=False)
    failed_items = {
        tuple(e["loc"])[:-1] for e in errors if e["loc"] and isinstance(e["loc"][-1], int)
    }
    for error in errors:
        rel: Loc = tuple(error["loc"])
        loc = (*prefix, *rel)
        kind = error["type"]
        if kind == "too_short" and rel in failed_items:
            # A list whose items failed is short by them only: its items say why.
            continue
        if kind == "extra_forbidden":
            where = f" for {owner}" if owner else ""
            message = unknown("key", rel[-1], known_keys(rel), where)
        elif kind == "missing":
            message = f"{place(loc)} is missing"
        elif kind in ("value_error", "assertion_error"):
            message = f"{place(loc)}: {error.get('ctx', {}).get('error', error['msg'])}"
        elif kind in _TABLE_TYPES:
            keys = ", ".join(known_keys((*rel, "")))
            got = as_written(error["input"])
            message = f"{place(loc)} must be a table of keys ({keys}), got {got}"
        elif kind in _EXPECTED:
            message = f"{place(loc)} must be {_EXPECTED[kind]}, got {as_written(error['input'])}"
        else:
            message = f"{place(loc)}: {error['msg']}, got {as_written(error['input'])}"
        problems.append((loc, message))
    return problems


# What a value of each pydantic error type should have been, in the file's words
# (pydantic's own text names Python types and classes).
_TABLE_TYPES = ("dict_type", "model_type", "model_attributes_type")
_EXPECTED = {
    "list_type": 'a list, e.g. ["a", "b"]',
    "tuple_type": 'a list, e.g. ["a", "b"]',
    "set_type": 'a list, e.g. ["a", "b"]',
    "string_type": "text in quotes",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
}


def _loc_order(loc: Loc) -> tuple[tuple[int, int, str], ...]:
    """Places in one line in file order: list items by index, keys by name."""
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in loc)


def render(problems: Sequence[Problem], lines: Mapping[Loc, int], source: str) -> str:
    """The message of a policy's problems: ``SOURCE line N: what is wrong`` each, by
    line, the line of each taken from ``lines`` (the nearest enclosing place known)."""

    def line_of(loc: Loc) -> int | None:
        for end in range(len(loc), 0, -1):
            if loc[:end] in lines:
                return lines[loc[:end]]
        return None

    located = sorted(
        {(line_of(loc) or 0, _loc_order(loc), message) for loc, message in problems},
        key=lambda p: (p[0], p[1]),
    )
    shown = dict.fromkeys((line, message) for line, _, message in located)
    return "\n".join(
        f"{source} line {line}: {message}" if line else f"{source}: {message}"
        for line, message in shown
    )
