"""The audit log detects tampering, on SQLite and PostgreSQL.

The events table refuses UPDATE and DELETE by trigger; a tamperer with database
access drops the trigger first, as these tests do. Every kind of edit (a column, the
hashed text, a deleted event in the middle or at the end, a forged event, two events
swapped) is found by ``verify_audit()``, which names the first broken event. A head
taken earlier (``audit_head()``) proves the history unchanged even against someone who
rewrote the whole table and recomputed every hash.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from modelbook import InvalidInput, Registry, audit
from modelbook.errors import PermissionDenied

from .test_migrations import alembic_config
from .test_release_flow import ADMIN, Flow, events_of, make_flow


@pytest.fixture
def flow(registry: Registry, tmp_path: Path) -> Flow:
    """A registry with history on three chains: models ``m`` and ``n``, and the registry."""
    flow = make_flow(registry, tmp_path)
    flow.deployed("m")
    flow.deployed("m")
    flow.reg.rollback("m", reason_code="kpi_drop", note="ctr fell", actor="dan")
    flow.add("n")
    flow.reg.comment("models:/n/1", "second chain")
    assert flow.reg.verify_audit().ok
    return flow


def sql(reg: Registry, statement: str, **params: Any) -> None:
    with reg.db.engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def drop_append_only_trigger(reg: Registry) -> None:
    """What a tamperer with database access does first."""
    if reg.db.dialect == "postgresql":
        sql(reg, "DROP TRIGGER events_append_only ON events")
    else:
        sql(reg, "DROP TRIGGER events_append_only_update")
        sql(reg, "DROP TRIGGER events_append_only_delete")


def chain_rows(reg: Registry, chain: str) -> list[Any]:
    with reg.db.engine.connect() as conn:
        return list(
            conn.execute(
                sa.text(
                    "SELECT id, chain, seq, actor, action, canonical, prev_hash, hash "
                    "FROM events WHERE chain = :c ORDER BY seq"
                ),
                {"c": chain},
            )
        )


def only_break(reg: Registry) -> audit.Break:
    result = reg.verify_audit()
    assert not result.ok
    assert len(result.breaks) == 1, [str(b) for b in result.breaks]
    return result.breaks[0]


def test_the_events_table_refuses_updates_and_deletes(flow: Flow) -> None:
    reg = flow.reg
    for statement in ("UPDATE events SET actor = 'mallory'", "DELETE FROM events"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            sql(reg, statement)
    assert reg.verify_audit().ok


def test_an_edited_column_is_found(flow: Flow) -> None:
    reg = flow.reg
    rows = chain_rows(reg, "model:m")
    target = rows[5]
    drop_append_only_trigger(reg)
    sql(reg, "UPDATE events SET actor = 'mallory' WHERE id = :id", id=target.id)
    found = only_break(reg)
    assert (found.chain, found.seq, found.event_id) == ("model:m", target.seq, target.id)
    assert "a column was edited" in found.problem
    assert f"event {target.id}" in str(found)


def test_edited_hashed_text_is_found(flow: Flow) -> None:
    """The tamperer edits the canonical text and the column together, so they agree:
    the hash no longer matches."""
    reg = flow.reg
    rows = chain_rows(reg, "model:m")
    target = next(r for r in rows if r.action == "version.deploy")
    doc = json.loads(target.canonical)
    doc["actor"] = "mallory"
    drop_append_only_trigger(reg)
    sql(
        reg,
        "UPDATE events SET canonical = :c, actor = 'mallory' WHERE id = :id",
        c=audit.canonical(doc).decode(),
        id=target.id,
    )
    found = only_break(reg)
    assert (found.chain, found.seq, found.event_id) == ("model:m", target.seq, target.id)
    assert "the event was edited" in found.problem


def test_an_edited_reason_inside_the_text_is_found(flow: Flow) -> None:
    """``reason``, ``before`` and ``after`` live in the hashed text only."""
    reg = flow.reg
    target = next(r for r in chain_rows(reg, "model:m") if r.action == "version.rollback")
    drop_append_only_trigger(reg)
    edited = target.canonical.replace("kpi_drop", "planned")
    assert edited != target.canonical
    sql(reg, "UPDATE events SET canonical = :c WHERE id = :id", c=edited, id=target.id)
    found = only_break(reg)
    assert (found.seq, found.event_id) == (target.seq, target.id)


def test_an_event_deleted_in_the_middle_is_found(flow: Flow) -> None:
    reg = flow.reg
    rows = chain_rows(reg, "model:m")
    gone, after = rows[4], rows[5]
    drop_append_only_trigger(reg)
    sql(reg, "DELETE FROM events WHERE id = :id", id=gone.id)
    found = only_break(reg)
    assert (found.chain, found.seq, found.event_id) == ("model:m", after.seq, after.id)
    assert (
        f"expected position {gone.seq} after {gone.seq - 1}: an event is missing" in found.problem
    )


def test_the_last_event_deleted_is_found(flow: Flow) -> None:
    reg = flow.reg
    last = chain_rows(reg, "model:n")[-1]
    drop_append_only_trigger(reg)
    sql(reg, "DELETE FROM events WHERE id = :id", id=last.id)
    found = only_break(reg)
    assert (found.chain, found.seq, found.event_id) == ("model:n", last.seq, None)
    assert f"ends at position {last.seq - 1} but its head records position {last.seq}" in (
        found.problem
    )
    assert "the chain head" in str(found)


def test_the_last_registry_event_deleted_is_found(flow: Flow) -> None:
    reg = flow.reg
    last = chain_rows(reg, "registry")[-1]
    drop_append_only_trigger(reg)
    sql(reg, "DELETE FROM events WHERE id = :id", id=last.id)
    found = only_break(reg)
    assert (found.chain, found.seq) == ("registry", last.seq)


def test_an_edited_previous_hash_is_found(flow: Flow) -> None:
    reg = flow.reg
    target = chain_rows(reg, "model:m")[3]
    drop_append_only_trigger(reg)
    sql(reg, "UPDATE events SET prev_hash = :h WHERE id = :id", h="0" * 64, id=target.id)
    found = only_break(reg)
    assert (found.seq, found.event_id) == (target.seq, target.id)
    assert "does not name the previous event's hash" in found.problem


def test_an_edited_chain_head_is_found(flow: Flow) -> None:
    """The recorded heads (on the model's row, and for the registry chain) are checked
    too; no trigger guards them."""
    reg = flow.reg
    sql(reg, "UPDATE models SET event_hash = :h WHERE name = 'n'", h="a" * 64)
    found = only_break(reg)
    assert (found.chain, found.event_id) == ("model:n", None)
    assert "the last event's hash differs from the recorded head" in found.problem
    registry_head = chain_rows(reg, "registry")[-1]
    sql(reg, "UPDATE chain_heads SET seq = :s WHERE chain = 'registry'", s=registry_head.seq + 3)
    assert {b.chain for b in reg.verify_audit().breaks} == {"model:n", "registry"}


def free_id(reg: Registry) -> int:
    """An event id no event has, as a forger who knows the database would pick it."""
    next_id = (
        "SELECT nextval('events_id_seq')"
        if reg.db.engine.dialect.name == "postgresql"
        else "SELECT max(id) + 1 FROM events"
    )
    with reg.db.engine.begin() as conn:
        return int(conn.execute(sa.text(next_id)).scalar_one())


def forged(reg: Registry, after: Any, seq: int, **change: Any) -> dict[str, Any]:
    """A well-formed event following ``after``, hashed as the real code would."""
    doc = json.loads(after.canonical)
    doc.update(seq=seq, actor="mallory", action="version.comment", reason=None)
    doc.update(after={"text": "all good", "kind": "comment"}, before=None, id=free_id(reg))
    doc.update(change)
    encoded = audit.canonical(doc)
    return {
        "id": doc["id"],
        **{k: doc[k] for k in audit.COLUMNS},
        "canonical": encoded.decode(),
        "prev_hash": after.hash,
        "hash": audit.chain_hash(after.hash, encoded),
    }


INSERT = (
    "INSERT INTO events (id, chain, seq, at, actor, action, model, version, canonical, "
    "prev_hash, hash) VALUES (:id, :chain, :seq, :at, :actor, :action, :model, :version, "
    ":canonical, :prev_hash, :hash)"
)


def test_a_forged_event_appended_with_a_valid_hash_is_found(flow: Flow) -> None:
    """Correctly hashed, but the chain's recorded head does not know it."""
    reg = flow.reg
    rows = chain_rows(reg, "model:m")
    sql(reg, INSERT, **forged(reg, rows[-1], rows[-1].seq + 1))  # an INSERT needs no trigger gone
    found = only_break(reg)
    assert found.chain == "model:m"
    assert f"ends at position {rows[-1].seq + 1} but its head records position {rows[-1].seq}" in (
        found.problem
    )


def test_a_forged_event_with_a_made_up_hash_is_found(flow: Flow) -> None:
    reg = flow.reg
    rows = chain_rows(reg, "model:m")
    fake = {**forged(reg, rows[-1], rows[-1].seq + 1), "hash": "f" * 64}
    sql(reg, INSERT, **fake)
    sql(
        reg,
        "UPDATE models SET event_seq = :s, event_hash = :h WHERE name = 'm'",
        s=fake["seq"],
        h="f" * 64,
    )
    found = only_break(reg)
    assert (found.chain, found.seq) == ("model:m", fake["seq"])
    assert found.event_id is not None and "the event was edited" in found.problem


def test_a_forged_event_slipped_into_the_middle_is_found(flow: Flow) -> None:
    """The forger shifts the later events one position up to make room: the event
    after the forgery no longer names its predecessor's hash."""
    reg = flow.reg
    rows = chain_rows(reg, "model:m")
    k = 4
    drop_append_only_trigger(reg)
    for r in reversed(rows[k - 1 :]):
        sql(reg, "UPDATE events SET seq = :s WHERE id = :id", s=r.seq + 1, id=r.id)
    sql(reg, INSERT, **forged(reg, rows[k - 2], k))
    sql(reg, "UPDATE models SET event_seq = :s WHERE name = 'm'", s=rows[-1].seq + 1)
    found = only_break(reg)
    original = rows[k - 1]
    assert (found.chain, found.seq, found.event_id) == ("model:m", k + 1, original.id)
    assert "does not name the previous event's hash" in found.problem


def test_two_events_swapped_are_found(flow: Flow) -> None:
    reg = flow.reg
    rows = chain_rows(reg, "model:m")
    a, b = rows[6], rows[7]
    drop_append_only_trigger(reg)
    sql(reg, "UPDATE events SET seq = -1 WHERE id = :id", id=a.id)
    sql(reg, "UPDATE events SET seq = :s WHERE id = :id", s=a.seq, id=b.id)
    sql(reg, "UPDATE events SET seq = :s WHERE id = :id", s=b.seq, id=a.id)
    found = only_break(reg)
    assert (found.chain, found.seq, found.event_id) == ("model:m", a.seq, b.id)


def test_a_clean_log_verifies_and_counts_every_event(flow: Flow) -> None:
    reg = flow.reg
    result = reg.verify_audit()
    assert result.ok and result.breaks == ()
    assert result.events == len(events_of(reg))
    assert result.chains == 3
    assert result.head == reg.audit_head()


# heads: proof against a consistent rewrite ------------------------------------------------------


def rewrite_history(reg: Registry, edit: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
    """Rewrite every chain as a tamperer with full database access would: ``edit`` each
    event's fields (None drops the event), renumber, recompute every encoding and hash,
    and move the recorded heads to match."""
    drop_append_only_trigger(reg)
    with reg.db.engine.begin() as conn:
        rows = list(
            conn.execute(sa.text("SELECT id, chain, canonical FROM events ORDER BY chain, seq"))
        )
        conn.execute(sa.text("UPDATE events SET seq = -id"))
        heads: dict[str, tuple[int, str]] = {}
        for r in rows:
            doc = edit(json.loads(r.canonical))
            if doc is None:
                conn.execute(sa.text("DELETE FROM events WHERE id = :id"), {"id": r.id})
                continue
            seq, prev = heads.get(r.chain, (0, audit.GENESIS))
            doc["seq"] = seq + 1
            encoded = audit.canonical(doc)
            digest = audit.chain_hash(prev, encoded)
            heads[r.chain] = (seq + 1, digest)
            conn.execute(
                sa.text(
                    "UPDATE events SET seq = :seq, at = :at, actor = :actor, action = :action, "
                    "model = :model, version = :version, canonical = :c, prev_hash = :p, "
                    "hash = :h WHERE id = :id"
                ),
                {
                    **{k: doc[k] for k in audit.COLUMNS if k != "chain"},
                    "c": encoded.decode(),
                    "p": prev,
                    "h": digest,
                    "id": r.id,
                },
            )
        for chain, (seq, digest) in heads.items():
            if chain.startswith("model:"):
                conn.execute(
                    sa.text("UPDATE models SET event_seq = :s, event_hash = :h WHERE name = :n"),
                    {"s": seq, "h": digest, "n": chain.removeprefix("model:")},
                )
            else:
                conn.execute(
                    sa.text("UPDATE chain_heads SET seq = :s, hash = :h WHERE chain = :c"),
                    {"s": seq, "h": digest, "c": chain},
                )


def test_a_head_proves_history_unchanged_while_new_events_follow(flow: Flow) -> None:
    reg = flow.reg
    head = reg.audit_head()
    assert reg.verify_audit(expect_head=head).ok
    flow.deployed("m")
    flow.add("brand_new")
    reg.grant_role("eve", "viewer", actor=ADMIN)
    later = reg.verify_audit(expect_head=head)
    assert later.ok and later.expected_head_ok is True
    assert later.head != head


def test_a_head_beyond_the_end_of_the_log_says_so(flow: Flow) -> None:
    """A head taken before the newest events were deleted names events the log no
    longer has; verification says exactly that."""
    reg = flow.reg
    head = reg.audit_head()
    _, through, count, digest = head.split(":")
    ahead = f"h1:{int(through) + 50}:{int(count) + 50}:{digest}"
    result = reg.verify_audit(expect_head=ahead)
    assert not result.ok and result.expected_head_ok is False
    assert result.expected_head_problem is not None
    assert f"names event {int(through) + 50} but the log ends at event {through}" in (
        result.expected_head_problem
    )
    assert reg.verify_audit(expect_head=head).expected_head_problem is None


@pytest.mark.parametrize("rewrite", ["edit an actor", "drop a rollback", "rename a reason"])
def test_a_consistent_rewrite_passes_plain_verify_but_not_an_earlier_head(
    flow: Flow, rewrite: str
) -> None:
    reg = flow.reg
    head = reg.audit_head()
    flow.add("n")  # history goes on after the head was taken

    def edit(doc: dict[str, Any]) -> dict[str, Any] | None:
        if rewrite == "edit an actor" and doc["action"] == "version.deploy":
            return {**doc, "actor": "mallory"}
        if rewrite == "drop a rollback" and doc["action"] == "version.rollback":
            return None
        if rewrite == "rename a reason" and doc.get("reason") == "kpi_drop":
            return {**doc, "reason": "planned"}
        return doc

    rewrite_history(reg, edit)
    plain = reg.verify_audit()
    assert plain.ok, [str(b) for b in plain.breaks]
    checked = reg.verify_audit(expect_head=head)
    assert checked.expected_head_ok is False
    assert not checked.ok
    assert checked.breaks == ()


def test_a_rewrite_that_changes_nothing_keeps_the_head(flow: Flow) -> None:
    """The control of the test above: the rewrite helper itself is faithful."""
    reg = flow.reg
    head = reg.audit_head()
    rewrite_history(reg, lambda doc: doc)
    assert reg.verify_audit(expect_head=head).ok
    assert reg.audit_head() == head


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "h1:1:1:xyz",
        "h2:1:1:" + "a" * 64,
        "latest",
        "h1:99999999999999999999999:1:" + "a" * 64,
        "h1:1:9223372036854775808:" + "a" * 64,
    ],
)
def test_a_malformed_head_is_invalid_input(flow: Flow, bad: str) -> None:
    with pytest.raises(InvalidInput, match="h1:ID:COUNT:SHA256"):
        flow.reg.verify_audit(expect_head=bad)


