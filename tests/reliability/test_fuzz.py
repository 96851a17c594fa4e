"""Fuzzing: hypothesis throws hostile names, keys, values, metrics and URIs at the
Python API and the CLI, on SQLite and PostgreSQL.

The property: a call either succeeds or raises a ``ModelbookError`` subclass (the
CLI: exits with a documented status); the database is untouched by a refused call
(row counts of every table) and so is the blob store (blob count). Bad input is
never reported as ``Unavailable``: the database is up, the input is wrong.

Anything else escaping fails the test with the input that caused it. The inputs
the fuzzer found reaching the driver are kept below as deterministic cases.

Examples per test: ``scale(80, 2000)`` for the API, ``scale(15, 600)`` for the
CLI; derandomized (the same examples every run) except under ``MODELBOOK_SOAK=1``,
which explores new ones each time.
"""

from __future__ import annotations

import base64
import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelbook import InvalidInput, ModelbookError, NotFound, Registry, Unavailable, paging
from modelbook.cli import main
from modelbook.errors import ERROR_KINDS
from modelbook.query import cursor

from .helpers import SOAK, Figures, blob_files, scale, table_counts

# Some hostile strings are 70,000 characters long; hypothesis warns when it prints them.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
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


API_EXAMPLES = scale(80, 2000)
CLI_EXAMPLES = scale(15, 600)


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
    "base@champion",
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
    "champion",
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
        [
            "auc",
            "auc@test",
            "auc@test{region=eu}",
            "auc{region=eu,device=mobile}",
            "auc{}",
            "auc{=}",
            "auc{a=b,a=c}",
            "auc@{x=y}",
            "a{b={c}}",
            "auc{region=eu",
            "@test",
            "auc@",
        ]
    ),
    st.builds(
        lambda n, s, sl: n + s + sl,
        st.one_of(VALID_KEY, texts),
        st.sampled_from(["", "@test", "@x y", "@"]),
        st.one_of(st.just(""), slices),
    ),
    texts,
)
refs = st.one_of(
    st.integers(-3, 5).map(str),
    st.sampled_from(["latest", "1.0.0", "1.1.0", "01", "1.0", "9" * 12, "1.0.0-rc1", ""]),
    texts,
)
uris = st.one_of(
    st.builds(lambda n, r: f"models:/{n}/{r}", st.one_of(st.just("base"), names), refs),
    st.builds(
        lambda n, a: f"models:/{n}@{a}",
        st.one_of(st.just("base"), names),
        st.one_of(st.just("champion"), texts),
    ),
    st.builds(lambda n, r: f"{n}/{r}", st.one_of(st.just("base"), names), refs),
    texts,
)
versions = st.one_of(st.integers(-2, 4), st.sampled_from([0, 10**12, 10**20, True]), refs)
semvers = st.one_of(st.none(), st.sampled_from(["0.0.1", "1.0.0", "5.0.0", "1.2"]), texts)
page_tokens = st.one_of(
    st.none(),
    texts,
    st.sampled_from(
        [
            "eyJzIjoibW9kZWxzIiwiayI6MTAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDB9",  # k = 10**30
            "eyJzIjoic2VhcmNoIiwiayI6IngifQ",
            "e30",
            "!!!",
            # the listings of model base by a position past any version number
            paging.encode("versions:base:desc", 2**31),
            paging.encode("versions:base:asc", 2**63 - 1),
        ]
    ),
)
# Queries and orders of a search, and the positions a crafted token of their listing
# may hold: an exponent past the float range, a fraction or a value past the column
# for an integer order, a value for a listing without an order ...
SEARCHES = [
    ("", None),
    ("name = 'base'", "created_at"),
    ("metrics.auc > 0", "metrics.auc desc"),
    ("tags.k = 'v'", "number asc"),
]
positions = st.one_of(
    st.sampled_from(
        ["0x1.0p+9999", "-0x1.0p+1024", "0x1.8p+1", "-", "2147483648", "9" * 19, "nan", "inf"]
    ),
    texts,
)


