"""Registering versions: manifests, dedup, captured context, metrics, semver, immutability.

Every test runs on SQLite and on PostgreSQL through the ``registry`` fixture.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pydantic
import pytest
import sqlalchemy as sa

from modelbook import (
    CodeRef,
    Environment,
    InvalidInput,
    NotFound,
    Registry,
    Version,
    capture,
)

from .races import race


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def blob_files(blob_dir: Path) -> list[Path]:
    """Stored blobs (temporary files excluded)."""
    return sorted(
        p for p in blob_dir.rglob("*") if p.is_file() and "tmp" not in p.relative_to(blob_dir).parts
    )


def count(registry: Registry, table: str, where: str = "") -> int:
    with registry.db.engine.connect() as conn:
        return int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table} {where}").scalar_one())


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


@pytest.fixture
def git_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh git repository with one commit; the test runs inside it."""
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "trunk")
    (repo / "train.py").write_text("print('train')\n")
    git(repo, "add", "train.py")
    git(repo, "commit", "-q", "-m", "first")
    monkeypatch.chdir(repo)
    return repo


@pytest.fixture
def fresh_capture() -> Iterator[None]:
    """Forget the cached installed-packages hash before and after the test."""
    capture.packages_sha256.cache_clear()
    yield
    capture.packages_sha256.cache_clear()


# artifacts ------------------------------------------------------------------------


def test_single_file_manifest_matches_hashlib(
    registry: Registry, model_file: Path, blob_dir: Path
) -> None:
    """A file is stored by content; its manifest entry has its name, size and sha256."""
    data = model_file.read_bytes()
    v = registry.register("ctr", [model_file], owners="alice")
    assert v.number == 1
    assert [(a.path, a.size, a.sha256) for a in v.artifacts] == [
        ("model.bin", len(data), sha(data))
    ]
    assert registry.get_version("models:/ctr/1") == v
    assert registry.read_artifact("models:/ctr/1", "model.bin") == data
    stored = blob_files(blob_dir)
    assert len(stored) == 1 and stored[0].read_bytes() == data
    assert stored[0].name == sha(data)


def test_directory_manifest_has_relative_paths(
    registry: Registry, tmp_path: Path, blob_dir: Path
) -> None:
    """A directory's files (nested, empty, and larger than one chunk) keep relative paths."""
    src = tmp_path / "model_dir"
    files = {
        "weights.bin": os.urandom(3 * 1024 * 1024 + 17),
        "config/params.json": b'{"depth": 6}',
        "config/deep/vocab.txt": b"a\nb\nc\n",
        "empty.txt": b"",
    }
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    v = registry.register("dir_model", src, owners="alice")
    expected = sorted((rel, len(data), sha(data)) for rel, data in files.items())
    assert [(a.path, a.size, a.sha256) for a in v.artifacts] == expected
    assert v.size == sum(len(d) for d in files.values())
    assert registry.get_version(v.uri).artifacts == v.artifacts

    out = registry.download(v.uri, tmp_path / "out")
    for rel, data in files.items():
        assert (out / rel).read_bytes() == data
    assert {p.name for p in blob_files(blob_dir)} == {sha(d) for d in files.values()}


def test_several_paths_keep_file_names_and_directory_names(
    registry: Registry, tmp_path: Path
) -> None:
    """With several paths, a file is stored by name and a directory under its own name."""
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "a.txt").write_bytes(b"a")
    (tmp_path / "model.pkl").write_bytes(b"m")
    v = registry.register("multi", [tmp_path / "model.pkl", tmp_path / "extra"], owners="o")
    assert [a.path for a in v.artifacts] == ["extra/a.txt", "model.pkl"]


def test_two_files_with_the_same_manifest_path_are_refused(
    registry: Registry, tmp_path: Path
) -> None:
    """Two inputs that would land on one manifest path are refused before anything is stored."""
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "model.bin").write_bytes(d.encode())
    with pytest.raises(InvalidInput, match=r"model\.bin"):
        registry.register(
            "clash", [tmp_path / "a" / "model.bin", tmp_path / "b" / "model.bin"], owners="o"
        )
    assert count(registry, "versions") == 0


