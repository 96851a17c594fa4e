"""Query text -> typed tree (:mod:`.tree`), checked against the field catalog.

The grammar (``grammar.lark``) is parsed by lark's LALR parser, whose
callbacks build the typed nodes as each rule is reduced, so no step recurses
over the input. Every failure is an :class:`~modelbook.errors.InvalidQuery`
naming the 1-based column (an offset into the whole text) and what was
expected there.
"""

from __future__ import annotations

import difflib
import functools
from typing import Any

from lark import Token
from lark.exceptions import UnexpectedInput, VisitError
from lark.visitors import Transformer_NonRecursive

from ..domain import RISK_TIERS
from ..errors import InvalidQuery
from ..limits import MAX_KEY, MAX_SLICE
from ..stage_graph import ARCHIVED, DEFAULT_ORDER
from . import grammar
from .failures import KEYWORDS, BuildError, failure, keyword_as_field
from .fields import CATALOG, MAX_DEPTH, MAX_LOGIC, MAX_QUERY, FieldSpec, Scope, valid_fields
from .literals import PARENT_PREFIX, Written, strip_literal, unquote, value_of
from .metric_key import read_slice_item
from .tree import (
    And,
    Compare,
    Everything,
    Field,
    IsNull,
    Like,
    Member,
    Node,
    Not,
    Or,
    Order,
    logic_depth,
    simplify,
)


def _suggestion(text: str, scope: Scope) -> str:
    """`` (did you mean X?)`` for the field closest to the misspelt ``text``: a keyed
    family is matched by its name alone and keeps the key as written (``tag.team`` ->
    ``tags.team``); a field of versions named in a listing of models is said to be one."""
    head, dot, rest = text.partition(".")
    for in_scope in (True, False):
        best, score = "", 0.6  # difflib's usual cutoff for "close"
        for spec in CATALOG.values():
            if (scope in spec.scopes) != in_scope:
                continue
            if spec.keyed:
                ratio = difflib.SequenceMatcher(None, head, spec.name).ratio()
                shown = f"{spec.name}.{rest}" if dot and rest else spec.written
            else:
                ratio = difflib.SequenceMatcher(None, text, spec.name).ratio()
                shown = spec.name
            if ratio > score or (ratio == score and not best):
                best, score = shown, ratio
        if best:
            if in_scope:
                return f" (did you mean {best}?)"
            return (
                f" (did you mean {best}? it describes versions, "
                "and a listing of models takes fields of models only)"
            )
    return ""


def _lookup(token: Token, scope: Scope) -> tuple[FieldSpec, Field]:
    """The catalog entry and field a FIELD token names (without its slice)."""
    offset = int(token.start_pos or 0)
    text, _, split = str(token).partition("@")
    if text.lower() in KEYWORDS:
        raise keyword_as_field(text, offset, scope)
    spec = CATALOG.get(text)
    key: str | None = None
    if spec is not None and spec.keyed:
        raise BuildError(f"{text} needs a key: write {spec.written}", offset, (spec.written,))
    if spec is None:
        head, dot, rest = text.partition(".")
        family = CATALOG.get(head)
        if family is not None and family.keyed and dot and rest:
            spec, key = family, rest
        elif family is not None and family.keyed:
            raise BuildError(
                f"{head} needs a key: write {family.written}", offset, (family.written,)
            )
        else:
            valid = valid_fields(scope)
            maybe = _suggestion(text, scope)
            raise BuildError(
                f"unknown field {text!r}{maybe}; valid fields: {', '.join(valid)}", offset, valid
            )
    if scope not in spec.scopes:
        valid = valid_fields(scope)
        raise BuildError(
            f"{spec.written} describes versions, not models; fields of models: {', '.join(valid)}",
            offset,
            valid,
        )
    if key is not None and len(key) > MAX_KEY:
        raise BuildError(f"key of {spec.name} is longer than {MAX_KEY} characters", offset)
    if split and spec.name != "metrics":
        raise BuildError(f"only metrics have a split (@SPLIT), not {spec.written}", offset)
    if len(split) > 64:
        raise BuildError("a metric's split is at most 64 characters", offset)
    return spec, Field(spec.name, key, split, "", offset + 1)


#: The stages of the default policy; a registry passes those of the policy in force.
DEFAULT_STAGES: tuple[str, ...] = (*DEFAULT_ORDER, ARCHIVED)


