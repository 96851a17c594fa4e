"""Statements on roles and policies: the registry-wide settings of the release flow."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from . import schema as t
from .engine import Prebuilt

_r = t.roles.c
_p = t.policies.c


def roles_of(conn: Connection, actor: str) -> frozenset[str]:
    rows = conn.execute(sa.select(_r.role).where(_r.actor == actor))
    return frozenset(r.role for r in rows)


def all_roles(conn: Connection) -> list[Row[Any]]:
    return list(conn.execute(sa.select(t.roles).order_by(_r.actor, _r.role)))


def any_role(conn: Connection) -> bool:
    return conn.execute(sa.select(_r.actor).limit(1)).first() is not None


def grant(conn: Connection, actor: str, role: str, by: str, at: int) -> bool:
    """Grant a role; False when the actor already holds it."""
    if (
        conn.execute(sa.select(_r.actor).where(_r.actor == actor, _r.role == role)).first()
        is not None
    ):
        return False
    conn.execute(
        t.roles.insert(), {"actor": actor, "role": role, "granted_by": by, "granted_at": at}
    )
    return True


def revoke(conn: Connection, actor: str, role: str) -> bool:
    """Revoke a role; False when the actor did not hold it."""
    result = conn.execute(t.roles.delete().where(_r.actor == actor, _r.role == role))
    return bool(result.rowcount)


def principals(conn: Connection) -> list[str]:
    """Every actor holding a role, each once."""
    return [r.actor for r in conn.execute(sa.select(_r.actor).distinct())]


def admins(conn: Connection) -> list[str]:
    return [r.actor for r in conn.execute(sa.select(_r.actor).where(_r.role == "admin"))]


def current_policy(conn: Connection) -> Row[Any] | None:
    """The policy in force: the newest one set, or None (the default applies)."""
    return conn.execute(sa.select(t.policies).order_by(_p.id.desc()).limit(1)).first()


_CURRENT_SHA = Prebuilt(sa.select(_p.sha256).order_by(_p.id.desc()).limit(1))
#: The hash of the policy in force as a column of another statement (NULL: the
#: default applies), so that a writer reads it with the rows it locks.
CURRENT_POLICY_SHA256 = (
    sa.select(_p.sha256).order_by(_p.id.desc()).limit(1).scalar_subquery().label("policy_sha256")
)


def current_policy_sha256(conn: Connection) -> str | None:
    """The hash of the policy in force, or None (the default applies): one indexed row."""
    row = _CURRENT_SHA.first(conn, {})
    return None if row is None else str(row.sha256)


def add_policy(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(t.policies.insert(), values)