def test_identical_content_is_stored_once(
    registry: Registry, tmp_path: Path, blob_dir: Path
) -> None:
    """The same bytes under other names and in other versions take one blob."""
    data = os.urandom(2 * 1024 * 1024)
    d = tmp_path / "twins"
    d.mkdir()
    (d / "one.bin").write_bytes(data)
    (d / "two.bin").write_bytes(data)
    copy = tmp_path / "copy.bin"
    copy.write_bytes(data)
    v1 = registry.register("dedup", d, owners="o")
    v2 = registry.register("dedup", [copy])
    v3 = registry.register("other_model", [copy], owners="o")
    assert {a.sha256 for v in (v1, v2, v3) for a in v.artifacts} == {sha(data)}
    assert [p.name for p in blob_files(blob_dir)] == [sha(data)]
    assert registry.verify().ok


# environment and code capture ------------------------------------------------------


def test_environment_is_captured(registry: Registry, model_file: Path) -> None:
    """Python version, platform, installed-packages hash and CPU are recorded."""
    v = registry.register("env", [model_file], owners="o")
    env = v.environment
    assert env.python == platform.python_version()
    assert env.platform and platform.machine() in env.platform
    assert env.packages_sha256 and len(env.packages_sha256) == 64
    int(env.packages_sha256, 16)
    assert env.cpu
    assert registry.get_version(v.uri).environment == env


def test_packages_hash_follows_installed_distributions(
    registry: Registry,
    model_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fresh_capture: None,
) -> None:
    """Same environment, same hash; one more installed distribution, another hash."""
    first = registry.register("pk", [model_file], owners="o").environment.packages_sha256
    capture.packages_sha256.cache_clear()
    again = registry.register("pk", [model_file]).environment.packages_sha256
    assert first == again

    site = tmp_path / "site"
    info = site / "modelbook_fake_pkg-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: modelbook-fake-pkg\nVersion: 1.0\n"
    )
    monkeypatch.syspath_prepend(str(site))
    capture.packages_sha256.cache_clear()
    changed = registry.register("pk", [model_file]).environment.packages_sha256
    assert changed != first


@pytest.mark.parametrize("lockname", ["uv.lock", "requirements.txt", "poetry.lock"])
def test_lockfile_hash_is_found_from_the_working_directory(
    registry: Registry,
    model_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    lockname: str,
) -> None:
    """The nearest lockfile (here in the parent of the working directory) is hashed."""
    project = tmp_path / "proj"
    (project / "src").mkdir(parents=True)
    lock = project / lockname
    lock.write_text(f"# {lockname}\nnumpy==2.0.0\n")
    monkeypatch.chdir(project / "src")
    v = registry.register("lock", [model_file], owners="o")
    assert v.environment.lockfile is not None
    assert Path(v.environment.lockfile.path) == lock.resolve()
    assert v.environment.lockfile.sha256 == sha(lock.read_bytes())


def test_no_lockfile_in_a_repository_without_one(
    registry: Registry, model_file: Path, git_repo: Path
) -> None:
    """The search stops at the repository root: no lockfile means none recorded."""
    v = registry.register("nolock", [model_file], owners="o")
    assert v.environment.lockfile is None


def test_git_commit_and_clean_state_are_captured(
    registry: Registry, model_file: Path, git_repo: Path
) -> None:
    """Inside a clean repository the repo, commit and branch are recorded, not dirty."""
    v = registry.register("git", [model_file], owners="o")
    code = v.lineage.code
    assert code.commit == git(git_repo, "rev-parse", "HEAD")
    assert code.dirty is False
    assert code.branch == "trunk"
    assert code.repo is not None and Path(code.repo) == git_repo.resolve()


def test_git_dirty_state_and_remote_are_captured(
    registry: Registry, model_file: Path, git_repo: Path
) -> None:
    """An edited tracked file makes the version dirty; a remote names the repository."""
    (git_repo / "train.py").write_text("print('changed')\n")
    git(git_repo, "remote", "add", "origin", "https://example.com/ml/project.git")
    v = registry.register("git", [model_file], owners="o")
    assert v.lineage.code.dirty is True
    assert v.lineage.code.commit == git(git_repo, "rev-parse", "HEAD")
    assert v.lineage.code.repo == "https://example.com/ml/project.git"


