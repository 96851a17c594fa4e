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
    """Remove ALIAS."""
    with open_registry(create=False) as registry:
        registry.delete_alias(name, alias, reason=reason, expect=expect)
    if as_json:
        emit_json({"model": name, "alias": alias, "removed": True})
    else:
        line(f"removed models:/{safe(name)}@{safe(alias)}")


@alias_app.command("list")
def alias_list(name: ModelArg, as_json: JsonOpt = False) -> None:
    """Show where each alias of a model points."""
    with open_registry(create=False) as registry:
        aliases = registry.aliases(name)
    if as_json:
        emit_json([a.model_dump(mode="json") for a in aliases])
        return
    table(
        ("alias", "version", "pinned", "since", "by"),
        (
            (a.name, str(a.version), _pin(a.pinned_major), fmt_time(a.updated_at), a.updated_by)
            for a in aliases
        ),
    )


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
