"""A mistake in --order-by (order_by=) is named as one, at its column within the order
text, on SQLite and PostgreSQL; the query's own mistakes still say 'query'."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelbook import Registry
from modelbook.errors import InvalidQuery

from .test_cli_lineage import in_process


def test_order_by_mistakes_name_order_by_and_its_own_column(
    registry: Registry, db_uri: str, blob_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(InvalidQuery) as err:
        registry.search("", order_by="metrics.auc@test sideways")
    assert err.value.column == 18
    assert str(err.value).startswith("invalid order_by at column 18: ")
    with pytest.raises(InvalidQuery) as err:
        registry.search("number > 0", order_by="name")
    assert str(err.value).startswith("invalid order_by at column 1: cannot order by name")
    with pytest.raises(InvalidQuery, match=r"^invalid query at column 8"):
        registry.search("number sideways", order_by="number")

    registry.register("m", [_file(blob_dir)], owners="o", capture_environment=False)
    cli = in_process(db_uri, blob_dir, capsys)
    run = cli("search", "", "--order-by", "metrics.auc@test sideways")
    assert run.code == 6
    assert run.err.startswith("error: invalid --order-by at column 18: "), run.err
    assert "query" not in run.err.splitlines()[0].split(":")[0]
    run = cli("search", "number >", "--order-by", "number desc")
    assert run.code == 6 and run.err.startswith("error: invalid query at column"), run.err


def _file(folder: Path) -> Path:
    path = folder.parent / "model.bin"
    path.write_bytes(b"m")
    return path