class _Build(Transformer_NonRecursive):  # type: ignore[type-arg]
    """Builds typed nodes as the parser reduces each rule."""

    def __init__(self, scope: Scope, stages: tuple[str, ...]) -> None:
        super().__init__()
        self.scope = scope
        self.enums = {"stage": ("a stage", stages), "risk": ("a risk tier", RISK_TIERS)}
        self.depth: dict[int, int] = {}

    def _one_of(self, field: Field, value: object, lit: Written) -> None:
        """Refuse a value that an enumerated field never holds (``stage = 'bogus'``):
        the query would find nothing, silently."""
        known = self.enums.get(field.name)
        if known is not None and value not in known[1]:
            what, values = known
            close = difflib.get_close_matches(str(value), values, n=1)
            maybe = f" (did you mean {close[0]!r}?)" if close else ""
            raise BuildError(
                f"{value!r} is not {what}{maybe}: {field.text} is one of {', '.join(values)}",
                lit.offset,
                tuple(repr(v) for v in values),
            )

    def _nest(self, node: Node, child: Node, token: Token) -> Node:
        """``node`` (``child`` under one more ``not`` or parenthesis, at ``token``)."""
        depth = 1 + self.depth.get(id(child), 0)
        if depth > MAX_DEPTH:
            raise BuildError(
                f"the query nests deeper than {MAX_DEPTH} levels of not and parentheses",
                int(token.start_pos or 0),
            )
        self.depth[id(node)] = depth
        return node

    def _widest(self, node: Node, children: list[Node]) -> Node:
        self.depth[id(node)] = max(self.depth.get(id(c), 0) for c in children)
        return node

    # fields and values

    def field(self, children: list[Any]) -> tuple[FieldSpec, Field]:
        spec, field = _lookup(children[0], self.scope)
        if len(children) > 1:
            if spec.name != "metrics":
                raise BuildError(
                    f"only metrics have a slice ({{K=V}}), not {spec.written}", field.column - 1
                )
            field = Field(field.name, field.key, field.split, children[1], field.column)
        return spec, field

    def slice(self, items: list[tuple[str, str, int]]) -> str:
        seen: dict[str, str] = {}
        for key, value, offset in items:
            if key in seen:
                raise BuildError(f"slice key {key!r} is given twice", offset)
            seen[key] = value
        text = ",".join(f"{k}={v}" for k, v in sorted(seen.items()))
        if len(text) > MAX_SLICE:
            raise BuildError(f"a slice is at most {MAX_SLICE} characters as K=V,...", items[0][2])
        return text

    def slice_item(self, children: list[Token]) -> tuple[str, str, int]:
        return read_slice_item(children)

    def value(self, children: list[Token]) -> Written:
        return Written(children[0])

    # predicates

    def compare(self, children: list[Any]) -> Node:
        (spec, field), op, lit = children
        if spec.kind == "bool" and op not in ("=", "!="):
            raise BuildError(
                f"{field.text} is true or false: compare it with = or !=", op.start_pos
            )
        value = value_of(spec, field, lit)
        if field.name in self.enums:
            self._one_of(field, value, lit)
            if op not in ("=", "!="):
                return self._ordered(field, str(op), str(value), op)
        return Compare(field, str(op), value)  # type: ignore[arg-type]

    def _ordered(self, field: Field, op: str, value: str, token: Token) -> Node:
        """``risk`` compared in the order of the tiers (low < medium < high), as the
        set of tiers on that side; a stage has no such order (a policy's stages need
        not be a line), so it is refused, naming the set to write instead."""
        if field.name != "risk":
            raise BuildError(
                f"stages have no order: compare {field.text} with =, != or in (...), "
                f"e.g. {field.text} in ('approved', 'deployed')",
                int(token.start_pos or 0),
            )
        at = RISK_TIERS.index(value)
        side = {"<": range(at), "<=": range(at + 1), ">": range(at + 1, 3), ">=": range(at, 3)}
        tiers = tuple(RISK_TIERS[i] for i in side[op])
        if not tiers:
            raise BuildError(
                f"no risk tier is {'below' if op == '<' else 'above'} {value!r}: "
                f"the tiers are {', '.join(RISK_TIERS)}, in that order",
                int(token.start_pos or 0),
            )
        return Member(field, tiers, False)

    def member(self, children: list[Any]) -> Node:
        spec, field = children[0]
        negated = isinstance(children[1], Token) and children[1].type == "NOT"
        lits = children[2:] if negated else children[1:]
        values = []
        for lit in lits:
            values.append(value_of(spec, field, lit))
            self._one_of(field, values[-1], lit)
        return Member(field, tuple(values), negated)

    def like(self, children: list[Any]) -> Node:
        spec, field = children[0]
        negated = len(children) == 3
        lit: Written = children[-1]
        if spec.kind not in ("text", "semver"):
            raise BuildError(f"like matches text; {field.text} is not text", lit.offset)
        if lit.type != "STRING":
            raise BuildError(
                "like takes a quoted pattern, e.g. 'fraud%'", lit.offset, ("a quoted text",)
            )
        pattern = unquote(Token("STRING", lit.text))
        if "\x00" in pattern:
            raise BuildError("a text may not hold NUL", lit.offset)
        escaped = False
        for char in pattern:
            escaped = not escaped and char == "\\"
        if escaped:
            raise BuildError(
                "the pattern ends with a lone \\: write \\\\ for a backslash", lit.offset
            )
        if field.name == "parent":
            # The same spellings as =: 'models:/fraud/%' is 'fraud/%'.
            pattern = strip_literal(pattern, PARENT_PREFIX)
        return Like(field, pattern, negated)

    def null(self, children: list[Any]) -> Node:
        spec, field = children[0]
        if spec.kind == "bool":
            raise BuildError(
                f"{field.text} is always true or false, never null: compare it with = or !=",
                field.column - 1,
            )
        return IsNull(field, negated=len(children) == 2)

    # logic

    def negate(self, children: list[Any]) -> Node:
        return self._nest(Not(children[1]), children[1], children[0])

    def group(self, children: list[Any]) -> Node:
        return self._nest(children[1], children[1], children[0])

    def conjunction(self, children: list[Node]) -> Node:
        items = tuple(i for c in children for i in (c.items if isinstance(c, And) else (c,)))
        return self._widest(And(items), children)

    def disjunction(self, children: list[Node]) -> Node:
        items = tuple(i for c in children for i in (c.items if isinstance(c, Or) else (c,)))
        return self._widest(Or(items), children)

    def order(self, children: list[Any]) -> Order:
        spec, field = self.field([c for c in children if not _is_direction(c)])
        if not spec.orderable:
            orderable = ", ".join(f.written for f in CATALOG.values() if f.orderable)
            raise BuildError(
                f"cannot order by {field.text}: order by a number or a date ({orderable})",
                field.column - 1,
            )
        last = children[-1]
        return Order(field, _is_direction(last) and str(last).lower() == "desc")


