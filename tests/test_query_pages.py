"""Pages of a search, on SQLite and PostgreSQL: --order-by on a metric puts versions
without it last and breaks ties by registration; a page token continues exactly after
its page, even while other writers register versions; a token of another query or a
made-up one is refused."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from modelbook import InvalidInput, ModelbookError, Registry, Version

from .test_query_search import every_page

AUCS = [0.9, 0.5, None, 0.9, 0.7, None, 0.9, 0.5]


def _add(registry: Registry, folder: Path, i: int, auc: float | None, team: str = "a") -> Version:
    f = folder / f"v{i}.bin"
    f.write_bytes(f"version {i}".encode())
    return registry.register(
        ("fraud", "churn")[i % 2],
        [f],
        owners="o",
        tags={"team": team},
        metrics={"loss": 1.0} if auc is None else {"auc": auc, "loss": 1.0},
        capture_environment=False,
    )


@pytest.fixture
def made(registry: Registry, tmp_path: Path) -> list[Version]:
    return [_add(registry, tmp_path, i, auc) for i, auc in enumerate(AUCS)]


def _uris(items: list[Version]) -> list[str]:
    return [v.uri for v in items]


def test_order_by_a_metric_puts_ties_by_registration_and_missing_last(
    registry: Registry, made: list[Version]
) -> None:
    by = {i: made[i].uri for i in range(len(made))}
    desc = [by[6], by[3], by[0], by[4], by[7], by[1], by[5], by[2]]
    asc = [by[1], by[7], by[4], by[0], by[3], by[6], by[2], by[5]]
    for order_by, expected in (("metrics.auc desc", desc), ("metrics.auc", asc)):
        for limit in (1, 2, 3, 100):
            items = every_page(
                lambda t, o=order_by, n=limit: registry.search(
                    "", order_by=o, limit=n, page_token=t
                )
            )
            assert _uris(items) == expected, (order_by, limit)
    # With a condition on the metric, the walk goes down the metric's own index.
    items = every_page(
        lambda t: registry.search(
            "metrics.auc >= 0.7", order_by="metrics.auc desc", limit=2, page_token=t
        )
    )
    assert _uris(items) == desc[:4]
    newest = every_page(
        lambda t: registry.search("", order_by="number desc", limit=3, page_token=t)
    )
    assert [(v.number, v.model) for v in newest][:2] == [(4, "churn"), (4, "fraud")]


@pytest.mark.parametrize("order_by", [None, "metrics.auc desc", "metrics.auc asc"])
def test_pages_neither_repeat_nor_skip_while_versions_are_added(
    registry: Registry, made: list[Version], tmp_path: Path, order_by: str | None
) -> None:
    """Between pages, versions land before, at and after the position (same metric
    value as the last row, higher, lower, none): every version that existed when the
    listing began is listed once, in order, and none twice."""
    before = _uris(registry.search("tags.team = 'a'", order_by=order_by, limit=100).items)
    seen: list[str] = []
    token = None
    added = 0
    while True:
        page = registry.search("tags.team = 'a'", order_by=order_by, limit=2, page_token=token)
        seen.extend(_uris(page.items))
        token = page.next_page_token
        if token is None:
            break
        if added < 12:  # new rows after the position are listed later: add a bounded few
            last = page.items[-1].metric("auc")
            for auc in (last, 0.99, 0.01, None):
                _add(registry, tmp_path, 100 + added, auc)
                added += 1
    assert len(seen) == len(set(seen))
    assert [u for u in seen if u in before] == before


def test_pages_stay_whole_under_a_concurrent_writer(
    registry: Registry, made: list[Version], tmp_path: Path, db_uri: str
) -> None:
    """Another registry registers versions while this one pages through a search."""
    writer = Registry(db_uri, blob_uri=str(tmp_path / "blobs"), actor="tester")
    done = threading.Event()
    errors: list[ModelbookError] = []

    def write() -> None:
        try:
            for i in range(12):
                _add(writer, tmp_path, 200 + i, (0.9, None, 0.6)[i % 3])
        except ModelbookError as exc:  # reported by the test below
            errors.append(exc)
        finally:
            done.set()

    before = _uris(registry.search("", order_by="metrics.auc desc", limit=100).items)
    thread = threading.Thread(target=write)
    thread.start()
    try:
        rounds = 0
        while not done.is_set() or rounds == 0:
            items = every_page(
                lambda t: registry.search("", order_by="metrics.auc desc", limit=3, page_token=t)
            )
            seen = _uris(items)
            assert len(seen) == len(set(seen))
            assert [u for u in seen if u in before] == before
            rounds += 1
    finally:
        thread.join()
        writer.close()
    assert not errors


def test_tokens_belong_to_their_query_and_order(registry: Registry, made: list[Version]) -> None:
    page = registry.search("tags.team = 'a'", limit=2)
    assert page.next_page_token is not None
    for other in (
        lambda t: registry.search("tags.team = 'b'", limit=2, page_token=t),
        lambda t: registry.search("tags.team = 'a'", order_by="number", limit=2, page_token=t),
        lambda t: registry.search_versions(tags={"team": "a"}, limit=2, page_token=t),
        lambda t: registry.models(where="name = 'fraud'", page_token=t),
        lambda t: registry.versions("fraud", where="tags.team = 'a'", page_token=t),
    ):
        with pytest.raises(InvalidInput, match="another listing"):
            other(page.next_page_token)
    for bad in ("", "x" * 600, "!!!", "c2VhcmNo", "c2VhcmNofDF8MQ"):
        with pytest.raises(InvalidInput, match="page token"):
            registry.search("tags.team = 'a'", limit=2, page_token=bad)
    for limit in (0, 1001, True):
        with pytest.raises(InvalidInput, match="limit"):
            registry.search("", limit=limit)