def crafted_token(query: str, order_by: str | None, position: str) -> str:
    """A token of the search ``query`` in ``order_by`` that ends at ``position``."""
    scope = cursor.scope_of("search", query, order_by or "")
    raw = f"{scope}|{position}|1".encode("utf-8", "surrogatepass")
    return base64.urlsafe_b64encode(raw).decode()


# fixtures and the property -----------------------------------------------------------------


@pytest.fixture
def seeded(db_uri: str, blob_dir: Path, tmp_path: Path) -> Iterator[Registry]:
    """A registry with model ``base`` (versions 1 and 2, alias champion -> 1)."""
    reg = Registry(db_uri, blob_uri=str(blob_dir), actor="fuzz")
    for i in (1, 2):
        f = tmp_path / f"base{i}.bin"
        f.write_bytes(f"base version {i}".encode())
        reg.register("base", [f], owners="fuzz", tags={"k": "v"}, metrics={"auc": 0.5 + i / 10})
    reg.set_alias("base", "champion", 1, reason="seed")
    yield reg
    reg.close()


class Oracle:
    """Runs one call and checks the property; counts outcomes for the figures."""

    def __init__(self, reg: Registry, blob_dir: Path, figures: Figures) -> None:
        self.reg, self.blob_dir, self.figures = reg, blob_dir, figures

    def snapshot(self) -> tuple[dict[str, int], int]:
        return table_counts(self.reg), len(blob_files(self.blob_dir))

    def call(self, fn: Callable[[], Any], what: str) -> None:
        before = self.snapshot()
        self.figures.add("examples")
        try:
            fn()
        except ModelbookError as exc:
            after = self.snapshot()
            assert after[0] == before[0], f"{what}: refused ({exc}) but wrote {after[0]}"
            assert after[1] == before[1], f"{what}: refused ({exc}) but stored a blob"
            assert not isinstance(exc, Unavailable), f"{what}: bad input said {exc!r}"
            self.figures.add("refused")
            kinds = self.figures.values.setdefault("errors", {})
            kinds[type(exc).__name__] = kinds.get(type(exc).__name__, 0) + 1
        except Exception as exc:  # the property is about exactly this
            raise AssertionError(f"{what}: {type(exc).__name__} escaped: {exc}") from exc
        else:
            self.figures.add("accepted")


# operations: each field has a valid and a hostile strategy --------------------------------------
#
# An example picks one operation and turns 0-2 of its fields hostile, so that most
# calls get past the first check and reach deep into the registry and the database.

SAFE_TEXT = st.text(st.characters(exclude_characters="\x00"), max_size=12)
VALID_TAGS = st.dictionaries(VALID_KEY, SAFE_TEXT, max_size=2)
HOSTILE_TAGS = st.dictionaries(keys, values, min_size=1, max_size=3)
VALID_METRICS = st.dictionaries(
    st.sampled_from(["auc", "auc@test", "auc@test{region=eu}", "loss{a=b,c=d}"]),
    st.floats(-1e6, 1e6),
    max_size=2,
)
HOSTILE_METRICS = st.dictionaries(metric_keys, values, min_size=1, max_size=3)
LIMITS = st.one_of(st.integers(-2, 2000), st.sampled_from([10**20, True, 1.5, "10"]))
VERSION_URIS = st.sampled_from(["models:/base/1", "base/2", "base@champion", "base/1.1.0"])

