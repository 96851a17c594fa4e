"""Registry-wide settings of the release flow: the policy in force, and roles.

Embedded mode trusts the local user: the actor is ``MODELBOOK_USER`` or the
login name, and roles are looked up by that name. The actor who creates the
registry is recorded as its first admin in the transaction that creates it
(:func:`found`); an admin grants every other role. A registry without an
admin (made by an older modelbook) gets one only by an explicit first-admin
grant. Operations of the contributor level (register, tag, promote, comment
...) are open to every local user; reviewer, deployer and admin operations
need the role.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Connection

from .. import people, validation
from .. import roles as role_rules
from ..errors import Conflict, IntegrityError, InvalidInput, NotFound, PermissionDenied
from ..lifecycle import DEPLOYED
from ..policy import DEFAULT_POLICY_TEXT, Policy, default_policy, load_policy
from ..store import governance as rows
from ..store import versions as version_rows
from ..store.rows import to_dt
from . import audit as log
from .base import Context

# Operations every local user may run in embedded mode (see the module docstring).
OPEN_ROLE = role_rules.Role.CONTRIBUTOR


@dataclass(frozen=True)
class PolicyInfo:
    """The policy in force: its text and who set it when (None for the shipped default)."""

    text: str
    format: str
    source: str
    sha256: str
    set_by: str | None
    set_at: datetime | None

    @property
    def is_default(self) -> bool:
        return self.set_by is None


@dataclass(frozen=True)
class RoleGrant:
    actor: str
    role: str
    granted_by: str
    granted_at: datetime


def fits_current_state(conn: Connection, policy: Policy, source: str) -> None:
    """Refuse a policy under which stored versions would break the rules.

    Every stage a version is in must remain a stage, every deployed version must
    stay pointed at by a serving alias, and no serving alias may point at a
    version that is not deployed. Raises InvalidInput naming each conflict and
    what to do first.
    """
    graph = policy.graph
    problems: list[str] = []
    for stage in sorted(version_rows.stages_in_use(conn)):
        if stage not in graph.stages:
            problems.append(
                f"versions are in stage {stage!r}, which the policy drops: "
                "move or archive them first, or keep the stage"
            )
    pointed, deployed = version_rows.serving_state(conn)
    served = {(r.model, r.number) for r in pointed if graph.is_serving(r.alias)}
    for r in pointed:
        if graph.is_serving(r.alias) and r.stage != DEPLOYED:
            problems.append(
                f"models:/{r.model}@{r.alias} would serve version {r.number}, which is "
                f"{r.stage!r}: deploy it or remove the alias first"
            )
    for r in deployed:
        if (r.model, r.number) not in served:
            problems.append(
                f"models:/{r.model}/{r.number} is deployed, but no alias of the policy's "
                f"serving aliases ({', '.join(graph.serving_aliases)}) points at it: keep its "
                "serving alias in the policy, or roll back first"
            )
    if problems:
        raise InvalidInput(
            f"{source}: the policy does not fit the registry: " + "; ".join(problems)
        )


class GovernanceService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._parsed: tuple[str, Policy] | None = None
        self._lock = threading.Lock()

    # policy ---------------------------------------------------------------------

    def policy(self, conn: Connection) -> Policy:
        """The policy in force, parsed once per text (only its hash is read when known)."""
        return self.policy_of(conn, rows.current_policy_sha256(conn))

    def policy_of(self, conn: Connection, digest: str | None) -> Policy:
        """The policy in force when ``digest`` is its hash, read in the same transaction
        (the ``policy_sha256`` of a locked row); None: the default applies. Raises
        IntegrityError when the stored text does not hash to its recorded sha256."""
        if digest is None:
            return default_policy()
        cached = self._parsed
        if cached is not None and cached[0] == digest:
            return cached[1]
        row = rows.current_policy(conn)
        assert row is not None
        text = row.text.encode("utf-8", "surrogatepass") if isinstance(row.text, str) else None
        if text is None or hashlib.sha256(text).hexdigest() != row.sha256:
            # Its text is not the one set: a stored policy is never the caller's input.
            raise IntegrityError(
                f"the policy in force (set by {row.set_by!r}) is not the text that was set: "
                f"it does not hash to its recorded sha256 {row.sha256}; the registry's "
                "records may have been altered"
            )
        # Read as it was accepted when set: rules added since apply at policy set.
        parsed = load_policy(row.text, source=row.source, format=row.format, as_stored=True)
        with self._lock:
            self._parsed = (str(row.sha256), parsed)
        return parsed

    def policy_info(self) -> PolicyInfo:
        row = self.ctx.db.reading(rows.current_policy)
        if row is None:
            return PolicyInfo(
                text=DEFAULT_POLICY_TEXT,
                format="toml",
                source="default.toml",
                sha256=hashlib.sha256(DEFAULT_POLICY_TEXT.encode()).hexdigest(),
                set_by=None,
                set_at=None,
            )
        return PolicyInfo(
            text=row.text,
            format=row.format,
            source=row.source,
            sha256=row.sha256,
            set_by=row.set_by,
            set_at=to_dt(row.set_at),
        )

    def set_policy(
        self, text: str, *, actor: str, source: str = "policy", format: str | None = None
    ) -> PolicyInfo:
        """Check and store a policy; it applies to every gate evaluated after this call.

        Raises InvalidInput (each problem naming its line), PermissionDenied
        (only an admin sets the policy).
        """
        validation.text(text, "policy", validation.MAX_TEXT_LEN)
        validation.text(source, "policy source name", 256)
        # Refused before the text is parsed: reading a policy costs what its author
        # makes it cost, which is for an admin to spend. The write checks again.
        self.ctx.db.reading(lambda conn: self.require(conn, "policy_set", actor))
        parsed = load_policy(text, source=source, format=format)  # type: ignore[arg-type]
        digest = hashlib.sha256(text.encode()).hexdigest()
        now = self.ctx.clock()
        with self.ctx.db.write() as conn:
            head = log.registry_head(conn)
            self.require(conn, "policy_set", actor, head=head, at=now)
            fits_current_state(conn, parsed, source)
            before = rows.current_policy(conn)
            rows.add_policy(
                conn,
                {
                    "text": text,
                    "format": parsed.format,
                    "source": source,
                    "sha256": digest,
                    "set_by": actor,
                    "set_at": now,
                },
            )
            log.record(
                conn,
                log.registry_head(conn),
                actor=actor,
                at=now,
                action="policy.set",
                subject="registry:policy",
                before={"sha256": None if before is None else before.sha256},
                after={"sha256": digest, "source": source, "format": parsed.format},
            )
        return self.policy_info()

    # roles ----------------------------------------------------------------------

    def roles_of(self, conn: Connection, actor: str) -> frozenset[str]:
        return rows.roles_of(conn, actor)

    def require(
        self,
        conn: Connection,
        operation: str,
        actor: str,
        *,
        head: log.Head | None = None,
        at: int | None = None,
    ) -> frozenset[str]:
        """The actor's roles, or PermissionDenied when ``operation`` needs one they lack
        (on a registry with no admin, the error says how to name its first admin)."""
        needed = role_rules.required_role(operation)
        held = rows.roles_of(conn, actor)
        if needed == OPEN_ROLE or needed == role_rules.Role.VIEWER:
            return held
        if role_rules.has_role(held, needed.value):
            return held
        if not rows.admins(conn):
            _no_admin(operation, actor)
        # A grant to a name that reads as another principal's is refused
        # (_refuse_look_alike): the refusal names the grant that would be accepted.
        other = next(
            (p for p in rows.principals(conn) if p != actor and people.same_person(p, actor)),
            None,
        )
        reads_as = None if other is None else (other, rows.roles_of(conn, other))
        role_rules.require(operation, held, actor, reads_as=reads_as)
        return held

    def check(self, conn: Connection, operation: str, actor: str) -> None:
        """:meth:`require` without writing, for a preview of an operation (a dry run):
        PermissionDenied when ``operation`` would be refused."""
        self.require(conn, operation, actor)

    def grant(self, who: str, role: str, *, actor: str, first_admin: bool = False) -> RoleGrant:
        """Grant ``role`` to ``who`` (an actor name); only an admin may.

        ``first_admin``: name the first admin of a registry that has none (one
        made by an older modelbook); then ``role`` must be ``admin``, any actor
        may ask, and it is refused (Conflict) once the registry has an admin.
        Raises InvalidInput (a bad name or role; a name that differs from a
        principal holding a role only by case, accents or look-alike letters),
        PermissionDenied.
        """
        who = validation.actor(who, "name to grant a role to")
        role = role_rules.role(role).value
        now = self.ctx.clock()
        with self.ctx.db.write() as conn:
            log.registry_head(conn)
            reason = None
            if first_admin:
                if role != role_rules.Role.ADMIN.value:
                    raise InvalidInput(
                        f"--first-admin names an admin: grant {role!r} as an admin, "
                        "without --first-admin"
                    )
                admins = rows.admins(conn)
                if admins:
                    raise Conflict(
                        f"the registry already has an admin ({', '.join(sorted(admins))}): "
                        f"an admin grants roles, without --first-admin"
                    )
                reason = (
                    f"first admin: named by {actor} (--first-admin) on a registry that had no admin"
                )
            else:
                self.require(conn, "role_grant", actor, at=now)
            _refuse_look_alike(conn, who)
            if rows.grant(conn, who, role, actor, now):
                log.record(
                    conn,
                    log.registry_head(conn),
                    actor=actor,
                    at=now,
                    action="role.grant",
                    subject=f"actor:{who}",
                    after={"actor": who, "role": role},
                    reason=reason,
                )
        return RoleGrant(actor=who, role=role, granted_by=actor, granted_at=to_dt(now))

    def revoke(self, who: str, role: str, *, actor: str) -> None:
        """Revoke ``role`` from ``who``; the last admin cannot be revoked."""
        who = validation.actor(who, "name to revoke a role from")
        role = role_rules.role(role).value
        now = self.ctx.clock()
        with self.ctx.db.write() as conn:
            log.registry_head(conn)
            self.require(conn, "role_revoke", actor, at=now)
            if role == "admin" and rows.admins(conn) == [who]:
                raise InvalidInput(f"{who!r} is the last admin: grant admin to someone else first")
            if not rows.revoke(conn, who, role):
                raise NotFound(f"{who!r} does not hold the role {role!r}")
            log.record(
                conn,
                log.registry_head(conn),
                actor=actor,
                at=now,
                action="role.revoke",
                subject=f"actor:{who}",
                before={"actor": who, "role": role},
            )

    def roles(self) -> list[RoleGrant]:
        return [
            RoleGrant(
                actor=r.actor, role=r.role, granted_by=r.granted_by, granted_at=to_dt(r.granted_at)
            )
            for r in self.ctx.db.reading(rows.all_roles)
        ]


def found(conn: Connection, *, creator: str, admin: str, at: int) -> None:
    """Record ``admin`` as the first admin of the registry ``creator`` creates now.

    Runs inside the transaction that creates the registry's schema, so a
    registry never exists without its first admin. ``creator`` and ``admin``
    are validated actor names; the ``role.grant`` event says which created it.
    """
    rows.grant(conn, admin, role_rules.Role.ADMIN.value, creator, at)
    log.record(
        conn,
        log.registry_head(conn),
        actor=creator,
        at=at,
        action="role.grant",
        subject=f"actor:{admin}",
        after={"actor": admin, "role": role_rules.Role.ADMIN.value},
        reason="first admin: created the registry"
        if admin == creator
        else f"first admin: named by {creator}, who created the registry",
    )


def _no_admin(operation: str, actor: str) -> None:
    what = role_rules.IN_WORDS.get(operation, operation)
    raise PermissionDenied(
        f"{actor} may not {what}: this registry has no admin (it was made by an older "
        "modelbook); name its first admin with: modelbook role grant NAME admin --first-admin"
    )


def _refuse_look_alike(conn: Connection, who: str) -> None:
    """Refuse a name that is another principal's but for case, accents or look-alike
    letters: separation of duties counts the two as one person already, and the role
    list would show that person as two."""
    for other in rows.principals(conn):
        if other != who and people.same_person(other, who):
            raise InvalidInput(
                f"{who!r} differs from {other!r}, who holds a role, only by case, accents or "
                f"look-alike letters: grant the role to {other!r}, or choose a name that "
                "reads differently"
            )
