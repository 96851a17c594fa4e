"""Shared machinery of the reliability suite: scale, workers, invariants.

``MODELBOOK_SOAK=1`` (``make soak``) multiplies every count of the suite.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from modelbook import Registry
from modelbook.blobs_temp import TEMP_DIR, TEMP_MARKER
from modelbook.store import schema as t

SOAK = os.environ.get("MODELBOOK_SOAK", "").lower() not in ("", "0", "false", "no")
HERE = Path(__file__).resolve().parent
SRC = str(HERE.parents[1] / "src")
TABLES = [tbl.name for tbl in t.metadata.sorted_tables]


def scale(normal: int, soak: int) -> int:
    """``normal`` in ``make test``, ``soak`` in ``make soak``."""
    return soak if SOAK else normal


# worker processes -------------------------------------------------------------------


class Worker:
    """A Python script in its own interpreter, read line by line with timeouts.

    stdout lines are queued by a reader thread so the test can wait for a
    given line with a deadline instead of sleeping; stdin lets the test hold
    the worker at a barrier (one ``go`` line per round).
    """

    def __init__(self, script: str, *args: str, env: dict[str, str] | None = None) -> None:
        full_env = {**os.environ, "PYTHONPATH": SRC, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / script), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=full_env,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._stderr: list[str] = []
        threading.Thread(target=self._pump_out, daemon=True).start()
        threading.Thread(target=self._pump_err, daemon=True).start()

    def _pump_out(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def _pump_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def next_line(self, timeout: float = 60.0) -> str | None:
        """The next stdout line; None at end of output. Fails after ``timeout``."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            raise AssertionError(
                f"worker said nothing for {timeout} s; last lines {self.seen[-5:]}\n{self.stderr}"
            ) from None
        if line is not None:
            self.seen.append(line)
        return line

    def expect(self, prefix: str, timeout: float = 60.0) -> str:
        line = self.next_line(timeout)
        if line is None or not line.startswith(prefix):
            self.kill()
            raise AssertionError(f"expected {prefix!r} from worker, got {line!r}\n{self.stderr}")
        return line

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        """SIGKILL, then wait for the process to be gone."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def drain(self, timeout: float = 30.0) -> list[str]:
        """Every line still buffered after the process ended."""
        rest = []
        while (line := self.next_line(timeout)) is not None:
            rest.append(line)
        return rest

    def finish(self, timeout: float = 120.0) -> list[str]:
        """Wait for a normal exit (code 0) and return the remaining lines."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"worker did not finish in {timeout} s\n{self.stderr}") from None
        rest = self.drain()
        assert code == 0, f"worker exited {code}:\n{self.stderr}"
        return rest

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def barrier(workers: list[Worker], ready: str = "ready", go: str = "go") -> None:
    """Wait until every worker said ``ready``, then release them all at once."""
    for w in workers:
        w.expect(ready)
    for w in workers:
        w.send(go)


# database and blob inspection ------------------------------------------------------


def table_counts(reg: Registry) -> dict[str, int]:
    with reg.db.engine.connect() as conn:
        return {
            name: int(conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one())
            for name in TABLES
        }


def blob_files(blob_dir: Path) -> dict[str, Path]:
    root = blob_dir / "sha256"
    return {p.name: p for p in root.rglob("*") if p.is_file()} if root.exists() else {}


def tmp_files(blob_dir: Path) -> list[Path]:
    """Temporary files of the blob store (not its folder's marker)."""
    root = blob_dir / TEMP_DIR
    if not root.exists():
        return []
    return sorted(p for p in root.iterdir() if p.is_file() and p.name != TEMP_MARKER)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class State:
    """What the database says, in plain values, for comparison with expectations."""

    numbers: dict[str, list[int]] = field(default_factory=dict)
    aliases: dict[tuple[str, str], int] = field(default_factory=dict)
    history: dict[tuple[str, str], list[tuple[int | None, int | None]]] = field(
        default_factory=dict
    )
    tags: dict[tuple[str, int], dict[str, str]] = field(default_factory=dict)
    frozen: dict[tuple[str, int], str] = field(default_factory=dict)
    versions: int = 0
    files: int = 0


@dataclass(frozen=True)
class Move:
    """One alias move, as its ``alias.set`` or ``alias.delete`` event records it."""

    model: str
    alias: str
    from_number: int | None
    to_number: int | None


def _move(model: str, event: dict[str, Any]) -> Move:
    before, after = event.get("before") or {}, event.get("after") or {}
    return Move(
        model, after.get("alias", before.get("alias")), before.get("version"), after.get("version")
    )


