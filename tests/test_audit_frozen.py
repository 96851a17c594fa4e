"""A version's frozen fields against its registration event: `audit verify` finds a
file list, semver, creator or time rewritten in SQL.

The ``version.register`` event records the semver, the sha256 of the manifest,
who registered the version and when. A tamperer who drops the ``versions_frozen``
trigger and points a version's files at another blob (in its document, in the
``artifacts`` table, or both) makes ``download`` serve that blob; ``audit verify``
names the version and what differs. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from modelbook import Registry

from .test_audit_log import chain_rows, rehash_last, sql
from .test_audit_state import scalar, version_id
from .test_cli_lineage import Run


def drop_frozen_trigger(reg: Registry) -> None:
    if reg.db.dialect == "postgresql":
        sql(reg, "DROP TRIGGER versions_frozen ON versions")
    else:
        sql(reg, "DROP TRIGGER versions_frozen")


@pytest.fixture
def swapped(registry: Registry, tmp_path: Path) -> dict[str, Any]:
    """dm 1 from a folder holding a.bin, and another model holding evil.bin."""
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    (good / "a.bin").write_bytes(b"the trained weights")
    (bad / "evil.bin").write_bytes(b"something else entirely")
    v = registry.register("dm", [good], owners="o")
    e = registry.register("other", [bad], owners="o")
    assert registry.verify_audit().ok
    drop_frozen_trigger(registry)
    return {"good": v.artifacts[0], "evil": e.artifacts[0], "id": version_id(registry, "dm", 1)}


def edit_doc(reg: Registry, s: dict[str, Any]) -> None:
    doc = json.loads(scalar(reg, "SELECT doc FROM versions WHERE id = :v", v=s["id"]))
    doc["artifacts"][0].update(sha256=s["evil"].sha256, size=s["evil"].size)
    sql(reg, "UPDATE versions SET doc = :d WHERE id = :v", d=json.dumps(doc), v=s["id"])


def edit_table(reg: Registry, s: dict[str, Any]) -> None:
    sql(
        reg,
        "UPDATE artifacts SET sha256 = :h, size = :n WHERE version_id = :v",
        h=s["evil"].sha256,
        n=s["evil"].size,
        v=s["id"],
    )


EDITS = {
    "doc": ([edit_doc], ["its document (versions.doc)"]),
    "artifacts table": ([edit_table], ["artifacts table rows"]),
    "both": ([edit_doc, edit_table], ["its document (versions.doc)", "artifacts table rows"]),
}


def verify_cli(reg: Registry, db_uri: str, blob_dir: Path, capsys: Any) -> Run:
    from modelbook.cli import main

    capsys.readouterr()
    try:
        main(["--uri", db_uri, "--blob-uri", str(blob_dir), "audit", "verify"])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return Run(code, out, err)


@pytest.mark.parametrize("edited", list(EDITS))
def test_a_file_list_swapped_in_sql_fails_audit_verify(
    registry: Registry,
    swapped: dict[str, Any],
    edited: str,
    db_uri: str,
    blob_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    edits, places = EDITS[edited]
    for edit in edits:
        edit(registry, swapped)
    run = verify_cli(registry, db_uri, blob_dir, capsys)
    assert run.code == 7, run.err
    lines = [line for line in run.err.splitlines() if line.startswith("disagrees: ")]
    # A document rewritten no longer hashes to its registration's sha256 either.
    record = [line for line in lines if "its frozen record" in line]
    assert len(record) == (edited != "artifacts table"), lines
    lines = [line for line in lines if line not in record]
    assert len(lines) == len(places), lines
    for place in places:
        (line,) = [line for line in lines if place in line]
        assert "models:/dm/1" in line and '"a.bin"' in line, line
        assert swapped["evil"].sha256 in line, line
        assert "changed outside modelbook" in line
    if edited != "both":
        # The untouched copy agrees with the log: the sentence says what the file was.
        assert swapped["good"].sha256 in lines[0]
    assert "BROKEN" in run.out


def test_each_frozen_field_of_the_row_is_compared(
    registry: Registry, swapped: dict[str, Any]
) -> None:
    created_at = scalar(registry, "SELECT created_at FROM versions WHERE id = :v", v=swapped["id"])
    sql(
        registry,
        "UPDATE versions SET semver = '9.0.0', semver_major = 9, created_by = 'mallory', "
        "created_at = :t WHERE id = :v",
        t=created_at + 1,
        v=swapped["id"],
    )
    result = registry.verify_audit()
    assert not result.ok
    found = [p for p in result.record_problems if p.startswith("models:/dm/1")]
    # The semver and its numbers were changed alike: one sentence, the semver's.
    assert len(found) == 3, found
    for says in (
        'the semver is "9.0.0" in the registry but "1.0.0" in the audit log',
        'created_by is "mallory" in the registry but "tester" in the audit log',
        "created_at is",
    ):
        assert any(says in p for p in found), (says, found)
    assert result.unchecked == ()


def test_the_semver_numbers_alone_edited_are_found(
    registry: Registry, swapped: dict[str, Any]
) -> None:
    # models:/dm/2.0.0 is looked up by these numbers.
    sql(registry, "UPDATE versions SET semver_major = 2 WHERE id = :v", v=swapped["id"])
    (found,) = [p for p in registry.verify_audit().record_problems if "models:/dm/1" in p]
    assert 'its semver is "1.0.0" but its row\'s numbers read 2.0.0' in found


def test_files_listed_in_another_order_in_the_table_still_verify(
    registry: Registry, tmp_path: Path
) -> None:
    """A manifest not in path order (a commit names its files as it likes) keeps its
    order in the document; the table's rows, read in path order, are the same files."""
    folder = tmp_path / "f"
    folder.mkdir()
    arts = [registry.store_file(_write(folder / n, n), n) for n in ("z.bin", "a.bin")]
    registry.commit_version("ordered", arts, owners="o")
    result = registry.verify_audit()
    assert result.ok, result.record_problems


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_registration_event_converted_from_revision_0001_is_counted_unchecked(
    registry: Registry, model_file: Path
) -> None:
    registry.register("old", [model_file], owners="o")
    last = chain_rows(registry, "model:old")[-1]
    event = json.loads(last.canonical)
    assert event["action"] == "version.register"
    # What the conversion of revision 0001 wrote: no semver logged, the old entry's
    # actor and time (not the version's).
    event["reason"] = "recorded before revision 0002"
    event["after"] = {k: event["after"][k] for k in ("bytes", "files", "manifest_sha256")}
    event["after"].update(semver="", stage="staging")
    event["actor"], event["at"] = "someone", event["at"] - 5
    text = json.dumps(event, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    rehash_last(registry, "model:old", text)
    sql(
        registry,
        "UPDATE events SET actor = :a, at = :t WHERE id = :id",
        a=event["actor"],
        t=event["at"],
        id=last.id,
    )
    result = registry.verify_audit()
    assert result.breaks == ()
    assert [p for p in result.record_problems if "models:/old/1:" in p and "created" in p] == []
    assert any("frozen fields of 1 version of models:/old" in u for u in result.unchecked)
    # What it does record is still compared.
    drop_frozen_trigger(registry)
    sql(registry, "UPDATE artifacts SET size = size + 1")
    assert any(
        "models:/old/1" in p and "artifacts" in p for p in registry.verify_audit().record_problems
    )