# registries upgraded from revision 0001 -------------------------------------------------------


def downgrade(reg: Registry, revision: str) -> None:
    cfg = alembic_config()
    with reg.db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
        conn.commit()


OLD_EVENTS = [
    # As revision 0001 wrote them: (actor, action, model, version, detail).
    ("legacy-bot", "alias.set", "m", 1, {"alias": "old", "from": None, "to": 1, "reason": "x"}),
    ("legacy-bot", "alias.set", "m", 1, {"alias": "old", "from": 1, "to": None, "reason": "y"}),
    ("legacy-bot", "version.tag", "m", 1, {"set": {"k": "v"}, "removed": []}),
    ("legacy-bot", "model.create", "legacy", None, {}),
    ("legacy-bot", "version.register", "legacy", 1, {"semver": "1.0.0", "files": 1}),
]


def upgraded_registry(db_uri: str, blob_dir: Path, model_file: Path) -> tuple[Registry, int]:
    """A registry with history, taken back to revision 0001, given more events there in
    that revision's format, and opened again (which upgrades it). Returns it and the
    number of events written before the upgrade."""
    with Registry(db_uri, blob_uri=str(blob_dir), actor="founder") as reg:
        reg.register("m", [model_file], owners="team", capture_environment=False)
        reg.set_alias("m", "champion", 1, reason="first", actor="bob")
        downgrade(reg, "0001")
        with reg.db.engine.begin() as conn:
            for i, (actor, action, model, version, detail) in enumerate(OLD_EVENTS):
                conn.execute(
                    sa.text(
                        "INSERT INTO events (at, actor, action, model, version, detail) "
                        "VALUES (:at, :actor, :action, :model, :version, :detail)"
                    ),
                    {
                        "at": 1_700_000_000_000_000 + i,
                        "actor": actor,
                        "action": action,
                        "model": model,
                        "version": version,
                        "detail": json.dumps(detail),
                    },
                )
                if action == "alias.set":
                    # Revision 0001 wrote each alias move to the alias history too.
                    conn.execute(
                        sa.text(
                            "INSERT INTO alias_events (model_id, alias, from_number, to_number, "
                            "actor, reason, at) SELECT id, :alias, :f, :t, :actor, :reason, :at "
                            "FROM models WHERE name = :model"
                        ),
                        {
                            "alias": detail["alias"],
                            "f": detail["from"],
                            "t": detail["to"],
                            "actor": actor,
                            "reason": detail["reason"],
                            "at": 1_700_000_000_000_000 + i,
                            "model": model,
                        },
                    )
            total = int(conn.execute(sa.text("SELECT count(*) FROM events")).scalar_one())
    return Registry(db_uri, blob_uri=str(blob_dir), actor="founder"), total


