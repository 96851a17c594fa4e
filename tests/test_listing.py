"""Listing models and versions: pages, tokens, order, time zones, and scale."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa

from modelbook import InvalidInput, NotFound, Page, Registry
from modelbook.store import schema as t

T = TypeVar("T")


def all_pages(fetch: Callable[[str | None], Page[T]]) -> list[list[T]]:
    """Every page of a listing, following the tokens to the end."""
    pages: list[list[T]] = []
    token: str | None = None
    while True:
        page = fetch(token)
        pages.append(page.items)
        token = page.next_page_token
        if token is None:
            return pages
        assert len(pages) < 1000, "pagination does not end"


def forged(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.fixture
def seven(registry: Registry, model_file: Path) -> Registry:
    """Model 'm' with versions 1..7, each of another file (semvers 1.0.0 .. 1.6.0)."""
    for n in range(7):
        model_file.write_bytes(bytes([n]) * 4096)
        registry.register("m", [model_file], owners="o", capture_environment=False)
    return registry


def test_models_are_paged_newest_first_without_gaps(registry: Registry) -> None:
    """Models come newest first, a page at a time, each exactly once."""
    names = [f"model_{i}" for i in range(7)]
    for name in names:
        registry.create_model(name, owners="o")
    pages = all_pages(lambda tok: registry.models(limit=3, page_token=tok))
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [m.name for p in pages for m in p] == names[::-1]
    single = registry.models(limit=1000)
    assert [m.name for m in single.items] == names[::-1]
    assert single.next_page_token is None


def test_exact_multiple_of_the_limit_ends_cleanly(registry: Registry) -> None:
    """When the last page is full there is no empty extra page."""
    for i in range(4):
        registry.create_model(f"m{i}", owners="o")
    pages = all_pages(lambda tok: registry.models(limit=2, page_token=tok))
    assert [len(p) for p in pages] == [2, 2]


def test_empty_registry_lists_nothing(registry: Registry) -> None:
    """No models: an empty page and no token."""
    page = registry.models()
    assert page.items == [] and page.next_page_token is None


def test_versions_newest_first_and_oldest_first(seven: Registry) -> None:
    """Versions page in either order with no duplicates or gaps."""
    desc = all_pages(lambda tok: seven.versions("m", limit=3, page_token=tok))
    assert [[v.number for v in p] for p in desc] == [[7, 6, 5], [4, 3, 2], [1]]
    asc = all_pages(lambda tok: seven.versions("m", limit=3, page_token=tok, newest_first=False))
    assert [[v.number for v in p] for p in asc] == [[1, 2, 3], [4, 5, 6], [7]]
    assert [v.semver for p in asc for v in p] == [f"1.{i}.0" for i in range(7)]


def test_new_versions_during_paging_cause_no_duplicates(seven: Registry, model_file: Path) -> None:
    """A version registered between two page requests does not shift the pages."""
    first = seven.versions("m", limit=3)
    seven.register("m", [model_file], capture_environment=False)
    rest = all_pages(
        lambda tok: seven.versions("m", limit=3, page_token=tok or first.next_page_token)
    )
    numbers = [v.number for v in first.items] + [v.number for p in rest for v in p]
    assert numbers == [7, 6, 5, 4, 3, 2, 1]


def test_tokens_are_opaque_and_tied_to_their_listing(seven: Registry, model_file: Path) -> None:
    """A token is URL-safe text, not a bare number, and only continues the listing
    that made it."""
    seven.register("n", [model_file], owners="o", capture_environment=False)
    token = seven.versions("m", limit=2).next_page_token
    assert token is not None
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token) and not token.isdigit()
    with pytest.raises(InvalidInput, match="page token"):
        seven.versions("n", page_token=token)
    with pytest.raises(InvalidInput, match="page token"):
        seven.versions("m", page_token=token, newest_first=False)
    with pytest.raises(InvalidInput, match="page token"):
        seven.models(page_token=token)
    models_token = seven.models(limit=1).next_page_token
    assert models_token is not None
    with pytest.raises(InvalidInput, match="page token"):
        seven.versions("m", page_token=models_token)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "!!!!",
        "\u00e9t\u00e9",
        forged([1, 2]),
        forged({"s": "models"}),
        forged({"s": "models", "k": "7"}),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_bad_page_tokens_are_invalid_input(seven: Registry, token: str) -> None:
    """A token that was not handed out is refused as bad input."""
    with pytest.raises(InvalidInput, match="page token"):
        seven.models(page_token=token)
    with pytest.raises(InvalidInput, match="page token"):
        seven.versions("m", page_token=token)


@pytest.mark.parametrize("key", [10**30, -(10**30)])
def test_forged_token_with_out_of_range_key_is_invalid_input(seven: Registry, key: int) -> None:
    """A token whose position is out of range is refused as bad input, on every database."""
    with pytest.raises(InvalidInput):
        seven.models(page_token=forged({"s": "models", "k": key}))
    with pytest.raises(InvalidInput):
        seven.versions("m", page_token=forged({"s": "versions:m:desc", "k": key}))


@pytest.mark.parametrize("limit", [0, -1, 1001, True, 2.5, "10"])
def test_limit_bounds(seven: Registry, limit: Any) -> None:
    """Limits outside 1..1000 (or not integers) are refused, naming the range."""
    with pytest.raises(InvalidInput, match="1 to 1000"):
        seven.versions("m", limit=limit)
    with pytest.raises(InvalidInput, match="1 to 1000"):
        seven.models(limit=limit)


def test_limit_edges_are_accepted(seven: Registry) -> None:
    """1 and 1000 are valid limits."""
    assert [v.number for v in seven.versions("m", limit=1).items] == [7]
    assert len(seven.versions("m", limit=1000).items) == 7


def test_versions_of_unknown_model_is_not_found(registry: Registry) -> None:
    """Listing versions of a model that does not exist is NotFound."""
    with pytest.raises(NotFound, match="ghost"):
        registry.versions("ghost")


def test_timestamps_are_timezone_aware(seven: Registry) -> None:
    """Every timestamp handed out carries a time zone and is close to now."""
    seven.set_alias("m", "champion", 1, reason="r")
    now = datetime.now(UTC)
    stamps = [
        seven.models().items[0].created_at,
        *(v.created_at for v in seven.versions("m").items),
        seven.aliases("m")[0].updated_at,
        seven.alias_history("m")[0].at,
    ]
    for ts in stamps:
        assert ts.tzinfo is not None and ts.utcoffset() == timedelta(0)
        assert abs(ts - now) < timedelta(minutes=5)
    created = [v.created_at for v in seven.versions("m").items]
    assert created == sorted(created, reverse=True)


# scale ------------------------------------------------------------------------------

BIG = 100_000


def _bulk_insert_versions(registry: Registry, name: str, total: int) -> None:
    """Add versions 2..total of ``name`` with SQL, cloning version 1's row."""
    with registry.db.engine.begin() as conn:
        v = t.versions.c
        first = conn.execute(
            sa.select(t.versions).join(t.models).where(t.models.c.name == name, v.number == 1)
        ).one()
        base = first._asdict()
        base.pop("id")
        now = base["created_at"]
        rows = [
            {
                **base,
                "number": n,
                "semver": f"1.{n - 1}.0",
                "semver_minor": n - 1,
                "created_at": now + n,
            }
            for n in range(2, total + 1)
        ]
        conn.execute(t.versions.insert(), rows)
        conn.execute(
            t.models.update().where(t.models.c.id == base["model_id"]).values(last_number=total)
        )
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE versions")


