"""The blob store's boundary: a storage driver's error becomes a modelbook error of its
kind (an unreachable store exits 8, a protocol that cannot store files 6), no message
shows a secret of the blob store URL, and a local blob folder or an S3 bucket that does
not exist is reported as such rather than as lost files."""

from __future__ import annotations

import socket
import traceback
import uuid
from pathlib import Path
from typing import Any

import pytest

from modelbook import InvalidInput, NotFound, Registry, Unavailable
from modelbook.blobs import BlobStore
from modelbook.blobs_url import redact, secrets_of
from tests import test_cli
from tests.test_cli import CLI

home = test_cli.home
cli = test_cli.cli

SECRET = "S3CRETpw9"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def unreachable_s3(monkeypatch: pytest.MonkeyPatch) -> str:
    """S3 settings, from the environment, that point at a closed port on loopback."""
    import s3fs

    endpoint = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "a")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "b")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    # A file system made earlier in this process must not stand in for one with these settings.
    s3fs.S3FileSystem.clear_instance_cache()
    return endpoint


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


# 1. driver errors become error kinds -------------------------------------------------


def test_an_unreachable_s3_endpoint_exits_8_naming_the_store(
    cli: CLI, tmp_path: Path, home: Path, unreachable_s3: str
) -> None:
    """register and download against an endpoint nobody listens on: Unavailable, one line
    naming the store and the driver's error, and nothing registered or written."""
    model = tmp_path / "x.bin"
    model.write_bytes(b"weights")
    assert cli("register", "bm", model, "--owner", "o", "--no-capture").code == 0
    blobs = ["--blob-uri", "s3://bucket/x"]

    run = cli(*blobs, "register", "bm", model, "--no-capture")
    assert run.code == 8, run
    message = one_error_line(run.err)
    assert "blob store s3://bucket/x" in message and "EndpointConnectionError" in message
    assert "unexpected" not in message
    assert cli("show", "models:/bm/2").code == 3

    dest = tmp_path / "out"
    run = cli(*blobs, "download", "models:/bm/1", dest)
    assert run.code == 8, run
    assert "blob store s3://bucket/x" in one_error_line(run.err)
    assert not dest.exists()
    assert cli(*blobs, "verify").code == 8


def test_reading_an_existing_version_from_an_unreachable_bucket_is_unavailable(
    db_uri: str, s3_blobs: tuple[str, dict[str, object]], tmp_path: Path
) -> None:
    """A version stored on S3, read while the endpoint is down: Unavailable from download,
    read_artifact and verify, never 'missing' files."""
    url, opts = s3_blobs
    model = tmp_path / "x.bin"
    model.write_bytes(b"weights")
    with Registry(db_uri, blob_uri=url, blob_options=opts, actor="t") as reg:
        v = reg.register("bm", [model], owners="o", capture_environment=False)
    down: dict[str, Any] = {
        **opts,
        "endpoint_url": f"http://127.0.0.1:{closed_port()}",
        "config_kwargs": {"retries": {"max_attempts": 1}},
    }
    with Registry(db_uri, blob_uri=url, blob_options=down, actor="t") as reg:
        with pytest.raises(Unavailable, match="EndpointConnectionError"):
            reg.download(v.uri, tmp_path / "out")
        assert not (tmp_path / "out").exists()
        with pytest.raises(Unavailable, match=f"blob store {url}"):
            reg.read_artifact(v.uri, "x.bin")
        with pytest.raises(Unavailable):
            reg.verify()


def test_reading_through_an_http_store_that_cannot_be_reached_is_unavailable(
    db_uri: str, tmp_path: Path
) -> None:
    """fsspec's HTTP store says 'not found' for a server it cannot reach: that is the
    store unavailable, not a folder that does not exist (nor files missing)."""
    model = tmp_path / "x.bin"
    model.write_bytes(b"weights")
    with Registry(db_uri, blob_uri=str(tmp_path / "blobs"), actor="t") as reg:
        v = reg.register("bm", [model], owners="o", capture_environment=False)
    for url in (f"http://127.0.0.1:{closed_port()}/p", "https://example.invalid/p"):
        with Registry(db_uri, blob_uri=url, actor="t") as reg:
            with pytest.raises(Unavailable, match="Cannot connect"):
                reg.download(v.uri, tmp_path / "out")
            assert not (tmp_path / "out").exists()
            with pytest.raises(Unavailable):
                reg.verify()


