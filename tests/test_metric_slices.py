"""A metric's slice is read at registration by the query language's own rule: quotes
are not part of a value, a quoted comma does not split it, and what a query refuses
registration refuses too (exit 6, nothing written), on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelbook import Registry, validation
from modelbook.domain import Metric
from modelbook.errors import InvalidInput

from .test_cli_lineage import in_process
from .test_release_flow import ADMIN, Flow, flow, gate, policy, promote_ok, promote_refused

__all__ = ["flow"]


def test_a_quoted_slice_value_is_stored_without_its_quotes_and_found_by_a_query(
    registry: Registry, model_file: Path
) -> None:
    v = registry.register(
        "odd",
        [model_file],
        owners="a",
        metrics={"auc@test{region='north america'}": 0.8, 'f1{team="it\'s", region=eu}': 0.5},
    )
    got = registry.get_version(v.uri)
    assert {m.slice_key: dict(m.slice) for m in got.metrics} == {
        "region=north america": {"region": "north america"},
        "region=eu,team=it's": {"region": "eu", "team": "it's"},
    }
    # The key keeps the form earlier releases wrote, and reads back as the same metric.
    assert sorted(m.key for m in got.metrics) == [
        "auc@test{region=north america}",
        "f1{region=eu,team=it's}",
    ]
    assert [validation.metric(m.key, m.value) for m in got.metrics] == list(got.metrics)
    page = registry.search("metrics.auc@test{region='north america'} = 0.8")
    assert [i.uri for i in page.items] == [v.uri]
    page = registry.search('metrics.f1{team="it\'s",region=eu} = 0.5')
    assert [i.uri for i in page.items] == [v.uri]
    again = registry.register("odd", [model_file], metrics=list(got.metrics))
    assert registry.get_version(again.uri).metrics == got.metrics


@pytest.mark.parametrize(
    "key",
    [
        "f1@test{region='a,b=c'}",  # a query refuses , and = in a slice value, quoted or not
        "auc@test{region='eu}",
        "auc@test{region=eu",
        "auc@test{region=eu,region=us}",
        "auc@test{region=''}",
        "auc@test{=eu}",
    ],
)
def test_a_slice_a_query_would_refuse_is_refused_and_nothing_is_written(
    registry: Registry, model_file: Path, key: str
) -> None:
    with pytest.raises(InvalidInput, match="metric"):
        registry.register("odd", [model_file], owners="a", metrics={key: 0.5})
    with pytest.raises(InvalidInput):
        registry.register(
            "odd",
            [model_file],
            owners="a",
            metrics=[Metric(name="x", value=1), Metric(name="auc", value=1, slice={"r": "a,b"})],
        )
    assert registry.models().items == []


def test_cli_metric_slices_follow_the_query_language(
    registry: Registry,
    db_uri: str,
    blob_dir: Path,
    model_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cli = in_process(db_uri, blob_dir, capsys)
    run = cli(
        "register", "odd", model_file, "--owner", "a", "--no-capture",
        "--metric", "auc@test{region='north america'}=0.8",
    )  # fmt: skip
    assert run.code == 0, run.err
    run = cli(
        "register", "odd", model_file, "--owner", "a", "--no-capture",
        "--metric", "auc@test=0.7", "--metric", "f1@test{region='a,b=c'}=0.5",
    )  # fmt: skip
    assert run.code == 6, run
    assert "f1@test{region='a,b=c'}" in run.err and "column 16" in run.err
    assert [v.number for v in registry.versions("odd").items] == [1]
    run = cli("search", "metrics.auc@test{region='north america'} = 0.8", "--json")
    assert run.code == 0, run.err
    assert "models:/odd/1" in run.out
    (metric,) = registry.get_version("models:/odd/1").metrics
    assert dict(metric.slice) == {"region": "north america"}


def test_a_slice_written_without_quotes_reads_as_earlier_releases_read_it(
    registry: Registry, model_file: Path
) -> None:
    """``{region=north america}`` is what earlier releases accepted and what their
    observations and policies hold: it is the same metric as the quoted form, and a
    value that begins with a quote is never split at a comma."""
    v = registry.register(
        "odd", [model_file], owners="a", metrics={"auc@test{region=north america}": 0.8}
    )
    (metric,) = registry.get_version(v.uri).metrics
    assert metric == validation.metric("auc@test{region='north america'}", 0.8)
    page = registry.search("metrics.auc@test{region='north america'} = 0.8")
    assert [i.uri for i in page.items] == [v.uri]
    observed = registry.observe(v.uri, "ctr@online{region=north america}", 0.1)
    assert observed.metric == "ctr@online{region=north america}"
    got = registry.annotations(v.uri).observations
    assert [(o.metric, o.value) for o in got] == [("ctr@online{region=north america}", 0.1)]


@pytest.mark.parametrize("rule_slice", ["{region=north america}", "{region='north america'}"])
def test_a_policy_rule_on_a_slice_with_a_space_finds_the_registered_metric(
    flow: Flow, rule_slice: str
) -> None:
    flow.reg.set_policy(
        policy(gate("low", "candidate", "metric", rules=[f"auc@test{rule_slice} >= 0.8"])),
        actor=ADMIN,
    )
    good = flow.add(metrics={"auc@test{region='north america'}": 0.85})
    promote_ok(flow, good.uri)
    weak = flow.add(metrics={"auc@test{region=north america}": 0.7})
    assert "auc@test{region=north america} = 0.7" in promote_refused(flow, weak.uri)
