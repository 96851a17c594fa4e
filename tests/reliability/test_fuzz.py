"""Fuzzing: hypothesis throws hostile names, keys, values, metrics and URIs at the
Python API and the CLI, on SQLite and PostgreSQL.

The property: a call either succeeds or raises a ``ModelbookError`` subclass (the
CLI: exits with a documented status); the database is untouched by a refused call
(row counts of every table) and so is the blob store (blob count). Bad input is
never reported as ``Unavailable``: the database is up, the input is wrong.

Known library bugs are listed in ``KNOWN_BUGS`` with the exact signature they
produce; a hit is counted (figure ``known_bug_hits``) instead of failing, and each
bug also has a strict-xfail test below, so the list must shrink when one is fixed.
Anything else escaping fails the test with the input that caused it.

Examples per test: ``scale(30, 400)``; derandomized (the same examples every
run) except under ``MODELBOOK_SOAK=1``, which explores new ones each time.
"""

from __future__ import annotations

import gc
import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelbook import ModelbookError, Registry, Unavailable
from modelbook.errors import ERROR_KINDS
from modelbook.cli import main

from .helpers import SOAK, Figures, blob_files, scale, table_counts

FUZZ = settings(
    max_examples=scale(30, 400),
    deadline=None,
    derandomize=not SOAK,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)


# known bugs: (name, does this exception match it on this database?) ------------------

KNOWN_BUGS: list[tuple[str, Callable[[BaseException, str], bool]]] = [
    # Lone surrogates (what Python makes of non-UTF-8 bytes in argv) pass
    # validation.text and fail when the driver encodes them.
    ("surrogates reach the driver", lambda e, db: isinstance(e, UnicodeEncodeError)),
    # Integers beyond the columns' range (version numbers, page-token keys, metric values).
    ("huge integers reach the driver", lambda e, db: isinstance(e, OverflowError)),
    (
        "huge integers reach the driver",
        lambda e, db: isinstance(e, Unavailable) and "out of range" in str(e),
    ),
    # PostgreSQL enforces VARCHAR lengths that validation does not check
    # (model tag values > 512, metric slice keys > 256); SQLite stores them.
    (
        "value too long for a column",
        lambda e, db: db == "postgresql"
        and isinstance(e, Unavailable)
        and "value too long" in str(e),
    ),
    # cli.alias_set: '²'.isdigit() is True but int('²') raises ValueError.
    (
        "non-ASCII digits in the CLI",
        lambda e, db: isinstance(e, ValueError) and "invalid literal for int()" in str(e),
    ),
]
# A register refused for its semver has already stored its blobs.
SEMVER_LEAK = "must be greater than"


def known_bug(exc: BaseException, db: str) -> str | None:
    for name, matches in KNOWN_BUGS:
        if matches(exc, db):
            return name
    return None


# strategies ------------------------------------------------------------------------------