def test_a_refused_ftp_connection_exits_8(cli: CLI, tmp_path: Path, home: Path) -> None:
    model = tmp_path / "x.bin"
    model.write_bytes(b"weights")
    url = f"ftp://u:{SECRET}@127.0.0.1:{closed_port()}/x"
    run = cli("--blob-uri", url, "register", "bm", model, "--owner", "o", "--no-capture")
    assert run.code == 8, run
    message = one_error_line(run.err)
    assert "ftp://***@127.0.0.1" in message and "Connection refused" in message
    assert SECRET not in run.err


def test_a_protocol_that_cannot_store_files_is_bad_input(
    cli: CLI, tmp_path: Path, home: Path
) -> None:
    """https is read-only in fsspec: registering there exits 6 naming the protocol,
    and the version is not registered."""
    model = tmp_path / "x.bin"
    model.write_bytes(b"weights")
    run = cli(
        "--blob-uri", "https://u:p@example.invalid/x", "register", "bm", model,
        "--owner", "o", "--no-capture",
    )  # fmt: skip
    assert run.code == 6, run
    message = one_error_line(run.err)
    assert "'https' protocol is read-only or unsupported" in message
    assert "https://***@example.invalid/x" in message
    assert cli("models").out.count("bm") == 0


def test_a_bug_is_not_taken_for_a_storage_error(tmp_path: Path) -> None:
    """Only storage errors are translated: a TypeError in the boundary stays a TypeError."""
    store = BlobStore(str(tmp_path / "blobs"))
    with pytest.raises(TypeError), store._errors.translated("read {store}"):
        raise TypeError("a bug")
    reading = store._errors.translated("read {store}")
    with pytest.raises(Unavailable, match="cannot read blob store"), reading:
        raise TimeoutError("timed out")
    reading = store._errors.translated("read {store}")
    with pytest.raises(InvalidInput, match="'file' protocol is read-only"), reading:
        raise NotImplementedError


# 2. no secret of the URL is shown ----------------------------------------------------

