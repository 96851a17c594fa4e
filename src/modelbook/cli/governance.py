"""Governance commands: ``init``, ``policy set``/``show`` and ``role grant``/``revoke``/``list``.

The registry checks a policy completely when it is set and names each bad
line (exit 6); only an admin sets policies and grants roles (exit 10).
``init`` creates an empty registry with its first admin, so that a policy
can be set before the first version is registered.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .app import JsonOpt, app, open_registry
from .render import emit_json, fmt_time, line, safe, table

if TYPE_CHECKING:
    from ..services.governance import PolicyInfo, RoleGrant

policy_app = typer.Typer(help="Set and show the release policy (gates per risk tier).")
app.add_typer(policy_app, name="policy")
role_app = typer.Typer(help="Grant, revoke and list roles (viewer ... admin).")
app.add_typer(role_app, name="role")

ActorArg = Annotated[str, typer.Argument(help="Who: a MODELBOOK_USER or login name.")]
RoleArg = Annotated[str, typer.Argument(help="viewer, contributor, reviewer, deployer or admin.")]


def _policy_json(info: PolicyInfo) -> dict[str, Any]:
    return {
        "default": info.is_default,
        "source": info.source,
        "format": info.format,
        "sha256": info.sha256,
        "set_by": info.set_by,
        "set_at": None if info.set_at is None else info.set_at.isoformat().replace("+00:00", "Z"),
        "text": info.text,
    }


def _policy_line(info: PolicyInfo) -> str:
    if info.is_default or info.set_at is None:
        return (
            f"policy: the shipped default ({safe(info.source)}, sha256 {info.sha256}); "
            "no policy has been set"
        )
    return (
        f"policy: {safe(info.source)} ({safe(info.format)}, sha256 {info.sha256}), "
        f"set by {safe(info.set_by or '')} at {fmt_time(info.set_at)}"
    )


@policy_app.command("set")
def policy_set(
    file: Annotated[Path, typer.Argument(help="The policy: .toml, .yaml or .yml.")],
    as_json: JsonOpt = False,
) -> None:
    """Check and store the release policy (admin); each problem names its line."""
    from .. import files, limits
    from ..errors import InvalidInput

    text = files.read_text(file, "policy file", limits.MAX_TEXT)
    with open_registry(create=False) as registry:
        # The file's name is what errors cite, and its suffix picks the format.
        try:
            info = registry.set_policy(text, source=file.name)
        except InvalidInput as exc:
            # One problem a line, as the docs show them; the error line then
            # says how many (stderr keeps one escaped line per problem).
            problems = exc.message.splitlines()
            if len(problems) > 1:
                for problem in problems:
                    line(safe(problem), err=True)
                raise InvalidInput(f"{len(problems)} problems in {file.name}") from None
            raise
    if as_json:
        emit_json(_policy_json(info))
    else:
        line(_policy_line(info))


@policy_app.command("show")
def policy_show(as_json: JsonOpt = False) -> None:
    """Print the policy in force, who set it and when (or that it is the shipped default)."""
    with open_registry(create=False) as registry:
        info = registry.policy()
    if as_json:
        emit_json(_policy_json(info))
        return
    line(_policy_line(info))
    line("")
    # The policy's text is printed as written, each line escaped for the terminal.
    for text in info.text.splitlines():
        line(safe(text))


def _grant_json(g: RoleGrant) -> dict[str, Any]:
    return {
        "actor": g.actor,
        "role": g.role,
        "granted_by": g.granted_by,
        "granted_at": g.granted_at.isoformat().replace("+00:00", "Z"),
    }


@app.command()
def init(
    admin: Annotated[
        str | None,
        typer.Option(help="The registry's first admin (default: you, MODELBOOK_USER)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an empty registry and record its first admin; exit 4 if one exists there."""
    from ..errors import AlreadyExists

    with open_registry(create=True, admin=admin) as registry:
        grants = registry.roles()
        admins = sorted(g.actor for g in grants if g.role == "admin")
        if not registry.created:
            held = f"its admins: {', '.join(admins)}" if admins else "it has no admin"
            raise AlreadyExists(f"a registry already exists at {registry.uri} ({held})")
        where = registry.uri
    if as_json:
        emit_json({"uri": where, "created": True, "admins": admins})
    else:
        line(f"created the registry at {safe(where)}; first admin: {safe(', '.join(admins))}")


@role_app.command("grant")
def role_grant(
    who: ActorArg,
    role: RoleArg,
    first_admin: Annotated[
        bool,
        typer.Option(
            "--first-admin",
            help="Name the first admin of a registry that has none (made by an older "
            "modelbook); refused once it has one.",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Grant a role (admin only; --first-admin on a registry without an admin)."""
    with open_registry(create=False) as registry:
        grant = registry.grant_role(who, role, first_admin=first_admin)
    if as_json:
        emit_json(_grant_json(grant))
    else:
        line(f"granted {safe(grant.role)} to {safe(grant.actor)}")


@role_app.command("revoke")
def role_revoke(who: ActorArg, role: RoleArg, as_json: JsonOpt = False) -> None:
    """Revoke a role (admin only); the last admin stays."""
    with open_registry(create=False) as registry:
        registry.revoke_role(who, role)
    if as_json:
        emit_json({"actor": who, "role": role, "revoked": True})
    else:
        line(f"revoked {safe(role)} from {safe(who)}")


@role_app.command("list")
def role_list(as_json: JsonOpt = False) -> None:
    """Every role granted on the registry: who, which role, granted by whom and when."""
    with open_registry(create=False) as registry:
        grants = registry.roles()
    if as_json:
        emit_json([_grant_json(g) for g in grants])
        return
    table(
        ("actor", "role", "granted by", "since"),
        ((g.actor, g.role, g.granted_by, fmt_time(g.granted_at)) for g in grants),
    )


@app.command("risk-tier")
def risk_tier(
    name: Annotated[str, typer.Argument(help="Model name.")],
    tier: Annotated[str, typer.Argument(help="low, medium or high.")],
    reason: Annotated[str, typer.Option(help="Why the tier changes (recorded).")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Change a model's risk tier (admin): the tier picks the gates of its versions."""
    with open_registry(create=False) as registry:
        before = registry.set_risk_tier(name, tier, reason=reason)
    if as_json:
        emit_json({"model": name, "risk_tier": tier, "previous": before})
    else:
        line(f"models:/{safe(name)} is {safe(tier)} risk (was {safe(before)})")
