"""A ``like`` prefix on a tag or parameter matches by code point whichever way the page
is read, on SQLite and PostgreSQL: SQLite's GLOB reads U+FFFE and U+FFFF as U+FFFD, so
a walk (any ``--order-by``) and a gathering through the index answered differently."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelbook import Registry

ORDERS = [None, "created_at", "created_at desc", "number desc"]


@pytest.mark.parametrize(
    ("prefix", "tagged", "untagged"),
    [("\ufffe", [], [2, 1]), ("\ufffd", [2], [1]), ("\uffff", [1], [2])],
)
def test_a_prefix_near_the_top_of_the_plane_is_one_answer_in_every_order(
    registry: Registry, model_file: Path, prefix: str, tagged: list[int], untagged: list[int]
) -> None:
    for value in ("\uffffz", "\ufffdz"):
        registry.register(
            "ff", [model_file], owners=["o"], tags={"team": value}, params={"p": value}
        )
    for field in ("tags.team", "params.p"):
        for order in ORDERS:
            descending = order is None or order.endswith("desc")

            def found(
                query: str, order: str | None = order, descending: bool = descending
            ) -> list[int]:
                numbers = [v.number for v in registry.search(query, order_by=order).items]
                return numbers if descending else numbers[::-1]

            assert found(f"{field} like '{prefix}%'") == tagged, (field, order)
            assert found(f"{field} not like '{prefix}%'") == untagged, (field, order)
