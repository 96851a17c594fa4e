"""The tags a version is registered with are in its ``version.register`` event, and
`audit verify` checks them like tags set later: an edit of either copy by SQL (the
row's ``versions.tags`` or the indexed ``version_tags``) is named with both values,
through the Python API and the CLI (exit 7). A registration event written before
registrations recorded their tags leaves them unknown: not a disagreement, one
``unchecked`` line per model counts them. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from modelbook import Registry

from .test_audit_log import rewrite_history, sql
from .test_audit_partition import both_ways
from .test_audit_state import problems, version_id
from .test_cli_release import runner
from .test_release_flow import REGISTRANT, Flow, events_of, make_flow

TAGS = {"dataset": "2024-06", "team": "ranking"}
EDITED = {"dataset": "2024-07", "team": "ranking"}


@pytest.fixture
def flow(registry: Registry, tmp_path: Path) -> Flow:
    """Version 1 of ``m`` registered with tags, version 2 without; neither tagged since."""
    flow = make_flow(registry, tmp_path)
    flow.add("m", tags=TAGS)
    flow.add("m")
    return flow


def registered_event(reg: Registry, number: int) -> Any:
    [event] = [
        e for e in events_of(reg, "m") if e.action == "version.register" and e.version == number
    ]
    return event


def edit_row(reg: Registry, number: int, tags: dict[str, str]) -> None:
    sql(
        reg,
        "UPDATE versions SET tags = :t WHERE id = :v",
        t=json.dumps(tags),
        v=version_id(reg, "m", number),
    )


def edit_index(reg: Registry, number: int, tags: dict[str, str]) -> None:
    v = version_id(reg, "m", number)
    sql(reg, "DELETE FROM version_tags WHERE version_id = :v", v=v)
    for key, value in tags.items():
        sql(
            reg,
            "INSERT INTO version_tags (version_id, key, value, model_id) "
            "SELECT id, :k, :val, model_id FROM versions WHERE id = :v",
            k=key,
            val=value,
            v=v,
        )


def edit_both(reg: Registry, number: int, tags: dict[str, str]) -> None:
    edit_row(reg, number, tags)
    edit_index(reg, number, tags)


def changed(what: str, live: dict[str, str], logged: dict[str, str], event: int) -> str:
    return (
        f"{what} are {json.dumps(live, sort_keys=True)} in the registry but "
        f"{json.dumps(logged, sort_keys=True)} in the audit log (event {event}); it was "
        "changed outside modelbook"
    )


def test_the_registration_event_records_the_tags(flow: Flow) -> None:
    assert dict(registered_event(flow.reg, 1).after.tags) == TAGS
    assert dict(registered_event(flow.reg, 2).after.tags) == {}


def test_registration_tags_untouched_verify_clean(flow: Flow) -> None:
    result = flow.reg.verify_audit()
    assert result.ok, result.record_problems
    assert result.record_problems == () and result.unchecked == ()


@pytest.mark.parametrize(
    ("number", "edit", "tags", "what"),
    [
        pytest.param(1, edit_both, EDITED, "the tags", id="both copies"),
        pytest.param(1, edit_row, EDITED, "the tags", id="the row"),
        pytest.param(1, edit_index, EDITED, "the indexed tags", id="the indexed copy"),
        pytest.param(1, edit_both, {}, "the tags", id="removed"),
        pytest.param(2, edit_both, {"approved_by": "cto"}, "the tags", id="added"),
    ],
)
def test_registration_tags_edited_by_sql_are_named_with_both_values(
    flow: Flow, number: int, edit: Any, tags: dict[str, str], what: str
) -> None:
    reg = flow.reg
    logged = TAGS if number == 1 else {}
    event = registered_event(reg, number).id
    edit(reg, number, tags)
    assert problems(reg) == (f"models:/m/{number}: " + changed(what, tags, logged, event),)


def test_registration_tags_edited_then_tagged_again_are_named(flow: Flow) -> None:
    """The tag write that follows the edit records where it started, which is not
    where the registration left the tags."""
    reg = flow.reg
    event = registered_event(reg, 1).id
    edit_both(reg, 1, EDITED)
    reg.set_tags("models:/m/1", {"dataset": "2024-06"}, actor=REGISTRANT)
    [found] = problems(reg)
    assert found.startswith("models:/m/1: event ")
    assert (
        f"(version.tag) found the tags {json.dumps(EDITED, sort_keys=True)} where the audit "
        f"log had left {json.dumps(TAGS, sort_keys=True)} (event {event})"
    ) in found


def test_the_cli_names_edited_registration_tags_and_exits_7(
    flow: Flow,
    db_uri: str,
    blob_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MODELBOOK_URI", db_uri)
    monkeypatch.setenv("MODELBOOK_BLOB_URI", str(blob_dir))
    cli = runner(monkeypatch, capsys)
    clean = cli("audit", "verify")
    assert clean.code == 0, clean
    assert ": OK;" in clean.out and "disagrees" not in clean.err
    event = registered_event(flow.reg, 1).id
    edit_both(flow.reg, 1, EDITED)
    sentence = "models:/m/1: " + changed("the tags", EDITED, TAGS, event)
    found = cli("audit", "verify")
    assert found.code == 7, found
    assert f"disagrees: {sentence}" in found.err.splitlines()
    as_json = cli("audit", "verify", "--json")
    assert as_json.code == 7
    report = json.loads(as_json.out)
    assert report["ok"] is False and report["record_problems"] == [sentence]
    assert report["unchecked"] == []


# registration events written before they recorded tags ----------------------------------------


def without_registration_tags(reg: Registry) -> None:
    """The log as modelbook wrote it before registrations recorded their tags."""

    def edit(doc: dict[str, Any]) -> dict[str, Any]:
        if doc["action"] == "version.register":
            doc["after"].pop("tags")
        return doc

    rewrite_history(reg, edit)


UNCHECKED = (
    "the tags of 2 versions of models:/m could not be checked: the audit log does not "
    "record them (registered before registration events recorded tags, or last tagged by "
    "an event converted from revision 0001)"
)


def test_old_registration_events_leave_the_tags_unknown_not_empty(flow: Flow) -> None:
    reg = flow.reg
    without_registration_tags(reg)
    assert registered_event(reg, 1).after.tags is None
    result = reg.verify_audit()
    assert result.ok, result.record_problems
    assert result.unchecked == (UNCHECKED,)
    # Tags the log does not know are not blamed: an edit of both copies cannot be told
    # from the tags given at registration.
    edit_both(reg, 1, EDITED)
    edit_both(reg, 2, {"approved_by": "cto"})
    result = reg.verify_audit()
    assert result.ok, result.record_problems
    assert result.unchecked == (UNCHECKED,)
    # Their two copies are still compared with each other.
    edit_index(reg, 1, TAGS)
    [found] = problems(reg)
    assert found.startswith("models:/m/1: its tags are") and "its indexed tags are" in found
    # A tag write records them: from then on they are checked.
    reg.set_tags("models:/m/1", {"dataset": "2024-08"}, actor=REGISTRANT)
    reg.set_tags("models:/m/2", {"dataset": "2024-08"}, actor=REGISTRANT)
    result = reg.verify_audit()
    assert result.ok and result.unchecked == (), result


def test_the_cli_reports_unknown_tags_without_failing(
    flow: Flow,
    db_uri: str,
    blob_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    without_registration_tags(flow.reg)
    edit_both(flow.reg, 1, EDITED)
    monkeypatch.setenv("MODELBOOK_URI", db_uri)
    monkeypatch.setenv("MODELBOOK_BLOB_URI", str(blob_dir))
    cli = runner(monkeypatch, capsys)
    run = cli("audit", "verify")
    assert run.code == 0, run
    assert ": OK;" in run.out
    assert run.err.splitlines() == [f"unchecked: {UNCHECKED}"]
    report = json.loads(cli("audit", "verify", "--json").out)
    assert report["ok"] is True and report["record_problems"] == []
    assert report["unchecked"] == [UNCHECKED]


def test_two_processes_check_registration_tags_as_one_does(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second process hands back the tags its chains' registrations recorded, and
    counts the versions whose tags no event records, on its side of the boundary."""
    reg = flow.reg
    flow.add("a", tags=TAGS)
    flow.add("z", tags=TAGS)

    def edit(doc: dict[str, Any]) -> dict[str, Any]:
        if doc["action"] == "version.register" and doc["model"] == "a":
            doc["after"].pop("tags")
        return doc

    rewrite_history(reg, edit)
    sql(
        reg,
        "UPDATE versions SET tags = '{}' WHERE model_id = (SELECT id FROM models WHERE name = 'z')",
    )
    one, two = both_ways(reg, monkeypatch)
    assert [p.split(":")[1] for p in one.record_problems] == ["/z/1"], one.record_problems
    assert one.unchecked == (
        UNCHECKED.replace("2 versions of models:/m", "1 version of models:/a"),
    )
    assert one == two