@pytest.fixture
def captured_sql(registry: Registry) -> Iterator[list[tuple[str, Any]]]:
    """Statements (and their parameters) the registry sends to its database."""
    seen: list[tuple[str, Any]] = []

    def listener(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        seen.append((statement, params))

    sa.event.listen(registry.db.engine, "before_cursor_execute", listener)
    yield seen
    sa.event.remove(registry.db.engine, "before_cursor_execute", listener)


def _versions_index(conn: sa.Connection) -> str:
    """Name of the unique index on versions(model_id, number) as the database calls it."""
    if conn.dialect.name == "sqlite":
        for row in conn.exec_driver_sql("PRAGMA index_list(versions)"):
            cols = [r[2] for r in conn.exec_driver_sql(f"PRAGMA index_info('{row[1]}')")]
            if cols == ["model_id", "number"]:
                return str(row[1])
        raise AssertionError("no index on versions(model_id, number)")
    return "uq_versions_model_id_number"


def _plan(conn: sa.Connection, statement: str, params: Any) -> str:
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
        return "\n".join(str(r[-1]) for r in rows)
    rows = conn.exec_driver_sql("EXPLAIN " + statement, params).all()
    return "\n".join(str(r[0]) for r in rows)


def test_first_page_of_100k_versions_uses_the_index(
    registry: Registry, model_file: Path, captured_sql: list[tuple[str, Any]]
) -> None:
    """With 100,000 versions the pages are right and each is read through the
    (model_id, number) index: no sort and no scan of the whole table."""
    for _ in range(10):
        registry.register("small", [model_file], owners="o", capture_environment=False)
    registry.register("big", [model_file], owners="o", capture_environment=False)
    started = time.monotonic()
    _bulk_insert_versions(registry, "big", BIG)
    assert time.monotonic() - started < 60

    for newest_first in (True, False):
        captured_sql.clear()
        page = registry.versions("big", limit=10, newest_first=newest_first)
        expected = list(range(BIG, BIG - 10, -1)) if newest_first else list(range(1, 11))
        assert [v.number for v in page.items] == expected
        assert [v.semver for v in page.items] == [f"1.{n - 1}.0" for n in expected]
        second = registry.versions(
            "big", limit=10, newest_first=newest_first, page_token=page.next_page_token
        )
        step = -10 if newest_first else 10
        assert [v.number for v in second.items] == [n + step for n in expected]

        queries = [(s, p) for s, p in captured_sql if "ORDER BY versions.number" in s]
        assert len(queries) == 2, "the two page queries were not seen"
        with registry.db.engine.connect() as conn:
            index = _versions_index(conn)
            for statement, params in queries:
                plan = _plan(conn, statement, params)
                # "big" holds all but 10 of the versions: walking the (number, id)
                # index, filtered by model, reads as few rows, and PostgreSQL may take it.
                assert index in plan or "ix_versions_number_id" in plan, plan
                assert "TEMP B-TREE" not in plan, plan
                assert "Sort" not in plan, plan
                assert "Seq Scan on versions" not in plan, plan
                if conn.dialect.name == "sqlite":
                    assert "SEARCH versions USING INDEX" in plan, plan

    assert registry.get_model("big").latest_version == BIG
    captured_sql.clear()
    assert registry.resolve("models:/big/latest").number == BIG
    # The newest version is found by the number its model's row holds: one index
    # lookup, not a sort of the model's 100,000 versions, whatever the statistics say.
    statement, params = captured_sql[-1]
    with registry.db.engine.connect() as conn:
        plan = _plan(conn, statement, params)
    assert "TEMP B-TREE" not in plan and "Sort" not in plan and "Bitmap" not in plan, plan
    assert [v.number for v in registry.versions("small", limit=3).items] == [10, 9, 8]


def test_a_name_prefix_page_walks_or_gathers_by_how_many_versions_match(
    registry: Registry, model_file: Path, captured_sql: list[tuple[str, Any]]
) -> None:
    """``name like 'prefix%'`` matching most versions walks them newest first and
    stops at the page (no sort of every match); matching a few gathers the
    matching models' versions. Both give the same pages as a plain filter."""
    for name in ("fraud-a", "fraud-b", "ads-a", "fraud-rare"):
        registry.register(name, [model_file], owners="o", capture_environment=False)
    for name in ("fraud-a", "fraud-b", "ads-a"):
        _bulk_insert_versions(registry, name, 3000)
    for _ in range(4):
        registry.register("fraud-rare", [model_file], owners="o", capture_environment=False)
    with registry.db.engine.begin() as conn:
        ids = conn.execute(
            sa.select(t.models.c.name, t.versions.c.number)
            .join(t.versions, t.versions.c.model_id == t.models.c.id)
            .order_by(t.versions.c.id.desc())
        ).all()
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("ANALYZE")
        else:
            conn.exec_driver_sql("ANALYZE versions")
            conn.exec_driver_sql("ANALYZE models")

    for prefix, walks in (("fraud-", True), ("fraud-r", False)):
        query = f"name like '{prefix}%'"
        captured_sql.clear()
        pages = all_pages(lambda tok, q=query: registry.search(q, limit=100, page_token=tok))
        assert [(v.model, v.number) for page in pages for v in page] == [
            (n, v) for n, v in ids if n.startswith(prefix)
        ]
        statement, params = next((s, p) for s, p in captured_sql if "ORDER BY versions.id" in s)
        with registry.db.engine.connect() as conn:
            plan = _plan(conn, statement, params)
            if walks:
                assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan
            elif conn.dialect.name == "sqlite":
                # The matching models' version ids, off their index alone.
                assert "SEARCH versions USING COVERING INDEX" in plan, plan