REDACTED = {
    "/srv/blobs": "/srv/blobs",
    "s3://bucket/prefix": "s3://bucket/prefix",
    f"s3://AKIA:{SECRET}@bucket/x": "s3://***@bucket/x",
    f"ftp://u:{SECRET}@host:21/x": "ftp://***@host:21/x",
    f"https://{SECRET}@example.invalid/p": "https://***@example.invalid/p",
    f"s3://{SECRET}:@bucket/x": "s3://***@bucket/x",
    # A secret key holding '/' written unencoded: user-info all the same.
    f"s3://AKIA:{SECRET}/+x/y@bucket/x": "s3://***@bucket/x",
    f"s3://AKIA:{SECRET}/y@bucket": "s3://***@bucket",
    "s3://bucket/models@v1/x": "s3://bucket/models@v1/x",
    "https://host:8443/a@b": "https://host:8443/a@b",
    "https://[::1]:8443/a@b": "https://[::1]:8443/a@b",
    f"https://host/x?sig={SECRET}&sv=2024": "https://host/x?sig=***&sv=2024",
    f"https://h/x?X-Amz-Signature={SECRET}&X-Amz-Credential={SECRET}%2F2024&X-Amz-Expires=60": (
        "https://h/x?X-Amz-Signature=***&X-Amz-Credential=***&X-Amz-Expires=60"
    ),
    f"s3://b/x?access_key={SECRET}&X-Amz-Security-Token={SECRET}": (
        "s3://b/x?access_key=***&X-Amz-Security-Token=***"
    ),
    f"simplecache::s3://k:{SECRET}@b/x": "simplecache::s3://***@b/x",
    f"gcs://b/x?token={SECRET}#frag": "gcs://b/x?token=***#frag",
    f"https://h/p?pw={SECRET}&page=2": "https://h/p?pw=***&page=2",
    f"https://h/p?code={SECRET}&auth_code={SECRET}&Upw={SECRET}": (
        "https://h/p?code=***&auth_code=***&Upw=***"
    ),
    f"https://h/p?a=1;pw={SECRET}": "https://h/p?a=1;pw=***",
    f"https://h/p#token={SECRET}&state=s": "https://h/p#token=***&state=s",
    f"https://h/p#access_token={SECRET}": "https://h/p#access_token=***",
    f"https://h/p;token={SECRET}/q;v=1?x=1": "https://h/p;token=***/q;v=1?x=1",
    f"https://h/p;jsessionid={SECRET}": "https://h/p;jsessionid=***",
    f"https://h/x?X-Amz-Credential=AKIA/{SECRET}/s3&X-Amz-Expires=60": (
        "https://h/x?X-Amz-Credential=***&X-Amz-Expires=60"
    ),
    # A password holding an unencoded '?' or '#' (or '/' then '?'): user-info up to the
    # last '@', not a query or fragment.
    f"s3://AKIA:{SECRET}?b@bucket/p": "s3://***@bucket/p",
    f"s3://AKIA:{SECRET}#b@bucket/p": "s3://***@bucket/p",
    f"s3://AKIA:a/{SECRET}?@bucket/p": "s3://***@bucket/p",
    f"s3://AKIA:{SECRET}?b@bucket/p?x=1#f": "s3://***@bucket/p?x=1#f",
    f"ftp://user:{SECRET}/b@127.0.0.1:9/p": "ftp://***@127.0.0.1:9/p",
    f"https://user:{SECRET}/b@127.0.0.1:9/p": "https://***@127.0.0.1:9/p",
    "https://host:8443?q=a@b": "https://host:8443?q=a@b",
    f"https://h/p?bearer={SECRET}&jwt={SECRET}&hmac={SECRET}&sas={SECRET}&sv=1": (
        "https://h/p?bearer=***&jwt=***&hmac=***&sas=***&sv=1"
    ),
    f"https://h/p#id_jwt={SECRET}&state=s": "https://h/p#id_jwt=***&state=s",
    # A folder named name=value is a path, not a parameter.
    "s3://bucket/dt=2024/part_code=7/x": "s3://bucket/dt=2024/part_code=7/x",
    "https://h/p#section-2": "https://h/p#section-2",
}


@pytest.mark.parametrize(("url", "shown"), REDACTED.items(), ids=list(REDACTED))
def test_a_blob_url_is_shown_without_its_secrets(url: str, shown: str) -> None:
    assert redact(url) == shown
    if SECRET in url:
        # Whole, or within the value that holds it: a driver's text is scrubbed of it.
        assert any(SECRET in secret for secret in secrets_of(url))


@pytest.mark.parametrize(
    "url",
    [
        f"ftp://user:{SECRET}/b@127.0.0.1:9/p",
        f"s3://AKIA:{SECRET}?b@bucket/p",
        f"s3://AKIA:b/{SECRET}#c@bucket/p",
        f"https://u:{SECRET}:x@h/p",
    ],
)
def test_each_part_of_the_user_info_a_driver_may_quote_is_a_secret(url: str) -> None:
    """A driver that took a '/', '?', '#' or ':' of a password for the end of the host,
    the port or the path quotes a part of it: that part is scrubbed too."""
    assert SECRET in secrets_of(url)


LEAKY = {
    "user-info, bad bucket": (f"s3://AKIA:{SECRET}@bucket/x", 6),
    "unknown protocol": (f"nosuchproto://u:{SECRET}@h/x", 6),
    "signed https": (f"https://example.invalid/x?sig={SECRET}&X-Amz-Signature={SECRET}", 6),
    "access key params": (f"s3://bucket/x?access_key={SECRET}&secret_key={SECRET}", None),
    "ftp password": ("ftp://u:{pw}@127.0.0.1:{port}/x", 8),
    "in memory": (f"memory://u:{SECRET}@x/blobs", 6),
    "secret key with a slash": (f"s3://AKIA:{SECRET}/x@bucket/x", None),
    "token as user name": (f"https://{SECRET}@example.invalid/x", 6),
    "pw and code params": (f"https://example.invalid/x?pw={SECRET}&code={SECRET}", 6),
    "fragment token": (f"https://example.invalid/x#token={SECRET}", 6),
    "matrix token": (f"https://example.invalid/x;token={SECRET}/y", 6),
    "password with a ?": (f"s3://AKIA:{SECRET}?b@nobkt/p", 6),
    "password with a #": (f"s3://AKIA:{SECRET}#b@nobkt/p", 6),
    "password with / then ?": (f"s3://AKIA:{SECRET}/b?@nobkt/p", 6),
    "ftp password with a /": ("ftp://user:{pw}/b@127.0.0.1:{port}/p", 6),
    "bearer, jwt, hmac, sas": (
        f"https://example.invalid/x?bearer={SECRET}&jwt={SECRET}&hmac={SECRET}&sas={SECRET}",
        6,
    ),
}


