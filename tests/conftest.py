"""Shared fixtures: a fresh registry on SQLite and on PostgreSQL for each test.

Every store test takes ``db_uri`` (or ``registry``), which is parametrised over
``sqlite`` and ``postgresql``: an empty registry at the current schema revision.
Running every migration for each test would cost more than most tests do, so a
test's SQLite file is a copy of one migrated once per worker, and its PostgreSQL
schema (in the ``modelbook_test`` database) is one migrated once per worker and
emptied between tests. A test that changes that schema's structure (a dropped
trigger, a downgrade, a revoked grant) is noticed by a fingerprint of the
catalog, and the next test gets a newly migrated schema. Tests of creating or
migrating a registry use ``temporary_pg_schema`` or a path of their own.
Without a server the PostgreSQL cases are skipped locally and fail loudly in CI
(``CI=true``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from modelbook import Registry
from modelbook.store import Database

# Property tests judge behaviour, never speed: on a loaded machine an example may
# take longer than Hypothesis's default 200 ms deadline, which would fail a test
# that found nothing wrong.
settings.register_profile("modelbook", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("modelbook")

# The test models pickled by the tests are classes of this package: it is their
# "own package" for the pickle flavor (processes the tests start inherit it).
os.environ.setdefault("MODELBOOK_TRUSTED_MODULES", "tests")

PG_HOST = os.environ.get("MODELBOOK_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("MODELBOOK_TEST_PG_PORT", "5432"))
PG_DB = "modelbook_test"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _pg_reachable() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=2):
            return True
    except OSError:
        return False


def pg_admin_conn(dbname: str = PG_DB):  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user="postgres", dbname=dbname, autocommit=True
    )


def _ensure_pg_database() -> None:
    import psycopg

    with pg_admin_conn("postgres") as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DB,)).fetchone()
        if not exists:
            try:
                conn.execute(f"CREATE DATABASE {PG_DB}")
            except psycopg.errors.DuplicateDatabase:
                pass
            except psycopg.errors.UniqueViolation:
                pass


def pg_uri(schema: str) -> str:
    return (
        f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{PG_DB}"
        f"?options=-csearch_path%3D{schema}"
    )


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    if not _pg_reachable():
        if IN_CI:
            pytest.fail(f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT}; CI needs it")
        return False
    _ensure_pg_database()
    return True


@contextlib.contextmanager
def temporary_pg_schema(prefix: str = "t") -> Iterator[str]:
    """A fresh, empty PostgreSQL schema, dropped (with its sessions) afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with pg_admin_conn() as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield schema
    finally:
        with pg_admin_conn() as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid() AND query LIKE %s",
                (PG_DB, f"%{schema}%"),
            )
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def pg_schema(postgres_available: bool) -> Iterator[str]:
    """A fresh, empty PostgreSQL schema (no registry in it), dropped after the test."""
    if not postgres_available:
        pytest.skip("PostgreSQL is not reachable")
    with temporary_pg_schema() as schema:
        yield schema


# What a test could change in a schema's structure: columns, defaults, indexes,
# constraints, triggers (and whether they are enabled), functions and grants. Any
# change to one writes a new version of its catalog row, with a new ``xmin``: the
# rows' ids and ``xmin`` are compared rather than their rendered definitions,
# which would cost a catalog walk per test. VACUUM and ANALYZE update these rows
# in place (``xmin`` unchanged); a TRUNCATE gives its tables new files and so new
# rows, which only sets the schema aside as if the test had changed it.
_PG_FINGERPRINT = """
SELECT md5(coalesce(string_agg(item, ',' ORDER BY item), '')) FROM (
  SELECT 'n' || n.oid::text || ':' || n.xmin::text AS item
    FROM pg_namespace n WHERE n.nspname = %(s)s
  UNION ALL SELECT 'c' || c.oid::text || ':' || c.xmin::text
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %(s)s
  UNION ALL SELECT 'a' || a.attrelid::text || '.' || a.attnum::text || ':' || a.xmin::text
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %(s)s AND a.attnum > 0
  UNION ALL SELECT 'd' || d.oid::text || ':' || d.xmin::text
    FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %(s)s
  UNION ALL SELECT 'k' || k.oid::text || ':' || k.xmin::text
    FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace WHERE n.nspname = %(s)s
  UNION ALL SELECT 't' || t.oid::text || ':' || t.xmin::text
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %(s)s
  UNION ALL SELECT 'f' || p.oid::text || ':' || p.xmin::text
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %(s)s
) catalog
"""


def _schema_only(uri: str) -> None:
    """The schema at the current revision and nothing in it: no event, no admin (as
    the tables of a PostgreSQL schema are left after each test). A test that needs an
    admin names one (``grant_role(NAME, "admin", first_admin=True)``)."""
    db = Database(uri)
    db.migrate()
    db.dispose()


