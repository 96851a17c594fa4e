"""the database keeps each version's alias names, by triggers on ``aliases``

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

Revision 0008 gave each version's row the names of the aliases pointing at it,
rewritten by modelbook after each alias write. A writer that changes the
``aliases`` table any other way (a modelbook older than 0008 still running
while a newer one upgraded the database, a restore script, a repair by hand)
left those names stale, and reads then served the wrong aliases. Triggers on
``aliases`` now rewrite the names of the versions a row leaves and reaches on
every INSERT, DELETE and UPDATE that changes which version a name points at
(or the name, or its model), whoever writes; on PostgreSQL a TRUNCATE of
``aliases`` clears them. The upgrade rewrites every version's names once, so a
column left stale before it is repaired.

The names are joined by commas (alias names hold none), in no particular
order; a version no alias points at holds NULL, as before.
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The columns of ``aliases`` that decide which version's row lists which name.
_KEYS = ", ".join(("model_id", "name", "version_id"))
_SQLITE_TRIGGERS = ("aliases_listed_insert", "aliases_listed_delete", "aliases_listed_update")
_PG_TRIGGERS = ("aliases_listed", "aliases_listed_update", "aliases_listed_truncate")
_PG_FUNCTIONS = ("aliases_listed()", "aliases_listed_truncate()")


def _names(joined: str, aliases: str, row: str) -> str:
    """The alias names that point at the version ``row``, joined (NULL: none)."""
    return (
        f"(SELECT {joined} FROM {aliases} a "
        f"WHERE a.model_id = {row}.model_id AND a.version_id = {row}.id)"
    )


def _changed(differ: str) -> str:
    return " OR ".join(f"OLD.{c} {differ} NEW.{c}" for c in _KEYS.split(", "))


def _sqlite_upgrade() -> None:
    names = _names("group_concat(a.name, ',')", "aliases", "versions")
    rewrite = "UPDATE versions SET aliases = " + names + " WHERE id IN ({ids}); END"
    op.execute(
        "CREATE TRIGGER aliases_listed_insert AFTER INSERT ON aliases BEGIN "
        + rewrite.format(ids="NEW.version_id")
    )
    op.execute(
        "CREATE TRIGGER aliases_listed_delete AFTER DELETE ON aliases BEGIN "
        + rewrite.format(ids="OLD.version_id")
    )
    op.execute(
        f"CREATE TRIGGER aliases_listed_update AFTER UPDATE OF {_KEYS} ON aliases "
        f"WHEN {_changed('IS NOT')} BEGIN " + rewrite.format(ids="OLD.version_id, NEW.version_id")
    )
    op.execute(
        f"UPDATE versions SET aliases = {names} "
        "WHERE aliases IS NOT NULL OR id IN (SELECT version_id FROM aliases)"
    )


def _pg_upgrade() -> None:
    # The tables are named with their schema, so that a session with another
    # search_path (an administrator's repair) rewrites the same rows.
    s = str(
        op.get_bind()
        .exec_driver_sql(
            "SELECT quote_ident(n.nspname) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = 'aliases'::regclass"
        )
        .scalar_one()
    )
    names = _names("string_agg(a.name, ',')", f"{s}.aliases", "v")

    def rewrite(ids: str) -> str:
        # The rows are locked before their names are read: the UPDATE then starts
        # after any other writer of them committed, and reads that writer's aliases
        # (a subquery reads the rows its statement's start saw, even after a wait).
        return (
            f"PERFORM 1 FROM {s}.versions WHERE id IN ({ids}) ORDER BY id FOR NO KEY UPDATE; "
            f"UPDATE {s}.versions v SET aliases = {names} WHERE v.id IN ({ids});"
        )

    # One branch per operation, each with its own static statements: planned once
    # per session, where an array of ids built in the function cost as much again.
    op.execute(
        "CREATE FUNCTION aliases_listed() RETURNS trigger AS $$ BEGIN "
        f"IF TG_OP = 'INSERT' THEN {rewrite('NEW.version_id')} "
        f"ELSIF TG_OP = 'DELETE' THEN {rewrite('OLD.version_id')} "
        f"ELSE {rewrite('OLD.version_id, NEW.version_id')} "
        "END IF; RETURN NULL; END $$ LANGUAGE plpgsql"
    )
    op.execute(
        "CREATE TRIGGER aliases_listed AFTER INSERT OR DELETE ON aliases "
        "FOR EACH ROW EXECUTE FUNCTION aliases_listed()"
    )
    op.execute(
        f"CREATE TRIGGER aliases_listed_update AFTER UPDATE OF {_KEYS} ON aliases "
        f"FOR EACH ROW WHEN ({_changed('IS DISTINCT FROM')}) EXECUTE FUNCTION aliases_listed()"
    )
    # TRUNCATE fires no row trigger.
    op.execute(
        f"""CREATE FUNCTION aliases_listed_truncate() RETURNS trigger AS $$
BEGIN
    UPDATE {s}.versions SET aliases = NULL WHERE aliases IS NOT NULL;
    RETURN NULL;
END $$ LANGUAGE plpgsql"""
    )
    op.execute(
        "CREATE TRIGGER aliases_listed_truncate AFTER TRUNCATE ON aliases "
        "FOR EACH STATEMENT EXECUTE FUNCTION aliases_listed_truncate()"
    )
    op.execute(
        f"UPDATE versions v SET aliases = {names} "
        "WHERE v.aliases IS NOT NULL OR v.id IN (SELECT version_id FROM aliases)"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _pg_upgrade()
    else:
        _sqlite_upgrade()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for trigger in _PG_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON aliases")
        for function in _PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {function}")
    else:
        for trigger in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
