"""Bad input: the right error kind, a clear one-line message, and nothing written.

"Nothing written" means no model, version, alias, tag, metric or event row and
no new file in the blob store (not even a temporary one).
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from modelbook import (
    AlreadyExists,
    Conflict,
    IntegrityError,
    InvalidInput,
    ModelbookError,
    NotFound,
    Registry,
    Unavailable,
)
from modelbook.cli import main
from modelbook.errors import ERROR_KINDS

TABLES = (
    "models",
    "model_tags",
    "versions",
    "artifacts",
    "version_tags",
    "metrics",
    "params",
    "lineage",
    "aliases",
    "events",
)


def snapshot(registry: Registry, blob_dir: Path) -> dict[str, Any]:
    """Row counts of every table and every file under the blob store."""
    with registry.db.engine.connect() as conn:
        counts = {
            table: int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar_one())
            for table in TABLES
        }
    files = sorted(str(p.relative_to(blob_dir)) for p in blob_dir.rglob("*") if p.is_file())
    return {"rows": counts, "blobs": files}


@dataclass
class Paths:
    """Inputs for bad-input cases; ``fresh`` holds content not yet in the store."""

    fresh: Path
    missing: Path
    dangling: Path
    loop: Path
    through_file: Path
    fifo: Path
    empty_dir: Path
    only_junk_dir: Path
    dest: Path


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    fresh = tmp_path / "fresh.bin"
    fresh.write_bytes(os.urandom(2 * 1024 * 1024))
    dangling = tmp_path / "dangling.bin"
    dangling.symlink_to(tmp_path / "nowhere.bin")
    loop = tmp_path / "loop.bin"
    loop.symlink_to(tmp_path / "loop.bin")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    junk = tmp_path / "junk"
    junk.mkdir()
    os.mkfifo(junk / "pipe")
    (junk / "sub").mkdir()
    (junk / "link").symlink_to(tmp_path / "nowhere.bin")
    return Paths(
        fresh=fresh,
        missing=tmp_path / "missing.bin",
        dangling=dangling,
        loop=loop,
        through_file=fresh / "inner.bin",
        fifo=fifo,
        empty_dir=empty_dir,
        only_junk_dir=junk,
        dest=tmp_path / "download",
    )


@pytest.fixture
def seeded(registry: Registry, model_file: Path) -> Registry:
    """Model 'm' with version 1 (semver 1.0.0)."""
    registry.register("m", [model_file], owners="alice", capture_environment=False)
    return registry


Case = Callable[[Registry, Paths], object]

# Unreadable paths: the suite may run as root, for whom chmod 000 changes nothing.
# A symlink that points at itself (ELOOP) and a path that goes through a regular
# file as if it were a directory (ENOTDIR) cannot be opened by anyone, root included.
API_CASES: list[tuple[str, Case, type[ModelbookError], str]] = [
    ("unknown model", lambda r, p: r.get_version("models:/ghost/1"), NotFound, "ghost"),
    ("unknown model versions", lambda r, p: r.versions("ghost"), NotFound, "ghost"),
    ("unknown model verify", lambda r, p: r.verify("ghost"), NotFound, "ghost"),
    (
        "unknown model download",
        lambda r, p: r.download("models:/ghost/1", p.dest),
        NotFound,
        "ghost",
    ),
    ("unknown version", lambda r, p: r.get_version("models:/m/42"), NotFound, "models:/m/42"),
    ("unknown semver", lambda r, p: r.get_version("models:/m/4.2.0"), NotFound, "4.2.0"),
    (
        "unknown version download",
        lambda r, p: r.download("models:/m/42", p.dest),
        NotFound,
        "models:/m/42",
    ),
    (
        "unknown version tag",
        lambda r, p: r.set_tags("models:/m/42", {"k": "v"}),
        NotFound,
        "models:/m/42",
    ),
    (
        "unknown version alias",
        lambda r, p: r.set_alias("m", "prod", 42, reason="r"),
        NotFound,
        "42",
    ),
    ("unknown alias", lambda r, p: r.resolve("models:/m@prod"), NotFound, "models:/m@prod"),
    (
        "unknown alias delete",
        lambda r, p: r.delete_alias("m", "prod", reason="r"),
        NotFound,
        "prod",
    ),
    (
        "unknown artifact",
        lambda r, p: r.read_artifact("models:/m/1", "nope.bin"),
        NotFound,
        "nope.bin",
    ),
    (
        "name with slash",
        lambda r, p: r.register("bad/name", [p.fresh], owners="o"),
        InvalidInput,
        "invalid model name 'bad/name'",
    ),
    (
        "name with dotdot",
        lambda r, p: r.register("..", [p.fresh], owners="o"),
        InvalidInput,
        "invalid model name '..'",
    ),
    (
        "name with space",
        lambda r, p: r.register("a b", [p.fresh], owners="o"),
        InvalidInput,
        "invalid model name",
    ),
    (
        "name too long",
        lambda r, p: r.register("x" * 129, [p.fresh], owners="o"),
        InvalidInput,
        "invalid model name",
    ),
    (
        "create invalid name",
        lambda r, p: r.create_model("../x", owners="o"),
        InvalidInput,
        "invalid model name",
    ),
    ("create existing", lambda r, p: r.create_model("m", owners="o"), AlreadyExists, "'m'"),
    (
        "missing path",
        lambda r, p: r.register("m", [p.missing]),
        InvalidInput,
        "does not exist",
    ),
    (
        "missing path after a good one",
        lambda r, p: r.register("m", [p.fresh, p.missing]),
        InvalidInput,
        "missing.bin",
    ),
    ("no paths", lambda r, p: r.register("m", []), InvalidInput, "no artifact paths"),
    (
        "dangling symlink",
        lambda r, p: r.register("m", [p.dangling]),
        InvalidInput,
        "does not exist",
    ),
    ("symlink loop", lambda r, p: r.register("m", [p.loop]), InvalidInput, "cannot be read"),
    (
        "path through a file",
        lambda r, p: r.register("m", [p.through_file]),
        InvalidInput,
        "cannot be read",
    ),
    ("fifo", lambda r, p: r.register("m", [p.fifo]), InvalidInput, "not a regular file"),
    ("empty directory", lambda r, p: r.register("m", p.empty_dir), InvalidInput, "no files"),
    (
        "directory holding only a dangling link",
        lambda r, p: r.register("m", p.only_junk_dir),
        InvalidInput,
        "does not exist",
    ),
    (
        "non-numeric metric",
        lambda r, p: r.register("m", [p.fresh], metrics={"auc": "high"}),
        InvalidInput,
        "metric 'auc' must be a number",
    ),
    (
        "non-finite metric",
        lambda r, p: r.register("m", [p.fresh], metrics={"auc@test": float("nan")}),
        InvalidInput,
        "finite",
    ),
    (
        "malformed metric slice",
        lambda r, p: r.register("m", [p.fresh], metrics={"auc{region}": 0.9}),
        InvalidInput,
        "slice",
    ),
    (
        "malformed tag key",
        lambda r, p: r.register("m", [p.fresh], tags={"bad key": "v"}),
        InvalidInput,
        "tag key",
    ),
    (
        "tag with NUL",
        lambda r, p: r.register("m", [p.fresh], tags={"k": "a\x00b"}),
        InvalidInput,
        "NUL",
    ),
    (
        "tag too long",
        lambda r, p: r.register("m", [p.fresh], tags={"k": "v" * 513}),
        InvalidInput,
        "limit",
    ),
    (
        "malformed param key",
        lambda r, p: r.register("m", [p.fresh], params={"=": 1}),
        InvalidInput,
        "param key",
    ),
    (
        "seed not an integer",
        lambda r, p: r.register("m", [p.fresh], seed="42"),  # type: ignore[arg-type]
        InvalidInput,
        "seed",
    ),
    (
        "parent not a version number",
        lambda r, p: r.register("m", [p.fresh], parents=["models:/m@prod"]),
        InvalidInput,
        "parent",
    ),
    (
        "malformed semver",
        lambda r, p: r.register("m", [p.fresh], semver="1.0"),
        InvalidInput,
        "invalid semver '1.0'",
    ),
    (
        "semver not greater",
        lambda r, p: r.register("m", [p.fresh], semver="1.0.0"),
        InvalidInput,
        "must be greater than 1.0.0",
    ),
    (
        "new model without owner",
        lambda r, p: r.register("newmodel", [p.fresh]),
        InvalidInput,
        "give an owner",
    ),
    (
        "new model with bad risk tier",
        lambda r, p: r.register("newmodel", [p.fresh], owners="o", risk_tier="extreme"),
        InvalidInput,
        "risk tier",
    ),
    (
        "alias without reason",
        lambda r, p: r.set_alias("m", "prod", 1, reason=""),
        InvalidInput,
        "reason",
    ),
    (
        "alias expect mismatch",
        lambda r, p: r.set_alias("m", "prod", 1, reason="r", expect=3),
        Conflict,
        "expected it to point at version 3",
    ),
    ("bad uri", lambda r, p: r.get_version("models:/m/01"), InvalidInput, "01"),
    ("bad limit", lambda r, p: r.versions("m", limit=0), InvalidInput, "limit"),
    ("bad token", lambda r, p: r.models(page_token="xyz"), InvalidInput, "page token"),
    # A number out of range is named as the field it was given for, with why; an
    # integer too long to print (over 4,300 digits) is described, not printed.
    (
        "duration past a float",
        lambda r, p: r.register("m", [p.fresh], duration_seconds=10**400),
        InvalidInput,
        "duration_seconds is too large: an integer of about 401 digits is beyond the largest float",
    ),
    (
        "duration not finite",
        lambda r, p: r.register("m", [p.fresh], duration_seconds=float("inf")),
        InvalidInput,
        "duration_seconds must be a finite number, got inf",
    ),
    (
        "negative duration",
        lambda r, p: r.register("m", [p.fresh], duration_seconds=-1),
        InvalidInput,
        "duration_seconds must be at least 0, got -1",
    ),
    (
        "seed too long to print",
        lambda r, p: r.register("m", [p.fresh], seed=10**5000),
        InvalidInput,
        "seed must be a 64-bit integer, got an integer of about 5,001 digits",
    ),
    (
        "metric past a float",
        lambda r, p: r.register("m", [p.fresh], metrics={"auc": 10**5000}),
        InvalidInput,
        "metric 'auc' is too large: an integer of about 5,001 digits",
    ),
    (
        "search metric past a float",
        lambda r, p: r.search_versions(metrics=[("auc", ">", 10**5000)]),
        InvalidInput,
        "metric 'auc' is too large",
    ),
    (
        "version number of 5,001 digits",
        lambda r, p: r.set_alias("m", "prod", 10**5000, reason="r"),
        InvalidInput,
        "invalid version number an integer of about 5,001 digits",
    ),
    (
        "limit of 5,001 digits",
        lambda r, p: r.versions("m", limit=10**5000),
        InvalidInput,
        "invalid limit an integer of about 5,001 digits",
    ),
    (
        "page token an integer of 5,001 digits",
        lambda r, p: r.models(page_token=10**5000),  # type: ignore[arg-type]
        InvalidInput,
        "page token an integer of about 5,001 digits",
    ),
    (
        "lineage depth of 5,001 digits",
        lambda r, p: r.lineage("models:/m/1", depth=-(10**5000)),
        InvalidInput,
        "depth a negative integer of about 5,001 digits",
    ),
    (
        "pin major of 5,001 digits",
        lambda r, p: r.pin_alias("m", "prod", 10**5000),
        InvalidInput,
        "--major must be between 0 and",
    ),
    (
        "smoke memory of 5,001 digits",
        lambda r, p: r.smoke("models:/m/1", memory_mb=10**5000),
        InvalidInput,
        "memory limit must be a whole number",
    ),
    (
        "tolerance of 5,001 digits",
        lambda r, p: r.register("m", [p.fresh], tolerance=10**5000),
        InvalidInput,
        "tolerance must be a number from 0 to 1, got an integer of about 5,001 digits",
    ),
    (
        "sample rows of 5,001 digits",
        lambda r, p: r.register("m", [p.fresh], sample={"x": [1.0]}, sample_rows=10**5000),
        InvalidInput,
        "sample rows must be a whole number",
    ),
]


@pytest.mark.parametrize(
    ("call", "kind", "phrase"),
    [pytest.param(c, k, ph, id=i) for i, c, k, ph in API_CASES],
)
def test_bad_input_is_refused_and_writes_nothing(
    seeded: Registry,
    blob_dir: Path,
    paths: Paths,
    call: Case,
    kind: type[ModelbookError],
    phrase: str,
) -> None:
    """Each bad input raises its error kind with a one-line message naming the problem,
    and leaves database and blob store exactly as they were."""
    before = snapshot(seeded, blob_dir)
    with pytest.raises(kind) as err:
        call(seeded, paths)
    message = str(err.value)
    assert phrase in message
    assert "\n" not in message
    assert snapshot(seeded, blob_dir) == before
    assert not paths.dest.exists()


ROOT = Path(__file__).resolve().parents[1]


def _exit_code_rows(path: Path, heading: str) -> dict[int, str]:
    """The rows of the exit-code table under ``heading`` in ``path``: code -> the rest."""
    text = path.read_text()
    assert heading in text, f"{path.name} has no {heading!r}"
    section = text.split(heading, 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\|\s*(\d+)\s*\|(.*)$", section, re.MULTILINE)
    return {int(code): rest for code, rest in rows}


def test_error_kinds_have_distinct_documented_exit_codes() -> None:
    """The CLI exit code of each error kind is the documented one, and the exit-code
    tables of the README and docs/cli.md list every code the CLI exits with: 0, 1
    (a bug), 2 (usage) and each kind's, the cli.md table with the kind's name."""
    used = {0, 1, 2} | {k.exit_code for k in ERROR_KINDS}
    readme = _exit_code_rows(ROOT / "README.md", "### Exit codes")
    cli_doc = _exit_code_rows(ROOT / "docs" / "cli.md", "### Errors and exit codes")
    assert sorted(readme) == sorted(used), "README.md's exit codes"
    assert sorted(cli_doc) == sorted(used), "docs/cli.md's exit codes"
    for kind in ERROR_KINDS:
        assert f"`{kind.__name__}`" in cli_doc[kind.exit_code], kind.__name__
    assert {k.__name__: k.exit_code for k in ERROR_KINDS} == {
        "NotFound": 3,
        "AlreadyExists": 4,
        "Conflict": 5,
        "InvalidInput": 6,
        "IntegrityError": 7,
        "Unavailable": 8,
        "GateFailed": 9,
        "PermissionDenied": 10,
        "UnsafeArtifact": 11,
        "EnvironmentDrift": 12,
        "IncompleteMetadata": 13,
    }


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    "uri",
    [
        "postgresql+psycopg://postgres:s3cret@127.0.0.1:{port}/x",
        "postgresql+psycopg://postgres@127.0.0.1:1/x",
    ],
)
def test_unreachable_database_is_unavailable(tmp_path: Path, uri: str) -> None:
    """A database that cannot be reached is Unavailable, says so, and hides the password."""
    blobs = tmp_path / "blobs"
    with pytest.raises(Unavailable) as err:
        Registry(uri.format(port=_closed_port()), blob_uri=str(blobs))
    message = str(err.value)
    assert "unavailable" in message and "127.0.0.1" in message
    assert "s3cret" not in message
    assert "\n" not in message
    assert not blobs.exists()


@pytest.mark.parametrize("uri", ["nosuchdb://host/x", "not a database uri"])
def test_unusable_database_uri_is_a_modelbook_error(tmp_path: Path, uri: str) -> None:
    """A URI no driver understands is refused with a modelbook error naming it."""
    with pytest.raises(ModelbookError) as err:
        Registry(uri, blob_uri=str(tmp_path / "blobs"))
    assert uri in str(err.value)


def test_a_folder_given_as_the_database_uri_says_how_to_give_one(tmp_path: Path) -> None:
    """Registry(PATH) is the usual slip: the error shows a URI and the ``home=`` way."""
    for given in (tmp_path, str(tmp_path / "registry.db")):
        with pytest.raises(ModelbookError) as err:
            Registry(given, blob_uri=str(tmp_path / "blobs"))  # type: ignore[arg-type]
        message = str(err.value)
        assert "sqlite:///" in message and "home=" in message and "\n" not in message
    assert list(tmp_path.iterdir()) == []


def test_sqlite_database_under_a_regular_file_is_unavailable(tmp_path: Path) -> None:
    """A SQLite path whose folder is really a file cannot be opened: a modelbook error,
    not a raw OS exception."""
    blocker = tmp_path / "not_a_dir"
    blocker.write_bytes(b"x")
    with pytest.raises(Unavailable, match="not_a_dir"):
        Registry(f"sqlite:///{blocker / 'registry.db'}", blob_uri=str(tmp_path / "blobs"))


def test_corrupt_blob_is_an_integrity_error_and_nothing_is_written(
    seeded: Registry, blob_dir: Path, tmp_path: Path
) -> None:
    """Reading a tampered artifact fails loudly and leaves no partial download."""
    sha = seeded.get_version("models:/m/1").artifacts[0].sha256
    blob = next(p for p in blob_dir.rglob(sha))
    blob.write_bytes(b"tampered")
    dest = tmp_path / "out"
    with pytest.raises(IntegrityError, match="corrupt"):
        seeded.download("models:/m/1", dest)
    assert not [p for p in dest.rglob("*") if p.is_file()]
    with pytest.raises(IntegrityError):
        seeded.read_artifact("models:/m/1", "model.bin")
    blob.unlink()
    with pytest.raises(IntegrityError, match="missing"):
        seeded.read_artifact("models:/m/1", "model.bin")


# the CLI ------------------------------------------------------------------------------


@pytest.fixture
def cli_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_file: Path) -> Path:
    """A registry home with model 'm' version 1, used by the CLI through MODELBOOK_HOME."""
    home = tmp_path / "home"
    for var in ("MODELBOOK_URI", "MODELBOOK_BLOB_URI"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MODELBOOK_HOME", str(home))
    with Registry(home=home, actor="seed") as reg:
        reg.register("m", [model_file], owners="alice", capture_environment=False)
    return home


CLI_CASES: list[tuple[str, Callable[[Paths], list[str]], int, str]] = [
    ("unknown model", lambda p: ["show", "models:/ghost/1"], 3, "ghost"),
    ("unknown model versions", lambda p: ["versions", "ghost"], 3, "ghost"),
    ("unknown version", lambda p: ["resolve", "models:/m/42"], 3, "models:/m/42"),
    ("unknown alias", lambda p: ["resolve", "models:/m@prod"], 3, "models:/m@prod"),
    (
        "unknown version download",
        lambda p: ["download", "models:/m/42", str(p.dest)],
        3,
        "models:/m/42",
    ),
    ("unknown alias rm", lambda p: ["alias", "rm", "m", "prod", "--reason", "r"], 3, "prod"),
    (
        "invalid name",
        lambda p: ["register", "bad/name", str(p.fresh), "--owner", "o"],
        6,
        "invalid model name",
    ),
    ("missing path", lambda p: ["register", "m", str(p.missing)], 6, "does not exist"),
    ("symlink loop", lambda p: ["register", "m", str(p.loop)], 6, "cannot be read"),
    ("fifo", lambda p: ["register", "m", str(p.fifo)], 6, "not a regular file"),
    ("empty directory", lambda p: ["register", "m", str(p.empty_dir)], 6, "no files"),
    (
        "non-numeric metric",
        lambda p: ["register", "m", str(p.fresh), "--metric", "auc=high"],
        6,
        "must be a number",
    ),
    (
        "duration past a float",
        lambda p: ["register", "m", str(p.fresh), "--duration-seconds", "1e400"],
        6,
        "duration_seconds must be a finite number",
    ),
    (
        "metric without value",
        lambda p: ["register", "m", str(p.fresh), "--metric", "auc"],
        6,
        "malformed metric",
    ),
    (
        "malformed slice",
        lambda p: ["register", "m", str(p.fresh), "--metric", "auc{region}=0.9"],
        6,
        "slice",
    ),
    (
        "same metric twice",
        lambda p: [
            "register",
            "m",
            str(p.fresh),
            "--metric",
            "auc{a=1,b=2}=0.9",
            "--metric",
            "auc{b=2,a=1}=0.8",
        ],
        6,
        "given twice",
    ),
    (
        "malformed tag",
        lambda p: ["register", "m", str(p.fresh), "--tag", "novalue"],
        6,
        "malformed tag 'novalue'",
    ),
    (
        "malformed param",
        lambda p: ["register", "m", str(p.fresh), "--param", "=3"],
        6,
        "malformed param",
    ),
    (
        "invalid semver",
        lambda p: ["register", "m", str(p.fresh), "--semver", "1.0"],
        6,
        "invalid semver",
    ),
    (
        "semver not greater",
        lambda p: ["register", "m", str(p.fresh), "--semver", "0.9.0"],
        6,
        "must be greater",
    ),
    ("new model without owner", lambda p: ["register", "fresh", str(p.fresh)], 6, "--owner"),
    (
        "bad risk tier",
        lambda p: ["register", "fresh", str(p.fresh), "--owner", "o", "--risk", "extreme"],
        6,
        "risk tier",
    ),
    ("alias without reason", lambda p: ["alias", "set", "m", "prod", "1"], 6, "reason"),
    (
        "alias expect mismatch",
        lambda p: ["alias", "set", "m", "prod", "1", "--reason", "r", "--expect", "2"],
        5,
        "expected it",
    ),
    ("malformed tag command", lambda p: ["tag", "models:/m/1", "novalue"], 6, "malformed"),
    ("bad limit", lambda p: ["models", "--limit", "0"], 6, "limit"),
    ("bad page token", lambda p: ["versions", "m", "--page-token", "zzz"], 6, "page token"),
    (
        "unreachable database",
        lambda p: ["--uri", "postgresql+psycopg://postgres:pw@127.0.0.1:1/x", "models"],
        8,
        "unavailable",
    ),
]


@pytest.mark.parametrize(
    ("argv", "code", "phrase"),
    [pytest.param(a, c, ph, id=i) for i, a, c, ph in CLI_CASES],
)
def test_cli_bad_input_one_line_error_and_exit_code(
    cli_home: Path,
    paths: Paths,
    capsys: pytest.CaptureFixture[str],
    argv: Callable[[Paths], list[str]],
    code: int,
    phrase: str,
) -> None:
    """The CLI prints one 'error:' line on stderr, exits with the kind's code, writes nothing."""
    with Registry(home=cli_home) as reg:
        before = snapshot(reg, cli_home / "blobs")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(argv(paths))
    out, err = capsys.readouterr()
    assert exit_info.value.code == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert phrase in lines[0]
    assert "pw@" not in lines[0]
    assert out == ""
    with Registry(home=cli_home) as reg:
        assert snapshot(reg, cli_home / "blobs") == before
    assert not paths.dest.exists()