def check_invariants(reg: Registry, blob_dir: Path | None = None, *, read: bool = True) -> State:
    """Assert every promise that must hold in any state a crash can leave behind.

    - ``verify()`` is clean; every artifact row is backed by an intact blob;
    - every version has exactly the artifact rows of its frozen manifest (at least one)
      and each artifact reads back verified (``read=True``);
    - version numbers of each model are 1..N without holes; ``last_number`` is N;
    - every alias points at an existing version of its own model, with the right number,
      and each version's row names exactly the aliases that point at it;
    - alias history chains (each move starts where the previous ended) and ends at the
      alias's current version (or at a deletion when the alias is gone);
    - one ``model.create`` event per model, one ``version.register`` event per version
      and one alias event per alias move, and every audit chain verifies;
    - every blob file at its final name hashes to that name (no torn blob to deduplicate
      against).
    """
    report = reg.verify()
    assert report.ok, f"verify found problems: {report.problems}"
    state = State(versions=report.versions, files=report.files)
    with reg.db.engine.connect() as conn:
        models = {r.id: r for r in conn.execute(sa.text("SELECT * FROM models"))}
        versions = list(
            conn.execute(sa.text("SELECT id, model_id, number, doc, tags, aliases FROM versions"))
        )
        artifacts: dict[int, set[tuple[str, int, str]]] = defaultdict(set)
        for r in conn.execute(sa.text("SELECT version_id, path, size, sha256 FROM artifacts")):
            artifacts[r.version_id].add((r.path, r.size, r.sha256))
        by_id = {v.id: v for v in versions}
        aliases = list(conn.execute(sa.text("SELECT * FROM aliases")))
        moves = [
            _move(r.model, json.loads(r.canonical))
            for r in conn.execute(
                sa.text(
                    "SELECT model, canonical FROM events "
                    "WHERE action IN ('alias.set', 'alias.delete') ORDER BY id"
                )
            )
        ]
        events = list(conn.execute(sa.text("SELECT action, model, version FROM events")))

    assert set(artifacts) <= set(by_id), "artifact rows of a version that does not exist"
    for v in versions:
        name = models[v.model_id].name
        doc = json.loads(v.doc)
        manifest = {(a["path"], a["size"], a["sha256"]) for a in doc["artifacts"]}
        assert manifest, f"{name}/{v.number} has no artifacts"
        assert artifacts[v.id] == manifest, f"{name}/{v.number}: artifact rows differ from manifest"
        state.tags[(name, v.number)] = json.loads(v.tags)
        state.frozen[(name, v.number)] = v.doc
        if read:
            for path, _size, sha in manifest:
                data = reg.read_artifact(f"models:/{name}/{v.number}", path)
                assert hashlib.sha256(data).hexdigest() == sha

    for mid, m in models.items():
        numbers = sorted(v.number for v in versions if v.model_id == mid)
        assert numbers == list(range(1, len(numbers) + 1)), f"{m.name}: numbers {numbers}"
        assert m.last_number == len(numbers), f"{m.name}: last_number {m.last_number}"
        state.numbers[m.name] = numbers

    for a in aliases:
        target = by_id.get(a.version_id)
        name = models[a.model_id].name
        assert target is not None, f"{name}@{a.name} points at a missing version"
        assert target.model_id == a.model_id, f"{name}@{a.name} points into another model"
        assert target.number == a.number, f"{name}@{a.name}: number {a.number} != {target.number}"
        state.aliases[(name, a.name)] = a.number
    for v in versions:
        pointing = sorted(a.name for a in aliases if a.version_id == v.id)
        held = sorted(v.aliases.split(",")) if v.aliases else []
        name = models[v.model_id].name
        assert held == pointing, f"{name}/{v.number} holds aliases {held}, not {pointing}"

    for e in moves:
        key = (e.model, e.alias)
        chain = state.history.setdefault(key, [])
        previous = chain[-1][1] if chain else None
        assert e.from_number == previous, (
            f"{key}: move {e.from_number}->{e.to_number} after {previous}"
        )
        assert e.from_number != e.to_number, f"{key}: recorded a move that changed nothing"
        chain.append((e.from_number, e.to_number))
    for key, chain in state.history.items():
        assert state.aliases.get(key) == chain[-1][1], f"{key}: history ends at {chain[-1]}"
    assert set(state.aliases) <= set(state.history), "an alias without any recorded move"

    registered: dict[str, list[int]] = defaultdict(list)
    alias_actions: dict[str, int] = defaultdict(int)
    created: Counter[str] = Counter()
    for e in events:
        if e.action == "model.create":
            created[e.model] += 1
        elif e.action == "version.register":
            registered[e.model].append(e.version)
        elif e.action in ("alias.set", "alias.delete"):
            alias_actions[e.model] += 1
    for name, numbers in state.numbers.items():
        assert sorted(registered[name]) == numbers, f"{name}: register events {registered[name]}"
    expected = Counter(m.name for m in models.values())
    assert created == expected, f"model.create events {created}"

    audit = reg.verify_audit()
    assert audit.ok, f"the audit log does not verify: {[str(b) for b in audit.breaks]}"

    if blob_dir is not None:
        for sha, path in blob_files(blob_dir).items():
            assert sha256_file(path) == sha, f"blob {path} does not hash to its name"
    return state


class Figures:
    """Counts a test reports: shown at the end of the run and kept as JSON lines.

    Set ``MODELBOOK_RELIABILITY_FIGURES=path`` to append them to a file.
    """

    def __init__(self, test_id: str) -> None:
        self.test_id = test_id
        self.values: dict[str, Any] = {}
        self.started = time.monotonic()

    def __setitem__(self, key: str, value: Any) -> None:
        self.values[key] = value

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def add(self, key: str, n: int = 1) -> None:
        self.values[key] = self.values.get(key, 0) + n


@contextlib.contextmanager
def fresh_pg_schema() -> Iterator[str]:
    """A brand-new PostgreSQL schema (its URI), dropped afterwards."""
    from tests.conftest import pg_uri, temporary_pg_schema

    with temporary_pg_schema("r") as schema:
        yield pg_uri(schema)
