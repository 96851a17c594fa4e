"""A selective search walks an index that yields its answer: the plans the databases
choose for each shape of query read no whole table of versions (SQLite's EXPLAIN QUERY
PLAN has no ``SCAN versions``; PostgreSQL's EXPLAIN, sequential scans priced out as on
a large registry, no ``Seq Scan on versions`` and the index that holds the answer).
Plans, not times: they do not change with the machine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from modelbook import Registry
from modelbook.query import parse, parse_order
from modelbook.store import query_pages, query_ways
from modelbook.store.query_shapes import prefix_range, skeleton

# (query, the index whose range holds its answer, or None where the models' lead)
SHAPES = [
    ("stage = 'deployed'", "ix_versions_stage_id"),
    ("stage in ('deployed', 'archived')", "ix_versions_stage_id"),
    ("deprecated = true", "ix_versions_deprecated_id"),
    ("created_by = 'nobody'", "ix_versions_created_by_id"),
    ("number = 3", "ix_versions_number_id"),
    ("number = 3 and tags.team like 't%'", None),
    ("created_by = 'nobody' or number = 3", "ix_versions_"),
    ("number <= 2", "ix_versions_number_id"),
    ("number in (1, 2)", "ix_versions_number_id"),
    ("created_by in ('nobody', 'nemo')", "ix_versions_created_by_id"),
    ("task is null", None),
    ("owner = 'nobody'", None),
    ("params.depth = '3'", "ix_params_key_value_version_id"),
    ("tags.team = 'nope' or name = 'nope'", "ix_version_tags_key_value_version_id"),
    ("tags.team = 'nope' or params.depth = '3'", "ix_params_key_value_version_id"),
    ("metrics.auc@test < 0.01", "ix_metrics_name_split_slice_value_version_id"),
    ("created_at < '2020-01-01'", "ix_versions_created_at"),
    ("semver >= '5.0.0'", "ix_versions_semver_major_semver_minor_semver_patch_id"),
    ("features.version like 'x%'", "ix_lineage_kind_key_value_version_id"),
    # Either of the tag's (key, value, ...) indexes holds the prefix's range.
    ("tags.team like 'x%'", "ix_version_tags_key_value_"),
    ("params.depth like '9%'", "ix_params_key_value_version_id"),
    ("tags.team like 'x\\_%' and stage = 'deployed'", None),
    ("code.repo like 'git@x:%' and stage = 'deployed'", None),
    ("tags.rare is not null", "ix_version_tags_key_value_"),
    ("params.rare is not null", "ix_params_key_value_version_id"),
    ("metrics.rare@test is not null", "ix_metrics_name_split_slice_value_version_id"),
    ("experiment.id is not null", "ix_lineage_kind_key_value_version_id"),
    ("alias = 'production'", None),
]


@pytest.fixture
def filled(registry: Registry, model_file: Path) -> Registry:
    for n in range(12):
        registry.register(
            "fraud" if n % 2 else "churn",
            [model_file],
            owners="o",
            task="classification",
            tags={"team": f"t{n % 3}"},
            metrics={"auc@test": 0.5 + n / 100},
            params={"depth": str(n % 4 + 4)},
            code={"repo": "git@x:ml.git", "commit": "a" * 40},
            features=f"fs@{n % 2}",
            capture_environment=False,
        )
    return registry


def _plan(
    conn: sa.Connection, text: str, *, after: bool, limit: int = 100, order_by: str | None = None
) -> str:
    """The plan of the page statement ``Registry.search(text, order_by=order_by)`` runs."""
    dialect = conn.dialect.name
    shape, params = skeleton(parse(text), dialect)
    params["limit"] = limit
    order = None if order_by is None else parse_order(order_by)
    way = query_ways.way(conn, shape, order, params, limit)
    if after:
        params.update(after_value=None if order is None else 10**15, after_id=10**9)
    position = (False if order is not None else None) if after else None
    statement = query_pages._versions_statement(dialect, shape, order, position, way).stmt
    compiled = statement.compile(dialect=conn.dialect)
    values = compiled.construct_params(params)
    if dialect == "sqlite":
        ordered = tuple(values[k] for k in compiled.positiontup or ())
        rows: Any = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), ordered)
        return "\n".join(str(r[-1]) for r in rows)
    conn.exec_driver_sql("SET enable_seqscan = off")
    try:
        rows = conn.exec_driver_sql("EXPLAIN " + str(compiled), values)
        return "\n".join(str(r[0]) for r in rows)
    finally:
        conn.exec_driver_sql("RESET enable_seqscan")


def _analyzed(conn: sa.Connection) -> None:
    if conn.dialect.name == "postgresql":
        # This schema's tables only: a database-wide ANALYZE meets other workers'
        # schemas being dropped (a deadlock).
        tables = ("versions", "models", "version_tags", "params", "metrics", "lineage", "aliases")
        for table in tables:
            conn.exec_driver_sql(f"ANALYZE {table}")


@pytest.mark.parametrize("after", [False, True], ids=["first", "next"])
@pytest.mark.parametrize(("text", "index"), SHAPES, ids=[s for s, _ in SHAPES])
def test_a_selective_search_reads_an_index_not_every_version(
    filled: Registry, text: str, index: str | None, after: bool
) -> None:
    with filled.db.engine.connect() as conn:
        _analyzed(conn)
        plan = _plan(conn, text, after=after)
    if filled.db.engine.dialect.name == "sqlite":
        # A scan of the partial index of deprecated versions reads only those.
        scans = [
            line
            for line in plan.splitlines()
            if line.startswith("SCAN versions") and "ix_versions_deprecated_id" not in line
        ]
        assert not scans, plan
    else:
        assert "Seq Scan on versions" not in plan, plan
    if index is not None:
        assert index in plan, plan


@pytest.mark.parametrize("after", [False, True], ids=["first", "next"])
@pytest.mark.parametrize("order_by", ["created_at desc", "created_at asc"])
@pytest.mark.parametrize("text", ["", "metrics.auc@test > 0.1", "tags.team != 'x'"])
def test_an_order_by_registration_time_walks_its_index_and_stops(
    filled: Registry, text: str, order_by: str, after: bool
) -> None:
    """``--order-by created_at``, with no condition that an index walks, reads the
    versions' ``created_at`` index in order (ties by id: SQLite's index holds the
    rowid, PostgreSQL sorts each run of equal times) and stops after the page, from
    a position too: no sort of every version. (At 100,000 versions PostgreSQL's
    planner takes this plan unprompted.)"""
    with filled.db.engine.connect() as conn:
        _analyzed(conn)
        sqlite = conn.dialect.name == "sqlite"
        if not sqlite:
            # A sort of every version, priced out as on a large registry (twelve
            # versions sort for less than an index walk costs).
            conn.exec_driver_sql("SET enable_sort = off")
        try:
            plan = _plan(conn, text, after=after, order_by=order_by)
        finally:
            if not sqlite:
                conn.exec_driver_sql("RESET enable_sort")
    assert "ix_versions_created_at" in plan, plan
    if sqlite:
        assert "TEMP B-TREE" not in plan, plan
    else:
        assert "Seq Scan on versions" not in plan, plan
        sorts = [line for line in plan.splitlines() if "Sort" in line and "Key" not in line]
        assert all("Incremental Sort" in line for line in sorts), plan


# Conditions that every version of ``filled`` meets.
MOST = (
    "created_at > '2020-01-01'",
    "metrics.auc@test > 0.1",
    "stage = 'staging'",
    "tags.team is not null",
    "params.depth is not null",
    "metrics.auc@test is not null",
    "features.name is not null",
)


def test_a_range_holding_most_versions_is_walked_newest_first(filled: Registry) -> None:
    """Where a range holds more versions than a walk newest first reads to fill the
    page, the page walks the versions' key and tests the range on each: no sort.
    (PostgreSQL's planner, which knows from its statistics how many versions a range
    holds, chooses alike.)"""
    with filled.db.engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        for text in MOST:
            shape, params = skeleton(parse(text), conn.dialect.name)
            way = query_ways.way(conn, shape, None, params, 1)
            assert way == ("walk" if sqlite else None), text
            if sqlite:
                plan = _plan(conn, text, after=False, limit=1)
                assert "TEMP B-TREE" not in plan, plan
    for text in MOST:
        pages = []
        token = None
        while True:
            page = filled.search(text, limit=1, page_token=token)
            pages += [(v.model, v.number) for v in page.items]
            token = page.next_page_token
            if token is None:
                break
        everything = [(v.model, v.number) for v in filled.search("", limit=100).items]
        assert pages == everything, text


# (a gathered shape, a shape that the same versions match, walked newest first)
SAME_ANSWER = [
    ("tags.team like 't1%'", "tags.team = 't1'"),
    ("params.depth like '5%'", "params.depth = '5'"),
    ("tags.team like 't\\_%'", "tags.team = 't_'"),
]


@pytest.mark.parametrize(("text", "same"), SAME_ANSWER, ids=[s for s, _ in SAME_ANSWER])
def test_a_gathered_search_pages_as_a_walk_does(filled: Registry, text: str, same: str) -> None:
    """Pages of two versions, where the gathering is chosen, hold the versions and the
    order of the walk's answer."""
    with filled.db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            shape, params = skeleton(parse(text), "sqlite")
            assert query_ways.way(conn, shape, None, params, 2) == "part0", text
    pages = []
    token = None
    while True:
        page = filled.search(text, limit=2, page_token=token)
        pages += [(v.model, v.number) for v in page.items]
        token = page.next_page_token
        if token is None:
            break
    assert pages == [(v.model, v.number) for v in filled.search(same, limit=100).items], text


