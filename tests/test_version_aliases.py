"""The aliases a version is read with: every alias write (set, move, swap, delete;
deploy and rollback move aliases the same way) shows on the version it left and the
one it reached, in every read (by number, alias, listing, search), and a registry
written before revision 0008 reads its versions' aliases after the upgrade."""

from __future__ import annotations

from pathlib import Path

from alembic import command

from modelbook import Registry

from .reliability.helpers import check_invariants
from .test_migrations import alembic_config, head, revisions


def _held(reg: Registry, name: str) -> dict[int, tuple[str, ...]]:
    """Each version's aliases as its reads return them, checked to be the same in every
    read, and against the aliases of the model."""
    pointing: dict[int, list[str]] = {}
    for a in reg.aliases(name):
        pointing.setdefault(a.version, []).append(a.name)
    listed = {v.number: v.aliases for v in reg.versions(name).items}
    searched = {v.number: v.aliases for v in reg.search_versions(model=name).items}
    for number, aliases in listed.items():
        assert reg.get_version(f"models:/{name}/{number}").aliases == aliases
        assert searched[number] == aliases
        assert aliases == tuple(sorted(pointing.get(number, [])))
        for alias in aliases:
            assert reg.resolve(f"models:/{name}@{alias}").aliases == aliases
    return {n: a for n, a in listed.items() if a}


def test_every_alias_write_shows_on_both_versions(registry: Registry, model_file: Path) -> None:
    for _ in range(3):
        registry.register("m", [model_file], owners="o", capture_environment=False)
    registry.set_alias("m", "champion", 1, reason="first")
    registry.set_alias("m", "challenger", 2, reason="try")
    assert _held(registry, "m") == {1: ("champion",), 2: ("challenger",)}
    registry.set_alias("m", "champion", 2, reason="better")
    assert _held(registry, "m") == {2: ("challenger", "champion")}
    registry.set_alias("m", "challenger", 3, reason="next")
    assert _held(registry, "m") == {2: ("champion",), 3: ("challenger",)}
    registry.swap_aliases("m", "champion", "challenger", reason="swap")
    assert _held(registry, "m") == {2: ("challenger",), 3: ("champion",)}
    registry.delete_alias("m", "challenger", reason="done")
    assert _held(registry, "m") == {3: ("champion",)}
    registry.delete_alias("m", "champion", reason="done")
    assert _held(registry, "m") == {}
    check_invariants(registry, read=False)


def test_a_registry_written_before_revision_0008_reads_its_aliases_after_it(
    db_uri: str, blob_dir: Path, model_file: Path
) -> None:
    with Registry(db_uri, blob_uri=str(blob_dir), actor="founder") as reg:
        for model in ("a", "b"):
            for _ in range(2):
                reg.register(model, [model_file], owners="o", capture_environment=False)
        reg.set_alias("a", "champion", 2, reason="r")
        reg.set_alias("a", "challenger", 2, reason="r")
        reg.set_alias("b", "champion", 1, reason="r")
        cfg = alembic_config()
        with reg.db.engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0007")
            conn.commit()

    with Registry(db_uri, blob_uri=str(blob_dir), actor="founder") as reg:
        assert revisions(reg) == [head()]
        assert _held(reg, "a") == {2: ("challenger", "champion")}
        assert _held(reg, "b") == {1: ("champion",)}
        reg.set_alias("b", "champion", 2, reason="after the upgrade")
        assert _held(reg, "b") == {2: ("champion",)}
        check_invariants(reg, read=False)
