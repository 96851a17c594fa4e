"""Faults of the foundation, each as a kind: lost updates, shared mutable state,
unreadable versions, the actor as input, and limits shared by writer and parser."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import BaseModel

from modelbook import (
    Conflict,
    IntegrityError,
    InvalidInput,
    ModelbookError,
    NotFound,
    Registry,
    paging,
)
from modelbook.api import RegistryAPI
from modelbook.domain import FrozenDict
from modelbook.limits import MAX_NUMBER, MAX_SHORT, MAX_VALUE
from modelbook.query import cursor
from modelbook.store import version_records

from .procs import json_lines, wait_all
from .test_concurrency import BARRIER, release, start

# 1. Lost update ---------------------------------------------------------------------

TAG_WORKER = (
    BARRIER
    + """
import json
from modelbook import Registry

uri, blobs, folder, idx, rounds = sys.argv[1:]
forms = ["models:/m/1", "models:/m/1.0.0", "models:/m@prod"]
reg = Registry(uri, blob_uri=blobs, actor=f"worker-{idx}")
barrier(folder, idx)
for r in range(int(rounds)):
    form = forms[(int(idx) + r) % len(forms)]
    reg.set_tags(form, {f"w{idx}-{r}": form})
print(json.dumps({"worker": idx}), flush=True)
reg.close()
"""
)


@pytest.mark.timeout(300)
def test_concurrent_tag_writes_through_every_uri_form_lose_nothing(
    db_uri: str, blob_dir: Path, tmp_path: Path, model_file: Path
) -> None:
    """Eight processes tag one version at once, through its number, its semver and an
    alias: every tag lands, in the JSON copy and the indexed rows alike."""
    with Registry(db_uri, blob_uri=str(blob_dir), actor="t") as reg:
        reg.register("m", [model_file], owners="o", capture_environment=False)
        reg.set_alias("m", "prod", 1, reason="serve")
    folder = tmp_path / "barrier"
    rounds = 10
    procs = start(TAG_WORKER, folder, db_uri, str(blob_dir), str(folder), str(rounds))
    release(folder, procs)
    assert len([r for out in wait_all(procs) for r in json_lines(out)]) == 8
    with Registry(db_uri, blob_uri=str(blob_dir), actor="t") as reg:
        tags = reg.get_version("models:/m/1").tags
        assert len(tags) == 8 * rounds
        found = reg.search_versions(tags={"w3-4": tags["w3-4"]}).items
        assert [v.number for v in found] == [1]
        assert reg.verify_audit().ok
        assert len(reg.events(model="m", action="version.tag", limit=1000).items) == 8 * rounds


# 2. Immutability inside the process ---------------------------------------------------


def test_returned_versions_are_read_only_all_the_way_down(
    registry: Registry, model_file: Path
) -> None:
    registry.register(
        "m", [model_file], owners="o", params={"C": "1"}, contract={"inputs": [{"n": "x"}]}
    )
    v = registry.get_version("m/1")
    with pytest.raises(TypeError):
        v.training.params["C"] = "999"  # type: ignore[index]
    with pytest.raises(TypeError):
        v.tags["x"] = "y"  # type: ignore[index]
    with pytest.raises(TypeError):
        v.contract["inputs"][0]["n"] = "z"  # type: ignore[index]
    assert registry.get_version("m/1").training.params == {"C": "1"}
    assert json.loads(json.dumps(v.model_dump(mode="json")))["training"]["params"] == {"C": "1"}


def _mutable_parts(value: Any, path: str = "version") -> list[str]:
    """Every place inside ``value`` that a caller could change in place."""
    if isinstance(value, BaseModel):
        return [
            p
            for name in type(value).model_fields
            for p in _mutable_parts(getattr(value, name), f"{path}.{name}")
        ]
    if isinstance(value, dict):
        own = [] if isinstance(value, FrozenDict) else [path]
        return own + [p for k, v in value.items() for p in _mutable_parts(v, f"{path}[{k!r}]")]
    if isinstance(value, list | set | bytearray):
        return [path]
    if isinstance(value, tuple):
        return [p for i, v in enumerate(value) for p in _mutable_parts(v, f"{path}[{i}]")]
    return []


def test_nothing_in_a_returned_version_can_be_changed_in_place(
    registry: Registry, model_file: Path
) -> None:
    """Fields left at their defaults too (an environment not captured has no
    frameworks): each returned version, fresh or cached, is read-only everywhere."""
    v = registry.register("m", [model_file], owners="o", capture_environment=False)
    assert _mutable_parts(v) == []
    with pytest.raises(TypeError):
        v.environment.frameworks["torch"] = "9.9"  # type: ignore[index]
    for again in (
        registry.get_version("m/1"),
        registry.resolve("models:/m/1.0.0"),
        registry.versions("m").items[0],
    ):
        assert _mutable_parts(again) == []
        assert again.environment.frameworks == {}


def test_version_cache_follows_stage_changes(registry: Registry, model_file: Path) -> None:
    """A stage written behind the registry's back is seen at the next read."""
    registry.register("m", [model_file], owners="o")
    assert registry.get_version("m/1").stage.value == "staging"
    with registry.db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE versions SET stage = 'candidate'"))
    assert registry.get_version("m/1").stage.value == "candidate"