Fields = dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]]
OPS: dict[str, tuple[Fields, Callable[..., Any]]] = {
    "register": (
        {
            "name": (st.sampled_from(["base", "fresh"]) | VALID_NAME, names),
            "owners": (st.just("owner"), texts),
            "tags": (VALID_TAGS, HOSTILE_TAGS),
            "metrics": (VALID_METRICS, HOSTILE_METRICS),
            "params": (VALID_TAGS, HOSTILE_TAGS),
            "data": (st.lists(VALID_KEY, max_size=1), st.lists(texts, min_size=1, max_size=2)),
            "semver": (st.none(), semvers),
            "change_summary": (st.none(), texts),
            "filename": (st.just("model.bin"), texts),
        },
        lambda reg, filename, tmp, **kw: reg.register(
            kw.pop("name"), [_artifact(tmp, filename)], capture_environment=False, **kw
        ),
    ),
    "set_tags": (
        {
            "uri": (VERSION_URIS | st.just("models:/base"), uris),
            "tags": (st.dictionaries(VALID_KEY, SAFE_TEXT, min_size=1, max_size=2), HOSTILE_TAGS),
            "remove": (st.just([]), st.lists(keys, min_size=1, max_size=2)),
        },
        lambda reg, uri, tags, remove, **_: reg.set_tags(uri, tags, remove=remove),
    ),
    "get_version": ({"uri": (VERSION_URIS, uris)}, lambda reg, uri, **_: reg.get_version(uri)),
    "read_artifact": (
        {"uri": (st.just("base/1"), uris), "path": (st.just("base1.bin"), texts)},
        lambda reg, uri, path, **_: reg.read_artifact(uri, path),
    ),
    "download": (
        {"uri": (VERSION_URIS, uris)},
        lambda reg, uri, tmp, **_: reg.download(uri, tmp / f"dl{next(_counter)}"),
    ),
    "versions": (
        {
            "name": (st.just("base"), names),
            "limit": (st.just(10), LIMITS),
            "page_token": (st.none(), page_tokens),
        },
        lambda reg, name, **kw: reg.versions(name, limit=kw["limit"], page_token=kw["page_token"]),
    ),
    "models": (
        {"limit": (st.just(10), LIMITS), "page_token": (st.none(), page_tokens)},
        lambda reg, **kw: reg.models(limit=kw["limit"], page_token=kw["page_token"]),
    ),
    "search_versions": (
        {
            "model": (st.sampled_from([None, "base"]), names),
            "tags": (st.just({"k": "v"}), HOSTILE_TAGS),
            "metrics": (
                st.just([("auc", ">", 0.1)]),
                st.lists(
                    st.tuples(metric_keys, st.sampled_from([">", "=", "<>", "", "≥"]), values),
                    min_size=1,
                    max_size=2,
                ),
            ),
            "stage": (st.sampled_from([None, "staging"]), texts),
            "page_token": (st.none(), page_tokens),
        },
        lambda reg, **kw: reg.search_versions(
            model=kw["model"],
            tags=kw["tags"],
            metrics=kw["metrics"],
            stage=kw["stage"],
            page_token=kw["page_token"],
        ),
    ),
    "search": (
        {
            "listing": (
                st.sampled_from(SEARCHES),
                st.tuples(texts, st.sampled_from([None, "created_at", "stage"]) | texts),
            ),
            "position": (st.none(), positions),
            "page_token": (st.none(), page_tokens),
            "limit": (st.just(10), LIMITS),
        },
        lambda reg, listing, position, page_token, limit, **_: reg.search(
            listing[0],
            order_by=listing[1],
            limit=limit,
            page_token=page_token if position is None else crafted_token(*listing, position),
        ),
    ),
    "verify": ({"name": (st.just("base"), names)}, lambda reg, name, **_: reg.verify(name)),
    "create_model": (
        {
            "name": (VALID_NAME, names),
            "owners": (st.just("owner"), texts),
            "task": (st.none(), texts),
            "risk_tier": (st.sampled_from(["low", "high"]), texts),
            "description": (st.none(), texts),
            "tags": (VALID_TAGS, HOSTILE_TAGS),
        },
        lambda reg, name, **kw: reg.create_model(
            name,
            owners=kw["owners"],
            task=kw["task"],
            risk_tier=kw["risk_tier"],
            description=kw["description"],
            tags=kw["tags"],
        ),
    ),
    "set_alias": (
        {
            "name": (st.just("base"), names),
            "alias": (st.sampled_from(["champion", "staging", "canary"]), texts),
            "version": (st.sampled_from([1, 2, "1.0.0", "1.1.0"]), versions),
            "reason": (st.just("because"), texts),
            "expect": (st.none(), st.one_of(st.integers(-1, 3), st.just(10**20))),
        },
        lambda reg, name, alias, version, reason, expect, **_: reg.set_alias(
            name, alias, version, reason=reason, expect=expect
        ),
    ),
    "delete_alias": (
        {
            "name": (st.just("base"), names),
            "alias": (st.sampled_from(["champion", "staging", "canary"]), texts),
            "reason": (st.just("because"), texts),
            "expect": (st.none(), st.one_of(st.integers(-1, 3), st.just(10**20))),
        },
        lambda reg, name, alias, reason, expect, **_: reg.delete_alias(
            name, alias, reason=reason, expect=expect
        ),
    ),
    "alias_history": (
        {
            "name": (st.just("base"), names),
            "alias": (st.sampled_from([None, "champion"]), texts),
            "limit": (st.just(10), LIMITS),
        },
        lambda reg, name, alias, limit, **_: reg.alias_history(name, alias, limit=limit),
    ),
}
FAMILIES = {
    "register": ["register"],
    "reads_and_tags": [
        "set_tags",
        "get_version",
        "read_artifact",
        "download",
        "versions",
        "models",
        "search_versions",
        "search",
        "verify",
        "create_model",
    ],
    "aliases": ["set_alias", "delete_alias", "alias_history"],
}


