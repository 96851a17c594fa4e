"""A search on ``alias`` with an alias row edited in SQL, on SQLite and PostgreSQL: the row
never makes a version match (least of all another model's), and the search names it in
``unreadable`` and goes on, as a listing does with every damaged row."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from modelbook import Registry

from .test_cli_lineage import Run
from .test_release_flow import Flow
from .test_stored_rows import edited_alias, flow, run  # noqa: F401  (fixtures)


def _found(reg: Registry, query: str, model: str | None = None) -> tuple[list[str], list[str]]:
    page = reg.search(query) if model is None else reg.versions(model, where=query)
    return [f"{v.model}/{v.number}" for v in page.items], list(page.unreadable)


@pytest.mark.parametrize(
    "query",
    [
        "alias = 'production'",
        "alias in ('production', 'nothing')",
        "alias = 'production' or name = 'nothing'",
        "alias is not null and name = 'm'",
    ],
)
def test_an_edited_alias_row_is_no_match_and_is_named(edited_alias: Flow, query: str) -> None:  # noqa: F811
    items, unreadable = _found(edited_alias.reg, query)
    assert items == [], items
    assert len(unreadable) == 1 and "models:/m@production" in unreadable[0], unreadable
    assert "edited outside modelbook" in unreadable[0]


def test_the_other_models_listing_matches_nothing_through_it(edited_alias: Flow) -> None:  # noqa: F811
    reg = edited_alias.reg
    # The row is m's: the listing of another model's versions does not name it.
    assert _found(reg, "alias = 'production'", "other") == ([], [])
    # Its versions do not hold the alias: a negated condition still matches them.
    assert _found(reg, "not alias = 'production'", "other")[0] == ["other/1"]
    items, unreadable = _found(reg, "alias = 'production'", "m")
    assert items == [] and "models:/m@production" in unreadable[0]


def test_a_search_on_another_alias_names_nothing(edited_alias: Flow) -> None:  # noqa: F811
    assert _found(edited_alias.reg, "alias = 'champion'") == ([], [])


def test_the_damage_is_named_on_the_first_page_only(edited_alias: Flow) -> None:  # noqa: F811
    reg = edited_alias.reg
    first = reg.search("alias = 'production' or name = 'm'", limit=1)
    assert first.unreadable and first.next_page_token is not None
    second = reg.search(
        "alias = 'production' or name = 'm'", limit=1, page_token=first.next_page_token
    )
    assert second.unreadable == ()


def test_the_cli_names_it_and_exits_0(
    edited_alias: Flow,  # noqa: F811
    run: Callable[..., Run],  # noqa: F811
) -> None:
    cli = run("search", "alias = 'production'", "--json")
    assert cli.code == 0, cli.err
    body = json.loads(cli.out)
    assert body["versions"] == []
    assert any("models:/m@production" in u for u in body["unreadable"])
    cli = run("search", "alias = 'production'")
    assert cli.code == 0
    assert any(
        x.startswith("unreadable: ") and "models:/m@production" in x for x in cli.err.splitlines()
    )
