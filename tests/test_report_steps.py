"""The report's "how to reproduce" steps say only what a reader can run where it is run:
a lock file by its path in the checkout step 1 made (the path recorded on the training
machine is named as one), prose outside the command blocks, and every step whose inputs
the metadata lacks is marked incomplete, in Markdown and HTML, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from modelbook import Registry, capture
from modelbook.errors import InvalidInput
from modelbook.report_reproduce import reproduce_steps

SHA = "cd" * 32


def _step(registry: Registry, uri: str, title: str):  # type: ignore[no-untyped-def]
    return next(s for s in reproduce_steps(registry.get_version(uri)) if s.title == title)


def test_capture_records_where_the_lock_file_lies_in_the_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "svc").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "uv.lock").write_text("lock")
    found = capture.lockfile(repo / "svc")
    assert found is not None
    assert found.path == str((repo / "uv.lock").resolve()) and found.repo_path == "uv.lock"
    (repo / "svc" / "requirements.txt").write_text("x==1")
    found = capture.lockfile(repo / "svc")
    assert found is not None and found.repo_path == "svc/requirements.txt"
    outside = tmp_path / "plain"
    outside.mkdir()
    (outside / "poetry.lock").write_text("lock")
    found = capture.lockfile(outside)
    assert found is not None and found.repo_path is None


def test_the_lock_file_is_named_by_its_path_in_the_checkout(
    registry: Registry, model_file: Path
) -> None:
    code = {"repo": "https://git.example.com/a.git", "commit": "c" * 40}
    lock = {"path": "/home/ci/work/app/svc/uv.lock", "sha256": SHA, "repo_path": "svc/uv.lock"}
    v = registry.register(
        "m", [model_file], owners="o", code=code, environment={"lockfile": lock},
        capture_environment=False,
    )  # fmt: skip
    step = _step(registry, v.uri, "Install the environment")
    assert step.commands == (f"sha256sum -- svc/uv.lock  # expect {SHA}", "uv sync --frozen")
    assert not any("/home/ci" in c for c in step.commands)
    md = registry.report(v.uri, format="md")
    assert "/home/ci/work/app/svc/uv.lock" not in md.split("## How to reproduce")[1]


def test_a_lock_file_outside_the_repository_is_said_to_be_on_the_training_machine(
    registry: Registry, model_file: Path
) -> None:
    lock = {"path": "/srv/build/requirements.lock", "sha256": SHA}
    v = registry.register(
        "m", [model_file], owners="o", environment={"lockfile": lock}, capture_environment=False
    )
    step = _step(registry, v.uri, "Install the environment")
    # Only commands sit in the code block; what to do by hand is a note.
    assert step.commands == (f"sha256sum -- requirements.lock  # expect {SHA}",)
    assert any("/srv/build/requirements.lock on the training machine" in n for n in step.notes)
    assert any("install the dependencies pinned in requirements.lock" in n for n in step.notes)
    md = registry.report(v.uri, format="md")
    section = md.split("## How to reproduce")[1]
    blocks = section.split("```")[1::2]
    assert blocks and not any("install the dependencies" in b for b in blocks)
    assert not any("/srv/build" in b for b in blocks)
    html = registry.report(v.uri, format="html")
    pres = [p.split("</pre>")[0] for p in html.split("<pre")[1:]]
    assert not any("install the dependencies" in p or "/srv/build" in p for p in pres)
    assert "install the dependencies pinned in requirements.lock" in html


def test_a_lock_file_path_that_leaves_the_checkout_is_refused(
    registry: Registry, model_file: Path
) -> None:
    for bad in ("../uv.lock", "/abs/uv.lock", "a//uv.lock"):
        lock = {"path": "/x/uv.lock", "sha256": SHA, "repo_path": bad}
        with pytest.raises(InvalidInput, match="repository path"):
            registry.register(
                "m", [model_file], owners="o", environment={"lockfile": lock},
                capture_environment=False,
            )  # fmt: skip
    assert registry.models().items == []


def test_every_step_missing_an_input_is_marked_incomplete(
    registry: Registry, model_file: Path
) -> None:
    v = registry.register(
        "m", [model_file], owners="o", params={"lr": "0.1"}, seed=1,
        tags={"command": "python train.py"}, capture_environment=False,
    )  # fmt: skip
    train = _step(registry, v.uri, "Train with the same parameters and seed")
    assert train.missing == (
        "the hardware (training.hardware)",
        "the expected duration (training.duration_seconds)",
        "the pipeline run (lineage.run_id)",
        "the experiment (lineage.experiment_id)",
    )
    check = _step(registry, v.uri, "Check the result")
    assert check.missing == ("the metrics to match (metrics)",)
    md = registry.report(v.uri, format="md")
    assert "### 4. Train with the same parameters and seed (incomplete)" in md
    assert "### 5. Check the result (incomplete)" in md
    html = registry.report(v.uri, format="html")
    assert html.count('<li class="incomplete">') == 5  # no lock file, commit or data either
    full = registry.register(
        "m", [model_file], params={"lr": "0.1"}, seed=1, hardware="A10G", duration_seconds=5,
        run_id="r", experiment_id="e", metrics={"auc": 0.9},
        tags={"command": "python train.py"}, capture_environment=False,
    )  # fmt: skip
    assert _step(registry, full.uri, "Train with the same parameters and seed").complete
    assert _step(registry, full.uri, "Check the result").complete