@pytest.mark.parametrize("form", sorted(LEAKY))
@pytest.mark.parametrize("traceback_option", [[], ["--traceback"]], ids=["plain", "traceback"])
def test_no_secret_of_the_blob_url_is_printed(
    cli: CLI, tmp_path: Path, home: Path, unreachable_s3: str, form: str,
    traceback_option: list[str],
) -> None:  # fmt: skip
    """Whatever fails with the store, the error (and --traceback's stack) hides the
    password, signatures and keys of its URL, and never exits 1."""
    url, code = LEAKY[form]
    url = url.format(pw=SECRET, port=closed_port())
    model = tmp_path / "x.bin"
    model.write_bytes(b"weights")
    run = cli(
        *traceback_option, "--blob-uri", url, "register", "bm", model, "--owner", "o",
        "--no-capture",
    )  # fmt: skip
    assert run.code in ((6, 8) if code is None else (code,)), run
    assert SECRET not in run.out + run.err
    assert "***" in run.err


HIDDEN_FROM_VERIFY = {
    "token as user name": f"https://{SECRET}@example.invalid/p",
    "token as user name, unreachable": f"https://{SECRET}@127.0.0.1:{closed_port()}/p",
    "pw": f"https://example.invalid/p?pw={SECRET}",
    "code": f"https://example.invalid/p?x=1&code={SECRET}",
    "fragment": f"https://example.invalid/p#token={SECRET}",
    "matrix": f"https://example.invalid/p;token={SECRET}",
}


@pytest.mark.parametrize("form", sorted(HIDDEN_FROM_VERIFY))
@pytest.mark.parametrize("traceback_option", [[], ["--traceback"]], ids=["plain", "traceback"])
def test_verify_through_a_blob_url_with_a_secret_never_prints_it(
    cli: CLI, tmp_path: Path, home: Path, form: str, traceback_option: list[str]
) -> None:
    """`modelbook --blob-uri URL verify` names the store with its secret as ***: a token
    given as the user name, a pw or code query parameter, a fragment or a matrix
    parameter; with --traceback too."""
    model = tmp_path / "x.bin"
    model.write_bytes(b"weights")
    assert cli("register", "bm", model, "--owner", "o", "--no-capture").code == 0
    run = cli(*traceback_option, "--blob-uri", HIDDEN_FROM_VERIFY[form], "verify")
    assert run.code in (3, 8), run
    assert SECRET not in run.out + run.err
    assert "***" in run.err


UNPARSED = {
    "password with a ?": f"s3://AKIA:{SECRET}?b@nobkt/p",
    "password with a #": f"s3://AKIA:{SECRET}#b@nobkt/p",
    "password with / then ?": f"s3://AKIA:{SECRET}/b?@nobkt/p",
    "ftp password with a /": f"ftp://user:{SECRET}/b@127.0.0.1:9/p",
}


@pytest.mark.parametrize("command", ["verify", "download", "gc"])
@pytest.mark.parametrize("form", sorted(UNPARSED))
def test_a_blob_url_its_driver_cannot_parse_exits_6_without_its_secret(
    cli: CLI, tmp_path: Path, home: Path, unreachable_s3: str, form: str, command: str
) -> None:
    """A password holding '?', '#' or '/' that the driver takes for the end of the
    bucket, host or port: verify, download and gc exit 6 naming the store as ***@,
    and neither the URL nor the driver's text shows the password."""
    model = tmp_path / "x.bin"
    model.write_bytes(b"weights")
    assert cli("register", "bm", model, "--owner", "o", "--no-capture").code == 0
    args = ["download", "models:/bm/1", tmp_path / "out"] if command == "download" else [command]
    run = cli("--blob-uri", UNPARSED[form], *args)
    assert run.code == 6, run
    message = one_error_line(run.err)
    assert "blob store s3://***@nobkt/p" in message or "ftp://***@127.0.0.1:9/p" in message
    assert SECRET not in run.out + run.err
    assert "unexpected" not in message