def test_a_restored_database_never_serves_another_versions_manifest(
    tmp_path: Path, blob_dir: Path
) -> None:
    """Row ids are reused when a database is replaced by a restore; a long-lived
    registry must not hand out the cached manifest of the version that had the id."""
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"a" * 10)
    b.write_bytes(b"b" * 20)
    live_db, other_db = tmp_path / "live.db", tmp_path / "other.db"
    live = Registry(f"sqlite:///{live_db}", blob_uri=str(blob_dir), actor="t")
    with Registry(f"sqlite:///{other_db}", blob_uri=str(blob_dir), actor="t") as other:
        other.register("m", [b], owners="o", capture_environment=False)
    live.register("m", [a], owners="o", capture_environment=False)
    assert live.get_version("m/1").artifacts[0].path == "a.bin"
    src, dst = sqlite3.connect(other_db), sqlite3.connect(live_db)
    src.backup(dst)
    src.close()
    dst.close()
    assert live.get_version("m/1").artifacts[0].path == "b.bin"
    live.close()


def test_a_restored_database_never_serves_another_registration_of_the_same_files(
    tmp_path: Path, blob_dir: Path
) -> None:
    """The same files registered in two databases make the same stored record; the
    version read after a restore is the restored one, registered at its own time."""
    a = tmp_path / "a.bin"
    a.write_bytes(b"a" * 10)
    live_db, other_db = tmp_path / "live.db", tmp_path / "other.db"
    with Registry(f"sqlite:///{other_db}", blob_uri=str(blob_dir), actor="t") as other:
        restored = other.register("m", [a], owners="o", capture_environment=False)
    live = Registry(f"sqlite:///{live_db}", blob_uri=str(blob_dir), actor="t")
    mine = live.register("m", [a], owners="o", capture_environment=False)
    assert mine.created_at != restored.created_at
    assert live.get_version("m/1").created_at == mine.created_at
    src, dst = sqlite3.connect(other_db), sqlite3.connect(live_db)
    src.backup(dst)
    src.close()
    dst.close()
    assert live.get_version("m/1").created_at == restored.created_at
    live.close()