def test_a_branch_and_remote_that_are_not_utf8_stay_empty(
    registry: Registry, model_file: Path, git_repo: Path
) -> None:
    """Capture is best effort: what git prints that is not UTF-8 is left out, the rest
    of the code reference is still recorded."""
    subprocess.run([b"git", b"checkout", b"-q", b"-b", b"caf\xe9"], cwd=git_repo, check=True)
    subprocess.run(
        [b"git", b"remote", b"add", b"origin", b"https://example.com/caf\xe9.git"],
        cwd=git_repo,
        check=True,
    )
    v = registry.register("git", [model_file], owners="o")
    code = v.lineage.code
    assert code.branch is None
    assert code.repo is not None and Path(code.repo) == git_repo.resolve()
    assert code.commit == git(git_repo, "rev-parse", "HEAD") and code.dirty is False


def test_untracked_files_do_not_make_a_version_dirty(
    registry: Registry, model_file: Path, git_repo: Path
) -> None:
    """Untracked outputs (like the model file itself) leave the state clean."""
    (git_repo / "output.bin").write_bytes(b"x")
    v = registry.register("git", [git_repo / "output.bin"], owners="o")
    assert v.lineage.code.dirty is False


def test_outside_a_repository_no_code_is_recorded(
    registry: Registry, model_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside any git repository the code reference stays empty."""
    monkeypatch.chdir(tmp_path)
    v = registry.register("nogit", [model_file], owners="o")
    assert v.lineage.code == CodeRef()


def test_explicit_fields_win_over_captured_ones(
    registry: Registry, model_file: Path, git_repo: Path
) -> None:
    """A mapping overrides single fields; everything else is still captured."""
    (git_repo / "train.py").write_text("changed\n")
    commit = "f" * 40
    v = registry.register(
        "override",
        [model_file],
        owners="o",
        code={"commit": commit, "dirty": False},
        environment={"python": "3.10.99", "image_digest": "sha256:" + "a" * 64},
    )
    assert v.lineage.code.commit == commit
    assert v.lineage.code.dirty is False
    assert Path(v.lineage.code.repo or "") == git_repo.resolve()
    assert v.environment.python == "3.10.99"
    assert v.environment.image_digest == "sha256:" + "a" * 64
    assert v.environment.packages_sha256 == capture.packages_sha256()
    assert registry.get_version(v.uri) == v


def test_explicit_objects_replace_captured_ones(registry: Registry, model_file: Path) -> None:
    """Whole CodeRef and Environment objects are taken as given."""
    code = CodeRef(repo="git@example.com:x/y.git", commit="abc123" + "0" * 34, dirty=False)
    env = Environment(python="3.12.1", frameworks={"torch": "2.3.0"})
    v = registry.register("given", [model_file], owners="o", code=code, environment=env)
    assert v.lineage.code == code
    assert v.environment == env


def test_capture_can_be_turned_off(registry: Registry, model_file: Path) -> None:
    """Without capture, environment and code are empty."""
    v = registry.register("bare", [model_file], owners="o", capture_environment=False)
    assert v.environment == Environment()
    assert v.lineage.code == CodeRef()


# metrics, lineage, params ---------------------------------------------------------


def test_metrics_with_split_and_slice_are_stored_and_searchable(
    registry: Registry, model_file: Path
) -> None:
    """Metrics keep their split and slice, come back unchanged and can be filtered on."""
    metrics = {
        "auc": 0.9,
        "auc@test": 0.88,
        "auc@test{region=eu}": 0.91,
        "auc@test{region=us,device=mobile}": 0.8,
        "latency_ms": 12,
    }
    v = registry.register("metrics", [model_file], owners="o", metrics=metrics)
    got = registry.get_version(v.uri)
    assert {m.key: m.value for m in got.metrics} == {
        "auc": 0.9,
        "auc@test": 0.88,
        "auc@test{region=eu}": 0.91,
        "auc@test{device=mobile,region=us}": 0.8,
        "latency_ms": 12.0,
    }
    assert got.metric("auc") == 0.9
    assert got.metric("auc", "test") == 0.88
    assert got.metric("auc", "test", region="eu") == 0.91
    assert got.metric("auc", "test", device="mobile", region="us") == 0.8
    assert got.metric("auc", "train") is None

    other = registry.register("metrics", [model_file], metrics={"auc@test{region=eu}": 0.7})
    hits = registry.search_versions(metrics=[("auc@test{region=eu}", ">", 0.75)])
    assert [(x.model, x.number) for x in hits.items] == [("metrics", 1)]
    hits = registry.search_versions(metrics=[("auc@test{region=eu}", "<", 0.75)])
    assert [(x.model, x.number) for x in hits.items] == [("metrics", other.number)]
    assert registry.search_versions(metrics=[("auc@train", ">", 0)]).items == []


def test_lineage_training_and_notes_are_recorded(registry: Registry, model_file: Path) -> None:
    """Data snapshots, features, run ids, parents, params, caveats and notes round-trip."""
    registry.register("base", [model_file], owners="o", capture_environment=False)
    v = registry.register(
        "child",
        [model_file],
        owners="o",
        data=["snap-2024-06-01"],
        features="ctr_features@3",
        run_id="run-7",
        experiment_id="exp-1",
        parents=["models:/base/1"],
        params={"depth": 6, "lr": 0.1},
        seed=42,
        tags={"team": "ranking"},
        caveats=["not for EU traffic"],
        change_summary="retrained on June data",
        capture_environment=False,
    )
    got = registry.get_version(v.uri)
    assert got == v
    assert [d.snapshot for d in got.lineage.data] == ["snap-2024-06-01"]
    assert got.lineage.features is not None
    assert (got.lineage.features.name, got.lineage.features.version) == ("ctr_features", "3")
    assert (got.lineage.run_id, got.lineage.experiment_id) == ("run-7", "exp-1")
    assert got.lineage.parents == ("base/1",)
    assert got.training.params == {"depth": "6", "lr": "0.1"}
    assert got.training.seed == 42
    assert got.tags == {"team": "ranking"}
    assert got.caveats == ("not for EU traffic",)
    assert got.change_summary == "retrained on June data"
    assert got.created_by == "tester"
    assert got.created_at.tzinfo is not None
    assert abs(got.created_at - datetime.now(UTC)) < timedelta(minutes=5)
    assert registry.search_versions(tags={"team": "ranking"}).items == [got]


# semver ---------------------------------------------------------------------------


def _retrained(path: Path, n: int) -> Path:
    """``path`` with other bytes: a retrained model, for the artifact-hash rule."""
    path.write_bytes(f"weights of training run {n}".encode())
    return path


def test_first_version_is_1_0_0_and_each_changed_one_bumps_minor(
    registry: Registry, model_file: Path
) -> None:
    """1.0.0, then MINOR for each changed file, PATCH for the same files again."""
    got = [
        (v.number, v.semver)
        for v in (
            registry.register("sv", [_retrained(model_file, n)], owners="o") for n in range(3)
        )
    ]
    assert got == [(1, "1.0.0"), (2, "1.1.0"), (3, "1.2.0")]
    assert registry.get_version("models:/sv/1.2.0").number == 3
    again = registry.register("sv", [model_file])
    assert (again.number, again.semver) == (4, "1.2.1")
    evidence = again.classification
    assert evidence is not None
    assert (evidence.parent, evidence.bump, evidence.method) == (
        "models:/sv/3",
        "patch",
        "artifacts",
    )
    assert evidence.artifacts_changed == ()
    changed = registry.get_version("models:/sv/3").classification
    assert changed is not None and changed.artifacts_changed == ("model.bin",)
    assert "predictions were not compared" in changed.reasons[0]


def test_explicit_semver_is_used_and_automatic_bumps_continue_from_it(
    registry: Registry, model_file: Path
) -> None:
    """An explicit semver is taken; the next automatic one bumps the highest."""
    assert registry.register("sv", [model_file], owners="o", semver="0.1.0").semver == "0.1.0"
    assert registry.register("sv", [_retrained(model_file, 1)]).semver == "0.2.0"
    assert registry.register("sv", [model_file], semver="0.2.1").semver == "0.2.1"
    assert registry.register("sv", [_retrained(model_file, 2)], semver="3.0.0").semver == "3.0.0"
    assert registry.register("sv", [_retrained(model_file, 3)]).semver == "3.1.0"
    assert registry.register("sv", [model_file]).semver == "3.1.1"


def test_an_explicit_semver_below_the_computed_bump_is_refused_with_the_reason(
    registry: Registry, model_file: Path
) -> None:
    """A changed file is a MINOR change: an explicit PATCH is refused and nothing is written;
    an explicit MAJOR is above the bump, allowed and recorded."""
    registry.register("sv", [model_file], owners="o")
    before = (count(registry, "versions"), count(registry, "events"))
    with pytest.raises(InvalidInput, match=r"1\.0\.1 is less than 1\.1\.0: this is a MINOR"):
        registry.register("sv", [_retrained(model_file, 1)], semver="1.0.1")
    assert (count(registry, "versions"), count(registry, "events")) == before
    v = registry.register("sv", [model_file], semver="2.0.0")
    assert v.semver == "2.0.0"
    assert v.classification is not None
    assert (v.classification.computed, v.classification.explicit) == ("1.1.0", "2.0.0")


@pytest.mark.parametrize("bad", ["2.0.0", "1.9.9", "0.0.1", "1.0", "v3.0.0", "3.0.0-rc.1"])
def test_explicit_semver_must_be_valid_and_greater_than_all_earlier(
    registry: Registry, model_file: Path, bad: str
) -> None:
    """A semver not above every earlier one (or malformed) is refused and nothing is written."""
    registry.register("sv", [model_file], owners="o", semver="1.0.0")
    registry.register("sv", [model_file], semver="2.0.0")
    before = (count(registry, "versions"), count(registry, "events"))
    with pytest.raises(InvalidInput, match="semver") as err:
        registry.register("sv", [model_file], semver=bad)
    assert bad in str(err.value)
    assert (count(registry, "versions"), count(registry, "events")) == before
    assert registry.get_model("sv").latest_version == 2
    nxt = registry.register("sv", [_retrained(model_file, 1)])
    assert (nxt.number, nxt.semver) == (3, "2.1.0")


# models ---------------------------------------------------------------------------


def test_a_new_model_needs_an_owner(registry: Registry, model_file: Path) -> None:
    """The first registration of a model without an owner is refused and creates nothing."""
    for owners in (None, [], "  ", ["", " "]):
        with pytest.raises(InvalidInput, match="owner"):
            registry.register("orphan", [model_file], owners=owners)
    with pytest.raises(NotFound):
        registry.get_model("orphan")
    assert count(registry, "models") == 0


def test_model_is_created_on_first_use_with_its_details(
    registry: Registry, model_file: Path
) -> None:
    """Owners, task, risk tier and description are taken from the first registration."""
    registry.register(
        "fraud",
        [model_file],
        owners=["alice", "bob"],
        task="classification",
        risk_tier="high",
        description="card fraud",
    )
    registry.register("fraud", [model_file], owners="mallory", task="regression")
    m = registry.get_model("fraud")
    assert m.owners == ("alice", "bob")
    assert (m.task, m.risk_tier, m.description) == ("classification", "high", "card fraud")
    assert m.latest_version == 2
    assert m.created_by == "tester"
    assert m.created_at.tzinfo is not None
    with pytest.raises(InvalidInput, match="risk tier"):
        registry.register("fraud2", [model_file], owners="o", risk_tier="extreme")


# immutability ---------------------------------------------------------------------


def test_versions_handed_out_are_frozen(registry: Registry, model_file: Path) -> None:
    """A Version object cannot be edited in place."""
    v = registry.register("frozen", [model_file], owners="o")
    for field, value in (("semver", "9.9.9"), ("number", 7), ("artifacts", ()), ("stage", "x")):
        with pytest.raises(pydantic.ValidationError):
            setattr(v, field, value)
    assert isinstance(v.artifacts, tuple)
    assert registry.get_version(v.uri).semver == "1.0.0"


@pytest.mark.parametrize(
    "assignment",
    [
        "doc = '{}'",
        "number = 99",
        "semver = '9.9.9'",
        "created_by = 'mallory'",
        "created_at = 0",
    ],
)
def test_database_refuses_updates_of_frozen_columns(
    registry: Registry, model_file: Path, assignment: str
) -> None:
    """Even hand-written SQL cannot change a frozen column of a version."""
    v = registry.register("frozen", [model_file], owners="o", metrics={"auc": 0.9})
    with (
        pytest.raises(sa.exc.DBAPIError, match="frozen"),
        registry.db.engine.begin() as conn,
    ):
        conn.exec_driver_sql(f"UPDATE versions SET {assignment}")
    assert registry.get_version(v.uri) == v


def test_database_allows_updates_of_stage_and_tags(registry: Registry, model_file: Path) -> None:
    """Stage and tags are annotations: they may change, by SQL and through the API."""
    v = registry.register("mutable", [model_file], owners="o", tags={"a": "1"})
    with registry.db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE versions SET stage = 'candidate', tags = '{\"b\": \"2\"}'")
    got = registry.get_version(v.uri)
    assert got.stage == "candidate"
    assert got.tags == {"b": "2"}
    assert registry.set_tags(v.uri, {"c": "3"}, remove=["b"]) == {"c": "3"}
    after = registry.get_version(v.uri)
    assert after.tags == {"c": "3"}
    assert (after.artifacts, after.semver, after.created_at) == (
        v.artifacts,
        v.semver,
        v.created_at,
    )


def test_registration_is_an_audit_event(registry: Registry, model_file: Path) -> None:
    """Creating the model and registering each version are recorded as events."""
    registry.register("audited", [model_file], owners="o")
    registry.register("audited", [model_file])
    with registry.db.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT action, model, version, actor FROM events ORDER BY id"
        ).all()
    assert [tuple(r) for r in rows] == [
        ("model.create", "audited", None, "tester"),
        ("version.register", "audited", 1, "tester"),
        ("version.register", "audited", 2, "tester"),
    ]


def test_version_type_is_public(registry: Registry, model_file: Path) -> None:
    """register returns the public Version type, equal to what get_version reads back."""
    v = registry.register("typed", [model_file], owners="o")
    assert isinstance(v, Version)
    assert registry.resolve("models:/typed/latest") == v


def test_files_of_the_user_under_the_blob_root_survive_open_and_register(
    db_uri: str, blob_dir: Path, model_file: Path
) -> None:
    """A day-old file in a ``tmp`` folder under the blob root that the registry did
    not write (the blob root is a user's project folder) is never removed."""
    tmp = blob_dir / "tmp"
    tmp.mkdir()
    mine = tmp / "notes.txt"
    mine.write_bytes(b"the user's own file")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(mine, (two_days_ago, two_days_ago))
    reg = Registry(db_uri, blob_uri=str(blob_dir), actor="tester")
    try:
        reg.register("m", [model_file], owners="o")
        assert mine.read_bytes() == b"the user's own file"
    finally:
        reg.close()


def test_a_first_registration_that_loses_the_race_keeps_to_the_winners_risk_tier(
    registry: Registry, model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two first registrations of one model naming different risk tiers: the model
    gets the tier of the one that commits first, and the other is refused as it would
    be had the model been there when it began, with nothing of it written."""
    race(
        monkeypatch,
        registry._registration,
        "store_file",
        [
            lambda: registry.register(
                "tiered", [model_file], owners="o", risk_tier="low", capture_environment=False
            )
        ],
    )
    with pytest.raises(InvalidInput, match="'tiered' is 'low' risk; a registration cannot"):
        registry.register(
            "tiered", [model_file], owners="o", risk_tier="high", capture_environment=False
        )
    assert registry.get_model("tiered").risk_tier == "low"
    assert [v.number for v in registry.versions("tiered").items] == [1]
    assert count(registry, "events", "WHERE action = 'version.register'") == 1
    # Naming the same tier, or none, the loser would have registered version 2.
    registry.register("tiered", [model_file], owners="o", capture_environment=False)


@pytest.mark.parametrize(
    ("artifacts", "says"),
    [
        ([], "needs at least one artifact"),
        ([{"path": "model.bin", "sha256": "A" * 64, "size": 1}], "'model.bin': sha256 'AAAA"),
        ([{"path": "model.bin", "sha256": "0" * 63, "size": 1}], "64 lowercase hexadecimal"),
    ],
)
def test_phase_two_refuses_what_the_caller_got_wrong_as_bad_input(
    registry: Registry, model_file: Path, artifacts: list[dict[str, object]], says: str
) -> None:
    """A manifest a caller sends is input: no files, or a hash not as store_file returns
    it, is InvalidInput (exit 6), not the 'records altered' of a stored hash; nothing
    is written."""
    registry.store_file(model_file, "model.bin")
    with pytest.raises(InvalidInput) as caught:
        registry.commit_version("phased", artifacts, owners="o", capture_environment=False)
    assert says in str(caught.value)
    with pytest.raises(NotFound):
        registry.get_model("phased")
