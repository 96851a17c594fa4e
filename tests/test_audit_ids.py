"""An event's id is part of its hashed content: the log's order across chains is proven.

Each chain's hashes prove its own order; ids order events of different chains
(the log's listing, newest first). An id renumbered, two ids of different
chains swapped, or a chain's last event moved to the end of the log breaks the
moved events' hashes, on SQLite and PostgreSQL, in one process and in two.
Events written before encodings held their id are counted, not blamed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from modelbook import Registry

from .procs import run_python, wait_all
from .test_audit_log import drop_append_only_trigger, upgraded_registry
from .test_audit_partition import both_ways

ADMIN = "root"


def renumber(reg: Registry, moves: dict[int, int]) -> None:
    """Give events new ids (old: new), through a free id so that swaps work."""
    drop_append_only_trigger(reg)
    with reg.db.engine.begin() as conn:
        for old in moves:
            conn.execute(sa.text("UPDATE events SET id = :t WHERE id = :o"), {"t": -old, "o": old})
        for old, new in moves.items():
            conn.execute(sa.text("UPDATE events SET id = :n WHERE id = :t"), {"n": new, "t": -old})


def grant_then_tag(reg: Registry, model_file: Path) -> tuple[int, int]:
    """A reviewer's role grant (the registry's chain), then a model's event right after
    it: their ids, in that order."""
    reg.register("m", [model_file], owners="o", capture_environment=False)
    reg.grant_role(ADMIN, "admin", first_admin=True, actor=ADMIN)
    reg.grant_role("ron", "reviewer", actor=ADMIN)
    reg.set_tags("models:/m/1", {"reviewed": "yes"}, actor="ron")
    newest = reg.events(limit=2).items
    tag, grant = newest
    assert (grant.action, tag.action) == ("role.grant", "version.tag")
    assert tag.id > grant.id
    return grant.id, tag.id


def broken_at(result: Any) -> set[tuple[str, int | None, str]]:
    return {(b.chain, b.event_id, b.problem) for b in result.breaks}


def moved(was: int) -> str:
    return f"it was written as event {was} (events were renumbered or moved)"


def test_ids_of_events_of_two_chains_swapped_are_found(
    registry: Registry, model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    grant, tag = grant_then_tag(registry, model_file)
    head = registry.audit_head()
    renumber(registry, {grant: tag, tag: grant})
    # The listing now shows the tag before the grant that allowed it ...
    listed = [e.action for e in registry.events(limit=2).items]
    assert listed == ["role.grant", "version.tag"]
    # ... and each moved event is named with the id it was written with.
    for result in (*both_ways(registry, monkeypatch), registry.verify_audit(expect_head=head)):
        assert not result.ok
        assert broken_at(result) == {
            ("registry", tag, moved(grant)),
            ("model:m", grant, moved(tag)),
        }


def test_a_chains_last_event_moved_to_the_end_of_the_log_is_found(
    registry: Registry, model_file: Path
) -> None:
    grant, tag = grant_then_tag(registry, model_file)
    head = registry.audit_head()
    renumber(registry, {grant: tag + 100})
    assert [e.id for e in registry.events(limit=1).items] == [tag + 100]
    for result in (registry.verify_audit(), registry.verify_audit(expect_head=head)):
        assert not result.ok
        assert broken_at(result) == {("registry", tag + 100, moved(grant))}
    assert registry.verify_audit(expect_head=head).expected_head_ok is False


def test_the_cli_exits_7_naming_both_events(
    registry: Registry, model_file: Path, db_uri: str, blob_dir: Path, capsys: Any
) -> None:
    from modelbook.cli import main

    grant, tag = grant_then_tag(registry, model_file)
    head = registry.audit_head()
    renumber(registry, {grant: tag, tag: grant})
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(
            ["--uri", db_uri, "--blob-uri", str(blob_dir), "audit", "verify", "--expect-head", head]
        )
    assert exit_.value.code == 7
    err = capsys.readouterr().err
    assert f"(event {tag}): {moved(grant)}" in err
    assert f"(event {grant}): {moved(tag)}" in err


WRITER = """
import sys
from pathlib import Path
from modelbook import Registry

uri, blobs, art, idx = sys.argv[1:]
reg = Registry(uri, blob_uri=blobs, actor=f"w{idx}")
for i in range(12):
    reg.register(f"own{idx}", [Path(art)], owners="o", capture_environment=False)
    reg.set_tags("models:/shared/1", {f"w{idx}": str(i)})
    if i % 4 == 0:
        reg.grant_role(f"viewer{idx}-{i}", "viewer", actor="root")
reg.close()
"""


@pytest.mark.timeout(300)
def test_concurrent_writers_on_several_chains_verify_clean(
    registry: Registry, model_file: Path, db_uri: str, blob_dir: Path
) -> None:
    registry.register("shared", [model_file], owners="o", capture_environment=False)
    registry.grant_role(ADMIN, "admin", first_admin=True, actor=ADMIN)
    procs = [run_python(WRITER, db_uri, str(blob_dir), str(model_file), str(i)) for i in range(4)]
    wait_all(procs)
    result = registry.verify_audit()
    assert result.ok, [str(b) for b in result.breaks] + list(result.record_problems)
    assert result.unchecked == ()
    assert result.events == 2 + 1 + 4 * (12 * 2 + 3) + 4  # the four models' creations


def test_events_of_an_upgraded_registry_are_counted_not_blamed(
    db_uri: str, blob_dir: Path, model_file: Path
) -> None:
    reg, total = upgraded_registry(db_uri, blob_dir, model_file)
    try:
        line = (
            f"the ids of {total} events could not be checked: they were written before "
            "events recorded their id in their hashed content, so their order among other "
            "chains' events is not proven (their order within their own chain is)"
        )
        result = reg.verify_audit()
        # Besides what the old log does not record of a version's tags and registration.
        assert result.ok and result.unchecked[0] == line
        head = reg.audit_head()
        reg.register("m", [model_file], capture_environment=False)
        reg.set_alias("m", "champion", 2, reason="the new one", actor="bob")
        result = reg.verify_audit(expect_head=head)
        assert result.ok and result.unchecked[0] == line
        # The new events' ids are proven, next to the old ones.
        newest = reg.events(limit=1).items[0].id
        renumber(reg, {newest: newest + 50})
        assert not reg.verify_audit().ok
    finally:
        reg.close()