def test_a_registrant_or_number_equality_walks_its_index_newest_first(
    filled: Registry,
) -> None:
    """``created_by = X`` and ``number = N``: their ``(column, id)`` index holds exactly
    their versions in registration order, so the page walks it back from the newest
    and stops, with no count of the matches first and no sort."""
    actor = filled.search("", limit=1).items[0].created_by
    for text, index in (
        (f"created_by = '{actor}'", "ix_versions_created_by_id"),
        ("number = 1", "ix_versions_number_id"),
    ):
        with filled.db.engine.connect() as conn:
            shape, params = skeleton(parse(text), conn.dialect.name)
            assert query_ways.way(conn, shape, None, params, 1) is None, text
            if conn.dialect.name == "sqlite":
                plan = _plan(conn, text, after=False, limit=1)
                assert index in plan and "TEMP B-TREE" not in plan, plan


def test_a_field_few_versions_have_is_gathered_and_paged_as_a_walk(filled: Registry) -> None:
    """``is not null`` on a tag, parameter, metric or lineage field that few versions
    have gathers them through its index; pages hold the versions and the order of
    the equality's walk."""
    everything = filled.search("", limit=100).items
    for v in everything[2:5]:
        filled.set_tags(v.uri, {"rare": "x"})
    with filled.db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            shape, params = skeleton(parse("tags.rare is not null"), "sqlite")
            assert query_ways.way(conn, shape, None, params, 2) == "part0"
    pages = []
    token = None
    while True:
        page = filled.search("tags.rare is not null", limit=2, page_token=token)
        pages += [(v.model, v.number) for v in page.items]
        token = page.next_page_token
        if token is None:
            break
    assert pages == [(v.model, v.number) for v in everything[2:5]]


@pytest.mark.parametrize(
    ("pattern", "bounds"),
    [
        ("abc%", ("abc", "abd")),
        ("ab\\%c%", ("ab%c", "ab%d")),
        ("ab\\_%", ("ab_", "ab`")),
        ("a_c", ("a", "b")),
        ("fs@1", ("fs@1", "fs@2")),
        ("\ud7ff%", ("\ud7ff", "\ue000")),
        ("a\U0010ffff%", ("a\U0010ffff", "b")),
    ],
)
def test_a_like_prefix_is_a_range_of_the_text_it_matches(
    pattern: str, bounds: tuple[str, str]
) -> None:
    assert prefix_range(pattern) == bounds


@pytest.mark.parametrize("pattern", ["%x", "_x", "\U0010ffff%"])
def test_a_pattern_without_a_prefix_to_raise_bounds_nothing(pattern: str) -> None:
    low, high = prefix_range(pattern)
    assert low == pattern.rstrip("%_x")
    assert high > "\U0010ffff" * 512