def _artifact(tmp: Path, filename: str) -> Path:
    """A new file (new content: a leaked blob would show) named ``filename`` when that
    is one plain name inside a fresh folder; never a path outside it."""
    folder = tmp / f"in{next(_counter)}"
    folder.mkdir()
    plain = filename not in ("", ".", "..") and "/" not in filename and "\x00" not in filename
    if plain:
        path = folder / filename
        assert path.parent == folder
        try:
            path.write_bytes(os.urandom(64))
            return path
        except (OSError, ValueError, UnicodeEncodeError):
            pass  # a name the file system refuses: use a plain one
    path = folder / "model.bin"
    path.write_bytes(os.urandom(64))
    return path


def draw_call(data: st.DataObject, family: str) -> tuple[str, dict[str, Any]]:
    op = data.draw(st.sampled_from(FAMILIES[family]), label="operation")
    fields, _ = OPS[op]
    hostile = data.draw(st.sets(st.sampled_from(sorted(fields)), max_size=2), label="hostile")
    kwargs = {
        name: data.draw(bad if name in hostile else good, label=name)
        for name, (good, bad) in fields.items()
    }
    return op, kwargs


_counter = itertools.count()


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_fuzz_api(
    family: str,
    seeded: Registry,
    db_uri: str,
    blob_dir: Path,
    tmp_path: Path,
    figures: Figures,
) -> None:
    oracle = Oracle(seeded, blob_dir, figures)

    @fuzz_settings(API_EXAMPLES)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        op, kwargs = draw_call(data, family)
        _, fn = OPS[op]
        oracle.call(lambda: fn(seeded, tmp=tmp_path, **kwargs), f"{op}({kwargs!r})")

    run()


# the CLI -----------------------------------------------------------------------------------------

# 2: usage error (click); 3-8: error kinds. Not 1: the CLI exits 1 for an exception
# that is no modelbook error ("error: unexpected ..."), a bug whatever the input.
EXIT_CODES = {0, 2, 3, 4, 5, 6, 7, 8}


