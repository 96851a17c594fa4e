"""Lineage given at registration: values of a fixed format (a git commit, SHA-256
hashes, an image digest) must have it, and a data snapshot or a parent is given once.
A refusal is InvalidInput (exit 6) naming the value, and nothing is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modelbook import DataRef, InvalidInput, NotFound, Registry
from tests import test_cli
from tests.test_bad_input import snapshot
from tests.test_cli import CLI

home = test_cli.home
cli = test_cli.cli

SHA1 = "4f2a9c1" + "0" * 33
SHA256_OID = "ab" * 32
HASH = "e" * 64


def _register(registry: Registry, model_file: Path, **kwargs: Any) -> Any:
    return registry.register(
        "lin", [model_file], owners="o", capture_environment=False, actor="ann", **kwargs
    )


BAD = [
    pytest.param({"code": {"commit": "NOTHEX"}}, "'NOTHEX', not a git commit id", id="not hex"),
    pytest.param({"code": {"commit": "4f2a9c1"}}, "'4f2a9c1', an abbreviated id", id="abbrev"),
    pytest.param({"code": {"commit": SHA1 + "0"}}, "not a git commit id", id="41 digits"),
    pytest.param({"code": {"commit": "g" * 40}}, "not a git commit id", id="40 non-hex"),
    pytest.param({"code": {"commit": "HEAD~1"}}, "'HEAD~1', not a git commit id", id="rev"),
    pytest.param({"code": {"commit": " " + SHA1}}, "not a git commit id", id="space"),
    pytest.param(
        {"environment": {"packages_sha256": "x1"}},
        "the sha256 of the installed packages is 'x1', not a SHA-256",
        id="packages hash",
    ),
    pytest.param(
        {"environment": {"image_digest": "sha256:1"}},
        "the container image digest is 'sha256:1', not an image digest",
        id="short digest",
    ),
    pytest.param(
        {"environment": {"image_digest": "ubuntu:22.04"}}, "not an image digest", id="a tag"
    ),
    pytest.param(
        {"environment": {"image_digest": "--privileged@sha256:" + HASH}},
        "not an image digest",
        id="option",
    ),
    pytest.param(
        {"data": ["s1", "s1"]}, "data snapshot 's1' is listed twice in the role 'train'", id="twice"
    ),
    pytest.param(
        {"data": [DataRef(snapshot="s1", sha256=HASH), DataRef(snapshot="s1", sha256="f" * 64)]},
        "data snapshot 's1' is given twice in the role 'train' with different values "
        f"(sha256 '{HASH}' and '{'f' * 64}')",
        id="two hashes",
    ),
    pytest.param(
        {"data": [DataRef(snapshot="s1", window="2025-09"), DataRef(snapshot="s1")]},
        "with different values (window '2025-09' and None)",
        id="two windows",
    ),
    pytest.param(
        {
            "data": [
                DataRef(snapshot="s1", sha256=HASH),
                DataRef(snapshot="s1", sha256="f" * 64, role="eval"),
            ]
        },
        f"data snapshot 's1' is given two SHA-256s ({HASH} and {'f' * 64})",
        id="two hashes in two roles",
    ),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD)
def test_lineage_of_the_wrong_form_is_refused_and_nothing_written(
    registry: Registry, model_file: Path, blob_dir: Path, kwargs: dict[str, Any], message: str
) -> None:
    before = snapshot(registry, blob_dir)
    with pytest.raises(InvalidInput) as err:
        _register(registry, model_file, **kwargs)
    assert message in str(err.value)
    assert snapshot(registry, blob_dir) == before
    with pytest.raises(NotFound):
        registry.get_model("lin")


def test_a_parent_given_twice_is_refused(
    registry: Registry, model_file: Path, blob_dir: Path
) -> None:
    _register(registry, model_file)
    before = snapshot(registry, blob_dir)
    with pytest.raises(InvalidInput, match="parent models:/lin/1 is listed twice"):
        _register(registry, model_file, parents=["models:/lin/1", "lin/1"])
    assert snapshot(registry, blob_dir) == before


@pytest.mark.parametrize(
    "kwargs",
    [
        {"code": {"commit": SHA1}},
        {"code": {"commit": SHA1.upper()}},
        {"code": {"commit": SHA256_OID}},
        {"environment": {"image_digest": "sha256:" + HASH, "packages_sha256": HASH}},
        {"environment": {"image_digest": "registry.example:5000/ml/ctr:1.2@sha256:" + HASH}},
        {"environment": {"image_digest": "sha512:" + "a" * 128}},
        {"data": [DataRef(snapshot="s1", sha256=HASH), DataRef(snapshot="s2", sha256=HASH)]},
        # One snapshot in two roles, its hash given once or twice alike.
        {
            "data": [
                DataRef(snapshot="s1", sha256=HASH, window="2025-09"),
                DataRef(snapshot="s1", role="eval"),
                DataRef(snapshot="s1", sha256=HASH.upper(), role="test"),
            ]
        },
        # Free-form ids keep only the text rules.
        {"data": ["clicks@2025-11-01 #3", "s:/x"], "run_id": "run 7/b", "experiment_id": "e?1"},
    ],
    ids=[
        "sha1",
        "upper",
        "sha256 repo",
        "digest",
        "digest with image",
        "sha512",
        "hashes",
        "roles",
        "ids",
    ],
)
def test_lineage_of_the_right_form_is_kept_as_given(
    registry: Registry, model_file: Path, kwargs: dict[str, Any]
) -> None:
    v = _register(registry, model_file, **kwargs)
    if "code" in kwargs:
        # Kept as git prints it: in lower case.
        assert v.lineage.code.commit == kwargs["code"]["commit"].lower()
    assert registry.get_version(v.uri) == v


def test_the_cli_refuses_a_commit_that_is_no_git_id_before_creating_a_registry(
    cli: CLI, home: Path, model_file: Path
) -> None:
    run = cli("register", "lin", model_file, "--owner", "o", "--commit", "NOTHEX", "--no-capture")
    assert run.code == 6
    assert "--commit is 'NOTHEX', not a git commit id" in run.err
    assert not home.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--commit", "4f2a9c1"], "--commit is '4f2a9c1', an abbreviated id"),
        (["--image-digest", "latest"], "--image-digest is 'latest', not an image digest"),
        (
            ["--data-snapshot", "s", "--data-snapshot", "s"],
            "data snapshot 's' is listed twice in the role 'train'",
        ),
        (
            ["--data-snapshot", "s", "--data-sha256", HASH, "--data-snapshot", "s"],
            "data snapshot 's' is given twice in the role 'train' with different values "
            f"(sha256 '{HASH}' and None)",
        ),
        (["--parent", "m/1", "--parent", "models:/m/1"], "parent models:/m/1 is listed twice"),
    ],
    ids=["abbreviated", "digest", "snapshot twice", "two values", "parent twice"],
)
def test_the_cli_refuses_bad_lineage_with_exit_6_and_writes_nothing(
    cli: CLI,
    home: Path,
    model_file: Path,
    db_uri: str,
    blob_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.setenv("MODELBOOK_URI", db_uri)
    monkeypatch.setenv("MODELBOOK_BLOB_URI", str(blob_dir))
    run = cli("register", "lin", model_file, "--owner", "o", "--no-capture", *args)
    assert run.code == 6, run
    assert message in run.err
    with Registry(db_uri, blob_uri=str(blob_dir)) as reg:
        assert reg.models().items == []
        assert reg.events().items == []
    assert [p for p in blob_dir.rglob("*") if p.is_file()] == []


def test_the_cli_keeps_a_full_commit(cli: CLI, model_file: Path) -> None:
    run = cli(
        "register", "lin", model_file, "--owner", "o", "--commit", SHA1, "--no-capture", "--json"
    )
    assert run.code == 0, run
    assert f'"commit": "{SHA1}"' in run.out


def test_a_commit_given_in_upper_case_is_kept_as_git_prints_it(
    registry: Registry, model_file: Path
) -> None:
    """git prints ids in lower case: a commit typed in upper case is stored so, and a
    search and an impact for the id git prints both find the version."""
    upper = "A" * 20 + "0123456789ABCDEF0123"
    v = registry.register(
        "m", [model_file], owners="o", code={"commit": upper}, capture_environment=False
    )
    assert registry.get_version(v.uri).lineage.code.commit == upper.lower()
    found = registry.search(f"code.commit = '{upper.lower()}'")
    assert [i.uri for i in found.items] == [v.uri]
    assert [d.uri for d in registry.impact(f"commit:{upper.lower()}").versions] == [v.uri]


def test_a_bad_image_digest_from_the_environment_names_the_variable(
    registry: Registry, model_file: Path, blob_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELBOOK_IMAGE_DIGEST", "myimg:latest")
    before = snapshot(registry, blob_dir)
    with pytest.raises(InvalidInput) as err:
        registry.register("m", [model_file], owners="o")
    assert "(from MODELBOOK_IMAGE_DIGEST) is 'myimg:latest'" in str(err.value)
    assert "sha512:" in str(err.value)
    assert snapshot(registry, blob_dir) == before
