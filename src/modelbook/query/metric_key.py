"""A metric key as registered (``auc@test{region='north america'}``), read by the
query language's own grammar started at its ``metric_key`` rule, and the reading of
one ``KEY=VALUE`` item of a slice, which a query's ``metrics.`` field shares.

:func:`parse_metric_key` is what :func:`modelbook.validation.metric` calls; it
raises InvalidInput rather than InvalidQuery, since a metric key is not a query.
"""

from __future__ import annotations

from typing import Any

from lark import Token
from lark.exceptions import UnexpectedInput, VisitError
from lark.visitors import Transformer_NonRecursive

from ..errors import InvalidInput
from ..limits import MAX_KEY
from . import grammar
from .failures import BuildError
from .literals import unquote


def read_slice_item(children: list[Token]) -> tuple[str, str, int]:
    """``(key, value, offset of the key)`` of a slice's ``KEY=VALUE`` item, the value
    unquoted and stripped. A value that is empty or holds ``{ } = ,`` or NUL, or a key
    too long, is refused: a query finds a registered metric only if both read its
    slice by one rule."""
    key, raw = children
    value = (unquote(raw) if raw.type == "STRING" else str(raw)).strip()
    offset = int(raw.start_pos or 0)
    if not value or any(c in value for c in "{}=,\x00"):
        raise BuildError(f"slice value {value!r} is empty or holds one of {{ }} = ,", offset)
    if len(key) > MAX_KEY:
        raise BuildError(f"slice key is longer than {MAX_KEY} characters", int(key.start_pos or 0))
    return str(key), value, int(key.start_pos or 0)


class _MetricBuild(Transformer_NonRecursive):  # type: ignore[type-arg]
    """A metric key's parts; each slice item is checked as a query checks it."""

    def slice_item(self, children: list[Token]) -> tuple[str, str, int]:
        return read_slice_item(children)

    def slice(self, items: list[tuple[str, str, int]]) -> dict[str, str]:
        seen: dict[str, str] = {}
        for key, value, offset in items:
            if key in seen:
                raise BuildError(f"slice key {key!r} is given twice", offset)
            seen[key] = value
        return seen

    def metric_key(self, children: list[Any]) -> tuple[str, str | None, dict[str, str]]:
        name, _, split = str(children[0]).partition("@")
        return name, split or None, children[1] if len(children) > 1 else {}


_METRIC_FORMS = (
    "write NAME, NAME@SPLIT or NAME@SPLIT{KEY=VALUE,...}, a slice value with spaces "
    "or quotes in quotes as in a query ({region='north america'})"
)


def parse_metric_key(text: str) -> tuple[str, str | None, dict[str, str]]:
    """``(name, split or None, slice)`` of a metric key such as
    ``auc@test{region='north america'}``, read by the query language's own rules
    (a ``metrics.`` field of a query without its prefix). Raises InvalidInput naming
    the 1-based column of the mistake."""
    try:
        tree = grammar.parser("metric").parse(text)
        return _MetricBuild().transform(tree)  # type: ignore[no-any-return]
    except UnexpectedInput as exc:
        column = int(getattr(exc, "column", 0) or 0)
        if column < 1 or getattr(getattr(exc, "token", None), "type", "") == "$END":
            column = len(text) + 1
        raise InvalidInput(f"invalid metric {text!r} at column {column}: {_METRIC_FORMS}") from None
    except VisitError as exc:
        inner = exc.orig_exc
        if isinstance(inner, BuildError):
            raise InvalidInput(
                f"invalid metric {text!r} at column {inner.offset + 1}: {inner.message}"
            ) from None
        raise