ARG = texts.filter(lambda s: "\x00" not in s)  # argv cannot carry NUL
KV = st.builds(lambda k, v: f"{k}={v}", keys, ARG) | ARG
METRIC_KV = st.builds(lambda k, v: f"{k}={v}", metric_keys, ARG | st.just("0.9")) | ARG
CLI_URIS = uris.filter(lambda s: "\x00" not in s)
CLI_OPS: dict[str, tuple[Fields, Callable[..., list[str]]]] = {
    "register": (
        {
            "name": (st.sampled_from(["base", "fresh-cli"]), ARG),
            # Paths stay inside the test's sandbox: "", "." and "dir" name small folders.
            "path": (
                st.just("model"),
                st.sampled_from(["dir", "", ".", "/nonexistent", "missing.bin", "a\nb", "\udcff"]),
            ),
            "owner": (st.just("owner"), ARG),
            "tag": (st.just("team=ml"), KV),
            "metric": (st.just("auc@test{region=eu}=0.9"), METRIC_KV),
        },
        lambda tmp, name, path, owner, tag, metric: [
            "register",
            name,
            {"model": str(tmp / "cli-model.bin"), "dir": str(tmp / "dir")}.get(path, path),
            "--owner",
            owner,
            "--tag",
            tag,
            "--metric",
            metric,
            "--no-capture",
            "--json",
        ],
    ),
    "tag": (
        {"uri": (VERSION_URIS, CLI_URIS), "kv": (st.just("note=ok"), KV)},
        lambda tmp, uri, kv: ["tag", uri, kv],
    ),
    "resolve": ({"uri": (VERSION_URIS, CLI_URIS)}, lambda tmp, uri: ["resolve", uri]),
    "show": ({"uri": (VERSION_URIS, CLI_URIS)}, lambda tmp, uri: ["show", uri, "--json"]),
    "versions": (
        {
            "name": (st.just("base"), ARG),
            "token": (st.none(), ARG | page_tokens),
            "limit": (st.just("5"), st.sampled_from(["0", "-1", "x", "99999999999999999999"])),
        },
        lambda tmp, name, token, limit: (
            ["versions", name, "--limit", limit]
            + ([] if token is None else ["--page-token", token])
        ),
    ),
    "alias set": (
        {
            "name": (st.just("base"), ARG),
            "alias": (st.sampled_from(["champion", "canary"]), ARG),
            "version": (
                st.sampled_from(["1", "2", "1.1.0"]),
                st.sampled_from(["\u00b2", "\u0661"]) | ARG,
            ),
            "reason": (st.just("because"), ARG),
            "expect": (
                st.sampled_from(["1", "2", "0"]),
                st.sampled_from(["x", "-1", "99999999999999999999"]) | ARG,
            ),
        },
        lambda tmp, name, alias, version, reason, expect: [
            "alias",
            "set",
            name,
            alias,
            version,
            "--reason",
            reason,
            "--expect",
            expect,
        ],
    ),
    "alias rm": (
        {
            "name": (st.just("base"), ARG),
            "alias": (st.just("canary"), ARG),
            "reason": (st.just("because"), ARG),
        },
        lambda tmp, name, alias, reason: ["alias", "rm", name, alias, "--reason", reason],
    ),
    "alias history": (
        {"name": (st.just("base"), ARG), "alias": (st.just("champion"), ARG)},
        lambda tmp, name, alias: ["alias", "history", name, alias],
    ),
    "download": (
        {"uri": (VERSION_URIS, CLI_URIS)},
        lambda tmp, uri: ["download", uri, str(tmp / f"cli-dl{next(_counter)}")],
    ),
    "search": (
        {
            "listing": (
                st.sampled_from(SEARCHES),
                st.tuples(ARG, st.sampled_from([None, "created_at", "stage"]) | ARG),
            ),
            "position": (st.none(), positions.filter(lambda s: "\x00" not in s)),
        },
        lambda tmp, listing, position: (
            ["search", listing[0]]
            + ([] if listing[1] is None else ["--order-by", listing[1]])
            + ([] if position is None else ["--page-token", crafted_token(*listing, position)])
        ),
    ),
    "verify": ({"name": (st.just("base"), ARG)}, lambda tmp, name: ["verify", name]),
}


