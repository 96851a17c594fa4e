"""The query language: text -> typed tree, and the catalog of fields (no I/O).

``parse(text)`` gives the tree of a query over versions (``scope="model"``
for a listing of models), ``parse_order("metrics.auc desc")`` an ordering.
The SQL compiler lives in :mod:`modelbook.store.query`; the language is
described in ``docs/search.md``. The parser (and lark) load on the first
parse: reading the tree or the catalog costs no grammar.
"""

from __future__ import annotations

from ..errors import InvalidQuery
from .fields import CATALOG, MAX_DEPTH, MAX_LOGIC, MAX_QUERY, FieldSpec, Scope, valid_fields
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


def parse(text: str, scope: Scope = "version", stages: tuple[str, ...] | None = None) -> Node:
    """The typed tree of a query over versions (``scope="version"``) or models.

    ``stage`` compares with the ``stages`` given (a registry passes those of its
    policy; None: the default stages), ``risk`` with low, medium and high: any
    other value is refused. Blank text is :class:`Everything`. Raises
    InvalidQuery with the 1-based column of the mistake and what was expected
    there.
    """
    from .parser import parse as parse_text

    _text(text)
    return parse_text(text, scope, None if stages is None else tuple(stages))


def parse_order(text: str, what: str = "order_by") -> Order:
    """``FIELD [asc|desc]`` on a number or date field; raises InvalidQuery naming
    ``what`` (``order_by``; the CLI passes ``--order-by``) and the column within
    ``text``, not the query's."""
    from .parser import parse_order as parse_order_text

    try:
        _text(text)
        return parse_order_text(text)
    except InvalidQuery as exc:
        message = exc.message
        for prefix in ("invalid query at column", "a query is text", "the query is"):
            if message.startswith(prefix):
                rest = message[len(prefix) :]
                message = {
                    "invalid query at column": f"invalid {what} at column",
                    "a query is text": f"{what} is text",
                    "the query is": f"{what} is",
                }[prefix] + rest
                break
        else:
            message = f"invalid {what}: {message}"
        message = message.replace("the end of the query", f"the end of {what}")
        raise InvalidQuery(message, column=exc.column, expected=exc.expected) from None


def _text(text: object) -> None:
    if not isinstance(text, str):
        raise InvalidQuery(f"a query is text, not {type(text).__name__}", column=1)


__all__ = [
    "CATALOG",
    "MAX_DEPTH",
    "MAX_LOGIC",
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
    "Scope",
    "Value",
    "conjuncts",
    "parse",
    "parse_order",
    "valid_fields",
]