def test_old_events_start_the_chains_of_an_upgraded_registry(
    db_uri: str, blob_dir: Path, model_file: Path
) -> None:
    reg, total = upgraded_registry(db_uri, blob_dir, model_file)
    try:
        result = reg.verify_audit()
        assert result.ok, [str(b) for b in result.breaks]
        assert result.events == total == 3 + len(OLD_EVENTS)
        m = chain_rows(reg, "model:m")
        assert [r.seq for r in m] == [1, 2, 3, 4, 5, 6]
        assert [r.action for r in m] == [
            "model.create",
            "version.register",
            "alias.set",
            "alias.set",
            "alias.set",
            "version.tag",
        ]
        assert m[0].prev_hash == audit.GENESIS
        assert [r.actor for r in chain_rows(reg, "model:legacy")] == ["legacy-bot"] * 2
        # An older modelbook recorded no admin: one is named explicitly.
        with pytest.raises(PermissionDenied, match="--first-admin"):
            reg.grant_role("eve", "deployer")
        reg.grant_role("founder", "admin", first_admin=True)
        reg.grant_role("eve", "deployer")
        assert {(g.actor, g.role) for g in reg.roles()} == {
            ("founder", "admin"),
            ("eve", "deployer"),
        }
        head = reg.audit_head()
        # New events continue the old chains.
        reg.register("m", [model_file], capture_environment=False)
        reg.set_alias("m", "champion", 2, reason="the new one", actor="bob")
        m = chain_rows(reg, "model:m")
        assert [r.seq for r in m] == list(range(1, 9))
        assert m[6].prev_hash == m[5].hash
        assert reg.verify_audit(expect_head=head).ok
    finally:
        reg.close()


