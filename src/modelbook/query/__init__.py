"""The query language: text -> typed tree, and the catalog of fields (no I/O).

``parse(text)`` gives the tree of a query over versions (``scope="model"``
for a listing of models), ``parse_order("metrics.auc desc")`` an ordering.
The SQL compiler lives in :mod:`modelbook.store.query`; the language is
described in ``docs/search.md``.
"""

from __future__ import annotations

from .fields import CATALOG, FieldSpec, valid_fields
from .parser import MAX_DEPTH, MAX_QUERY, parse, parse_order
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
    Value,
    conjuncts,
)

__all__ = [
    "CATALOG",
    "MAX_DEPTH",
    "MAX_QUERY",
    "And",
    "Compare",
    "Everything",
    "Field",
    "FieldSpec",
    "IsNull",
    "Like",
    "Member",
    "Node",
    "Not",
    "Or",
    "Order",
    "Value",
    "conjuncts",
    "parse",
    "parse_order",
    "valid_fields",
]
