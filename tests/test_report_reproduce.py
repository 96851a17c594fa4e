"""The report's "how to reproduce" steps from hostile metadata: no recorded value
becomes an option of git, docker, sha256sum or an installer, and the check lines
of the result are what ``sha256sum -c`` reads back, odd file names included."""

from __future__ import annotations

import hashlib
import shlex
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from modelbook.domain import Version
from modelbook.report_reproduce import reproduce_steps, sha256sum_line


def version(code: dict[str, Any], environment: dict[str, Any] | None = None) -> Version:
    return Version.model_validate(
        {
            "model": "m",
            "number": 1,
            "semver": "1.0.0",
            "artifacts": [],
            "lineage": {"code": code, "data": [{"snapshot": "ds"}]},
            "environment": environment or {},
            "created_by": "me",
            "created_at": datetime(2025, 10, 1, tzinfo=UTC),
        }
    )


def commands(v: Version, title: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    step = next(s for s in reproduce_steps(v) if s.title == title)
    return step.commands, step.missing


def operands(command: str) -> list[str]:
    """The words of ``command`` (up to ``&&``) that the program could read as options."""
    words = shlex.split(command.split("&&")[0])
    end = words.index("--") if "--" in words else len(words)
    return [w for w in words[:end] if w.startswith("-")]


def test_a_repository_or_commit_that_looks_like_an_option_never_becomes_one() -> None:
    v = version({"repo": "--upload-pack=touch /tmp/p", "commit": "-abc"})
    cmds, missing = commands(v, "Check out the code")
    assert cmds == ("git clone -- '--upload-pack=touch /tmp/p' src && cd src",)
    assert any("-abc" in m and "not" in m for m in missing)
    for command in cmds:
        assert operands(command) == []
    ok = version({"repo": "https://git.example.com/a.git", "commit": "c0ffee1"})
    cmds, missing = commands(ok, "Check out the code")
    assert cmds[1] == "git checkout --detach c0ffee1 --" and not missing


def test_environment_values_that_look_like_options_are_not_options() -> None:
    v = version(
        {"commit": "c0ffee1"},
        {
            "image_digest": "--privileged",
            "lockfile": {"path": "-r evil.txt", "sha256": "a" * 64},
            "python": "3.11",
        },
    )
    cmds, missing = commands(v, "Install the environment")
    assert not any("docker" in c for c in cmds) and any("--privileged" in m for m in missing)
    assert cmds[0] == f"sha256sum -- '-r evil.txt'  # expect {'a' * 64}"
    assert cmds[1] == "pip install --require-hashes -r './-r evil.txt'"


@pytest.mark.parametrize("name", ["a\nb.bin", "back\\slash.bin", "plain.bin", "cr\rname"])
def test_check_lines_read_back_with_sha256sum(tmp_path: Path, name: str) -> None:
    digest = hashlib.sha256(b"model").hexdigest()
    line = sha256sum_line(digest, name)
    assert "\n" not in line and "\r" not in line
    assert line.startswith("\\") == (name != "plain.bin")
    if shutil.which("sha256sum") is None:
        pytest.skip("sha256sum is not installed")
    (tmp_path / name).write_bytes(b"model")
    (tmp_path / "SUMS").write_text(line + "\n")
    done = subprocess.run(["sha256sum", "-c", "SUMS"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