def test_old_events_read_back_after_the_upgrade(
    db_uri: str, blob_dir: Path, model_file: Path
) -> None:
    reg, total = upgraded_registry(db_uri, blob_dir, model_file)
    try:
        listed = events_of(reg)
        assert len(listed) == total
        assert {e.actor for e in listed} >= {"legacy-bot", "founder", "bob"}
    finally:
        reg.close()


def test_events_renumbered_within_a_chain_are_found(registry: Registry, model_file: Path) -> None:
    """Swapping the ids of two events of one chain reorders the log's listing;
    verification names the first event whose id is not the one it was written with."""
    registry.register("m", [model_file], owners="o")
    registry.set_tags("models:/m/1", {"a": "1"})
    registry.set_tags("models:/m/1", {"b": "2"})
    drop_append_only_trigger(registry)
    ids = [e.id for e in registry.events(model="m").items]
    newest, older = ids[0], ids[1]
    with registry.db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE events SET id = -1 WHERE id = :a"), {"a": newest})
        conn.execute(sa.text("UPDATE events SET id = :a WHERE id = :b"), {"a": newest, "b": older})
        conn.execute(sa.text("UPDATE events SET id = :b WHERE id = -1"), {"b": older})
    result = registry.verify_audit()
    assert not result.ok
    found = result.breaks[0]
    # The older tag (position 3) now has the newest one's id.
    assert (found.seq, found.event_id) == (3, newest)
    assert found.problem == f"it was written as event {older} (events were renumbered or moved)"