NASTY = [
    "",
    " ",
    ".",
    "..",
    "a/b",
    "a\\b",
    "/etc/passwd",
    "../up",
    "a..b",
    "a\x00b",
    "\x00",
    "models:/",
    "models:/base/1",
    "base@production",
    "@",
    "a@b",
    "a b",
    "tab\tx",
    "new\nline",
    "é",
    "名前",
    "😀",
    "\u202egnp.exe",
    "x" * 129,
    "x" * 513,
    "x" * 5000,
    "y" * 70_000,
    "CON",
    "-rf",
    "--help",
    "%s%n",
    "'; DROP TABLE models; --",
    "\udcff",
    "a\ud800b",
    "1",
    "0",
    "-1",
    "99999999999999999999",
    "1.0.0",
    "latest",
    "base",
    "production",
]
VALID_NAME = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,40}", fullmatch=True).filter(
    lambda s: ".." not in s
)
VALID_KEY = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.:/-]{0,30}", fullmatch=True)
SURROGATE = st.integers(0xD800, 0xDFFF).map(chr)
texts = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=24),
    st.text(st.one_of(st.characters(), SURROGATE), max_size=6),
    st.builds(
        lambda c, n: c * n, st.sampled_from(["a", "é", "/", "\x00", "9"]), st.integers(60, 600)
    ),
)
names = st.one_of(VALID_NAME, texts)
keys = st.one_of(VALID_KEY, texts)
values = st.one_of(
    texts,
    st.integers(-(2**40), 2**40),
    st.floats(),
    st.booleans(),
    st.none(),
    st.sampled_from([10**20, 10**400, -(2**63)]),
)
slices = st.lists(st.tuples(keys, texts), max_size=3).map(
    lambda kv: "{" + ",".join(f"{k}={v}" for k, v in kv) + "}"
)
metric_keys = st.one_of(
    st.sampled_from(
        ["auc", "auc@test", "auc@test{region=eu}", "auc{region=eu,device=mobile}", "auc{}",
         "auc{=}", "auc{a=b,a=c}", "auc@{x=y}", "a{b={c}}", "auc{region=eu", "@test", "auc@"]
    ),
    st.builds(lambda n, s, sl: n + s + sl, st.one_of(VALID_KEY, texts),
              st.sampled_from(["", "@test", "@x y", "@"]), st.one_of(st.just(""), slices)),
    texts,
)
refs = st.one_of(
    st.integers(-3, 5).map(str),
    st.sampled_from(["latest", "1.0.0", "1.1.0", "01", "1.0", "9" * 12, "1.0.0-rc1", ""]),
    texts,
)
uris = st.one_of(
    st.builds(lambda n, r: f"models:/{n}/{r}", st.one_of(st.just("base"), names), refs),
    st.builds(lambda n, a: f"models:/{n}@{a}", st.one_of(st.just("base"), names),
              st.one_of(st.just("production"), texts)),
    st.builds(lambda n, r: f"{n}/{r}", st.one_of(st.just("base"), names), refs),
    texts,
)
versions = st.one_of(st.integers(-2, 4), st.sampled_from([0, 10**12, 10**20, True]), refs)
semvers = st.one_of(st.none(), st.sampled_from(["0.0.1", "1.0.0", "5.0.0", "1.2"]), texts)
page_tokens = st.one_of(
    st.none(),
    texts,
    st.sampled_from(
        ["eyJzIjoibW9kZWxzIiwiayI6MTAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDB9",  # k = 10**30
         "eyJzIjoic2VhcmNoIiwiayI6IngifQ", "e30", "!!!"]
    ),
)


# fixtures and the property -----------------------------------------------------------------


@pytest.fixture
def seeded(db_uri: str, blob_dir: Path, tmp_path: Path) -> Iterator[Registry]:
    """A registry with model ``base`` (versions 1 and 2, alias production -> 1)."""
    reg = Registry(db_uri, blob_uri=str(blob_dir), actor="fuzz")
    for i in (1, 2):
        f = tmp_path / f"base{i}.bin"
        f.write_bytes(f"base version {i}".encode())
        reg.register("base", [f], owners="fuzz", tags={"k": "v"}, metrics={"auc": 0.5 + i / 10})
    reg.set_alias("base", "production", 1, reason="seed")
    yield reg
    reg.close()


class Oracle:
    """Runs one call and checks the property; counts outcomes for the figures."""

    def __init__(self, reg: Registry, blob_dir: Path, db: str, figures: Figures) -> None:
        self.reg, self.blob_dir, self.db, self.figures = reg, blob_dir, db, figures
        self.known: dict[str, int] = {}

    def snapshot(self) -> tuple[dict[str, int], int]:
        return table_counts(self.reg), len(blob_files(self.blob_dir))

    def call(self, fn: Callable[[], Any], what: str) -> None:
        before = self.snapshot()
        self.figures.add("examples")
        try:
            fn()
        except ModelbookError as exc:
            bug = known_bug(exc, self.db)
            after = self.snapshot()
            assert after[0] == before[0], f"{what}: refused ({exc}) but wrote {before[0]}->{after[0]}"
            if bug is None and SEMVER_LEAK not in str(exc):
                assert not isinstance(exc, Unavailable), f"{what}: bad input said {exc!r}"
                assert after[1] == before[1], f"{what}: refused ({exc}) but stored a blob"
            self._count(bug, "refused")
        except Exception as exc:  # noqa: BLE001 - the property is about exactly this
            bug = known_bug(exc, self.db)
            if bug is None:
                raise AssertionError(f"{what}: {type(exc).__name__} escaped: {exc}") from exc
            assert self.snapshot()[0] == before[0], f"{what}: {bug} left rows behind"
            self._count(bug, "refused")
        else:
            self.figures.add("accepted")

    def _count(self, bug: str | None, outcome: str) -> None:
        if bug is None:
            self.figures.add(outcome)
        else:
            self.known[bug] = self.known.get(bug, 0) + 1
            self.figures["known_bug_hits"] = dict(self.known)