def test_a_registered_version_is_read_back_as_it_was_returned(
    registry: Registry, model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The version a registration returns is kept: reading it back parses nothing,
    a tag set on it validates only its row, and it equals the version parsed anew."""
    v = registry.register(
        "m", [model_file], owners="o", metrics={"auc": 0.9}, tags={"a": "1"}, params={"C": "1"}
    )

    def unparsed(*_: object) -> None:
        raise AssertionError("the stored record was parsed again")

    monkeypatch.setattr(version_records, "stored_record", unparsed)
    assert registry.get_version("m/1") is v
    registry.set_tags("m/1", {"b": "2"})
    tagged = registry.get_version("m/1")
    assert dict(tagged.tags) == {"a": "1", "b": "2"}
    monkeypatch.undo()
    registry.ctx.cache.clear()
    assert registry.get_version("m/1") == tagged
    assert registry.get_version("m/1").model_copy(update={"tags": v.tags}) == v


def test_a_version_read_again_in_an_earlier_state_is_the_one_built_then(
    registry: Registry, model_file: Path
) -> None:
    """An alias moved away and back: the version read in each state has that state's
    aliases, and the first state's version is reused when it comes back."""
    for _ in range(2):
        registry.register("m", [model_file], owners="o", capture_environment=False)
    registry.set_alias("m", "blue", 1, reason="serve")
    first = registry.get_version("m/1")
    registry.set_alias("m", "blue", 2, reason="switch")
    moved = registry.get_version("m/1")
    registry.set_alias("m", "blue", 1, reason="back")
    back = registry.get_version("m/1")
    assert (first.aliases, moved.aliases, back.aliases) == (("blue",), (), ("blue",))
    assert back is first
    registry.ctx.cache.clear()
    assert registry.get_version("m/1") == first
    registry.set_alias("m", "blue", 2, reason="switch")
    assert registry.get_version("m/1") == moved


# 4. Unreadable versions ---------------------------------------------------------------

SURROGATE = "bad\udcff"
FIELDS = {
    "image digest": {"environment": {"image_digest": SURROGATE}},
    "lockfile path": {"environment": {"lockfile": {"path": SURROGATE, "sha256": "ab"}}},
    "python version": {"environment": {"python": SURROGATE}},
    "branch": {"code": {"branch": SURROGATE}},
    "data window": {"data": []},
    "contract": {"contract": {"inputs": SURROGATE}},
    "hardware": {"hardware": SURROGATE},
    "caveat": {"caveats": [SURROGATE]},
    "note": {"change_summary": SURROGATE},
    "tag": {"tags": {"k": SURROGATE}},
    "param": {"params": {"k": SURROGATE}},
    "run id": {"run_id": SURROGATE},
    "features": {"features": f"fs@{SURROGATE}"},
}


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_text_that_is_not_utf8_is_refused_before_any_blob_is_written(
    registry: Registry, model_file: Path, blob_dir: Path, field: str
) -> None:
    kwargs = dict(FIELDS[field])
    if field == "data window":
        from modelbook import DataRef

        kwargs = {"data": [DataRef.model_construct(snapshot="s", window=SURROGATE)]}
    with pytest.raises(InvalidInput, match=r"UTF-8|surrogate"):
        registry.register("m", [model_file], owners="o", **kwargs)
    assert not [p for p in blob_dir.rglob("*") if p.is_file()]
    assert registry.models().items == []


def test_limits_are_stated_and_the_same_on_every_database(
    registry: Registry, model_file: Path
) -> None:
    with pytest.raises(InvalidInput, match=f"the limit is {MAX_VALUE}"):
        registry.register(
            "m", [model_file], owners="o", environment={"image_digest": "x" * (MAX_VALUE + 1)}
        )
    with pytest.raises(InvalidInput, match=f"the limit is {MAX_SHORT}"):
        registry.register("m", [model_file], owners="o", actor="u" * (MAX_SHORT + 1))
    v = registry.register("m", [model_file], owners="o", actor="u" * MAX_SHORT)
    assert v.created_by == "u" * MAX_SHORT


def test_a_damaged_row_names_the_version_and_spares_the_listing(
    registry: Registry, model_file: Path
) -> None:
    for _ in range(3):
        registry.register("m", [model_file], owners="o")
    with registry.db.engine.begin() as conn:
        conn.execute(sa.text("DROP TRIGGER IF EXISTS versions_frozen ON versions")) if (
            registry.db.dialect == "postgresql"
        ) else conn.execute(sa.text("DROP TRIGGER versions_frozen"))
        conn.execute(sa.text("UPDATE versions SET doc = '{\"artifacts\": 5}' WHERE number = 2"))
    with pytest.raises(IntegrityError, match="models:/m/2"):
        registry.get_version("m/2")
    page = registry.versions("m")
    assert [v.number for v in page.items] == [3, 1]
    assert len(page.unreadable) == 1 and "models:/m/2" in page.unreadable[0]
    assert [v.number for v in registry.search_versions().items] == [3, 1]


# 7. The actor is input too --------------------------------------------------------------


@pytest.mark.parametrize(
    "actor", ["bad\udcff", "nul\x00", "esc\x1b[2K", " padded", "", "x" * (MAX_SHORT + 1)]
)
def test_a_bad_actor_is_refused_before_anything_is_written(
    db_uri: str, blob_dir: Path, model_file: Path, actor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Registry(db_uri, blob_uri=str(blob_dir), actor="t") as reg:
        with pytest.raises(InvalidInput, match="actor"):
            reg.register("m", [model_file], owners="o", actor=actor)
        if actor and "\x00" not in actor:  # the environment cannot hold NUL
            monkeypatch.setenv("MODELBOOK_USER", actor)
            with (
                Registry(db_uri, blob_uri=str(blob_dir)) as env_reg,
                pytest.raises(InvalidInput, match="actor"),
            ):
                env_reg.register("m", [model_file], owners="o")
        assert not [p for p in blob_dir.rglob("*") if p.is_file()]
        assert reg.models().items == []


def test_one_registry_serves_many_actors(registry: Registry, model_file: Path) -> None:
    registry.register("m", [model_file], owners="o", actor="alice")
    registry.set_alias("m", "prod", 1, reason="go", actor="bob")
    actors = [e.actor for e in registry.events(model="m").items]
    assert actors == ["bob", "alice", "alice"]
    assert registry.get_version("m/1").created_by == "alice"


# 10. What modelbook writes, its own parsers accept -----------------------------------------


@pytest.mark.parametrize(
    "token",
    ["[" * 100_000, "x" * 10_000, "bm90IGEgdG9rZW4", "eyJzIjogInNlYXJjaCIsICJrIjogMX0", "ünï"],
)
def test_a_crafted_page_token_is_invalid_input(registry: Registry, token: str) -> None:
    for call in (
        lambda: registry.models(page_token=token),
        lambda: registry.search_versions(page_token=token),
        lambda: registry.events(page_token=token),
    ):
        with pytest.raises(InvalidInput, match="page token"):
            call()


def _token(scope: str, value: str, position: int = 1) -> str:
    """A page token of ``scope`` holding exactly ``value`` (how a crafted one is made)."""
    return base64.urlsafe_b64encode(f"{scope}|{value}|{position}".encode()).decode()


Listing = Callable[[Registry, str], object]
# Each listing by page token: the scope of its tokens, how it is called, and positions
# its tokens cannot hold besides an exponent past the float range (which overflowed
# float.fromhex): a fraction or an integer past the column for an integer order
# (PostgreSQL refused it as a value, SQLite read on), a value without an order.
CRAFTABLE: dict[str, tuple[str, Listing, tuple[str, ...]]] = {
    "search by created_at": (
        cursor.scope_of("search", "name = 'm'", "created_at"),
        lambda r, t: r.search("name = 'm'", order_by="created_at", page_token=t),
        ("0x1.8p+1", "-"),
    ),
    "search by number": (
        cursor.scope_of("search", "name = 'm'", "number asc"),
        lambda r, t: r.search("name = 'm'", order_by="number asc", page_token=t),
        (str(MAX_NUMBER + 1), str(2**63 - 1), "0x1.0p+1"),
    ),
    "search by a metric": (
        cursor.scope_of("search", "metrics.auc > 0", "metrics.auc desc"),
        lambda r, t: r.search("metrics.auc > 0", order_by="metrics.auc desc", page_token=t),
        (),
    ),
    "search newest first": (
        cursor.scope_of("search", "name = 'm'", ""),
        lambda r, t: r.search("name = 'm'", page_token=t),
        ("1", "0x1.0p+1"),
    ),
    "versions --where oldest first": (
        cursor.scope_of("versions:m", "number > 0", "asc"),
        lambda r, t: r.versions("m", where="number > 0", newest_first=False, page_token=t),
        (str(MAX_NUMBER + 1), "0x1.0p+1"),
    ),
    "versions --where newest first": (
        cursor.scope_of("versions:m", "number > 0", "desc"),
        lambda r, t: r.versions("m", where="number > 0", page_token=t),
        ("1",),
    ),
    "models --where": (
        cursor.scope_of("models", "name = 'm'"),
        lambda r, t: r.models(where="name = 'm'", page_token=t),
        ("1",),
    ),
}


@pytest.mark.parametrize("listing", sorted(CRAFTABLE))
def test_a_crafted_position_in_a_page_token_is_invalid_input(
    registry: Registry, model_file: Path, listing: str
) -> None:
    """A token of the right listing holding a position no page of it ends at is
    InvalidInput naming the page token, on both databases."""
    registry.register("m", [model_file], owners="o", metrics={"auc": 0.5})
    scope, call, bad = CRAFTABLE[listing]
    for value in ("0x1.0p+9999", "-0x1.0p+1024", "0x1.0p+1024", *bad):
        with pytest.raises(InvalidInput, match="page token"):
            call(registry, _token(scope, value, 1))


def test_a_version_number_past_any_in_a_page_token_is_invalid_input(
    registry: Registry, model_file: Path
) -> None:
    """A version listing's position is a number: one past MAX_NUMBER is refused on both
    databases (PostgreSQL's integer column refused it, SQLite read on)."""
    registry.register("m", [model_file], owners="o")
    for newest_first, order in ((True, "desc"), (False, "asc")):
        for position in (MAX_NUMBER + 1, 2**31, 2**63 - 1):
            token = paging.encode(f"versions:m:{order}", position)
            with pytest.raises(InvalidInput, match="page token"):
                registry.versions("m", newest_first=newest_first, page_token=token)
        last = paging.encode(f"versions:m:{order}", MAX_NUMBER)
        assert len(registry.versions("m", newest_first=newest_first, page_token=last).items) == (
            1 if newest_first else 0
        )


def test_a_page_token_of_one_listing_is_refused_by_another(
    registry: Registry, model_file: Path
) -> None:
    for _ in range(3):
        registry.register("m", [model_file], owners="o")
    token = registry.versions("m", limit=1).next_page_token
    assert token is not None
    with pytest.raises(InvalidInput, match="another listing"):
        registry.search_versions(page_token=token)
    assert [v.number for v in registry.versions("m", limit=1, page_token=token).items] == [2]


def test_semver_parts_stop_where_the_parser_stops(registry: Registry, model_file: Path) -> None:
    top = f"1.{MAX_NUMBER}.{MAX_NUMBER}"
    v = registry.register("m", [model_file], owners="o", semver=top)
    assert registry.get_version(f"models:/m/{v.semver}").number == 1
    with pytest.raises(InvalidInput, match=r"next PATCH would pass .*--semver"):
        registry.register("m", [model_file])
    model_file.write_bytes(b"retrained")
    with pytest.raises(InvalidInput, match=r"next MINOR would pass .*--semver"):
        registry.register("m", [model_file])
    with pytest.raises(InvalidInput, match="semver"):
        registry.register("m", [model_file], semver=f"1.{MAX_NUMBER + 1}.0")
    assert registry.register("m", [model_file], semver="2.0.0").number == 2


def test_a_missing_parent_is_not_found(registry: Registry, model_file: Path) -> None:
    registry.register("m", [model_file], owners="o")
    with pytest.raises(NotFound, match="models:/m/7"):
        registry.register("m", [model_file], parents=["models:/m/7"])
    assert registry.get_model("m").latest_version == 1
    v = registry.register("m", [model_file], parents=["models:/m/1"])
    assert v.lineage.parents == ("m/1",)


def test_the_embedded_registry_implements_the_service_interface(registry: Registry) -> None:
    assert isinstance(registry, RegistryAPI)


def test_errors_are_modelbook_errors(registry: Registry, model_file: Path) -> None:
    with pytest.raises(ModelbookError):
        registry.set_alias("nope", "prod", 1, reason="x")
    registry.register("m", [model_file], owners="o")
    with pytest.raises(Conflict):
        registry.set_alias("m", "prod", 1, reason="x", expect=3)


def test_a_key_repeated_in_tags_or_params_is_refused_like_a_repeated_metric(
    tmp_path: Path, model_file: Path
) -> None:
    from modelbook import validation
    from modelbook.cli import main

    with pytest.raises(InvalidInput, match="given twice"):
        validation.key_values(["team=a", "team=b"], "tag")
    with pytest.raises(InvalidInput, match="given twice"):
        validation.key_values(["C=1", "C=2"], "param")
    uri = f"sqlite:///{tmp_path / 'r.db'}"
    for flag in ("--tag", "--param"):
        with pytest.raises(SystemExit) as exit_:
            main(["--uri", uri, "register", "m", str(model_file), "--owner", "o",
                  flag, "k=1", flag, "k=2"])  # fmt: skip
        assert exit_.value.code == 6
    assert not (tmp_path / "r.db").exists() or Registry(uri).models().items == []


@pytest.mark.parametrize("uri", ["models:/m/1", "models:/m"])
def test_a_tag_both_set_and_removed_is_refused_and_nothing_changes(
    registry: Registry, model_file: Path, uri: str
) -> None:
    """``tag URI k=1 --rm k``: which was meant cannot be told (it removed k, exit 0)."""
    registry.register("m", [model_file], owners="o", tags={"k": "0"})
    registry.set_tags("models:/m", {"k": "0"})
    with pytest.raises(InvalidInput, match="'k' is both set and removed"):
        registry.set_tags(uri, {"k": "1", "other": "2"}, remove=["k"])
    assert registry.get_version("models:/m/1").tags == {"k": "0"}
    assert registry.get_model("m").tags == {"k": "0"}


def test_a_deeply_nested_or_nul_holding_contract_is_refused_before_anything_is_written(
    registry: Registry, model_file: Path, blob_dir: Path
) -> None:
    deep: object = "leaf"
    for _ in range(500):
        deep = [deep]
    for contract in ({"x": deep}, {"inputs": [{"name": "a\x00"}]}, {"a\x00": 1}):
        with pytest.raises(InvalidInput, match="contract"):
            registry.register("m", [model_file], owners="o", contract=contract)
    assert not [p for p in blob_dir.rglob("*") if p.is_file()]
    assert registry.models().items == []


@pytest.mark.parametrize("actor", ["rita\u200b", "\u202eevil", "a\u2028b"])
def test_an_actor_that_would_look_like_another_is_refused(
    registry: Registry, model_file: Path, actor: str
) -> None:
    with pytest.raises(InvalidInput, match="invisible"):
        registry.register("m", [model_file], owners="o", actor=actor)
    with pytest.raises(InvalidInput, match="invisible"):
        registry.register("m", [model_file], owners=[actor])


def test_a_seed_beyond_64_bits_is_refused(registry: Registry, model_file: Path) -> None:
    with pytest.raises(InvalidInput, match="64-bit"):
        registry.register("m", [model_file], owners="o", seed=2**64)


def test_damaged_model_and_event_rows_are_named_and_spare_their_listings(
    registry: Registry, model_file: Path
) -> None:
    registry.register("a", [model_file], owners="o")
    registry.register("b", [model_file], owners="o")
    with registry.db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE models SET owners = 'garbage' WHERE name = 'a'"))
        if registry.db.dialect == "postgresql":
            conn.execute(sa.text("DROP TRIGGER events_append_only ON events"))
        else:
            conn.execute(sa.text("DROP TRIGGER events_append_only_update"))
        conn.execute(
            sa.text("UPDATE events SET canonical = 'garbage' WHERE model = 'b' AND seq = 1")
        )
    page = registry.models()
    assert [m.name for m in page.items] == ["b"]
    assert "model 'a'" in page.unreadable[0]
    with pytest.raises(IntegrityError, match="model 'a'"):
        registry.get_model("a")
    events = registry.events(model="b")
    assert len(events.items) == 1 and len(events.unreadable) == 1
    assert registry.get_version("b/1").number == 1