def rehash_last(reg: Registry, chain: str, text: str) -> Any:
    """Replace the last event of ``chain`` by ``text``, with its hash and the chain's head
    recomputed: what a tamperer who knows the hashing rule can do to the newest event."""
    rows = chain_rows(reg, chain)
    last = rows[-1]
    digest = audit.chain_hash(last.prev_hash, text.encode())
    drop_append_only_trigger(reg)
    sql(
        reg,
        "UPDATE events SET canonical = :c, hash = :h WHERE id = :id",
        c=text,
        h=digest,
        id=last.id,
    )
    sql(reg, "UPDATE models SET event_hash = :h WHERE name = :n", h=digest, n=chain[6:])
    return last


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda doc: json.dumps([doc]), id="not-an-object"),
        pytest.param(
            lambda doc: json.dumps({k: v for k, v in doc.items() if k != "model"}),
            id="a-column-missing",
        ),
        pytest.param(lambda doc: json.dumps(doc)[:-1], id="cut-short"),
        pytest.param(lambda doc: json.dumps(doc) + " {}", id="trailing-text"),
        pytest.param(
            lambda doc: json.dumps({**doc, "seq": str(doc["seq"])}), id="position-as-text"
        ),
    ],
)
def test_hashed_text_that_does_not_hold_the_columns_is_found(
    flow: Flow, edit: Callable[[dict[str, Any]], str]
) -> None:
    """Even with its hash recomputed, an event's text must be a JSON object holding
    every column as the row stores it."""
    reg = flow.reg
    doc = json.loads(chain_rows(reg, "model:n")[-1].canonical)
    last = rehash_last(reg, "model:n", edit(doc))
    found = only_break(reg)
    assert (found.chain, found.seq, found.event_id) == ("model:n", last.seq, last.id)
    assert "its columns differ from its hashed content" in found.problem


