"""A semver or text value written without quotes, which the lexer would split into
numbers (``semver = 1.0.0``), is refused saying it is text to be quoted, in the
Python API and the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelbook import Registry
from modelbook.errors import InvalidQuery
from modelbook.query import parse

from .test_cli_lineage import in_process


@pytest.mark.parametrize(
    ("query", "column", "says"),
    [
        ("semver = 1.0.0", 10, "semver holds semantic versions, which are text"),
        ("semver in ('2.0.0', 1.0.0)", 21, "semver holds semantic versions"),
        ("number = 1 and semver >= 1.10.2", 26, "write the value in quotes, '1.10.2'"),
        ("tags.release = 1.0.0", 16, "tags.release holds text: write the value in quotes"),
    ],
)
def test_an_unquoted_semver_or_text_is_said_to_need_quotes(
    query: str, column: int, says: str
) -> None:
    with pytest.raises(InvalidQuery) as err:
        parse(query)
    assert err.value.column == column and says in str(err.value), str(err.value)
    assert str(err.value).startswith(f"invalid query at column {column}: ")


def test_search_says_semver_is_quoted(
    registry: Registry, db_uri: str, blob_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = in_process(db_uri, blob_dir, capsys)
    run = cli("search", "semver = 1.0.0")
    assert run.code == 6
    assert run.err.startswith(
        "error: invalid query at column 10: semver holds semantic versions, which are text: "
        "write the value in quotes, '1.0.0'"
    ), run.err
    with pytest.raises(InvalidQuery, match="semantic versions, which are text"):
        registry.search("semver = 1.0.0")
    assert registry.search("semver = '1.0.0'").items == []
