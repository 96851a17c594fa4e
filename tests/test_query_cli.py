"""modelbook search, models --where and versions --where: the same answers as the
Python API, pages by token, the ordered metric shown, and a bad query as one error
line naming its column, exit code 6."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from modelbook import Registry
from modelbook.query import cursor

from .test_cli import CLI
from .test_cli import cli as cli  # the CLI fixtures
from .test_cli import home as home


def _register(cli: CLI, tmp_path: Path) -> None:
    for i, (name, auc, region) in enumerate(
        [("fraud", 0.9, "eu"), ("fraud", 0.8, "us"), ("churn", 0.95, "eu"), ("churn", 0.7, "eu")]
    ):
        f = tmp_path / f"m{i}.bin"
        f.write_bytes(bytes([i]) * 64)
        owner = "alice" if name == "fraud" else "bob"
        run = cli("register", name, f, "--owner", owner, "--metric", f"auc={auc}",
                  "--tag", f"region={region}")  # fmt: skip
        assert run.code == 0, run.err


def test_search_orders_pages_and_prints_json(cli: CLI, tmp_path: Path) -> None:
    _register(cli, tmp_path)
    query = "metrics.auc >= 0.8 and tags.region = 'eu'"
    run = cli("search", query, "--order-by", "metrics.auc desc")
    assert run.code == 0, run.err
    rows = [line for line in run.out.splitlines() if "churn" in line or "fraud" in line]
    assert len(rows) == 2 and "churn" in rows[0] and "0.95" in rows[0] and "0.9" in rows[1]
    first = cli("search", "", "--limit", "3", "--json").json()
    assert [v["uri"] for v in first["versions"]] == [
        "models:/churn/2", "models:/churn/1", "models:/fraud/2"
    ]  # fmt: skip
    rest = cli("search", "", "--limit", "3", "--page-token", first["next_page_token"], "--json")
    assert [v["uri"] for v in rest.json()["versions"]] == ["models:/fraud/1"]
    assert rest.json()["next_page_token"] is None


def test_models_and_versions_take_where(cli: CLI, tmp_path: Path) -> None:
    _register(cli, tmp_path)
    models = cli("models", "--where", "owner = 'bob'", "--json").json()
    assert [m["name"] for m in models["models"]] == ["churn"]
    versions = cli("versions", "fraud", "--where", "tags.region = 'us'", "--json").json()
    assert [v["uri"] for v in versions["versions"]] == ["models:/fraud/2"]
    oldest = cli("versions", "churn", "--where", "metrics.auc > 0", "--oldest-first", "--json")
    assert [v["number"] for v in oldest.json()["versions"]] == [1, 2]


def test_a_bad_query_is_one_line_with_its_column(cli: CLI, tmp_path: Path) -> None:
    _register(cli, tmp_path)
    for args, column in (
        (("search", "metrics.auc >= and stage = 'a'"), 16),
        (("search", "stge = 'a'"), 1),
        (("models", "--where", "stage = 'a'"), 1),
        (("versions", "fraud", "--where", "tags.region = eu"), 15),
        (("search", "", "--order-by", "stage"), 1),
    ):
        run = cli(*args)
        assert run.code == 6, (args, run)
        assert run.err.count("\n") == 1 and f"at column {column}" in run.err, run.err
    unknown = cli("search", "stge = 'a'")
    assert "did you mean stage?" in unknown.err and "metrics.NAME" in unknown.err


def test_a_crafted_page_token_exits_6_on_one_line(
    cli: CLI, db_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token of the listing whose position overflows a float, or that no order of the
    listing holds, is invalid input (exit 6), not an unexpected OverflowError (exit 1)."""
    monkeypatch.setenv("MODELBOOK_URI", db_uri)
    _register(cli, tmp_path)
    for args, order, position in (
        (("search", "", "--order-by", "created_at"), "created_at", "0x1.0p+9999"),
        (("search", "", "--order-by", "metrics.auc"), "metrics.auc", "-0x1.0p+1024"),
        (("search", "", "--order-by", "number asc"), "number asc", "0x1.8p+1"),
        (("versions", "fraud", "--where", "number > 0"), "desc", "0x1.0p+9999"),
    ):
        listing = "search" if args[0] == "search" else "versions:fraud"
        scope = cursor.scope_of(listing, args[1] if listing == "search" else args[3], order)
        raw = f"{scope}|{position}|1".encode()
        token = base64.urlsafe_b64encode(raw).decode()
        run = cli(*args, "--page-token", token)
        assert run.code == 6, (args, run)
        assert run.err.count("\n") == 1 and "invalid page token" in run.err, run.err


def test_an_empty_metric_search_hints_at_the_registered_metric_names(
    registry: Registry,
    db_uri: str,
    blob_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``metrics.auc`` when only ``auc@test`` (and ``auc@val{region=eu}``) were registered
    finds nothing: the empty answer says so on stderr, exit 0, the output unchanged."""
    from modelbook.cli import main

    f = tmp_path / "m.bin"
    f.write_bytes(b"weights")
    metrics = {"auc@test": 0.9, "auc@val{region=eu}": 0.8, "loss": 0.1}
    registry.register("fraud", [f], owners=["ana"], metrics=metrics, capture_environment=False)

    def search(query: str, *more: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            main(["--uri", db_uri, "--blob-uri", str(blob_dir), "search", query, *more])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = search("metrics.auc >= 0.85")
    assert code == 0 and "fraud" not in out
    assert err.strip() == (
        "hint: no version has a metric 'auc'; registered metric names include "
        "'auc@test', 'auc@val{region=eu}'"
    )
    code, out, err = search("metrics.auc@val >= 0.85 and metrics.loss < 0", "--json")
    assert code == 0 and json.loads(out)["versions"] == []
    assert err.strip() == (
        "hint: no version has a metric 'auc@val'; registered metric names include "
        "'auc@test', 'auc@val{region=eu}'"
    )
    # A metric that exists, a name nobody registered, an answer found: no hint.
    for query in ("metrics.auc@test > 0.95", "metrics.recall > 0", "metrics.auc@test > 0.5"):
        code, out, err = search(query)
        assert code == 0 and "hint" not in err, query
    assert registry.search("metrics.auc >= 0.85").items == []
    assert registry.search_hints("metrics.auc >= 0.85 or metrics.loss{x=y} > 0") == (
        "no version has a metric 'auc'; registered metric names include "
        "'auc@test', 'auc@val{region=eu}'",
        "no version has a metric 'loss{x=y}'; registered metric names include 'loss'",
    )
    assert registry._search.hints("metrics.auc > 0", limit=1) == (
        "no version has a metric 'auc'; registered metric names include 'auc@test'",
    )
