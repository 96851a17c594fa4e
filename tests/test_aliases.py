"""Aliases: set, move and delete with a reason, history, conditional moves, resolving URIs."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from modelbook import AliasEvent, Conflict, InvalidInput, NotFound, Registry


@pytest.fixture
def three(registry: Registry, model_file: Path) -> Registry:
    """Model 'ctr' with versions 1, 2, 3 (semvers 1.0.0, 1.1.0, 1.2.0: each file differs)."""
    for n in range(3):
        model_file.write_bytes(bytes([n]) * 4096)
        registry.register("ctr", [model_file], owners="alice", capture_environment=False)
    return registry


def moves(events: list[AliasEvent]) -> list[tuple[str, int | None, int | None, str]]:
    return [(e.alias, e.from_version, e.to_version, e.reason) for e in events]


def history_rows(registry: Registry) -> int:
    with registry.db.engine.connect() as conn:
        return int(
            conn.exec_driver_sql(
                "SELECT COUNT(*) FROM events WHERE action IN ('alias.set', 'alias.delete')"
            ).scalar_one()
        )


def test_set_move_and_delete_an_alias(three: Registry) -> None:
    """An alias points where it was last set; once deleted it no longer resolves."""
    reg = three
    a = reg.set_alias("ctr", "champion", 1, reason="first release")
    assert (a.model, a.name, a.version, a.updated_by) == ("ctr", "champion", 1, "tester")
    assert a.updated_at.tzinfo is not None
    assert reg.resolve("models:/ctr@champion").number == 1
    assert reg.set_alias("ctr", "champion", 2, reason="better auc").version == 2
    assert reg.resolve("models:/ctr@champion").number == 2
    assert reg.resolve("ctr@champion").number == 2
    assert [(x.name, x.version) for x in reg.aliases("ctr")] == [("champion", 2)]
    reg.delete_alias("ctr", "champion", reason="incident 42")
    with pytest.raises(NotFound, match="champion"):
        reg.resolve("models:/ctr@champion")
    assert reg.aliases("ctr") == []


def test_alias_can_be_set_by_semver(three: Registry) -> None:
    """A version may be named by its semver when pointing an alias."""
    assert three.set_alias("ctr", "champion", "1.1.0", reason="r").version == 2
    assert three.resolve("models:/ctr@champion").semver == "1.1.0"


def test_history_records_who_when_from_to_and_why_newest_first(three: Registry) -> None:
    """Every set, move and delete is kept, newest first, with actor, time and reason."""
    reg = three
    start = datetime.now(UTC) - timedelta(seconds=5)
    reg.set_alias("ctr", "champion", 1, reason="first release")
    reg.set_alias("ctr", "champion", 3, reason="new features")
    reg.set_alias("ctr", "champion", 2, reason="rollback: 3 broke checkout")
    reg.delete_alias("ctr", "champion", reason="retire")
    history = reg.alias_history("ctr", "champion")
    assert moves(history) == [
        ("champion", 2, None, "retire"),
        ("champion", 3, 2, "rollback: 3 broke checkout"),
        ("champion", 1, 3, "new features"),
        ("champion", None, 1, "first release"),
    ]
    assert {e.actor for e in history} == {"tester"}
    times = [e.at for e in history]
    assert all(t.tzinfo is not None for t in times)
    assert times == sorted(times, reverse=True)
    assert start <= times[-1] and times[0] <= datetime.now(UTC) + timedelta(seconds=5)


def test_history_per_alias_and_per_model(three: Registry) -> None:
    """History can be read for one alias or for all aliases of the model."""
    reg = three
    reg.set_alias("ctr", "champion", 1, reason="p1")
    reg.set_alias("ctr", "staging", 2, reason="s2")
    reg.set_alias("ctr", "champion", 2, reason="p2")
    reg.set_alias("ctr", "staging", 3, reason="s3")
    assert [e.reason for e in reg.alias_history("ctr")] == ["s3", "p2", "s2", "p1"]
    assert [e.reason for e in reg.alias_history("ctr", "champion")] == ["p2", "p1"]
    assert [e.reason for e in reg.alias_history("ctr", "staging")] == ["s3", "s2"]
    assert [e.reason for e in reg.alias_history("ctr", limit=2)] == ["s3", "p2"]
    assert reg.alias_history("ctr", "challenger") == []
    assert [(a.name, a.version) for a in reg.aliases("ctr")] == [("champion", 2), ("staging", 3)]


def test_history_is_per_model(three: Registry, model_file: Path) -> None:
    """Another model's alias moves never show in this model's history."""
    three.register("other", [model_file], owners="o", capture_environment=False)
    three.set_alias("other", "champion", 1, reason="other model")
    three.set_alias("ctr", "champion", 1, reason="ctr model")
    assert [e.reason for e in three.alias_history("ctr")] == ["ctr model"]
    assert [e.model for e in three.alias_history("other")] == ["other"]


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_reason_is_required(three: Registry, reason: str | None) -> None:
    """Without a reason no alias is set, moved or deleted, and no history is written."""
    reg = three
    with pytest.raises(InvalidInput, match="reason"):
        reg.set_alias("ctr", "champion", 1, reason=reason)  # type: ignore[arg-type]
    assert reg.aliases("ctr") == []
    reg.set_alias("ctr", "champion", 1, reason="ok")
    with pytest.raises(InvalidInput, match="reason"):
        reg.set_alias("ctr", "champion", 2, reason=reason)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="reason"):
        reg.delete_alias("ctr", "champion", reason=reason)  # type: ignore[arg-type]
    assert reg.resolve("models:/ctr@champion").number == 1
    assert len(reg.alias_history("ctr")) == 1


def test_expect_moves_only_from_the_expected_version(three: Registry) -> None:
    """With expect=N the move happens only if the alias still points at N."""
    reg = three
    reg.set_alias("ctr", "champion", 1, reason="first")
    rows = history_rows(reg)
    with pytest.raises(Conflict) as err:
        reg.set_alias("ctr", "champion", 3, reason="stale view", expect=2)
    message = str(err.value)
    assert "points at version 1" in message and "version 2" in message
    assert reg.resolve("models:/ctr@champion").number == 1
    assert history_rows(reg) == rows
    assert reg.set_alias("ctr", "champion", 3, reason="fresh view", expect=1).version == 3
    assert moves(reg.alias_history("ctr"))[0] == ("champion", 1, 3, "fresh view")


def test_two_operators_cannot_silently_overwrite_each_other(
    three: Registry, db_uri: str, blob_dir: Path
) -> None:
    """Two registries that both saw version 1: the second conditional move is a conflict."""
    three.set_alias("ctr", "champion", 1, reason="first")
    other = Registry(db_uri, blob_uri=str(blob_dir), actor="bob")
    try:
        seen_by_alice = three.resolve("ctr@champion").number
        seen_by_bob = other.resolve("ctr@champion").number
        three.set_alias("ctr", "champion", 2, reason="alice", expect=seen_by_alice)
        with pytest.raises(Conflict):
            other.set_alias("ctr", "champion", 3, reason="bob", expect=seen_by_bob)
        assert other.resolve("ctr@champion").number == 2
        assert [(e.actor, e.to_version) for e in other.alias_history("ctr")] == [
            ("tester", 2),
            ("tester", 1),
        ]
    finally:
        other.close()


def test_expect_zero_means_the_alias_must_not_exist(three: Registry) -> None:
    """expect=0 creates an alias only if it is new."""
    reg = three
    assert reg.set_alias("ctr", "champion", 1, reason="create", expect=0).version == 1
    with pytest.raises(Conflict, match="points at version 1"):
        reg.set_alias("ctr", "champion", 2, reason="again", expect=0)
    assert reg.resolve("ctr@champion").number == 1
    assert len(reg.alias_history("ctr")) == 1


def test_expect_on_a_missing_alias_is_a_conflict(three: Registry) -> None:
    """Expecting a version of an alias that does not exist is a conflict; nothing is created."""
    with pytest.raises(Conflict, match="does not exist"):
        three.set_alias("ctr", "champion", 2, reason="r", expect=1)
    assert three.aliases("ctr") == []
    assert history_rows(three) == 0


def test_delete_with_expect(three: Registry) -> None:
    """A conditional delete removes the alias only from the expected version."""
    reg = three
    reg.set_alias("ctr", "champion", 2, reason="r")
    with pytest.raises(Conflict):
        reg.delete_alias("ctr", "champion", reason="cleanup", expect=1)
    assert reg.resolve("ctr@champion").number == 2
    reg.delete_alias("ctr", "champion", reason="cleanup", expect=2)
    assert reg.aliases("ctr") == []


def test_resolve_by_number_semver_alias_and_latest(three: Registry) -> None:
    """Each URI form names the right version."""
    reg = three
    reg.set_alias("ctr", "champion", 2, reason="r")
    assert reg.resolve("models:/ctr/1").semver == "1.0.0"
    assert reg.resolve("ctr/3").semver == "1.2.0"
    assert reg.resolve("models:/ctr/1.1.0").number == 2
    assert reg.resolve("models:/ctr@champion").number == 2
    assert reg.resolve("models:/ctr/latest").number == 3
    assert reg.get_version("models:/ctr/2") == reg.resolve("ctr@champion")


def test_alias_follows_no_later_registration(three: Registry, model_file: Path) -> None:
    """An alias keeps pointing at its version while new versions arrive; latest moves."""
    three.set_alias("ctr", "champion", 3, reason="r")
    three.register("ctr", [model_file], capture_environment=False)
    assert three.resolve("ctr@champion").number == 3
    assert three.resolve("ctr/latest").number == 4


@pytest.mark.parametrize(
    ("uri", "phrase"),
    [
        ("models:/ghost/1", "model 'ghost' not found"),
        ("models:/ghost@champion", "model 'ghost' not found"),
        ("models:/ghost/latest", "model 'ghost' not found"),
        ("models:/ctr/99", "models:/ctr/99"),
        ("models:/ctr/7.0.0", "models:/ctr/7.0.0"),
        ("models:/ctr@nope", "models:/ctr@nope"),
    ],
)
def test_unknown_model_version_or_alias_is_not_found(
    three: Registry, uri: str, phrase: str
) -> None:
    """Resolving something that does not exist is NotFound, naming what is missing."""
    with pytest.raises(NotFound, match=re.escape(phrase)):
        three.resolve(uri)


def test_latest_of_a_model_without_versions_is_not_found(registry: Registry) -> None:
    """A model with no versions has no 'latest'."""
    registry.create_model("empty", owners="o")
    with pytest.raises(NotFound, match="no versions"):
        registry.resolve("models:/empty/latest")


def test_a_model_uri_is_not_a_version(three: Registry) -> None:
    """models:/NAME names a model; resolving it as a version says what to add."""
    with pytest.raises(InvalidInput, match="names a model"):
        three.resolve("models:/ctr")


def test_alias_operations_on_unknown_things_are_not_found(three: Registry) -> None:
    """Setting or deleting aliases of unknown models, versions or aliases is NotFound."""
    reg = three
    with pytest.raises(NotFound, match="ghost"):
        reg.set_alias("ghost", "champion", 1, reason="r")
    with pytest.raises(NotFound, match="99"):
        reg.set_alias("ctr", "champion", 99, reason="r")
    with pytest.raises(NotFound, match=r"9\.9\.9"):
        reg.set_alias("ctr", "champion", "9.9.9", reason="r")
    with pytest.raises(NotFound, match="champion"):
        reg.delete_alias("ctr", "champion", reason="r")
    with pytest.raises(NotFound, match="ghost"):
        reg.delete_alias("ghost", "champion", reason="r")
    with pytest.raises(NotFound, match="ghost"):
        reg.aliases("ghost")
    with pytest.raises(NotFound, match="ghost"):
        reg.alias_history("ghost")
    assert history_rows(reg) == 0


@pytest.mark.parametrize("version", [0, -1, True, "1.0", "latest", "x"])
def test_bad_version_or_alias_names_are_invalid(three: Registry, version: object) -> None:
    """Versions must be a number from 1 or a semver; aliases must be valid names."""
    with pytest.raises(InvalidInput):
        three.set_alias("ctr", "champion", version, reason="r")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="alias"):
        three.set_alias("ctr", "1bad", 1, reason="r")
    assert history_rows(three) == 0