@st.composite
def cli_commands(draw: st.DrawFn, tmp: Path) -> list[str]:
    op = draw(st.sampled_from(sorted(CLI_OPS)), label="command")
    fields, build = CLI_OPS[op]
    hostile = draw(st.sets(st.sampled_from(sorted(fields)), max_size=2), label="hostile")
    args = {n: draw(bad if n in hostile else good, label=n) for n, (good, bad) in fields.items()}
    return build(tmp, **args)


class UsageError(ModelbookError):
    """Exit 2: the command line itself was malformed (Typer's usage message)."""


def test_fuzz_cli(
    seeded: Registry,
    db_uri: str,
    blob_dir: Path,
    tmp_path: Path,
    figures: Figures,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    oracle = Oracle(seeded, blob_dir, figures)
    sandbox = tmp_path / "cli"  # the working directory: relative paths resolve in here
    (sandbox / "dir").mkdir(parents=True)
    (sandbox / "cli-model.bin").write_bytes(b"cli model")
    (sandbox / "dir" / "a.bin").write_bytes(b"a")
    (sandbox / "dir" / "b.bin").write_bytes(b"b")
    monkeypatch.chdir(sandbox)
    codes: dict[int, int] = {}

    def cli(argv: list[str]) -> None:
        capsys.readouterr()
        try:
            main(["--uri", db_uri, "--blob-uri", str(blob_dir), *argv])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else -1)
        codes[code] = codes.get(code, 0) + 1
        assert code in EXIT_CODES, f"exit status {code!r}"
        if code != 0:
            # The error the CLI reported, as the exception of its kind, for the oracle.
            kind = next((k for k in ERROR_KINDS if k.exit_code == code), UsageError)
            raise kind(f"exit status {code}: {capsys.readouterr().err.strip()}")

    @fuzz_settings(CLI_EXAMPLES)
    @given(argv=cli_commands(sandbox))
    def run(argv: list[str]) -> None:
        oracle.call(lambda: cli(argv), f"modelbook {argv!r}")

    run()
    figures["exit_codes"] = dict(sorted(codes.items()))


# inputs that once reached the driver, one deterministic case each -----------------------------

HUGE_TOKEN = "eyJzIjoibW9kZWxzIiwiayI6MTAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDB9"  # models, k=10**30
BAD_INPUT_CASES: dict[str, Callable[[Registry, Path], Any]] = {
    # lone surrogates: what Python makes of non-UTF-8 bytes in argv
    "surrogate in a tag value": lambda r, f: r.register(
        "base", [f], tags={"k": "\udcff"}, capture_environment=False
    ),
    "surrogate in a param": lambda r, f: r.register(
        "base", [f], params={"k": "\udcff"}, capture_environment=False
    ),
    "surrogate in a data snapshot": lambda r, f: r.register(
        "base", [f], data=["\udcff"], capture_environment=False
    ),
    "surrogate in set_tags": lambda r, f: r.set_tags("base/1", {"k": "\ud800"}),
    "surrogate in an alias reason": lambda r, f: r.set_alias(
        "base", "champion", 2, reason="\udcff"
    ),
    "surrogate in a search tag": lambda r, f: r.search_versions(tags={"k": "\ud800"}),
    # integers beyond what the columns or a float hold
    "version number 10**20": lambda r, f: r.set_alias("base", "champion", 10**20, reason="r"),
    "page token key 10**30": lambda r, f: r.models(page_token=HUGE_TOKEN),
    "page token of a search by created_at at 0x1.0p+9999": lambda r, f: r.search(
        "", order_by="created_at", page_token=crafted_token("", "created_at", "0x1.0p+9999")
    ),
    "page token of a search by a metric at -0x1.0p+1024": lambda r, f: r.search(
        "", order_by="metrics.auc", page_token=crafted_token("", "metrics.auc", "-0x1.0p+1024")
    ),
    "page token of versions at number 2**31": lambda r, f: r.versions(
        "base", page_token=paging.encode("versions:base:desc", 2**31)
    ),
    "metric value 10**400": lambda r, f: r.register(
        "base", [f], metrics={"auc": 10**400}, capture_environment=False
    ),
    "search metric 10**400": lambda r, f: r.search_versions(metrics=[("auc", ">", 10**400)]),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT_CASES))