class _MigratedPgSchema:
    """One migrated PostgreSQL schema per worker, emptied after each test that used it.

    One admin connection is kept for the worker: a new server process would read
    the catalog afresh for every test (about three times the cost of the reset).
    """

    def __init__(self, blob_dir: Path) -> None:
        self.blob_dir = blob_dir
        self.schema: str | None = None
        self.fingerprint = ""
        self.tables: list[str] = []
        self.abandoned: list[str] = []
        self._conn: Any = None

    def _admin(self) -> Any:
        """The worker's admin connection, opened again if a test ended it."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = pg_admin_conn()
        return self._conn

    def _fingerprint(self, conn: Any, schema: str) -> str:
        revision = f"SELECT string_agg(version_num, ',') FROM {schema}.alembic_version"
        row = conn.execute(f"SELECT ({revision}), ({_PG_FINGERPRINT})", {"s": schema}).fetchone()
        return f"{row[0]}:{row[1]}"

    def take(self) -> str:
        if self.schema is None:
            schema = f"w_{uuid.uuid4().hex[:12]}"
            self._admin().execute(f"CREATE SCHEMA {schema}")
            _schema_only(pg_uri(schema))
            self._remember(schema)
            self.schema = schema
        return self.schema

    def _remember(self, schema: str) -> None:
        conn = self._admin()
        self.fingerprint = self._fingerprint(conn, schema)
        self.tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s "
                "AND tablename <> 'alembic_version'",
                (schema,),
            )
        ]

    def give_back(self) -> None:
        """Empty the schema for the next test, or set it aside when that cannot be done."""
        schema = self.schema
        if schema is None:
            return
        import psycopg

        try:
            try:
                conn = self._admin()
                changed = self._fingerprint(conn, schema) != self.fingerprint
            except psycopg.OperationalError:
                # The test ended the worker's connection (a terminated backend).
                self._conn = None
                conn = self._admin()
                changed = self._fingerprint(conn, schema) != self.fingerprint
            if changed:
                raise LookupError("the test changed the schema")
            # A process a test started may still hold a lock; then the schema is
            # set aside rather than waited for. The audit log's append-only
            # triggers guard the registry, not this reset of it. DELETE: a
            # TRUNCATE makes new files for every table and index, about 30 times
            # the cost for the few rows a test leaves.
            conn.execute("SET lock_timeout = '3s'")
            # One round trip: the statements are sent together and each reports its count.
            reset = "; ".join(
                [
                    "SET LOCAL session_replication_role = replica",
                    *(f"DELETE FROM {schema}.{t}" for t in self.tables),
                    "SELECT setval(c.oid::regclass, 1, false) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    f"WHERE c.relkind = 'S' AND n.nspname = '{schema}'",
                ]
            )
            deleted = 0
            with conn.transaction():
                cur = conn.execute(reset)
                while True:
                    if (cur.statusmessage or "").startswith("DELETE"):
                        deleted += cur.rowcount
                    if not cur.nextset():
                        break
            if deleted > 10_000:
                # Many dead rows would slow the next tests' scans until a vacuum.
                with conn.transaction():
                    conn.execute("SET LOCAL session_replication_role = replica")
                    names = ", ".join(f"{schema}.{t}" for t in self.tables)
                    conn.execute(f"TRUNCATE {names} CASCADE")
                # The truncated tables have new catalog rows (see _PG_FINGERPRINT).
                self._remember(schema)
        except (LookupError, psycopg.Error):
            self.abandoned.append(schema)
            self.schema = None

    def drop_all(self) -> None:
        if self._conn is not None:
            self._conn.close()
        for schema in [*self.abandoned, *([self.schema] if self.schema else [])]:
            with contextlib.suppress(Exception), pg_admin_conn() as conn:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid() AND query LIKE %s",
                    (PG_DB, f"%{schema}%"),
                )
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(scope="session")
def _migrated_pg(
    postgres_available: bool, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[_MigratedPgSchema]:
    pool = _MigratedPgSchema(tmp_path_factory.mktemp("fixture-blobs"))
    yield pool
    if postgres_available:
        pool.drop_all()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty registry file at the current schema revision, made once per worker."""
    folder = tmp_path_factory.mktemp("template")
    path = folder / "registry.db"
    _schema_only(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_uri(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URI of an empty registry at the current schema, on each database in turn."""
    if request.param == "sqlite":
        path = tmp_path / "registry.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    if not request.getfixturevalue("postgres_available"):
        pytest.skip("PostgreSQL is not reachable")
    pool: _MigratedPgSchema = request.getfixturevalue("_migrated_pg")
    schema = pool.take()
    try:
        yield pg_uri(schema)
    finally:
        pool.give_back()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def new_db_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URI where no registry exists yet (no schema), on each database in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    return pg_uri(request.getfixturevalue("pg_schema"))


@pytest.fixture
def blob_dir(tmp_path: Path) -> Path:
    path = tmp_path / "blobs"
    path.mkdir()
    return path


@pytest.fixture
def registry(db_uri: str, blob_dir: Path) -> Iterator[Registry]:
    reg = Registry(db_uri, blob_uri=str(blob_dir), actor="tester")
    yield reg
    reg.close()


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "model.bin"
    path.write_bytes(os.urandom(4096))
    return path


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A local S3-compatible server (moto) on loopback; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_blobs(s3_server: str) -> tuple[str, dict[str, object]]:
    """A fresh bucket: (blob URL, fsspec storage options)."""
    import boto3

    bucket = f"mb-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1").create_bucket(Bucket=bucket)
    return f"s3://{bucket}/blobs", {
        "endpoint_url": s3_server,
        "key": "testing",
        "secret": "testing",
        "skip_instance_cache": True,
    }
