"""URLs whose user-info is hard to find: a user name holding '?' or '#', a password of
digits before a '/', an '@' in the path after a bucket. The secret is never printed,
by redact or in an error, and nothing but the secret is hidden."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelbook import InvalidInput, Registry
from modelbook.blobs_url import protocol_of, secrets_of
from modelbook.blobs_url import redact as redact_blob
from modelbook.store.dburl import redact as redact_db
from tests import test_cli
from tests.test_blob_store_errors import unreachable_s3  # noqa: F401  (a fixture)
from tests.test_cli import CLI

home = test_cli.home
cli = test_cli.cli

SECRET = "S3CRETpw9"
DIGITS = "98765"

BLOB_SHOWN = {
    # A user name alone (which may be a token) holding a '?' or '#'.
    f"s3://{SECRET}#x@bucket/p": "s3://***@bucket/p",
    f"s3://{SECRET}?x@bucket/p": "s3://***@bucket/p",
    f"https://{SECRET}?x@host/p": "https://***@host/p",
    f"s3://us#{SECRET}@bucket/p?versionId=3": "s3://***@bucket/p?versionId=3",
    # A password of digits before a '/': a bucket has no port.
    f"s3://key:{DIGITS}/bucket": "s3://***/bucket",
    f"s3://key:{DIGITS}/{SECRET}@bucket/p": "s3://***@bucket/p",
    f"gs://key:{DIGITS}/b": "gs://***/b",
    # What cannot be a port is no port.
    f"https://user:{SECRET}/p": "https://***/p",
    "https://user:99999/p": "https://***/p",
    # The '@' of the path after the bucket is the path's.
    f"s3://KEY:{SECRET}@bucket/models@v1/x": "s3://***@bucket/models@v1/x",
    f"s3://KEY:{SECRET}/y@bucket/models@v1/x": "s3://***@bucket/models@v1/x",
    f"s3://KEY:{SECRET}@bucket/a:b@c": "s3://***@bucket/a:b@c",
    f"s3://KEY:p@{SECRET}@bucket/models@v1/x": "s3://***@bucket/models@v1/x",
    f"s3://KEY:a/p@{SECRET}@bucket/models@v1/x": "s3://***@bucket/models@v1/x",
    # Shown whole: nothing in them is a secret.
    "s3://bucket/models@v1/x": "s3://bucket/models@v1/x",
    "https://host:8443/a@b": "https://host:8443/a@b",
    "https://host:8443?q=a@b": "https://host:8443?q=a@b",
    "https://host?q=a@b": "https://host?q=a@b",
    "https://h/p?e=a@b#x@y": "https://h/p?e=a@b#x@y",
    "https://[::1]:8443/a@b": "https://[::1]:8443/a@b",
    f"simplecache::https://u:{SECRET}@[::1]:8443/a": "simplecache::https://***@[::1]:8443/a",
    "ftp://host:21/x": "ftp://host:21/x",
    "memory://blobs": "memory://blobs",
}


@pytest.mark.parametrize(("url", "shown"), list(BLOB_SHOWN.items()))
def test_a_blob_url_hides_its_secret_and_nothing_else(url: str, shown: str) -> None:
    assert redact_blob(url) == shown
    for secret in (SECRET, DIGITS):
        if secret in url and secret not in shown:
            # A driver's message that quotes it is scrubbed of it too.
            assert any(secret in s for s in secrets_of(url)), secrets_of(url)


def test_an_ipv6_host_is_not_taken_for_a_chain_of_urls() -> None:
    assert protocol_of("https://[::1]:8443/p") == "https"
    assert protocol_of("simplecache::s3://b/p") == "s3"


LEAKY = {
    "user name with a #": f"s3://{SECRET}#x@nobkt/p",
    "user name with a ?": f"s3://{SECRET}?x@nobkt/p",
    "digits before a /": f"s3://key:{DIGITS}/nobkt",
    "digits, / and more": f"s3://key:{DIGITS}/{SECRET}@nobkt/p",
    "@ in the path": f"s3://KEY:{SECRET}@nobkt/models@v1/x",
    "no port": f"https://user:{SECRET}/p",
}


@pytest.mark.parametrize("form", sorted(LEAKY))
@pytest.mark.parametrize("traceback_option", [[], ["--traceback"]], ids=["plain", "traceback"])
def test_no_error_about_such_a_blob_url_prints_its_secret(
    cli: CLI,
    tmp_path: Path,
    home: Path,
    unreachable_s3: str,  # noqa: F811
    form: str,
    traceback_option: list[str],
) -> None:
    model = tmp_path / "x.bin"
    model.write_bytes(b"weights")
    run = cli(
        *traceback_option, "--blob-uri", LEAKY[form], "register", "bm", model, "--owner", "o",
        "--no-capture",
    )  # fmt: skip
    assert run.code in (6, 8), run
    printed = run.out + run.err
    assert SECRET not in printed and DIGITS not in printed
    assert "***" in run.err


DB_SHOWN = {
    # A user name is shown, percent-encoded where it holds '?' or '#'.
    "postgresql://us?er@host/db": "postgresql://us%3Fer@host/db",
    "postgresql://us#er@host/db": "postgresql://us%23er@host/db",
    f"postgresql://us?er:{SECRET}@host/db": "postgresql://us%3Fer:***@host/db",
    # A password of digits, before a '/' or not, when it ends at '@'.
    f"postgresql://user:{DIGITS}/x@host/db": "postgresql://user:***@host/db",
    f"postgresql://user:{DIGITS}@host:5432/db": "postgresql://user:***@host:5432/db",
    f"postgresql://:{DIGITS}@/db": "postgresql://:***@/db",
    # Without an '@' it is a host and a port, as the driver reads it.
    "postgresql://db.internal:5433/registry": "postgresql://db.internal:5433/registry",
    # An '@' of the database name, percent-encoded; a SQLite path's '@'.
    "postgresql://u@h/d%40b": "postgresql://u@h/d%40b",
    "sqlite:////tmp/x@y.db": "sqlite:////tmp/x%40y.db",
}


@pytest.mark.parametrize(("uri", "shown"), list(DB_SHOWN.items()))
def test_a_database_url_hides_its_password_and_nothing_else(uri: str, shown: str) -> None:
    assert redact_db(uri) == shown


UNCLEAR = [
    f"postgresql://user:{DIGITS}9/db",
    "postgresql://user:0/db",
    f"postgresql://us/er:{SECRET}@host/db",
    f"postgresql://user:p@{SECRET}@host/db",
    f"postgresql://user:{SECRET}/db",
    f"postgresql:///er:{SECRET}@host/db",
]


@pytest.mark.parametrize("uri", UNCLEAR)
def test_a_database_url_whose_password_cannot_be_found_is_not_shown_and_refused(
    uri: str, tmp_path: Path, cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A password the parser would take for a port, a host or a database: the URL is
    refused (exit 6) and shown nowhere, not even by redact."""
    secret = SECRET if SECRET in uri else uri.split(":")[2].split("/")[0]
    assert secret not in redact_db(uri) and "not shown" in redact_db(uri)
    with pytest.raises(InvalidInput) as err:
        Registry(uri, blob_uri=str(tmp_path / "blobs"))
    assert secret not in str(err.value) and "not shown" in str(err.value)
    monkeypatch.setenv("MODELBOOK_URI", uri)
    run = cli("models")
    assert run.code == 6, run
    assert secret not in run.out + run.err
    assert not (tmp_path / "blobs").exists()
