"""Hypothesis strategies for query trees whose values hit the generated registry of
``query_world`` often, and for query text that is almost right."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from modelbook.query import And, Compare, Field, IsNull, Like, Member, Node, Not, Or

from .query_oracle import render
from .query_world import COMMITS, DIGESTS, LOCKS

_TEXT = {
    Field("name"): ["fraud", "churn", "rank_v2", "nope"],
    Field("stage"): ["staging", "candidate", "approved", "deployed"],
    Field("owner"): ["alice", "bob", "carol"],
    Field("task"): ["classification", "ranking"],
    Field("risk"): ["low", "medium", "high"],
    Field("created_by"): ["tester", "someone"],
    Field("alias"): ["champion", "challenger"],
    Field("tags", "team"): ["a", "b"],
    Field("tags", "region"): ["eu", "us", "north america", "it's"],
    Field("tags", "missing"): ["x"],
    Field("params", "lr"): ["0.1", "0.01"],
    Field("code.commit"): COMMITS,
    Field("code.repo"): ["git@x:ml.git"],
    Field("data.snapshot"): ["ds_2025_10_01", "ds_b", "ds_c"],
    Field("data.sha256"): [c * 64 for c in "1bc"],
    Field("features.name"): ["fs"],
    Field("features.version"): ["fs@1", "fs@2"],
    Field("run.id"): ["run-1", "run-2"],
    Field("experiment.id"): ["exp-1"],
    Field("parent"): ["fraud/1", "churn/2", "rank_v2/1"],
    Field("env", "python"): ["3.11.4", "3.12.1"],
    Field("env", "torch"): ["2.1"],
    Field("env", "image_digest"): DIGESTS,
    Field("env", "lockfile"): LOCKS,
    Field("approved_by"): ["rita", "sam"],
}
_NUMBERS = {
    Field("number"): [1.0, 3.0, 5.0, 10.0],
    Field("metrics", "auc"): [0.5, 0.7, 0.85, 0.9],
    Field("metrics", "auc", "test"): [0.5, 0.7, 0.85],
    Field("metrics", "auc", "", "region=eu"): [0.7, 0.9],
    Field("metrics", "loss"): [0.5, 0.9],
}
_OPS = ["=", "!=", "<", "<=", ">", ">="]


def _values(field: Field) -> list[Any]:
    return _TEXT.get(field) or _NUMBERS[field]


@st.composite
def _compare(draw: st.DrawFn) -> Node:
    kind = draw(st.sampled_from(["text", "number", "date", "semver", "bool"]))
    if kind == "date":
        base = datetime.now(UTC).replace(microsecond=0)
        when = base + timedelta(minutes=draw(st.integers(-120, 120)))
        return Compare(Field("created_at"), draw(st.sampled_from(_OPS)), when)
    if kind == "semver":
        value = (draw(st.integers(0, 2)), draw(st.integers(0, 6)), draw(st.integers(0, 1)))
        return Compare(Field("semver"), draw(st.sampled_from(_OPS)), value)
    if kind == "bool":
        return Compare(Field("deprecated"), draw(st.sampled_from(["=", "!="])), draw(st.booleans()))
    pool = _TEXT if kind == "text" else _NUMBERS
    field = draw(st.sampled_from(sorted(pool, key=repr)))
    # A stage or risk tier compares with = and != as written; risk's order is read as
    # a set of tiers (an `in`), and a stage has none.
    ops = ["=", "!="] if field.name in ("stage", "risk") else _OPS
    return Compare(field, draw(st.sampled_from(ops)), draw(st.sampled_from(_values(field))))


@st.composite
def _member(draw: st.DrawFn) -> Node:
    field = draw(st.sampled_from(sorted([*_TEXT, *_NUMBERS], key=repr)))
    values = draw(st.lists(st.sampled_from(_values(field)), min_size=1, max_size=3))
    return Member(field, tuple(values), draw(st.booleans()))


@st.composite
def _like(draw: st.DrawFn) -> Node:
    field = draw(st.sampled_from(sorted(_TEXT, key=repr)))
    value = draw(st.sampled_from(_values(field)))
    cut = draw(st.integers(0, len(value)))
    pattern = draw(
        st.sampled_from(
            [value[:cut] + "%", "%" + value[cut:], value[:cut] + "_" + value[cut + 1 :], "%"]
        )
    )
    return Like(field, pattern.replace("\\", "\\\\"), draw(st.booleans()))


@st.composite
def _null(draw: st.DrawFn) -> Node:
    field = draw(st.sampled_from(sorted([*_TEXT, *_NUMBERS], key=repr)))
    return IsNull(field, draw(st.booleans()))


predicates = st.one_of(_compare(), _member(), _like(), _null())


def _combine(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    pairs = st.lists(children, min_size=2, max_size=3).map(tuple)
    return st.one_of(pairs.map(And), pairs.map(Or), children.map(Not))


trees: st.SearchStrategy[Node] = st.recursive(predicates, _combine, max_leaves=6)
texts = trees.map(render)

_PIECES = [
    "and", "or", "not", "(", ")", ",", "in", "like", "is", "null", "=", "!=", "<", ">=",
    "'", '"', "{", "}", "@", "metrics.auc", "tags.", "stage", "1e999", "2025-02-30",
    "'%'", "\\", "true", "semver", "'1.2'", "\x00", "é", "--", ";", "metrics.a{x=}",
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A valid query with pieces cut, repeated, swapped or inserted."""
    text = draw(texts)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        how = draw(st.sampled_from(["cut", "insert", "dup"]))
        if how == "cut":
            text = text[:at] + text[at + draw(st.integers(1, 5)) :]
        elif how == "insert":
            text = text[:at] + " " + draw(st.sampled_from(_PIECES)) + " " + text[at:]
        else:
            text = text[:at] + text[at // 2 : at] + text[at:]
    return text
