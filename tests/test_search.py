"""Searching versions: every combination of filters agrees with a plain filter over all
versions, page by page, newest registration first, on both databases."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from modelbook import Registry, Version

from .test_listing import all_pages

MODELS = ("fraud", "churn", "ranker")
OPS = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


@pytest.fixture
def catalogue(registry: Registry, tmp_path: Path) -> list[Version]:
    """36 versions over three models, registered interleaved, with overlapping tags."""
    made = []
    for i in range(36):
        f = tmp_path / f"v{i}.bin"
        f.write_bytes(f"version {i}".encode())
        tags = {"team": "a" if i % 2 else "b", "dataset": f"ds-{i % 3}"}
        if i % 4 == 0:
            tags["reviewed"] = "yes"
        made.append(
            registry.register(
                MODELS[i % 3],
                [f],
                owners="o",
                tags=tags,
                metrics={"auc": 0.5 + (i * 7 % 36) / 72, "auc@test": i / 36},
                capture_environment=False,
            )
        )
    return made


def _oracle(
    made: list[Version],
    model: str | None,
    tags: Mapping[str, str],
    metrics: Sequence[tuple[str, str, float]],
) -> list[tuple[str, int]]:
    def keep(v: Version) -> bool:
        if model is not None and v.model != model:
            return False
        if any(v.tags.get(k) != val for k, val in tags.items()):
            return False
        values = {m.key: m.value for m in v.metrics}
        return all(k in values and OPS[op](values[k], x) for k, op, x in metrics)

    return [(v.model, v.number) for v in reversed(made) if keep(v)]


CASES: list[tuple[str | None, dict[str, str], list[tuple[str, str, float]]]] = [
    (None, {}, []),
    (None, {"dataset": "ds-1"}, []),
    (None, {"team": "a", "dataset": "ds-1"}, []),
    (None, {"reviewed": "yes", "team": "b"}, []),
    (None, {"dataset": "ds-2"}, [("auc", ">=", 0.7)]),
    (None, {}, [("auc", ">", 0.75)]),
    (None, {}, [("auc", ">", 0.6), ("auc@test", "<", 0.5)]),
    ("churn", {}, []),
    ("churn", {"team": "a"}, []),
    ("fraud", {"team": "b", "reviewed": "yes"}, []),
    ("ranker", {"dataset": "ds-2"}, [("auc@test", "!=", 0.5)]),
    (None, {"dataset": "ds-9"}, []),
    (None, {"missing": "x"}, [("auc", "<", 2)]),
]


def test_search_matches_a_plain_filter_page_by_page(
    registry: Registry, catalogue: list[Version]
) -> None:
    """Whatever index the query walks (the model's, the first tag's, or all versions),
    the pages hold exactly the matching versions, each once, newest registration first."""
    for model, tags, metrics in CASES:
        expected = _oracle(catalogue, model, tags, metrics)
        for limit in (1, 4, 100):
            query = {"model": model, "tags": tags, "metrics": metrics, "limit": limit}
            pages = all_pages(
                lambda token, q=query: registry.search_versions(**q, page_token=token)
            )
            got = [(v.model, v.number) for page in pages for v in page]
            case = f"model={model} tags={tags} metrics={metrics} limit={limit}"
            assert got == expected, case
            assert all(len(page) == limit for page in pages[:-1]), case


def test_search_sees_tags_changed_after_registration(
    registry: Registry, catalogue: list[Version]
) -> None:
    """A tag set later is found by the next search; the version it returns carries it,
    and the old value no longer matches."""
    before = registry.search_versions(tags={"dataset": "ds-0"}).items
    target = before[0]
    registry.set_tags(target.uri, {"dataset": "ds-7"})
    found = registry.search_versions(tags={"dataset": "ds-7"}).items
    assert [(v.model, v.number) for v in found] == [(target.model, target.number)]
    assert found[0].tags["dataset"] == "ds-7"
    after = registry.search_versions(tags={"dataset": "ds-0"}).items
    assert (target.model, target.number) not in [(v.model, v.number) for v in after]
    assert len(after) == len(before) - 1
