"""``actor``: only named principals or roles may make this move.

Policy::

    check = "actor"
    principals = ["ci"]            # these actors may
    roles = ["deployer"]           # and so may anyone holding one of these roles
    deny_registrant = false        # true: the registrant of the version may not

The actor passes when named in ``principals`` or holding one of ``roles``
(admin holds every role), and, with ``deny_registrant``, did not register
the version. At least one of the three must be given.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, JsonValue, model_validator

from .. import people, validation
from .. import roles as role_rules
from ..domain import Version
from ..errors import InvalidInput
from .base import CheckContext, CheckDef, CheckParams, CheckResult, failed, passed

NAME = "actor"


def _role(value: str) -> str:
    try:
        return role_rules.role(value).value
    except InvalidInput as exc:
        raise ValueError(exc.message) from None


def _principal(value: str) -> str:
    # Compared with actors, which are validated and normalised the same way.
    try:
        return validation.actor(value)
    except InvalidInput as exc:
        raise ValueError(exc.message) from None


class Params(CheckParams):
    """``principals`` (actor names), ``roles`` (role names), ``deny_registrant``."""

    principals: tuple[Annotated[str, AfterValidator(_principal)], ...] = ()
    roles: tuple[Annotated[str, AfterValidator(_role)], ...] = ()
    deny_registrant: bool = False

    @model_validator(mode="after")
    def _something(self) -> Params:
        if not (self.principals or self.roles or self.deny_registrant):
            raise ValueError("name principals, roles, or set deny_registrant = true")
        return self


def run(version: Version, params: Params, ctx: CheckContext) -> CheckResult:
    """Pass when the actor is allowed by name or role, and is not a denied registrant."""
    evidence: dict[str, JsonValue] = {
        "actor": ctx.actor,
        "actor_roles": [*sorted(ctx.actor_roles)],
    }
    restricted = bool(params.principals or params.roles)
    by_name = ctx.actor in params.principals
    by_role = [r for r in params.roles if role_rules.has_role(ctx.actor_roles, r)]
    if restricted and not (by_name or by_role):
        allowed = [*params.principals, *(f"role {r}" for r in params.roles)]
        return failed(
            NAME,
            f"{ctx.actor} may not move a version to {ctx.target_stage!r}: "
            f"only {', '.join(allowed)} may",
            f"have one of {', '.join(allowed)} make this move",
            **evidence,
        )
    registrant = people.same_person(ctx.actor, version.created_by)
    if params.deny_registrant and registrant:
        return failed(
            NAME,
            f"{ctx.actor} registered version {version.number} and may not move it to "
            f"{ctx.target_stage!r} (separation of duties)",
            "someone other than the registrant makes this move",
            **evidence,
        )
    why = "by name" if by_name else f"as {by_role[0]}" if by_role else "not the registrant"
    return passed(NAME, f"{ctx.actor} may move to {ctx.target_stage!r} ({why})", **evidence)


CHECK = CheckDef(NAME, Params, run, "only named principals or roles may make this move")
