""" "How to reproduce": the steps to rebuild a version, generated from its metadata (pure).

Each step lists what to run or fetch, read from the frozen version: the commit
to check out, the lock file or image to install, the data snapshots and their
window, the parameters and seed, the command when one is recorded, and the
hashes the result must match. What the metadata cannot fill is named in the
step's ``missing``, so the reader sees where reproduction would rely on memory.

The training command is not part of a version's frozen fields; it is read from
the version tag ``command`` (or ``train_command``) when the team records it
there, e.g. ``modelbook tag models:/ctr/7 command='python train.py --cfg ctr.yaml'``.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from .checklist import INTERNAL_PREFIX
from .domain import Version
from .hashes import is_sha256

COMMAND_TAGS = ("command", "train_command")

# Lock file name (its final part) -> how to install from it.
_INSTALLERS: tuple[tuple[str, str], ...] = (
    ("uv.lock", "uv sync --frozen"),
    ("poetry.lock", "poetry install --sync"),
    ("Pipfile.lock", "pipenv sync"),
    ("pdm.lock", "pdm sync"),
    ("conda-lock.yml", "conda-lock install {path}"),
    ("environment.yml", "conda env create -f {path}"),
    (".txt", "pip install --require-hashes -r {path}"),
)


@dataclass(frozen=True)
class Step:
    """One step: its title, what to run (``commands``), what to know (``notes``), and what
    the metadata does not say (``missing``; the step cannot be followed exactly then)."""

    title: str
    commands: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.missing


def _installer(path: str) -> str | None:
    """The command that installs from lock file ``path``; None when none is known."""
    name = path.rsplit("/", 1)[-1]
    for suffix, command in _INSTALLERS:
        if name.endswith(suffix):
            return command.format(path=shlex.quote(operand_path(path)))
    return None


def _in_checkout(path: str) -> str | None:
    """``path`` when it names a file inside a checkout (relative, without ``..``); None
    for a path of the training machine (``/home/ci/app/uv.lock``, ``C:\\app\\uv.lock``)."""
    parts = path.replace("\\", "/").split("/")
    if path.startswith(("/", "\\", "~")) or ":" in parts[0] or ".." in parts:
        return None
    return path


def operand_path(path: str) -> str:
    """A relative path that starts with ``-`` as ``./-...``: no command reads it as
    an option, whether or not it honours ``--``."""
    return "./" + path if path.startswith("-") else path


def sha256sum_line(digest: str, path: str) -> str:
    """One line of a ``sha256sum -c`` check file, escaped as GNU coreutils does: a
    name holding a backslash, newline or carriage return is written with ``\\\\``,
    ``\\n``, ``\\r`` and the line begins with a backslash."""
    if not any(ch in path for ch in "\\\n\r"):
        return f"{digest}  {path}"
    escaped = path.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    return f"\\{digest}  {escaped}"


def _code(v: Version) -> Step:
    code = v.lineage.code
    commands: list[str] = []
    notes: list[str] = []
    missing: list[str] = []
    # Every value goes after "--" or is refused when it would read as an option:
    # a repository "--upload-pack=..." must not become one of git's options.
    if code.repo:
        commands.append(f"git clone -- {shlex.quote(code.repo)} src && cd src")
    else:
        missing.append("the repository URL (code.repo)")
    if code.commit and code.commit.startswith("-"):
        missing.append(f"a commit id: the recorded code.commit {code.commit!r} is not one")
    elif code.commit:
        # "git checkout -- X" would read X as a path; a value not starting with
        # "-" is safe before "--", which marks it as the commit.
        commands.append(f"git checkout --detach {shlex.quote(code.commit)} --")
    else:
        missing.append("the commit (code.commit)")
    if code.dirty:
        missing.append("the uncommitted changes: the working tree was dirty at registration")
    elif code.dirty is None and code.commit:
        notes.append("whether the working tree was clean is not recorded")
    if code.branch:
        notes.append(f"branch {code.branch}")
    return Step("Check out the code", tuple(commands), tuple(notes), tuple(missing))


def _environment(v: Version) -> Step:
    env = v.environment
    commands: list[str] = []
    notes: list[str] = []
    missing: list[str] = []
    if env.image_digest and env.image_digest.startswith("-"):
        missing.append(f"an image: the recorded image_digest {env.image_digest!r} is not one")
    elif env.image_digest:
        if "@" in env.image_digest:
            commands.append(f"docker pull {shlex.quote(env.image_digest)}")
        else:
            commands.append(f"docker pull IMAGE@{shlex.quote(env.image_digest)}")
            notes.append("the image's repository is not recorded, only its digest")
    if env.lockfile is not None:
        # Step 1 leaves the reader in the checkout: a lock file inside the repository is
        # named by its path there; the path recorded is one on the training machine.
        where = env.lockfile.path
        path = _in_checkout(env.lockfile.repo_path or where)
        if path is not None:
            notes.append(f"lock file {path}, in the repository checked out in step 1")
        else:
            path = where.replace("\\", "/").rsplit("/", 1)[-1] or where
            notes.append(
                f"lock file {path} was at {where} on the training machine, outside the "
                "recorded repository: fetch a copy of it"
            )
        if is_sha256(env.lockfile.sha256):
            commands.append(f"sha256sum -- {shlex.quote(path)}  # expect {env.lockfile.sha256}")
        else:
            missing.append(
                f"the hash of lock file {where}: the recorded {env.lockfile.sha256!r} "
                "is not a SHA-256"
            )
        installer = _installer(path)
        if installer is not None:
            commands.append(installer)
        else:
            notes.append(f"install the dependencies pinned in {path} (no installer is known)")
    if env.image_digest is None and env.lockfile is None:
        missing.append("a lock file or a container image (environment.lockfile, image_digest)")
    if env.python:
        notes.append(f"Python {env.python}" + (f" on {env.platform}" if env.platform else ""))
    else:
        missing.append("the Python version (environment.python)")
    if env.frameworks:
        notes.append(
            "frameworks: " + ", ".join(f"{k} {val}" for k, val in sorted(env.frameworks.items()))
        )
    else:
        missing.append("the framework versions (environment.frameworks)")
    if env.packages_sha256:
        notes.append(f"installed packages hash to {env.packages_sha256}")
    return Step("Install the environment", tuple(commands), tuple(notes), tuple(missing))


def _data(v: Version) -> Step:
    notes: list[str] = []
    missing: list[str] = []
    if not v.lineage.data:
        missing.append("the data snapshot (lineage.data)")
    for d in v.lineage.data:
        parts = [f"{d.role} data: snapshot {d.snapshot}"]
        if d.window:
            parts.append(f"window {d.window}")
        else:
            missing.append(f"the time window of {d.snapshot}")
        if d.sampling:
            parts.append(f"sampling {d.sampling}")
        if is_sha256(d.sha256):
            parts.append(f"sha256 {d.sha256}")
        elif d.sha256:
            missing.append(f"the hash of {d.snapshot}: the recorded {d.sha256!r} is not a SHA-256")
        else:
            missing.append(f"the hash of {d.snapshot}, to prove the copy is the same")
        notes.append(", ".join(parts))
    features = v.lineage.features
    if features is None:
        missing.append("the feature set and its version (lineage.features)")
    elif not features.version:
        missing.append(f"the version of feature set {features.name}")
        notes.append(f"feature set {features.name}")
    else:
        notes.append(f"feature set {features.name}@{features.version}")
    return Step("Fetch the data and features", (), tuple(notes), tuple(missing))


def _training(v: Version) -> Step:
    t = v.training
    notes = [f"{k} = {val}" for k, val in sorted(t.params.items())]
    missing: list[str] = []
    if not t.params:
        missing.append("the hyper-parameters (training.params)")
    if t.seed is not None:
        notes.append(f"seed = {t.seed}")
    else:
        missing.append("the random seed (training.seed)")
    if t.hardware:
        notes.append(f"hardware: {t.hardware}")
    else:
        missing.append("the hardware (training.hardware)")
    if t.duration_seconds is not None:
        notes.append(f"took {t.duration_seconds:g} s")
    else:
        missing.append("the expected duration (training.duration_seconds)")
    command = next((v.tags[k] for k in COMMAND_TAGS if v.tags.get(k)), None)
    commands = (command,) if command else ()
    if command is None:
        missing.append("the training command (record it as the version tag command=...)")
    if v.lineage.run_id:
        notes.append(f"pipeline run {v.lineage.run_id}")
    else:
        missing.append("the pipeline run (lineage.run_id)")
    if v.lineage.experiment_id:
        notes.append(f"experiment {v.lineage.experiment_id}")
    else:
        missing.append("the experiment (lineage.experiment_id)")
    return Step("Train with the same parameters and seed", commands, tuple(notes), tuple(missing))


def _compare(v: Version) -> Step:
    files = [a for a in v.artifacts if not a.path.startswith(INTERNAL_PREFIX)]
    commands = tuple(sha256sum_line(a.sha256, a.path) for a in files)
    notes = [
        "the files above should hash the same (sha256sum -c); training that is not "
        "bit-for-bit deterministic should match the metrics instead"
    ]
    notes += [f"{m.key} = {m.value:g}" for m in v.metrics[:12]]
    missing = [] if files else ["the model files (artifacts)"]
    if not v.metrics:
        missing.append("the metrics to match (metrics)")
    return Step("Check the result", commands, tuple(notes), tuple(missing))


def reproduce_steps(v: Version) -> tuple[Step, ...]:
    """The steps to rebuild ``v``, each naming what its metadata lacks."""
    return (_code(v), _environment(v), _data(v), _training(v), _compare(v))
