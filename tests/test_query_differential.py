"""Generated queries against the generated registry, on SQLite and PostgreSQL: the SQL
compiler's answer is the plain Python reading of the same tree, in the same order, in
any order-by; and mangled query text, parsed, compiled and run, raises nothing but
InvalidQuery (never a database error)."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelbook import InvalidQuery, Version
from modelbook.query import Node, parse

from .query_oracle import matching, render, values
from .query_strategies import mutated, trees
from .query_world import World, world_fixture  # noqa: F401  (the module's fixture)
from .test_query_search import every_page

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
ORDERS = [
    None,
    "metrics.auc desc",
    "metrics.auc asc",
    "number desc",
    "created_at asc",
    "created_at desc",
]


def _ordered(world: World, tree: Node, order_by: str | None) -> list[tuple[str, int]]:
    """The oracle's answer in the order ``order_by`` asks: versions without the metric
    last, ties by registration in the order's direction."""
    expected = matching(tree, world.versions, world.facts)
    if order_by is None:
        return expected
    field_text, direction = order_by.split()
    desc = direction == "desc"
    by_key = {(v.model, v.number): v for v in world.versions}
    rank = {(v.model, v.number): i for i, v in enumerate(reversed(world.versions))}

    def key(pair: tuple[str, int]) -> tuple[bool, float, int]:
        v: Version = by_key[pair]
        found = values(parse(f"{field_text} is null").field, v, world.facts[pair])  # type: ignore[union-attr]
        value = found[0] if found else math.nan
        number = value.timestamp() if hasattr(value, "timestamp") else float(value)
        missing = not found
        return (missing, -number if desc else number, -rank[pair] if desc else rank[pair])

    return sorted(expected, key=key)


@SETTINGS
@given(tree=trees, order_by=st.sampled_from(ORDERS), limit=st.sampled_from([3, 1000]))
def test_the_compiler_agrees_with_a_plain_reading(
    world: World, tree: Node, order_by: str | None, limit: int
) -> None:
    text = render(tree)
    got = every_page(
        lambda t: world.registry.search(text, order_by=order_by, limit=limit, page_token=t)
    )
    assert [(v.model, v.number) for v in got] == _ordered(world, parse(text), order_by), text


@SETTINGS
@given(text=st.one_of(mutated(), st.text(max_size=40)))
def test_mangled_queries_raise_only_invalid_query(world: World, text: str) -> None:
    for run in (
        lambda: world.registry.search(text, limit=5),
        lambda: world.registry.search(text, order_by="metrics.auc desc", limit=5),
        lambda: world.registry.versions("fraud", where=text, limit=5),
        lambda: world.registry.models(where=text, limit=5),
    ):
        try:
            run()
        except InvalidQuery as exc:
            assert 1 <= exc.column <= len(text) + 1
