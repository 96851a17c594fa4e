"""The query language's parsers load from tables generated from ``grammar.lark``
(``python -m modelbook.query.grammar``): the tables are those of the grammar and lark
installed, and a parser loaded from them reads every query, order and metric key, and
refuses every mistake, exactly as one analysed from the grammar does."""

from __future__ import annotations

import hashlib

import lark
import pytest
from lark.exceptions import UnexpectedInput

from modelbook.query import grammar, grammar_tables

from .test_query_search import QUERIES

MISTAKES = [
    "stage = ",
    "and = 1",
    "name = 'a' or not = 1",
    "tags.team == 'a'",
    "metrics.auc{region=eu > 1",
    "name like",
    "(name = 'a'",
    "name in ()",
    "created_at > 2026-01-01T12",
]
ORDERS = ["metrics.auc desc", "created_at", "number asc", "metrics.auc@test{region='eu'} desc"]
METRIC_KEYS = ["auc", "auc@test", "auc@test{region='north america',device=mobile}", "a{", "@x"]


def test_the_tables_are_those_of_the_grammar_and_lark_installed() -> None:
    """Made from this grammar by this lark (the tables' state numbers vary from one
    generation to the next, so their text is not compared)."""
    stale = "grammar_tables.py is stale: run python -m modelbook.query.grammar"
    text = grammar.GRAMMAR.read_text(encoding="utf-8")
    assert hashlib.sha256(text.encode()).hexdigest() == grammar_tables.GRAMMAR_SHA256, stale
    assert lark.__version__ == grammar_tables.LARK_VERSION, stale
    assert set(grammar_tables.PARSERS) == set(grammar.STARTS)


def test_the_parsers_load_from_the_tables_without_analysing_the_grammar(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*_: object) -> None:
        raise AssertionError("the grammar was analysed")

    monkeypatch.setattr(grammar, "build", refuse)
    grammar.parser.cache_clear()
    try:
        assert grammar.parser("query").parse("name = 'a'", start="start").data == "compare"
        assert grammar.parser("metric").parse("auc@test").data == "metric_key"
    finally:
        grammar.parser.cache_clear()


def _outcome(parser: object, text: str, start: str | None) -> object:
    try:
        return parser.parse(text, start=start) if start else parser.parse(text)  # type: ignore[attr-defined]
    except UnexpectedInput as exc:
        return (type(exc).__name__, exc.line, exc.column, sorted(getattr(exc, "expected", ())))


@pytest.mark.parametrize(
    ("name", "start", "texts"),
    [
        ("query", "start", [*QUERIES, *MISTAKES]),
        ("query", "order", [*ORDERS, "desc", "metrics.auc sideways"]),
        ("metric", None, METRIC_KEYS),
    ],
)
def test_a_loaded_parser_reads_as_an_analysed_one(
    name: str, start: str | None, texts: list[str]
) -> None:
    loaded, analysed = grammar.parser(name), grammar.build(name)
    for text in texts:
        assert _outcome(loaded, text, start) == _outcome(analysed, text, start), text


def test_a_grammar_the_tables_were_not_made_from_is_analysed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(grammar_tables, "GRAMMAR_SHA256", "0" * 64)
    grammar.parser.cache_clear()
    try:
        fresh = grammar.parser("query")
        assert fresh.parse("name = 'a'", start="start").data == "compare"
        assert fresh.options.start == ["start", "order"]
    finally:
        grammar.parser.cache_clear()