@pytest.mark.parametrize(
    "url",
    [
        f"https://u:{SECRET}@127.0.0.1:9/p",
        f"https://user:{SECRET}/b@127.0.0.1:9/p",
        f"http://127.0.0.1:9/p?sas={SECRET}",
    ],
)
@pytest.mark.parametrize("apply", [[], ["--apply"]], ids=["dry-run", "apply"])
def test_gc_refuses_an_http_store(
    cli: CLI, tmp_path: Path, home: Path, url: str, apply: list[str]
) -> None:
    """An http(s) store can neither list nor remove blobs: gc exits 6 saying the store
    is read-only, naming it without its secret, rather than 'would remove 0'."""
    model = tmp_path / "x.bin"
    model.write_bytes(b"weights")
    assert cli("register", "bm", model, "--owner", "o", "--no-capture").code == 0
    run = cli("--blob-uri", url, "gc", *apply)
    assert run.code == 6, run
    message = one_error_line(run.err)
    assert f"blob store {redact(url)}" in message and "***" in message
    assert "protocol is read-only" in message
    assert SECRET not in run.out + run.err


def test_a_url_the_driver_cannot_parse_is_bad_input() -> None:
    """A port the driver cannot read as a number (a password's '/' ends the host early)
    is InvalidInput naming the store redacted, not a ValueError."""
    store = BlobStore(f"https://user:{SECRET}/b@127.0.0.1:9/p")
    with pytest.raises(InvalidInput) as err:
        list(store.iter_blobs())
    assert str(err.value).startswith(
        "cannot list the blobs of blob store https://***@127.0.0.1:9/p"
    )
    assert SECRET not in "".join(traceback.format_exception(err.value))


def test_the_registry_and_its_store_show_the_url_redacted(tmp_path: Path) -> None:
    url = f"s3://AKIA:{SECRET}@bucket/x?X-Amz-Signature={SECRET}"
    with Registry(f"sqlite:///{tmp_path / 'r.db'}", blob_uri=url) as reg:
        assert reg.blob_uri == "s3://***@bucket/x?X-Amz-Signature=***"
        assert SECRET not in repr(reg)
        with pytest.raises(InvalidInput) as err:
            reg.blobs.put_file(Path(__file__))
        assert SECRET not in reg.blobs.url
        assert SECRET not in "".join(traceback.format_exception(err.value))


# 3. a blob folder that does not exist ------------------------------------------------


@pytest.mark.parametrize("command", ["verify", "download"])
def test_a_mistyped_blob_folder_is_not_reported_as_lost_files(
    cli: CLI, tmp_path: Path, home: Path, command: str
) -> None:
    """Reading through a blob root that does not exist exits 3 saying there is no blob
    store there; no file is called missing and nothing is created."""
    model = tmp_path / "x.bin"
    model.write_bytes(b"weights")
    assert cli("register", "bm", model, "--owner", "o", "--no-capture").code == 0
    typo = tmp_path / "typo"
    dest = tmp_path / "out"
    args = ["download", "models:/bm/1", dest] if command == "download" else ["verify"]
    run = cli("--blob-uri", typo, *args)
    assert run.code == 3, run
    assert one_error_line(run.err).startswith(
        f"error: no blob store at '{typo}': the folder does not exist; check the blob "
        "store URL (--blob-uri, MODELBOOK_BLOB_URI)"
    )
    assert "missing" not in run.out + run.err
    assert not typo.exists() and not dest.exists()


def test_a_missing_blob_in_a_blob_folder_that_exists_is_still_missing(
    registry: Registry, model_file: Path, blob_dir: Path
) -> None:
    """Only a missing folder changes the verdict: a deleted blob is an integrity problem."""
    v = registry.register("bm", [model_file], owners="o", capture_environment=False)
    next(p for p in blob_dir.rglob(v.artifacts[0].sha256)).unlink()
    assert [p.kind for p in registry.verify().problems] == ["missing"]
    assert not registry.blobs.exists(v.artifacts[0].sha256)
    for p in sorted(blob_dir.rglob("*"), reverse=True):
        p.unlink() if p.is_file() else p.rmdir()
    blob_dir.rmdir()
    with pytest.raises(NotFound, match="no blob store at"):
        registry.verify()
    with pytest.raises(NotFound, match="no blob store at"):
        registry.read_artifact(v.uri, v.artifacts[0].path)
    with pytest.raises(NotFound, match="no blob store at"):
        registry.blobs.exists(v.artifacts[0].sha256)


