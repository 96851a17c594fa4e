"""Roles, and which role each operation needs.

Pure rules: the service looks up the roles an actor holds and calls
:func:`require` before it does anything.

Five roles:

- ``viewer``: reads models, versions, aliases, history. Every other role
  includes it.
- ``contributor``: registers versions, tags, comments, records online
  observations and watches, promotes between the stages before ``deployed``,
  moves aliases that do not serve traffic, deprecates and archives versions
  that neither serve nor are rollback targets (and withdraws those deprecations,
  and restores those archives).
- ``reviewer``: approves, rejects and attests (signs off ``pii_review``,
  ``security_scan`` ...).
- ``deployer``: deploys, rolls back, marks a deployment healthy, moves serving
  aliases, runs rollback drills, deprecates, undeprecates and archives versions
  that are deployed or rollback targets, and restores those archived from there.
- ``admin``: everything, including setting the policy, granting and revoking
  roles, changing a model's risk tier and collecting garbage.

Roles other than ``admin`` do not include each other: a deployer does not
approve and a reviewer does not deploy, so the people who judge a release and
the people who ship it can be kept apart.
"""

from __future__ import annotations

import enum
import shlex
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from .errors import InvalidInput, PermissionDenied


class Role(enum.StrEnum):
    """A role an actor may hold on a registry."""

    VIEWER = "viewer"
    CONTRIBUTOR = "contributor"
    REVIEWER = "reviewer"
    DEPLOYER = "deployer"
    ADMIN = "admin"


ROLE_NAMES: tuple[str, ...] = tuple(r.value for r in Role)

OPERATIONS: Mapping[str, Role] = MappingProxyType(
    {
        "read": Role.VIEWER,
        "register": Role.CONTRIBUTOR,
        "model_edit": Role.CONTRIBUTOR,
        "tag": Role.CONTRIBUTOR,
        "comment": Role.CONTRIBUTOR,
        "observe": Role.CONTRIBUTOR,
        "watch": Role.CONTRIBUTOR,
        "promote": Role.CONTRIBUTOR,
        "alias_move": Role.CONTRIBUTOR,
        "deprecate": Role.CONTRIBUTOR,
        "undeprecate": Role.CONTRIBUTOR,
        "archive": Role.CONTRIBUTOR,
        "restore": Role.CONTRIBUTOR,
        # A deployed version, or one a rollback may return to: retiring it (or
        # bringing it back) changes what can serve, which is a deployer's call.
        "retire_released": Role.DEPLOYER,
        "approve": Role.REVIEWER,
        "reject": Role.REVIEWER,
        "attest": Role.REVIEWER,
        "deploy": Role.DEPLOYER,
        "rollback": Role.DEPLOYER,
        "mark_healthy": Role.DEPLOYER,
        "serving_alias_move": Role.DEPLOYER,
        "drill": Role.DEPLOYER,
        # A lower tier picks a lighter gate, so changing it is a policy decision.
        "risk_tier_set": Role.ADMIN,
        "policy_set": Role.ADMIN,
        "role_grant": Role.ADMIN,
        "role_revoke": Role.ADMIN,
        "gc": Role.ADMIN,
    }
)
"""Operation name → the role it needs. The service names its operations with these keys."""

#: What each operation does, as the end of "ACTOR may not ...".
IN_WORDS: Mapping[str, str] = MappingProxyType(
    {
        "read": "read the registry",
        "register": "register versions",
        "model_edit": "change models",
        "tag": "set tags",
        "comment": "comment on versions",
        "observe": "record online metrics",
        "watch": "record monitoring",
        "promote": "promote versions",
        "alias_move": "move aliases",
        "deprecate": "deprecate versions",
        "undeprecate": "withdraw deprecations",
        "archive": "archive versions",
        "restore": "restore archived versions",
        "retire_released": (
            "deprecate, undeprecate, archive or restore a version that is deployed or a "
            "rollback target, or was one when it was archived"
        ),
        "approve": "approve versions",
        "reject": "reject versions",
        "attest": "attest versions",
        "deploy": "deploy",
        "rollback": "roll back",
        "mark_healthy": "mark versions healthy",
        "serving_alias_move": "move or remove a serving alias (that deploys)",
        "drill": "run rollback drills",
        "risk_tier_set": "change a model's risk tier",
        "policy_set": "set the release policy",
        "role_grant": "grant roles",
        "role_revoke": "revoke roles",
        "gc": "collect unreferenced blobs",
    }
)


