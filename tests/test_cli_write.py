"""Documents the CLI writes (report, bom): whole, through links, never over what is not a file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from modelbook.cli.render import write_whole
from modelbook.errors import InvalidInput


def test_a_new_file_is_written_whole_with_the_usual_mode(tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    write_whole(target, "# ünïcode\n")
    assert target.read_text(encoding="utf-8") == "# ünïcode\n"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_an_existing_file_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "private.html"
    target.write_text("old")
    target.chmod(0o600)
    write_whole(target, "new")
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_link_is_written_through_to_its_target(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_whole(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


@pytest.mark.parametrize("kind", ["fifo", "folder", "read-only", "empty name"])
def test_what_is_not_a_writable_file_is_refused_and_left_alone(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "out"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "folder":
        target.mkdir()
    elif kind == "read-only":
        target.write_text("keep")
        target.chmod(0o444)
    else:
        target = Path("")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(InvalidInput, match=r"cannot write|needs a file name"):
        write_whole(target, "text")
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    if kind == "fifo":
        assert stat.S_ISFIFO(os.lstat(target).st_mode)
    if kind == "read-only":
        assert target.read_text() == "keep"