def test_an_encoding_stored_as_bytes_is_found(flow: Flow) -> None:
    """SQLite keeps whatever type is written into a column; the verifier reports a
    non-text encoding as an edit instead of failing."""
    reg = flow.reg
    if reg.db.dialect != "sqlite":
        pytest.skip("a PostgreSQL text column cannot hold bytes")
    last = chain_rows(reg, "model:n")[-1]
    drop_append_only_trigger(reg)
    sql(reg, "UPDATE events SET canonical = CAST(canonical AS BLOB) WHERE id = :id", id=last.id)
    found = only_break(reg)
    assert (found.seq, found.event_id) == (last.seq, last.id)
    assert "not text" in found.problem


# records that must agree with the log ---------------------------------------------------------


def test_a_forged_approval_is_found(flow: Flow) -> None:
    """A row copied into the annotations table gives a version an approval nobody gave;
    no event describes it, so verification names it."""
    reg = flow.reg
    v = flow.add("n")
    sql(
        reg,
        "INSERT INTO annotations (version_id, kind, actor, at, body) "
        "SELECT (SELECT v.id FROM versions v JOIN models m ON m.id = v.model_id "
        "WHERE m.name = 'n' AND v.number = :n), kind, actor, at, body "
        "FROM annotations WHERE kind = 'approval' ORDER BY id LIMIT 1",
        n=v.number,
    )
    result = reg.verify_audit()
    assert not result.ok and not result.breaks
    [problem] = result.record_problems
    assert f"of models:/n/{v.number} has no event in the audit log" in problem
    assert "approval by" in problem


