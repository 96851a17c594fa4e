"""A query's shape and its values: the values of a typed tree taken out as bind slots,
so that one statement serves every query of a shape, and each value as the store
binds it (times as integer microseconds, ``like`` patterns as SQLite's GLOB, a
prefix's byte range for PostgreSQL's index)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeGuard

import sqlalchemy as sa

from ..query.fields import CATALOG
from ..query.tree import (
    And,
    Compare,
    Everything,
    IsNull,
    Like,
    Member,
    Node,
    Not,
    Or,
    Value,
    simplify,
)
from .rows import to_us

#: Lineage fields: (kind, key) of their rows in ``lineage``.
LINEAGE = {
    "code.commit": ("code", "commit"),
    "code.repo": ("code", "repo"),
    "data.snapshot": ("data", "snapshot"),
    "data.sha256": ("data", "sha256"),
    "features.name": ("features", "name"),
    "features.version": ("features", "ref"),
    "run.id": ("run", "id"),
    "experiment.id": ("experiment", "id"),
    "parent": ("parent", "version"),
}
#: Fields whose ``like`` prefix is a range of a ``(key, value, version_id)`` index
#: on both databases (a lineage field's is on PostgreSQL; SQLite's GLOB reads its own).
RANGED = frozenset({"tags", "params"})
_BIND_TYPES: dict[str, Any] = {
    "text": sa.String(),
    "number": sa.Float(),
    "date": sa.BigInteger(),
    "integer": sa.BigInteger(),
}
# Whole numbers a version number is compared with as an integer (below 2**53, a float
# holds each exactly).
_WHOLE = 2**53


@dataclass(frozen=True)
class Slot:
    """A value of a query, bound at execution under ``name`` as ``kind``.

    A statement is built from a query whose values are slots (its
    :func:`skeleton`), so that one statement serves every query of its shape.
    """

    name: str
    kind: str

    def bind(self) -> Any:
        # Typed as the field's kind, never as the column: `number > 2.5` must not
        # become `number > 3` through an integer cast.
        return sa.bindparam(self.name, type_=_BIND_TYPES[self.kind])


def skeleton(node: Node, dialect: str) -> tuple[Node, dict[str, Any]]:
    """``node`` with its text, number and date values replaced by :class:`Slot`s (the
    key of its statement), and the values by bind name, as the store keeps them:
    times as integer microseconds, a ``like`` pattern as SQLite's GLOB."""
    values: dict[str, Any] = {}
    # Less nesting compiles to shallower SQL (SQLite's parser stack is small).
    node = simplify(node)

    def slot(value: Any, kind: str) -> Any:
        name = f"q{len(values)}"
        values[name] = to_us(value) if isinstance(value, datetime) else value
        return Slot(name, kind)

    def walk(item: Node) -> Node:
        if isinstance(item, And | Or):
            return type(item)(tuple(walk(i) for i in item.items))
        if isinstance(item, Not):
            return Not(walk(item.item))
        if isinstance(item, Everything):
            return item
        if isinstance(item, Like):
            pattern = glob(item.pattern) if dialect == "sqlite" else item.pattern
            like = Like(item.field, slot(pattern, "text"), item.negated)
            lineage = dialect == "postgresql" and item.field.name in LINEAGE
            if lineage or item.field.name in RANGED:
                # PostgreSQL reads a LIKE prefix off an index only for a pattern it
                # sees when planning, and SQLite a GLOB's only for a literal one; a
                # byte range of bound values serves every plan.
                name = like.pattern.name  # type: ignore[attr-defined]
                values[f"{name}_lo"], values[f"{name}_hi"] = prefix_range(item.pattern)
            return like
        kind = CATALOG[item.field.name].kind if not isinstance(item, IsNull) else "bool"
        if kind in ("bool", "semver"):
            return item
        if isinstance(item, Compare):
            value = item.value
            if item.field.name == "number" and _whole(value):
                # Bound as an integer, the column's own type: PostgreSQL compares an
                # integer with a float as floats, which no index of the column holds.
                return Compare(item.field, item.op, slot(int(value), "integer"))
            return Compare(item.field, item.op, slot(value, kind))
        assert isinstance(item, Member)
        if item.field.name == "number" and all(_whole(v) for v in item.values):
            whole = tuple(slot(int(v), "integer") for v in item.values)  # type: ignore[arg-type]
            return Member(item.field, whole, item.negated)
        return Member(item.field, tuple(slot(v, kind) for v in item.values), item.negated)

    return walk(node), values


def _whole(value: object) -> TypeGuard[int | float]:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return float(value).is_integer() and abs(value) < _WHOLE


# Above every lineage, tag or parameter value (at most 512 characters) in byte order.
_ABOVE_ALL = "\U0010ffff" * 513


def prefix_range(pattern: str) -> tuple[str, str]:
    """Bounds ``[lo, hi)`` in byte (code point) order of every text ``pattern``
    matches: its literal prefix and the first text after all that begin so."""
    prefix: list[str] = []
    escaped = False
    for char in pattern:
        if escaped:
            prefix.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in "%_":
            break
        else:
            prefix.append(char)
    lo = "".join(prefix)
    while prefix:
        point = ord(prefix.pop()) + 1
        if point <= 0x10FFFF:
            # The next code point a text can hold (PostgreSQL's text holds no surrogate).
            prefix.append(chr(0xE000 if 0xD800 <= point <= 0xDFFF else point))
            return lo, "".join(prefix)
    return lo, _ABOVE_ALL


def sql_value(value: Value) -> Any:
    """A slot's bind, or a value as the store keeps it (times as integer microseconds)."""
    if isinstance(value, Slot):
        return value.bind()
    return to_us(value) if isinstance(value, datetime) else value


def glob(pattern: str) -> str:
    """A ``like`` pattern as a SQLite GLOB (case-sensitive, as PostgreSQL's LIKE)."""
    out: list[str] = []
    escaped = False
    for char in pattern:
        if escaped:
            out.append(f"[{char}]" if char in "*?[" else char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        else:
            out.append(f"[{char}]" if char in "*?[" else char)
    return "".join(out)
