"""Shared fixtures: a fresh registry on SQLite and on PostgreSQL for each test.

Every store test takes ``db_uri`` (or ``registry``), which is parametrised over
``sqlite`` and ``postgresql``. Each PostgreSQL test gets its own schema in the
``modelbook_test`` database. Without a server the PostgreSQL cases are skipped
locally and fail loudly in CI (``CI=true``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from modelbook import Registry

# Property tests judge behaviour, never speed: on a loaded machine an example may
# take longer than Hypothesis's default 200 ms deadline, which would fail a test
# that found nothing wrong.
settings.register_profile("modelbook", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("modelbook")

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
    """A fresh, empty PostgreSQL schema, dropped after the test."""
    if not postgres_available:
        pytest.skip("PostgreSQL is not reachable")
    with temporary_pg_schema() as schema:
        yield schema


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URI for a brand-new registry, on each database in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    schema = request.getfixturevalue("pg_schema")
    return pg_uri(schema)


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
