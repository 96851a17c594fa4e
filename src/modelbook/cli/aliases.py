"""``modelbook alias``: move, remove and inspect aliases such as ``production``."""

from __future__ import annotations

from typing import Annotated

import typer

from .app import JsonOpt, app, open_registry
from .render import emit_json, fmt_time, line, safe, table

alias_app = typer.Typer(help="Move, remove and inspect aliases such as production.")
app.add_typer(alias_app, name="alias")

ModelArg = Annotated[str, typer.Argument(help="Model name.")]
AliasArg = Annotated[str, typer.Argument(help="Alias name, e.g. production.")]


AllowMajorOpt = Annotated[
    bool,
    typer.Option(
        "--allow-major",
        help="Let a pinned alias move to another semver MAJOR (recorded with --reason).",
    ),
]


def _num(n: int | None) -> str:
    return "-" if n is None else str(n)


@alias_app.command("set")
def alias_set(
    name: ModelArg,
    alias: AliasArg,
    version: Annotated[str, typer.Argument(help="Version number or semver.")],
    reason: Annotated[str, typer.Option(help="Why the alias moves (recorded).")] = "",
    expect: Annotated[
        int | None, typer.Option(help="Move only if the alias points at this version (0: unset).")
    ] = None,
    allow_major: AllowMajorOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Point ALIAS at VERSION."""
    # Digits name a version number, anything else a semver; the registry checks both.
    target: int | str = int(version) if version.isascii() and version.isdigit() else version
    with open_registry(create=False) as registry:
        result = registry.set_alias(
            name, alias, target, reason=reason, expect=expect, allow_major=allow_major
        )
    if as_json:
        emit_json(result.model_dump(mode="json"))
    else:
        line(f"models:/{safe(name)}@{safe(alias)} -> {result.version}")


@alias_app.command("rm")
def alias_rm(
    name: ModelArg,
    alias: AliasArg,
    reason: Annotated[str, typer.Option(help="Why the alias is removed (recorded).")] = "",
    expect: Annotated[
        int | None, typer.Option(help="Remove only if the alias points at this version.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove ALIAS (its pin, if any, is kept: `alias unpin` removes it)."""
    with open_registry(create=False) as registry:
        registry.delete_alias(name, alias, reason=reason, expect=expect)
        kept = next((p.major for p in registry.alias_pins(name) if p.alias == alias), None)
    if as_json:
        emit_json({"model": name, "alias": alias, "removed": True, "pinned_major": kept})
        return
    line(f"removed models:/{safe(name)}@{safe(alias)}")
    if kept is not None:
        line(
            f"its pin to major {kept} is kept: setting @{safe(alias)} again needs a version "
            f"of major {kept} (or `modelbook alias unpin {safe(name)} {safe(alias)}`)"
        )


@alias_app.command("list")
def alias_list(name: ModelArg, as_json: JsonOpt = False) -> None:
    """Show where each alias of a model points, and the pins of removed aliases."""
    with open_registry(create=False) as registry:
        aliases = registry.aliases(name)
        orphans = [p for p in registry.alias_pins(name) if p.version is None]
    if as_json:
        emit_json([a.model_dump(mode="json") for a in aliases])
        return
    rows = [
        (a.name, str(a.version), _pin(a.pinned_major), fmt_time(a.updated_at), a.updated_by)
        for a in aliases
    ]
    rows += [
        (p.alias, "(removed)", _pin(p.major), fmt_time(p.pinned_at), p.pinned_by) for p in orphans
    ]
    table(("alias", "version", "pinned", "since", "by"), sorted(rows))


def _pin(major: int | None) -> str:
    return "-" if major is None else f"major {major}"


@alias_app.command("pin")
def alias_pin(
    name: ModelArg,
    alias: AliasArg,
    major: Annotated[
        int, typer.Option(help="The semver MAJOR the alias must keep serving.", show_default=False)
    ],
    as_json: JsonOpt = False,
) -> None:
    """Pin ALIAS to one semver MAJOR: moves to another MAJOR need --allow-major."""
    with open_registry(create=False) as registry:
        result = registry.pin_alias(name, alias, major)
    if as_json:
        emit_json(result.model_dump(mode="json"))
    else:
        line(f"models:/{safe(name)}@{safe(alias)} pinned to major {result.pinned_major}")


@alias_app.command("pins")
def alias_pins(name: ModelArg, as_json: JsonOpt = False) -> None:
    """List the pins of a model's aliases, those of removed aliases included."""
    with open_registry(create=False) as registry:
        found = registry.alias_pins(name)
    if as_json:
        emit_json([p.model_dump(mode="json") for p in found])
        return
    if not found:
        line(f"no alias of {safe(name)} is pinned")
        return
    table(
        ("alias", "pinned", "version", "since", "by"),
        (
            (
                p.alias,
                _pin(p.major),
                "(alias removed)" if p.version is None else str(p.version),
                fmt_time(p.pinned_at),
                p.pinned_by,
            )
            for p in found
        ),
    )


@alias_app.command("unpin")
def alias_unpin(name: ModelArg, alias: AliasArg, as_json: JsonOpt = False) -> None:
    """Remove the pin of ALIAS."""
    with open_registry(create=False) as registry:
        registry.unpin_alias(name, alias)
    if as_json:
        emit_json({"model": name, "alias": alias, "pinned_major": None})
    else:
        line(f"models:/{safe(name)}@{safe(alias)} is no longer pinned")


@alias_app.command("history")
def alias_history(
    name: ModelArg,
    alias: Annotated[str | None, typer.Argument(help="Only this alias.")] = None,
    limit: Annotated[int, typer.Option(help="Most recent moves to show.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Every move of the model's aliases: who, when, from, to, why."""
    with open_registry(create=False) as registry:
        events = registry.alias_history(name, alias, limit=limit)
    if as_json:
        emit_json([e.model_dump(mode="json") for e in events])
        return
    table(
        ("when", "alias", "from", "to", "who", "why"),
        (
            (
                fmt_time(e.at),
                e.alias,
                _num(e.from_version),
                _num(e.to_version),
                e.actor,
                e.reason,
            )
            for e in events
        ),
    )


@alias_app.command("swap")
def alias_swap(
    name: ModelArg,
    first: Annotated[str, typer.Argument(help="One alias, e.g. champion.")],
    second: Annotated[str, typer.Argument(help="The other, e.g. challenger.")],
    reason: Annotated[str, typer.Option(help="Why they swap (recorded; required).")] = "",
    allow_major: AllowMajorOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Exchange the versions two aliases point at, in one step."""
    with open_registry(create=False) as registry:
        result = registry.swap_aliases(name, first, second, reason=reason, allow_major=allow_major)
    if as_json:
        emit_json([a.model_dump(mode="json") for a in result])
    else:
        line(", ".join(f"models:/{safe(name)}@{safe(a.name)} -> {a.version}" for a in result))