@pytest.mark.parametrize("rehash", [False, True], ids=["sizes", "rehash"])
def test_the_file_check_of_a_rollback_names_a_blob_folder_that_does_not_exist(
    registry: Registry, model_file: Path, tmp_path: Path, rehash: bool
) -> None:
    """A rollback's check of its target's files says the blob folder is not there (a
    problem of each file, so a forced rollback can still go ahead), not 'missing'."""
    from modelbook.services.servable import check_files

    v = registry.register("bm", [model_file], owners="o", capture_environment=False)
    typo = tmp_path / "typo"
    problems = check_files(BlobStore(str(typo)), v, rehash=rehash).problems
    assert problems == (
        f"artifact model.bin: cannot be read: no blob store at '{typo}': the folder does "
        "not exist\ncheck the blob store URL (--blob-uri, MODELBOOK_BLOB_URI)",
    )


# 4. a bucket that does not exist -----------------------------------------------------


def no_such_bucket() -> str:
    return f"mb-none-{uuid.uuid4().hex[:12]}"


def bucket_exists(endpoint: str, bucket: str) -> bool:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    return any(b["Name"] == bucket for b in client.list_buckets()["Buckets"])


def test_every_read_through_a_bucket_that_does_not_exist_says_there_is_no_blob_store(
    db_uri: str, s3_server: str, s3_blobs: tuple[str, dict[str, object]], tmp_path: Path
) -> None:
    """A version stored on S3, read through a URL naming a bucket that does not exist:
    download, read_artifact, load, verify, gc, the lookups of a blob and phase two of a
    registration raise NotFound naming the store and the bucket, never a missing file;
    nothing is written and no bucket is created."""
    from modelbook.services.servable import check_files

    url, opts = s3_blobs
    model = tmp_path / "x.bin"
    model.write_bytes(b"weights")
    with Registry(db_uri, blob_uri=url, blob_options=opts, actor="t") as reg:
        v = reg.register("bm", [model], owners="o", capture_environment=False)
    bucket = no_such_bucket()
    wrong = f"s3://{bucket}/blobs"
    expected = f"no blob store at {wrong}: the bucket '{bucket}' does not exist"
    a = v.artifacts[0]
    with Registry(db_uri, blob_uri=wrong, blob_options=opts, actor="t") as reg:
        dest = tmp_path / "out"
        reads: dict[str, Any] = {
            "download": lambda: reg.download(v.uri, dest),
            "read_artifact": lambda: reg.read_artifact(v.uri, "x.bin"),
            "load": lambda: reg.load(v.uri),
            "verify": reg.verify,
            "gc": reg.gc,
            "exists": lambda: reg.blobs.exists(a.sha256),
            "stored_size": lambda: reg.blobs.stored_size(a.sha256),
            "check": lambda: reg.blobs.check(a.sha256, a.size),
            "commit_version": lambda: reg.commit_version("bm", [a]),
        }
        for what, read in reads.items():
            with pytest.raises(NotFound) as err:
                read()
            assert str(err.value).startswith(expected), (what, err.value)
            assert "missing" not in str(err.value), what
        assert not dest.exists()
        assert [x.number for x in reg.versions("bm").items] == [1]
        problems = check_files(reg.blobs, v, rehash=False).problems
        assert problems == (f"artifact x.bin: cannot be read: {expected}\n{err.value.hint}",)
    assert not bucket_exists(s3_server, bucket)