def _db(uri: str) -> str:
    return "postgresql" if uri.startswith("postgresql") else "sqlite"


# the Python API ------------------------------------------------------------------------------

_counter = itertools.count()


def test_fuzz_register(
    seeded: Registry, db_uri: str, blob_dir: Path, tmp_path: Path, figures: Figures
) -> None:
    oracle = Oracle(seeded, blob_dir, _db(db_uri), figures)

    @FUZZ
    @given(
        name=st.one_of(st.just("base"), names),
        owner=st.one_of(st.just("owner"), texts),
        tags=st.dictionaries(keys, values, max_size=3),
        metrics=st.dictionaries(metric_keys, values, max_size=3),
        params=st.dictionaries(keys, values, max_size=2),
        data=st.lists(texts, max_size=2),
        semver=semvers,
        note=st.one_of(st.none(), texts),
        filename=st.one_of(st.just("model.bin"), texts),
    )
    def run(name, owner, tags, metrics, params, data, semver, note, filename) -> None:  # type: ignore[no-untyped-def]
        folder = tmp_path / f"in{next(_counter)}"
        folder.mkdir()
        try:
            f = folder / filename
            f.write_bytes(os.urandom(64))  # new content: a leaked blob would show
        except (OSError, ValueError):
            f = folder / "model.bin"
            f.write_bytes(os.urandom(64))
        oracle.call(
            lambda: seeded.register(
                name, [f], owners=owner, tags=tags, metrics=metrics, params=params,
                data=data, semver=semver, change_summary=note, capture_environment=False,
            ),
            f"register({name!r}, tags={tags!r}, metrics={metrics!r}, params={params!r}, "
            f"data={data!r}, semver={semver!r}, file={f.name!r})",
        )

    run()


def test_fuzz_reads_and_tags(
    seeded: Registry, db_uri: str, blob_dir: Path, tmp_path: Path, figures: Figures
) -> None:
    oracle = Oracle(seeded, blob_dir, _db(db_uri), figures)

    @FUZZ
    @given(
        uri=uris,
        tags=st.dictionaries(keys, values, max_size=2),
        remove=st.lists(keys, max_size=2),
        name=st.one_of(st.just("base"), names),
        path=st.one_of(st.just("base1.bin"), texts),
        token=page_tokens,
        metric=st.tuples(metric_keys, st.sampled_from([">", "=", "<>", "", "≥"]), values),
        model_tags=st.dictionaries(keys, values, max_size=2),
    )
    def run(uri, tags, remove, name, path, token, metric, model_tags) -> None:  # type: ignore[no-untyped-def]
        reg = seeded
        oracle.call(lambda: reg.set_tags(uri, tags, remove=remove), f"set_tags({uri!r}, {tags!r})")
        oracle.call(lambda: reg.get_version(uri), f"get_version({uri!r})")
        oracle.call(lambda: reg.read_artifact(uri, path), f"read_artifact({uri!r}, {path!r})")
        dest = tmp_path / f"dl{next(_counter)}"
        oracle.call(lambda: reg.download(uri, dest), f"download({uri!r})")
        oracle.call(lambda: reg.versions(name, page_token=token), f"versions({name!r}, {token!r})")
        oracle.call(lambda: reg.models(page_token=token), f"models(page_token={token!r})")
        oracle.call(
            lambda: reg.search_versions(model=name, tags=tags, metrics=[metric], page_token=token),
            f"search_versions({name!r}, {tags!r}, {metric!r}, {token!r})",
        )
        oracle.call(lambda: reg.verify(name), f"verify({name!r})")
        oracle.call(
            lambda: reg.create_model(name, owners="fuzz", tags=model_tags),
            f"create_model({name!r}, tags={model_tags!r})",
        )

    run()


