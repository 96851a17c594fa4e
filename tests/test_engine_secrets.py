"""No password appears in a ``repr``, an error or a log line, whichever way the URL
carries it: ``user:password@host`` or ``?password=...``."""

from __future__ import annotations

import logging
import socket
import traceback
from pathlib import Path

import pytest

from modelbook import InvalidInput, Registry, Unavailable
from modelbook.store.dburl import redact
from modelbook.store.engine import Database

from .conftest import pg_uri

SECRET = "Sup3r-s3cret"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


FORMS = {
    "user-info": "postgresql+psycopg://postgres:{pw}@127.0.0.1:{port}/x",
    "query": "postgresql+psycopg://postgres@127.0.0.1:{port}/x?password={pw}",
    "both": "postgresql://postgres:{pw}@127.0.0.1:{port}/x?sslpassword={pw}&password={pw}",
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_an_unreachable_server_hides_the_password(
    form: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Connecting to a closed port: Unavailable naming the host, and the password is
    nowhere, not in the message, the whole chained traceback, the repr or the logs."""
    uri = FORMS[form].format(pw=SECRET, port=_closed_port())
    caplog.set_level(logging.DEBUG)
    with pytest.raises(Unavailable) as err:
        Registry(uri, blob_uri=str(tmp_path / "blobs"))
    message = str(err.value)
    assert "unavailable" in message and "127.0.0.1" in message
    assert SECRET not in message
    assert SECRET not in "".join(traceback.format_exception(err.value))
    assert SECRET not in caplog.text
    db = Database(uri)
    try:
        for shown in (repr(db), db.uri, repr(db.engine), str(db.engine.url), repr(db.url)):
            assert SECRET not in shown, shown
        assert "***" in repr(db)
    finally:
        db.dispose()


@pytest.mark.parametrize("form", ["user-info", "query"])
def test_a_working_connection_with_a_password_hides_it(
    form: str, pg_schema: str, blob_dir: Path
) -> None:
    """The password reaches the server (trust authentication ignores it) and works;
    a failing statement's error and the registry's repr still do not show it."""
    base = pg_uri(pg_schema)
    if form == "user-info":
        uri = base.replace("postgres@", f"postgres:{SECRET}@")
    else:
        uri = f"{base}&password={SECRET}"
    with Registry(uri, blob_uri=str(blob_dir)) as reg:
        assert reg.models().items == []
        assert SECRET not in repr(reg) and SECRET not in repr(reg.db)
        with pytest.raises(Unavailable) as err:
            reg.db.reading(lambda conn: conn.exec_driver_sql("SELECT * FROM missing_table"))
        assert SECRET not in str(err.value)
        assert SECRET not in "".join(traceback.format_exception(err.value))


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("postgresql://u:pw@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u@h/db?password=pw", "postgresql://u@h/db?password=***"),
        (
            "postgresql://u:a%40b@h:5/db?options=-csearch_path%3Ds&password=pw",
            "postgresql://u:***@h:5/db?options=-csearch_path%3Ds&password=***",
        ),
        ("postgresql://u@h/db?sslpassword=pw", "postgresql://u@h/db?sslpassword=***"),
        ("sqlite:////tmp/registry.db", "sqlite:////tmp/registry.db"),
        ("not a url", "not a url"),
        ("/tmp/registry", "/tmp/registry"),
    ],
)
def test_redact(uri: str, shown: str) -> None:
    """Every password form is masked; everything else is shown as given."""
    assert redact(uri) == shown


@pytest.mark.parametrize(
    "uri",
    [
        "not a url password=S3cret",
        "weird://u:S3cret@[bad",
        "postgres:S3cret@db.example/registry",
        "u:S3cret@h:5432",
        "host=h password = S3cret dbname=x",
        "host=h password='my S3cret'",
        "x?password=S3cret R",
        "x?passwd=S3cret",
        "x?p%61ssword=S3cret",
        "postgresql://u:S3cret@h:port/db",
    ],
)
def test_a_uri_that_cannot_be_read_is_not_shown_when_it_may_hold_a_password(
    uri: str, tmp_path: Path
) -> None:
    """Text that is no URI cannot be taken apart reliably: it is not echoed at all
    when anything in it could be a credential, by redact or by the registry's error."""
    assert "S3cret" not in redact(uri)
    with pytest.raises(InvalidInput) as err:
        Registry(uri, blob_uri=str(tmp_path / "blobs"))
    assert "S3cret" not in str(err.value)


def test_a_password_parameter_in_any_letter_case_is_hidden() -> None:
    from modelbook.store.dburl import redact

    shown = redact("postgresql+psycopg://postgres@/x?host=127.0.0.1&PASSWORD=S3cretPW")
    assert "S3cretPW" not in shown and "PASSWORD=***" in shown
