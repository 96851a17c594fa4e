"""Tables of the metadata store.

Frozen version fields live in one JSON document per version (``versions.doc``)
so that reading a version is one row; everything a search filters on (tags,
metrics, lineage, params, artifact hashes) is also normalised into narrow
indexed tables written in the same transaction. Times are integer
microseconds since the epoch, UTC, which sort and compare the same on every
database.

How a search over versions stays in proportion to its answer (the rule every
statement that pages versions follows): results come newest registration
first and stop after a page, so the statement walks one index whose entries
for the filter are already in ``version_id`` order and stops after ``limit``
matches; it never sorts a filter's matches to find the newest, which reads
all of them. The walk is the most selective equality that has such an index:

- a tag with the model named: ``version_tags (key, value, model_id,
  version_id)``, ``model_id`` pinned by a scalar subquery on the model's name
  (no join to ``models``);
- a tag alone: ``version_tags (key, value, version_id)``;
- a lineage field: ``lineage (kind, key, value, version_id)``; a parameter:
  ``params (key, value, version_id)``;
- an order by a metric: ``metrics (name, split, slice, value, version_id)``;
- the model alone: ``versions (model_id, id)``;
- a stage: ``versions (stage, id)``; deprecation: ``versions (id) WHERE
  deprecated_at IS NOT NULL``; who registered it: ``versions (created_by,
  id)``; its number: ``versions (number, id)``; else the versions' key.

A range or set whose index is not in ``version_id`` order (``created_at``,
``versions (semver_major, semver_minor, semver_patch, id)``, a metric's value
without the order, ``stage in``, a lineage ``like`` prefix) gathers the ids its
index range holds and reads the page's versions from them, when its matches
are fewer than a walk newest first would read (on SQLite counted off the index
up to the square root of limit x versions; PostgreSQL's planner reads its
statistics).

Every other filter is a probe of the walked row on the child table's primary
key (a tag: ``version_tags (version_id, key)``, one row or none; EXISTS for a
metric, lineage field or parameter). An ``or`` of equalities is one walk per
branch, each limited, merged by id; an ``or`` no index orders walks the
versions and probes. A ``like`` prefix of a lineage field, tag or parameter is
a range of the same index (``>= 'abc'`` and ``< 'abd'``; on PostgreSQL those
indexes compare bytes, ``text_pattern_ops``, and the range is bound values),
as ``is not null`` is its key's rows: their matches are not in
``version_id`` order, so it costs all of them; walk an equality's index
instead when the query has one.
Values are bound parameters, and a statement is built and compiled once per
filter shape, not per call.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

GENESIS = "0" * 64

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Id = BigInteger().with_variant(Integer(), "sqlite")

models = Table(
    "models",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("owners", Text, nullable=False),
    Column("task", String(256)),
    Column("risk_tier", String(8), nullable=False),
    Column("description", Text),
    Column("tags", Text, nullable=False, default="{}"),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("last_number", Integer, nullable=False, default=0),
    # The semver of the newest version, which is always the highest.
    Column("semver_major", Integer, nullable=False, default=0),
    Column("semver_minor", Integer, nullable=False, default=0),
    Column("semver_patch", Integer, nullable=False, default=0),
    # The head of the model's audit chain: the last event's position and hash.
    # Kept on the row every writer of the model already locks, so appending
    # an event costs no extra lock or round trip.
    Column("event_seq", BigInteger, nullable=False, default=0),
    Column("event_hash", String(64), nullable=False, default=GENESIS),
)

model_tags = Table(
    "model_tags",
    metadata,
    Column("model_id", Id, ForeignKey("models.id"), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", String(512), nullable=False),
    Index(None, "key", "value"),
)

versions = Table(
    "versions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("model_id", Id, ForeignKey("models.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("semver", String(32), nullable=False),
    Column("semver_major", Integer, nullable=False),
    Column("semver_minor", Integer, nullable=False),
    Column("semver_patch", Integer, nullable=False),
    Column("stage", String(16), nullable=False),
    Column("doc", Text, nullable=False),
    Column("tags", Text, nullable=False, default="{}"),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=False),
    # A mutable annotation: when the version was marked deprecated (a bad
    # release, a rollback's source); it is then never a rollback target.
    Column("deprecated_at", BigInteger),
    # The names of the aliases pointing at the version, comma-separated in no
    # order (None: none), rewritten by the database's triggers on ``aliases``
    # (revision 0009) whoever writes that table: a read needs no second lookup.
    Column("aliases", Text),
    UniqueConstraint("model_id", "number"),
    UniqueConstraint("model_id", "semver"),
    Index(None, "model_id", "semver_major", "semver_minor", "semver_patch"),
    Index(None, "model_id", "id"),
    Index(None, "created_at"),
    # Revision 0010: a search on a stage walks its versions newest first; one on
    # deprecation walks the deprecated versions only; a semver range across
    # models gathers its matches.
    Index(None, "stage", "id"),
    # On PostgreSQL revision 0010 makes this index partial too (``WHERE deprecated_at
    # IS NOT NULL``). A postgresql_* option here would import PostgreSQL's dialect
    # with the tables, on SQLite too (about 19 ms of every command's start).
    Index(
        "ix_versions_deprecated_id",
        "id",
        sqlite_where=text("deprecated_at IS NOT NULL"),
    ),
    Index(None, "semver_major", "semver_minor", "semver_patch", "id"),
    # Revision 0012: a search on who registered a version, or on its number across
    # models, walks its versions newest first.
    Index(None, "created_by", "id"),
    Index(None, "number", "id"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("version_id", Id, ForeignKey("versions.id"), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Index(None, "sha256"),
)

version_tags = Table(
    "version_tags",
    metadata,
    Column("version_id", Id, ForeignKey("versions.id"), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", String(512), nullable=False),
    # The version's model (a version never changes model), so that "versions of
    # model X with tag Y" is one index range holding exactly its answer.
    Column("model_id", Id, ForeignKey("models.id"), nullable=False),
    # On PostgreSQL revision 0011 builds it with ``text_pattern_ops`` on ``value``,
    # as the lineage index below, so that a ``like`` prefix is a range of it.
    Index(None, "key", "value", "version_id"),
    Index(None, "key", "value", "model_id", "version_id"),
)

metrics = Table(
    "metrics",
    metadata,
    Column("version_id", Id, ForeignKey("versions.id"), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("split", String(64), primary_key=True),
    Column("slice", String(256), primary_key=True),
    Column("value", Float, nullable=False),
    Index(None, "name", "split", "slice", "value", "version_id"),
)

params = Table(
    "params",
    metadata,
    Column("version_id", Id, ForeignKey("versions.id"), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", String(512), nullable=False),
    # On PostgreSQL revision 0011 builds it with ``text_pattern_ops``, as the tags'.
    Index(None, "key", "value", "version_id"),
)

lineage = Table(
    "lineage",
    metadata,
    Column("version_id", Id, ForeignKey("versions.id"), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("value", String(512), primary_key=True),
    # On PostgreSQL revision 0010 builds it with ``text_pattern_ops`` on ``value``:
    # byte order (as SQLite's), so that a ``like`` prefix is a range of the index;
    # equality reads it as any other. Not declared here, for the reason above.
    Index(None, "kind", "key", "value", "version_id"),
)

aliases = Table(
    "aliases",
    metadata,
    Column("model_id", Id, ForeignKey("models.id"), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("version_id", Id, ForeignKey("versions.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("updated_by", String(256), nullable=False),
)

# Contract pins: an alias held to one semver MAJOR (see modelbook.pins). Kept
# apart from ``aliases`` so a pin outlives the removal of its alias, and a move
# of an unpinned alias reads one primary-key lookup that finds nothing.
alias_pins = Table(
    "alias_pins",
    metadata,
    Column("model_id", Id, ForeignKey("models.id"), primary_key=True),
    Column("alias", String(64), primary_key=True),
    Column("major", Integer, nullable=False),
    Column("pinned_at", BigInteger, nullable=False),
    Column("pinned_by", String(256), nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("chain", String(160), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(256), nullable=False),
    Column("action", String(64), nullable=False),
    Column("model", String(128)),
    Column("version", Integer),
    # The RFC 8785 encoding the hash covers: every field above but ``id``,
    # and the subject, state before and after, and reason.
    Column("canonical", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # A model's events are its chain, so (chain, seq) also serves them newest
    # first; there is no index on ``model`` or ``at`` (each would be one more
    # page in every write's commit).
    UniqueConstraint("chain", "seq"),
    Index(None, "action", "id"),
)

# Heads of chains that belong to no model (the registry-wide chain).
chain_heads = Table(
    "chain_heads",
    metadata,
    Column("chain", String(160), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

# Mutable annotations of a version: approvals, rejections, attestations, gate
# evaluations, comments, monitoring, online observations, health, drills.
# Each is one row with its kind and a JSON body; rows are only ever added.
notes = Table(
    "annotations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("version_id", Id, ForeignKey("versions.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("actor", String(256), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("body", Text, nullable=False),
    Index(None, "version_id", "kind", "id"),
)

# Roles granted on the registry (embedded mode trusts the local user's name).
roles = Table(
    "roles",
    metadata,
    Column("actor", String(256), primary_key=True),
    Column("role", String(16), primary_key=True),
    Column("granted_by", String(256), nullable=False),
    Column("granted_at", BigInteger, nullable=False),
)

# Every policy ever set; the newest is in force.
policies = Table(
    "policies",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("text", Text, nullable=False),
    Column("format", String(8), nullable=False),
    Column("source", String(256), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("set_by", String(256), nullable=False),
    Column("set_at", BigInteger, nullable=False),
)

# Columns of ``versions`` that no statement may ever change after insert.
FROZEN_VERSION_COLUMNS = (
    "model_id",
    "number",
    "semver",
    "semver_major",
    "semver_minor",
    "semver_patch",
    "doc",
    "created_at",
    "created_by",
)