def test_fuzz_aliases(
    seeded: Registry, db_uri: str, blob_dir: Path, figures: Figures
) -> None:
    oracle = Oracle(seeded, blob_dir, _db(db_uri), figures)

    @FUZZ
    @given(
        name=st.one_of(st.just("base"), names),
        alias=st.one_of(st.sampled_from(["production", "staging"]), texts),
        version=versions,
        reason=st.one_of(st.just("because"), texts),
        expect=st.one_of(st.none(), st.integers(-1, 3), st.just(10**20)),
    )
    def run(name, alias, version, reason, expect) -> None:  # type: ignore[no-untyped-def]
        reg = seeded
        oracle.call(
            lambda: reg.set_alias(name, alias, version, reason=reason, expect=expect),
            f"set_alias({name!r}, {alias!r}, {version!r}, reason={reason!r}, expect={expect!r})",
        )
        oracle.call(lambda: reg.alias_history(name, alias), f"alias_history({name!r}, {alias!r})")
        oracle.call(
            lambda: reg.delete_alias(name, alias, reason=reason, expect=expect),
            f"delete_alias({name!r}, {alias!r}, reason={reason!r}, expect={expect!r})",
        )

    run()


# the CLI -----------------------------------------------------------------------------------------

EXIT_CODES = {0, 1, 2, 3, 4, 5, 6, 7, 8}  # 2: usage error (click); 3-8: error kinds


def cli_commands(blob_dir: Path, tmp_path: Path) -> st.SearchStrategy[list[str]]:
    arg = st.one_of(texts.filter(lambda s: "\x00" not in s), st.just("base"))
    kv = st.builds(lambda k, v: f"{k}={v}", st.one_of(VALID_KEY, arg), arg)
    metric = st.builds(lambda k, v: f"{k}={v}", metric_keys, st.one_of(arg, st.just("0.9")))
    path = st.sampled_from([str(tmp_path / "cli-model.bin"), str(tmp_path), "/nonexistent"])
    return st.one_of(
        st.builds(lambda n, p, o, t, m: ["register", n, p, "--owner", o, "--tag", t,
                                         "--metric", m, "--no-capture"],
                  arg, path, arg, kv, metric),
        st.builds(lambda u, t: ["tag", u, t], uris, kv),
        st.builds(lambda u: ["resolve", u], uris),
        st.builds(lambda u: ["show", u, "--json"], uris),
        st.builds(lambda n, t: ["versions", n, "--page-token", t], arg, arg),
        st.builds(lambda n, a, v, r, e: ["alias", "set", n, a, v, "--reason", r, "--expect", e],
                  arg, arg, st.one_of(refs, st.sampled_from(["²", "١", "1"])), arg,
                  st.sampled_from(["1", "0", "x", "99999999999999999999"])),
        st.builds(lambda n, a, r: ["alias", "rm", n, a, "--reason", r], arg, arg, arg),
        st.builds(lambda n, a: ["alias", "history", n, a], arg, arg),
        st.builds(lambda u: ["download", u, str(tmp_path / f"cli-dl{next(_counter)}")], uris),
        st.builds(lambda n: ["verify", n], arg),
    )


def test_fuzz_cli(
    seeded: Registry,
    db_uri: str,
    blob_dir: Path,
    tmp_path: Path,
    figures: Figures,
    capsys: pytest.CaptureFixture[str],
) -> None:
    oracle = Oracle(seeded, blob_dir, _db(db_uri), figures)
    (tmp_path / "cli-model.bin").write_bytes(b"cli model")
    codes: dict[int, int] = {}

    def cli(argv: list[str]) -> None:
        capsys.readouterr()
        try:
            main(["--uri", db_uri, "--blob-uri", str(blob_dir), *argv])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else -1)
        finally:
            gc.collect()  # each command opens a Registry; let its connections go
        codes[code] = codes.get(code, 0) + 1
        assert code in EXIT_CODES, f"exit status {code!r}"
        if code != 0:
            # The error the CLI reported, as the exception of its kind, for the oracle.
            kind = next((k for k in ERROR_KINDS if k.exit_code == code), ModelbookError)
            raise kind(f"exit status {code}: {capsys.readouterr().err.strip()}")

    @FUZZ
    @given(argv=cli_commands(blob_dir, tmp_path))
    def run(argv: list[str]) -> None:
        oracle.call(lambda: cli(argv), f"modelbook {argv!r}")

    run()
    figures["exit_codes"] = dict(sorted(codes.items()))