def test_registering_into_a_bucket_that_does_not_exist_writes_nothing(
    db_uri: str, s3_server: str, s3_blobs: tuple[str, dict[str, object]], tmp_path: Path
) -> None:
    """register through a URL naming a bucket that does not exist: NotFound naming the
    bucket, no version in the database, and the bucket is not created; small and large
    files (a multipart upload) alike."""
    _, opts = s3_blobs
    small = tmp_path / "x.bin"
    small.write_bytes(b"weights")
    large = tmp_path / "big.bin"
    large.write_bytes(b"\0" * (6 * 1024 * 1024))
    bucket = no_such_bucket()
    wrong = f"s3://{bucket}/blobs"
    with Registry(db_uri, blob_uri=wrong, blob_options=opts, actor="t") as reg:
        for files in ([small], [large]):
            with pytest.raises(NotFound) as err:
                reg.register("bm", files, owners="o", capture_environment=False)
            assert str(err.value).startswith(
                f"no blob store at {wrong}: the bucket '{bucket}' does not exist"
            )
        assert reg.models().items == []
    assert not bucket_exists(s3_server, bucket)


def test_a_read_that_finds_its_blob_asks_nothing_about_the_bucket(
    db_uri: str, s3_blobs: tuple[str, dict[str, object]], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Whether the bucket exists is asked only once a blob is not found: download,
    read and verify of a version whose files are there make no request about it; a
    blob missing from a bucket that exists is still missing."""
    url, opts = s3_blobs
    model = tmp_path / "x.bin"
    model.write_bytes(b"weights")
    bucket = url.removeprefix("s3://").split("/", 1)[0]
    with Registry(db_uri, blob_uri=url, blob_options=opts, actor="t") as reg:
        v = reg.register("bm", [model], owners="o", capture_environment=False)
        asked: list[str] = []
        fs = reg.blobs.fs
        for method in ("info", "exists", "isdir", "ls"):
            real = getattr(fs, method)

            def spy(path: str, *args: Any, _real: Any = real, **kwargs: Any) -> Any:
                if path.strip("/") == bucket:
                    asked.append(path)
                return _real(path, *args, **kwargs)

            monkeypatch.setattr(fs, method, spy)
        reg.download(v.uri, tmp_path / "out")
        assert reg.read_artifact(v.uri, "x.bin") == b"weights"
        assert reg.verify().ok
        assert asked == []
        reg.blobs.fs.rm_file(reg.blobs.path(v.artifacts[0].sha256))
        assert [p.kind for p in reg.verify().problems] == ["missing"]
        assert not reg.blobs.exists(v.artifacts[0].sha256)
        assert asked == [bucket, bucket]


SIGNED = "SIG9secret"


@pytest.mark.parametrize("traceback_option", [[], ["--traceback"]], ids=["plain", "traceback"])
def test_the_cli_exits_3_for_a_bucket_that_does_not_exist(
    cli: CLI, db_uri: str, s3_server: str, s3_blobs: tuple[str, dict[str, object]],
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch, traceback_option: list[str],
) -> None:  # fmt: skip
    """verify, download, gc and register through a bucket that does not exist exit 3 with
    one line naming the store (its signature hidden) and the bucket; nothing is written."""
    import s3fs

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    s3fs.S3FileSystem.clear_instance_cache()
    model = tmp_path / "x.bin"
    model.write_bytes(b"weights")
    url, _ = s3_blobs
    base = ["--uri", db_uri]
    assert cli(*base, "--blob-uri", url, "register", "bm", model, "--owner", "o",
               "--no-capture").code == 0  # fmt: skip
    bucket = no_such_bucket()
    wrong = [*traceback_option, *base, "--blob-uri", f"s3://{bucket}/b?X-Amz-Signature={SIGNED}"]
    dest = tmp_path / "out"
    for args in (
        ["verify"],
        ["download", "models:/bm/1", dest],
        ["gc"],
        ["register", "bm", model, "--no-capture"],
    ):
        run = cli(*wrong, *args)
        assert run.code == 3, (args, run)
        assert f"error: no blob store at s3://{bucket}/b?X-Amz-Signature=***: the bucket " in (
            run.err
        )
        assert f"'{bucket}' does not exist; check the blob store URL" in run.err
        assert SIGNED not in run.out + run.err
        if not traceback_option:
            one_error_line(run.err)
            assert "missing" not in run.out + run.err
    assert not dest.exists()
    assert [v["number"] for v in cli(*base, "versions", "bm", "--json").json()["versions"]] == [1]
    assert not bucket_exists(s3_server, bucket)