@pytest.mark.parametrize("column", ["actor", "body"])
def test_an_edited_annotation_is_found(flow: Flow, column: str) -> None:
    """An edited annotation no longer matches its event: both are named."""
    reg = flow.reg
    value = "mallory" if column == "actor" else '{"kind": "approval", "comment": "fine"}'
    sql(
        reg,
        f"UPDATE annotations SET {column} = :v WHERE id = (SELECT max(id) FROM annotations)",
        v=value,
    )
    problems = reg.verify_audit().record_problems
    assert len(problems) == 2, problems
    assert "has no event in the audit log" in problems[0]
    assert "has no record of what it describes" in problems[1]


def test_a_deleted_annotation_is_found(flow: Flow) -> None:
    reg = flow.reg
    sql(reg, "DELETE FROM annotations WHERE id = (SELECT min(id) FROM annotations)")
    [problem] = reg.verify_audit().record_problems
    assert problem.startswith("event ") and "the record was deleted or edited" in problem


def test_alias_history_is_the_log_itself(flow: Flow) -> None:
    """Alias history is read from the verified events: rewriting who moved an alias
    means editing an event, which breaks its chain."""
    reg = flow.reg
    newest = reg.alias_history("m", "production", limit=1)[0]
    moves = [e for e in reg.events(model="m", action="alias.set").items]
    assert (newest.actor, newest.reason) == (moves[0].actor, moves[0].reason)
    target = next(r for r in reversed(chain_rows(reg, "model:m")) if r.action == "alias.set")
    drop_append_only_trigger(reg)
    sql(
        reg,
        "UPDATE events SET canonical = :c WHERE id = :id",
        c=target.canonical.replace(f'"actor":"{target.actor}"', '"actor":"mallory"'),
        id=target.id,
    )
    found = only_break(reg)
    assert (found.chain, found.event_id) == ("model:m", target.id)


def test_annotations_after_a_break_are_not_blamed(flow: Flow) -> None:
    """One edited event breaks its chain, and the events after it are not verified: the
    genuine annotations they describe (evaluations by alice, approvals ...) are not
    named as added outside modelbook, but counted as not checked. Another chain's
    records are still checked."""
    reg = flow.reg
    target = chain_rows(reg, "model:m")[2]
    drop_append_only_trigger(reg)
    sql(reg, "UPDATE events SET actor = 'mallory' WHERE id = :id", id=target.id)
    sql(
        reg,
        "DELETE FROM annotations WHERE id = (SELECT max(a.id) FROM annotations a "
        "JOIN versions v ON v.id = a.version_id JOIN models m ON m.id = v.model_id "
        "WHERE m.name = 'n')",
    )
    result = reg.verify_audit()
    assert [(b.chain, b.event_id) for b in result.breaks] == [("model:m", target.id)]
    assert not any("has no event in the audit log" in p for p in result.record_problems)
    unchecked, gone = result.record_problems
    assert unchecked.endswith(
        "annotations of models:/m could not be checked: the events that would describe "
        "them are not verified (its audit chain is broken)"
    )
    assert int(unchecked.split()[0]) > 1
    assert gone.startswith("event ") and "the record was deleted or edited" in gone


def test_records_of_a_clean_registry_agree_with_the_log(flow: Flow) -> None:
    """The control: every kind of annotation the flow wrote (approvals, evaluations,
    a rollback's incident note, comments) has its event."""
    result = flow.reg.verify_audit()
    assert result.ok and result.record_problems == ()
    with flow.reg.db.engine.connect() as conn:
        kinds = {k for (k,) in conn.execute(sa.text("SELECT DISTINCT kind FROM annotations"))}
    assert {"approval", "evaluation", "comment"} <= kinds