def role(name: str) -> Role:
    """The role called ``name``.

    Raises:
        InvalidInput: ``name`` is not one of viewer, contributor, reviewer,
            deployer, admin.
    """
    try:
        return Role(name)
    except ValueError:
        raise InvalidInput(
            f"unknown role {name!r}: choose one of {', '.join(ROLE_NAMES)}"
        ) from None


def has_role(held: Iterable[str], needed: str) -> bool:
    """Whether roles ``held`` (role names) include ``needed``.

    ``admin`` includes every role; any role includes ``viewer``. Unknown names
    in ``held`` are ignored.
    """
    roles = frozenset(held)
    if needed in roles or Role.ADMIN in roles:
        return True
    return needed == Role.VIEWER and bool(roles & frozenset(ROLE_NAMES))


def required_role(operation: str) -> Role:
    """The role ``operation`` (a key of :data:`OPERATIONS`) needs.

    Raises:
        InvalidInput: the operation is not in the table.
    """
    try:
        return OPERATIONS[operation]
    except KeyError:
        raise InvalidInput(
            f"unknown operation {operation!r}: choose one of {', '.join(sorted(OPERATIONS))}"
        ) from None


def alias_operation(alias: str, serving_aliases: Iterable[str]) -> str:
    """The operation a move of ``alias`` is: ``serving_alias_move`` or ``alias_move``.

    ``serving_aliases`` are the policy's aliases that serve traffic
    (``production`` by default); moving one of them is a deployment.
    """
    return "serving_alias_move" if alias in frozenset(serving_aliases) else "alias_move"


def retire_operation(operation: str, stage: str, released: Iterable[str]) -> str:
    """The operation a deprecation, its undo, an archive or a restore of a version in
    ``stage`` is (for a restore: the stage it was archived from).

    ``operation``: ``deprecate``, ``undeprecate``, ``archive`` or ``restore``. ``released``: the
    stages from which a version serves or may be rolled back to (``deployed`` and
    the stage before it, ``approved`` by default). A version in one of them needs
    ``retire_released`` (deployer); any other, ``operation`` itself (contributor).
    """
    return "retire_released" if stage in frozenset(released) else operation


def reviewer_holding(role: str | None) -> str:
    """Who may record a review (an approval or a sign-off, the ``reviewer`` role's
    operations) that a check asking for ``role`` counts: reviewing needs ``reviewer``
    whatever the check asks, and ``admin`` holds every role. A noun: ``reviewer``,
    ``admin``, or ``person holding both reviewer and ROLE (or an admin)``."""
    if role is None or role in (Role.VIEWER, Role.REVIEWER):
        return Role.REVIEWER.value
    if role == Role.ADMIN:
        return Role.ADMIN.value
    return f"person holding both reviewer and {role} (or an admin)"


def require(
    operation: str,
    roles: Iterable[str],
    actor: str,
    *,
    reads_as: tuple[str, Iterable[str]] | None = None,
) -> None:
    """Refuse ``operation`` unless ``actor``, holding ``roles``, has the role it needs.

    Args:
        operation: a key of :data:`OPERATIONS`, e.g. ``"deploy"``.
        roles: the role names ``actor`` holds on this registry.
        actor: the principal asking, named in the error.
        reads_as: another principal ``actor`` is one person with (case, accents,
            look-alike letters) and the roles it holds. A role is never granted
            to ``actor`` then, so the message names that principal instead.

    Raises:
        PermissionDenied: the actor lacks the role; the message names the role
            and the command an admin runs to grant it, as it would be accepted.
        InvalidInput: ``operation`` is unknown.
    """
    needed = required_role(operation)
    held = sorted(frozenset(roles) & frozenset(ROLE_NAMES))
    if has_role(held, needed):
        return
    what = IN_WORDS.get(operation, operation.replace("_", " "))
    having = f"holds {', '.join(held)}" if held else "holds no role"
    refused = f"{actor} may not {what}: it needs the role {needed.value!r} and {actor} {having}"
    if reads_as is None:
        raise PermissionDenied(
            f"{refused}; an admin can grant it with: "
            f"modelbook role grant {shlex.quote(actor)} {needed.value}"
        )
    other, other_roles = reads_as
    fix = f"act as {other} (MODELBOOK_USER={shlex.quote(other)})"
    if not has_role(other_roles, needed):
        fix += (
            f" after an admin grants it with: modelbook role grant {shlex.quote(other)} "
            f"{needed.value}"
        )
    raise PermissionDenied(
        f"{refused}; {actor} reads as {other}, who holds a role, so no role is granted to "
        f"{actor}: {fix}"
    )
