"""Annotations after registration: comments, watches and online observations. Each is
an audit event, each reads back through ``annotations(uri)``, and none touches the
frozen version. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from modelbook import InvalidInput, NotFound, Registry
from modelbook.annotations import AlertRule, parse_window
from modelbook.domain import Metric, thaw

from .test_release_flow import REGISTRANT, Flow, events_of, frozen, make_flow, table_counts

START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 11, 8, tzinfo=UTC)


@pytest.fixture
def flow(registry: Registry, tmp_path: Path) -> Flow:
    return make_flow(registry, tmp_path)


def stored_doc(reg: Registry) -> list[Any]:
    """The frozen record of every version as the database holds it."""
    with reg.db.engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT id, doc, semver FROM versions ORDER BY id")))


def last_event(reg: Registry) -> Any:
    return events_of(reg, "m")[-1]


def test_comments_of_every_kind(flow: Flow) -> None:
    reg = flow.reg
    v = flow.add()
    text = "Retrained after the\nholiday spike — see ticket ÖPS-12"
    c = reg.comment(v.uri, text, actor="rita")
    assert (c.text, c.kind, c.actor) == (text, "comment", "rita")
    event = last_event(reg)
    assert (event.action, event.actor, event.version) == ("version.comment", "rita", 1)
    assert thaw(event.after) == {"text": text, "kind": "comment"}
    reg.comment(v.uri, "p99 doubled at 14:05", kind="incident", actor="dan")
    reg.comment(v.uri, "https://wiki/pm/7", kind="postmortem", actor=REGISTRANT)
    found = reg.annotations(v.uri).comments
    assert [(x.kind, x.actor) for x in found] == [
        ("comment", "rita"),
        ("incident", "dan"),
        ("postmortem", REGISTRANT),
    ]
    assert found[0].text == text


def test_bad_comments_are_refused_and_write_nothing(flow: Flow) -> None:
    reg = flow.reg
    v = flow.add()
    before = table_counts(reg)
    with pytest.raises(InvalidInput, match="choose comment, incident, postmortem"):
        reg.comment(v.uri, "x", kind="rant")
    with pytest.raises(InvalidInput, match="needs text"):
        reg.comment(v.uri, "   ")
    with pytest.raises(NotFound, match="models:/m/9"):
        reg.comment("models:/m/9", "x")
    with pytest.raises(InvalidInput, match="names a model, not a version"):
        reg.comment("models:/m", "x")
    assert table_counts(reg) == before


def test_a_watch_records_the_job_dashboard_and_parsed_alerts(flow: Flow) -> None:
    reg = flow.reg
    v = flow.deployed()
    w = reg.watch(
        v.uri,
        job="ctr-monitor",
        dashboard="https://grafana/d/ctr",
        alerts=["p99_latency_ms > 250", AlertRule(name="error_rate", op=">=", value=0.01)],
        actor="dan",
    )
    assert [(a.name, a.op, a.value) for a in w.alerts] == [
        ("p99_latency_ms", ">", 250.0),
        ("error_rate", ">=", 0.01),
    ]
    assert w.alerts[0].fires(300) and not w.alerts[0].fires(200)
    event = last_event(reg)
    assert (event.action, event.actor) == ("version.watch", "dan")
    assert thaw(event.after)["alerts"] == [
        {"name": "p99_latency_ms", "op": ">", "value": 250.0},
        {"name": "error_rate", "op": ">=", "value": 0.01},
    ]
    (stored,) = reg.annotations("models:/m@production").watches
    assert (stored.job, stored.dashboard, stored.alerts) == (w.job, w.dashboard, w.alerts)


@pytest.mark.parametrize(
    ("alerts", "message"),
    [
        (["p99 is high"], "invalid alert 'p99 is high': write NAME OP NUMBER"),
        (["p99_latency_ms => 250"], "invalid alert"),
        (["p99_latency_ms > fast"], "threshold of alert 'p99_latency_ms > fast' must be a number"),
        (["p99_latency_ms > inf"], "threshold of alert 'p99_latency_ms > inf' must be a finite"),
        (["p99_latency_ms > 1e400"], r"threshold of alert .* is too large"),
    ],
)
def test_a_bad_alert_is_refused(flow: Flow, alerts: list[str], message: str) -> None:
    reg = flow.reg
    v = flow.add()
    before = table_counts(reg)
    with pytest.raises(InvalidInput, match=message):
        reg.watch(v.uri, job="j", alerts=alerts)
    assert table_counts(reg) == before


def test_a_watch_needs_something_to_watch(flow: Flow) -> None:
    v = flow.add()
    with pytest.raises(InvalidInput, match="a watch needs a job"):
        flow.reg.watch(v.uri)


def test_observations_with_window_and_source(flow: Flow) -> None:
    reg = flow.reg
    v = flow.deployed()
    o = reg.observe(
        v.uri, "ctr@online", 0.031, window=(START, END), source="clickstream", actor="dan"
    )
    assert (o.metric, o.value, o.window_from, o.window_to, o.source) == (
        "ctr@online",
        0.031,
        START,
        END,
        "clickstream",
    )
    event = last_event(reg)
    assert (event.action, event.version) == ("version.observe", 1)
    assert thaw(event.after)["metric"] == "ctr@online"
    reg.observe(v.uri, Metric(name="p99_ms", value=180.0, split="online"), actor="dan")
    reg.observe(v.uri, "ctr@online{region=eu}", 0.029)
    found = reg.annotations(v.uri).observations
    assert [(x.metric, x.value) for x in found] == [
        ("ctr@online", 0.031),
        ("p99_ms@online", 180.0),
        ("ctr@online{region=eu}", 0.029),
    ]
    assert found[1].window_from is None and found[1].source is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": (END, START)}, "must start before it ends"),
        ({"window": (START, START)}, "must start before it ends"),
        ({"window": (START.replace(tzinfo=None), END)}, "timezone"),
        ({"value": None}, "needs a value"),
        ({"value": float("nan")}, "finite"),
        ({"metric": "ctr online"}, "invalid metric"),
    ],
)
def test_a_bad_observation_is_refused(flow: Flow, kwargs: dict[str, Any], message: str) -> None:
    reg = flow.reg
    v = flow.add()
    before = table_counts(reg)
    args: dict[str, Any] = {"metric": "ctr@online", "value": 0.03, **kwargs}
    metric, value = args.pop("metric"), args.pop("value")
    with pytest.raises(InvalidInput, match=message):
        reg.observe(v.uri, metric, value, **args)
    assert table_counts(reg) == before


def test_annotations_read_through_every_uri_form(flow: Flow) -> None:
    reg = flow.reg
    v = flow.deployed()
    reg.comment(v.uri, "hello")
    for uri in (v.uri, f"models:/m/{v.semver}", "models:/m@production", "models:/m/latest"):
        assert [c.text for c in reg.annotations(uri).comments] == ["hello"], uri
    got = reg.annotations(v.uri)
    assert [a.actor for a in got.approvals] == ["rita"]
    assert {e.target_stage for e in got.evaluations} == {"candidate", "approved", "deployed"}
    with pytest.raises(NotFound):
        reg.annotations("models:/m/5")
    with pytest.raises(InvalidInput):
        reg.annotations("not a uri")


def test_no_annotation_changes_the_frozen_version(flow: Flow) -> None:
    """Comments, watches, observations, reviews, sign-offs, health, drills, deprecation:
    the version's frozen part and its stored record stay byte for byte the same, and
    every one of them is one audit event."""
    reg = flow.reg
    old = flow.deployed(metrics={"auc": 0.8})
    v = flow.approved(metrics={"auc": 0.9})
    reg.deploy(v.uri, reason="ship", actor="dan")
    before = frozen(reg.get_version(v.uri))
    docs = stored_doc(reg)
    count = len(events_of(reg, "m"))
    steps = [
        lambda: reg.comment(v.uri, "note"),
        lambda: reg.comment(v.uri, "outage", kind="incident"),
        lambda: reg.watch(v.uri, job="j", alerts=["p99_ms > 250"]),
        lambda: reg.observe(v.uri, "ctr@online", 0.04, window=(START, END), source="s"),
        lambda: reg.attest(v.uri, "model_card", actor="ron"),
        lambda: reg.mark_healthy(v.uri, signal="flat CTR for a week", actor="dan"),
        lambda: reg.drill("m", actor="dan"),
        lambda: reg.set_tags(v.uri, {"team": "ranking"}),
    ]
    for step in steps:
        step()
        assert frozen(reg.get_version(v.uri)) == before
        assert frozen(reg.get_version(old.uri)) == frozen(old)
    assert len(events_of(reg, "m")) == count + len(steps)
    reg.rollback("m", reason_code="kpi_drop", note="ctr fell", actor="dan")
    assert reg.get_version(v.uri).deprecated
    reg.deprecate(old.uri, note="superseded as well")
    assert frozen(reg.get_version(v.uri)) == before
    assert frozen(reg.get_version(old.uri)) == frozen(old)
    assert stored_doc(reg) == docs
    assert reg.verify_audit().ok


@pytest.mark.parametrize("key", ["logloss@test", "auc", "ctr@shadow", "auc@test{region=eu}"])
def test_an_observation_cannot_stand_in_for_an_offline_metric(flow: Flow, key: str) -> None:
    """Only online splits are observed after registration; an offline metric is frozen
    with the version, so observing one is refused and writes nothing."""
    v = flow.add()
    before = table_counts(flow.reg)
    with pytest.raises(InvalidInput, match="online split"):
        flow.reg.observe(v.uri, key, 0.01)
    assert table_counts(flow.reg) == before
    assert flow.reg.observe(v.uri, "ctr@online-eu", 0.03).metric == "ctr@online-eu"


@pytest.mark.parametrize(
    "window",
    ["0001-01-01T00:00+05:00/0001-01-02T00:00Z", "9999-12-31T00:00Z/9999-12-31T23:59-05:00"],
)
def test_a_window_past_the_calendar_in_utc_is_refused_and_nothing_written(
    flow: Flow, window: str
) -> None:
    """Stored in microseconds and read back in UTC, such a window would be written and
    then make the version's annotations unreadable."""
    reg = flow.reg
    v = flow.add()
    before = table_counts(reg)
    with pytest.raises(InvalidInput, match="out of range"):
        parse_window(window)
    start, end = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in window.split("/"))
    with pytest.raises(InvalidInput, match="out of range"):
        reg.observe(v.uri, "ctr@online", 0.03, window=(start, end))
    assert table_counts(reg) == before
