"""The typed tree of a query: what the parser builds and every back end reads.

Values are already checked against their field's kind: a text field holds
``str``, a number field ``float`` (``int`` for ``number``), a date field a
timezone-aware ``datetime`` in UTC, ``deprecated`` a ``bool``, and ``semver``
a ``(major, minor, patch)`` tuple. Positions (``column``) are for error
messages only and take no part in equality.

Meaning, shared by the SQL compiler and any other evaluator:

- A comparison, ``in`` or ``like`` holds when the field has a value that
  satisfies it; for a field with several values (``owner``, ``alias``,
  ``data.snapshot``, ``parent``, ``approved_by``) when any of them does.
- ``!=``, ``not in`` and ``not like`` hold when the field has a value and
  none of its values matches: a missing field matches neither ``=`` nor ``!=``.
- ``not`` negates a whole condition, so ``not tags.team = 'a'`` also holds
  for versions with no ``team`` tag. ``is null`` holds when the field has no
  value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Value = str | float | int | bool | datetime | tuple[int, int, int]
Op = Literal["=", "!=", "<", "<=", ">", ">="]


@dataclass(frozen=True)
class Field:
    """A field as the catalog names it (``tags``, ``metrics``, ``stage`` ...).

    ``key``: the tag, parameter, environment key or metric name of a keyed
    field, else None. ``split`` and ``slice`` (the canonical ``k=v,k2=v2``
    text, keys sorted) select a metric's row; both are ``""`` when absent.
    """

    name: str
    key: str | None = None
    split: str = ""
    slice: str = ""
    column: int = field(default=0, compare=False)

    @property
    def text(self) -> str:
        """The field as it would be written in a query."""
        out = self.name if self.key is None else f"{self.name}.{self.key}"
        if self.split:
            out += f"@{self.split}"
        if self.slice:
            out += "{" + ",".join(_slice_item(i) for i in self.slice.split(",")) + "}"
        return out


# A slice value the grammar reads without quotes (its SLICE_WORD).
_BARE = re.compile(r"[^\s{}=,'\"]+")


def _slice_item(item: str) -> str:
    """One ``k=v`` of a stored slice as a query writes it: a value with a space or a
    quote is quoted (``region='north america'``). A stored value holds no ``{ } = ,``
    (registration refuses them), so the stored text splits exactly."""
    key, _, value = item.partition("=")
    if _BARE.fullmatch(value):
        return item
    return f"{key}='" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Compare:
    field: Field
    op: Op
    value: Value


@dataclass(frozen=True)
class Member:
    """``field in (values)``; ``negated`` for ``not in``."""

    field: Field
    values: tuple[Value, ...]
    negated: bool = False


@dataclass(frozen=True)
class Like:
    """``field like pattern``: ``%`` any run of characters, ``_`` one, ``\\`` escapes."""

    field: Field
    pattern: str
    negated: bool = False


@dataclass(frozen=True)
class IsNull:
    """``field is null``; ``negated`` for ``is not null``."""

    field: Field
    negated: bool = False


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class Everything:
    """The empty query: every item."""


Predicate = Compare | Member | Like | IsNull
Node = Predicate | And | Or | Not | Everything


@dataclass(frozen=True)
class Order:
    """``--order-by FIELD [asc|desc]``; ties are broken newest registration first."""

    field: Field
    descending: bool = False


def conjuncts(node: Node) -> tuple[Node, ...]:
    """The top-level conditions that must all hold (``a and (b and c)`` -> a, b, c)."""
    if isinstance(node, And):
        return tuple(c for item in node.items for c in conjuncts(item))
    if isinstance(node, Everything):
        return ()
    return (node,)


def fields_of(node: Node) -> tuple[Field, ...]:
    """Every field the query reads, in order of appearance."""
    if isinstance(node, And | Or):
        return tuple(f for item in node.items for f in fields_of(item))
    if isinstance(node, Not):
        return fields_of(node.item)
    if isinstance(node, Everything):
        return ()
    return (node.field,)


def simplify(node: Node) -> Node:
    """The same condition with less nesting, as compiled: ``not not X`` is ``X``,
    ``not X is null`` is ``X is not null``, and an ``and`` (``or``) inside an ``and``
    (``or``) merges into it.

    Sound under the compiler's two-valued logic (a missing value is false, and ``not``
    negates a whole condition): every node means the same after as before.
    """
    if isinstance(node, Not):
        inner = node.item
        negations = 1
        while isinstance(inner, Not):
            inner, negations = inner.item, negations + 1
        item = simplify(inner)
        if negations % 2 == 0:
            return item
        if isinstance(item, IsNull):
            return IsNull(item.field, not item.negated)
        return Not(item)
    if isinstance(node, And | Or):
        kind = type(node)
        items: list[Node] = []
        for child in node.items:
            part = simplify(child)
            items.extend(part.items if isinstance(part, kind) else (part,))
        return items[0] if len(items) == 1 else kind(tuple(items))
    return node


def logic_depth(node: Node) -> tuple[int, int]:
    """(How many ``and``/``or``/``not`` nest on the deepest path of ``node``, the
    column of the first field at its end; 0 when the query has no field)."""
    if isinstance(node, Not):
        depth, column = logic_depth(node.item)
        return depth + 1, column
    if isinstance(node, And | Or):
        depth, column = max(
            (logic_depth(i) for i in node.items), key=lambda dc: dc[0], default=(0, 0)
        )
        return depth + 1, column
    if isinstance(node, Everything):
        return 0, 0
    return 0, node.field.column
