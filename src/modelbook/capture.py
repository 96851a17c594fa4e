"""Automatic capture of the environment and the code a version comes from.

Capturing is best effort: a field that cannot be read stays empty rather than
failing a registration. The installed-distributions hash is computed once per
process, since scanning site-packages costs tens of milliseconds.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import importlib.metadata
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from .domain import CodeRef, Environment, LockfileRef
from .lineage_urls import without_secret

LOCKFILES = ("uv.lock", "poetry.lock", "Pipfile.lock", "environment.yml", "environment.yaml")
FRAMEWORKS = (
    "scikit-learn",
    "numpy",
    "pandas",
    "scipy",
    "torch",
    "tensorflow",
    "jax",
    "xgboost",
    "lightgbm",
    "catboost",
    "transformers",
    "onnx",
    "onnxruntime",
)


@functools.cache
def packages_sha256() -> str:
    names = sorted(
        f"{(d.metadata['Name'] or '').lower()}=={d.version}"
        for d in importlib.metadata.distributions()
    )
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


@functools.cache
def frameworks() -> dict[str, str]:
    found: dict[str, str] = {}
    for name in FRAMEWORKS:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


@functools.cache
def cpu() -> str:
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        model = platform.processor()
    return f"{model or platform.machine()} x{os.cpu_count() or 1}"


@functools.cache
def gpu() -> str | None:
    root = Path("/proc/driver/nvidia/gpus")
    try:
        names = []
        for info in sorted(root.glob("*/information")):
            for line in info.read_text().splitlines():
                if line.startswith("Model:"):
                    names.append(line.split(":", 1)[1].strip())
        return ", ".join(names) or None
    except OSError:
        return None


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _git(commands: list[list[str]], cwd: Path) -> list[str | None]:
    """The output of each ``git`` command, run side by side (a registration waits for
    the slowest, not for the sum); None for one that failed or took over 10 s.
    Bytes that are not UTF-8 are kept as surrogates (see :func:`_utf8`)."""
    started: list[subprocess.Popen[bytes] | None] = []
    for args in commands:
        try:
            started.append(
                subprocess.Popen(
                    ["git", *args],
                    cwd=cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )
            )
        except OSError:
            started.append(None)
    deadline = time.monotonic() + 10
    outputs: list[str | None] = []
    for proc in started:
        out = None
        if proc is not None:
            try:
                raw, _ = proc.communicate(timeout=max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
            else:
                if proc.returncode == 0:
                    out = raw.decode("utf-8", "surrogateescape").strip()
        outputs.append(out)
    return outputs


def code(cwd: Path | None = None) -> CodeRef:
    """Repository, commit, branch and dirty flag of the working directory.

    One ``git status`` gives commit, branch and dirtiness; the remote is read
    with ``git config``, run at the same time. Outside a repository no process
    is started.
    """
    where = (cwd or Path.cwd()).resolve()
    top = next((d for d in (where, *where.parents) if (d / ".git").exists()), None)
    if top is None:
        return CodeRef()
    status, remote = _git(
        [
            ["status", "--porcelain=v2", "--branch", "--untracked-files=no"],
            ["config", "--get", "remote.origin.url"],
        ],
        where,
    )
    if status is None:
        return CodeRef()
    commit = branch = None
    dirty = False
    for line in status.splitlines():
        if line.startswith("# branch.oid "):
            oid = line.split()[2]
            commit = None if oid == "(initial)" else oid
        elif line.startswith("# branch.head "):
            head = line.split(" ", 2)[2]
            # Capture is best effort: a name that is not UTF-8 is left out.
            branch = None if head == "(detached)" or not _utf8(head) else head
        elif not line.startswith("#"):
            dirty = True
    if remote is not None and not _utf8(remote):
        remote = None
    if remote is not None:
        # A remote cloned with credentials (https://gitlab-ci-token:TOKEN@host/...) is
        # recorded without them: a version is frozen and printed in reports.
        remote = without_secret(remote)
    return CodeRef(repo=remote or str(top), commit=commit, dirty=dirty, branch=branch)


def lockfile(cwd: Path | None = None) -> LockfileRef | None:
    """The nearest lockfile in the working directory or its parents."""
    here = (cwd or Path.cwd()).resolve()
    top = next((d for d in (here, *here.parents) if (d / ".git").exists()), None)
    for folder in (here, *here.parents):
        try:
            names = set(os.listdir(folder))
        except OSError:
            continue
        found = [n for n in LOCKFILES if n in names]
        found += sorted(n for n in names if fnmatch.fnmatch(n, "requirements*.txt"))
        found += sorted(n for n in names if fnmatch.fnmatch(n, "requirements*.lock"))
        # A name that is not UTF-8 could not be recorded as written; skip it.
        found = [n for n in found if n.isprintable() and _utf8(n)]
        for path in (folder / n for n in found):
            if path.is_file():
                try:
                    digest = hashlib.sha256(path.read_bytes()).hexdigest()
                except OSError:
                    continue
                # Inside the repository the path means something in any checkout.
                inside = top is not None and path.is_relative_to(top)
                repo_path = path.relative_to(top).as_posix() if inside and top else None
                return LockfileRef(path=str(path), sha256=digest, repo_path=repo_path)
        if ".git" in names:
            break
    return None


def runtime() -> Environment:
    """The software of this process that a version's recorded environment is compared
    with (:mod:`modelbook.drift`): Python, platform, frameworks, packages, image."""
    return Environment(
        python=platform.python_version(),
        platform=f"{sys.platform}-{platform.machine()}",
        packages_sha256=packages_sha256(),
        frameworks=frameworks(),
        image_digest=os.environ.get("MODELBOOK_IMAGE_DIGEST") or None,
    )


def environment(cwd: Path | None = None) -> Environment:
    return Environment(
        python=platform.python_version(),
        platform=f"{sys.platform}-{platform.machine()}",
        packages_sha256=packages_sha256(),
        frameworks=frameworks(),
        lockfile=lockfile(cwd),
        image_digest=os.environ.get("MODELBOOK_IMAGE_DIGEST") or None,
        cpu=cpu(),
        gpu=gpu(),
    )