def test_bad_input_never_reaches_the_driver(
    case: str, seeded: Registry, blob_dir: Path, tmp_path: Path
) -> None:
    """Each input is refused with InvalidInput (or NotFound), writing nothing; before
    the fix they escaped as UnicodeEncodeError/OverflowError, or as Unavailable on
    PostgreSQL."""
    f = tmp_path / "new.bin"
    f.write_bytes(os.urandom(64))
    before = table_counts(seeded), len(blob_files(blob_dir))
    with pytest.raises((InvalidInput, NotFound)):
        BAD_INPUT_CASES[case](seeded, f)
    assert (table_counts(seeded), len(blob_files(blob_dir))) == before


LONG_TAGS = {"k": "v" * 600}
LONG_SLICE = "auc{" + ",".join(f"k{i}={'v' * 200}" for i in range(3)) + "}"
LONG_VALUE_CASES: dict[str, Callable[[Registry, Path], Any]] = {
    "model tag value of 600 characters": lambda r, f: (
        r.create_model("longtag", owners="o", tags=LONG_TAGS).tags
    ),
    "metric slice of 3 x 200 characters": lambda r, f: (
        r.register("base", [f], metrics={LONG_SLICE: 0.5}, capture_environment=False).metrics
    ),
}


@pytest.mark.parametrize("case", sorted(LONG_VALUE_CASES))
def test_long_values_behave_the_same_on_both_databases(
    case: str, pg_schema: str, tmp_path: Path
) -> None:
    """Values past a column's width get the same answer on SQLite (which does not
    enforce VARCHAR widths) and PostgreSQL (which does): stored alike, or refused as
    InvalidInput by both; never Unavailable as if the database were down."""
    from tests.conftest import pg_uri

    outcomes = []
    for uri in (f"sqlite:///{tmp_path / 'r.db'}", pg_uri(pg_schema)):
        reg = Registry(uri, blob_uri=str(tmp_path / "blobs"))
        try:
            f = tmp_path / "base.bin"
            f.write_bytes(b"base")
            reg.register("base", [f], owners="o", capture_environment=False)
            try:
                outcomes.append(("stored", LONG_VALUE_CASES[case](reg, f)))
            except InvalidInput as exc:
                outcomes.append(("refused", type(exc).__name__))
        finally:
            reg.close()
    assert outcomes[0] == outcomes[1], outcomes


def test_refused_semver_leaves_no_blob(seeded: Registry, blob_dir: Path, tmp_path: Path) -> None:
    """A semver lower than the model's highest is refused before any blob is stored."""
    f = tmp_path / "new.bin"
    f.write_bytes(os.urandom(4096))
    blobs = len(blob_files(blob_dir))
    with pytest.raises(InvalidInput, match="must be greater than"):
        seeded.register("base", [f], semver="0.0.1", capture_environment=False)
    assert len(blob_files(blob_dir)) == blobs


def _exit_status(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.mark.parametrize(
    "argv",
    [["no-such-command"], ["alias", "set", "base", "champion", "1", "--expect", "x"]],
    ids=["unknown command", "non-numeric --expect"],
)
def test_cli_usage_errors_exit_2(seeded: Registry, argv: list[str]) -> None:
    assert _exit_status(["--uri", seeded.uri, "--blob-uri", seeded.blobs.url, *argv]) == 2


def test_cli_superscript_version_is_invalid_input(seeded: Registry) -> None:
    """'²'.isdigit() is true, but it is no version number: exit 6, not a traceback."""
    argv = ["alias", "set", "base", "champion", "²", "--reason", "r"]
    assert _exit_status(["--uri", seeded.uri, "--blob-uri", seeded.blobs.url, *argv]) == 6