def _is_direction(child: Any) -> bool:
    return isinstance(child, Token) and child.type == "DIRECTION"


def _run(text: object, start: str, scope: Scope, stages: tuple[str, ...]) -> Any:
    if not isinstance(text, str):
        raise InvalidQuery(f"a query is text, not {type(text).__name__}", column=1)
    if len(text) > MAX_QUERY:
        raise InvalidQuery(
            f"the query is {len(text)} characters long; the limit is {MAX_QUERY}",
            column=MAX_QUERY + 1,
        )
    _check_encodable(text)
    try:
        tree = grammar.parser("query").parse(text, start=start)
        built = _Build(scope, stages).transform(tree)
    except UnexpectedInput as exc:
        raise failure(text, exc, scope) from None
    except VisitError as exc:
        inner = exc.orig_exc
        if isinstance(inner, BuildError):
            raise InvalidQuery(
                f"invalid query at column {inner.offset + 1}: {inner.message}",
                column=inner.offset + 1,
                expected=inner.expected,
            ) from None
        raise
    if start == "start":
        _check_logic(built)
    return built


def _check_encodable(text: str) -> None:
    """Refuse text that is not Unicode (a lone surrogate, e.g. from an undecodable byte
    on a command line): no database can bind it."""
    if text.isascii():
        return
    for offset, char in enumerate(text):
        if "\ud800" <= char <= "\udfff":
            raise InvalidQuery(
                f"invalid query at column {offset + 1}: {char!r} is not a character "
                "(the query is not valid UTF-8 text)",
                column=offset + 1,
                expected=("valid UTF-8 text",),
            )


def _check_logic(node: Node) -> None:
    """Refuse a query whose ``and``/``or``/``not`` still nest deeper than
    MAX_LOGIC once simplified as compiled (SQLite's parser reads only so deep)."""
    depth, column = logic_depth(simplify(node))
    if depth > MAX_LOGIC:
        raise InvalidQuery(
            f"invalid query at column {max(column, 1)}: and, or and not nest {depth} deep "
            f"here; the limit is {MAX_LOGIC} (not not X is X, and a and (b and c) is "
            "a and b and c)",
            column=max(column, 1),
        )


@functools.lru_cache(maxsize=512)
def parse(text: str, scope: Scope = "version", stages: tuple[str, ...] | None = None) -> Node:
    """The typed tree of a query over versions (``scope="version"``) or models.

    ``stages``: the stages ``stage`` may be compared with (a registry passes its
    policy's; None: the default policy's). Blank text is :class:`~.tree.Everything`.
    Raises InvalidQuery with the column of the mistake and what was expected there.
    """
    if isinstance(text, str) and not text.strip():
        return Everything()
    return _run(text, "start", scope, stages or DEFAULT_STAGES)  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=128)
def parse_order(text: str) -> Order:
    """``FIELD [asc|desc]`` on a number or date field; raises InvalidQuery."""
    return _run(text, "order", "version", DEFAULT_STAGES)  # type: ignore[no-any-return]
