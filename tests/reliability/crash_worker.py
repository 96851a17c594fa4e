"""A registry user that the crash loop kills with SIGKILL.

Run as ``python crash_worker.py CONFIG_JSON``. It performs random mutations
(register small, multi-MB and direct-I/O-sized files, move, delete aliases, set tags) until it
is killed, and reports each step on stdout as ``M <index> <marker> [json]``
*before* the step happens:

- ``op.begin`` / ``op.done``: one operation, with what it does and what it did;
- ``blob.chunk``: a chunk of an artifact was hashed (small file) or copied (large file);
- ``fsync`` / ``rename``: the blob store makes a file durable or moves it into place;
- ``tx.begin`` / ``sql`` / ``commit``: the write transaction starts, runs a statement,
  is about to commit (SQLAlchemy's commit, or the ``COMMIT`` statement a pipelined
  PostgreSQL write queues behind its other statements).

With ``halt_at`` >= 0 the worker stops at that marker, prints ``HALT`` and
waits on stdin for the test to kill it: the kill lands exactly there.
"""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

cfg = json.loads(sys.argv[1])
HALT_AT = int(cfg.get("halt_at", -1))
_count = 0


def mark(name: str, **detail: object) -> None:
    global _count
    line = f"M {_count} {name}"
    if detail:
        line += " " + json.dumps(detail, sort_keys=True)
    os.write(1, (line + "\n").encode())
    if _count == HALT_AT:
        os.write(1, f"HALT {_count} {name}\n".encode())
        sys.stdin.read()  # the test kills us while we wait here
        os._exit(3)
    _count += 1


# Instrument the process (never the library files): file system calls of the
# blob store and SQLAlchemy events of every engine the registry creates.
_fsync, _replace = os.fsync, os.replace


def _traced_fsync(fd: int) -> None:
    mark("fsync")
    _fsync(fd)


def _traced_replace(src: str, dst: str) -> None:
    mark("rename")
    _replace(src, dst)


os.fsync = _traced_fsync  # type: ignore[assignment]
os.replace = _traced_replace  # type: ignore[assignment]

import sqlalchemy as sa  # noqa: E402
from sqlalchemy import event  # noqa: E402

_create_engine = sa.create_engine


def _traced_engine(*args: object, **kwargs: object) -> sa.Engine:
    engine = _create_engine(*args, **kwargs)  # type: ignore[arg-type]

    def writing(conn: sa.Connection) -> bool:
        return bool(conn.get_execution_options().get("modelbook_write"))

    @event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        if writing(conn):
            mark("tx.begin")

    @event.listens_for(engine, "before_cursor_execute")
    def _sql(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        verb = statement.split(None, 1)[0].upper()
        if verb == "COMMIT" and writing(conn):
            # A pipelined write (PostgreSQL) sends its COMMIT as a statement.
            mark("commit")
            return
        mark("sql", s=verb, w=writing(conn))

    @event.listens_for(engine, "commit")
    def _commit(conn: sa.Connection) -> None:
        if writing(conn):
            mark("commit")

    return engine


sa.create_engine = _traced_engine  # type: ignore[assignment]

from modelbook import NotFound, Registry  # noqa: E402
from modelbook.blobs import DIRECT_MIN, STREAM_CHUNK  # noqa: E402

mark("open")
reg = Registry(cfg["uri"], blob_uri=cfg["blob_uri"], actor=f"crash-{cfg['seed']}")
mark("opened")
rng = random.Random(cfg["seed"])
files = Path(cfg["files_dir"])
shared = files / "shared.bin"
if not shared.exists():
    shared.write_bytes(random.Random(7).randbytes(50_000))


def chunk(n: int) -> None:
    mark("blob.chunk", n=n)


def register(model: str, large: bool, i: int) -> None:
    folder = files / f"{cfg['seed']}-{i}"
    folder.mkdir(parents=True)
    paths: list[Path] = []
    if large:
        size = rng.randrange(cfg["large_min"], cfg["large_max"])
        if cfg.get("direct") and rng.random() < 0.5:
            # Big enough for direct I/O, with an unaligned tail.
            size = DIRECT_MIN + rng.randrange(1, 3 * STREAM_CHUNK)
        paths.append(folder / "weights.bin")
        paths[0].write_bytes(rng.randbytes(size))
    else:
        for j in range(rng.randrange(1, 4)):
            p = folder / f"part{j}.bin"
            p.write_bytes(rng.randbytes(rng.randrange(100, 200_000)))
            paths.append(p)
        if rng.random() < 0.3:
            paths.append(shared)  # already stored: the deduplicated path
    tag = f"{cfg['seed']}-{i}"
    mark("op.begin", op="register", model=model, large=large, tag=tag)
    v = reg.register(
        model,
        paths,
        owners="crash-loop",
        metrics={"auc": round(rng.random(), 6)},
        tags={"op": tag},
        capture_environment=False,
        progress=chunk,
    )
    mark(
        "op.done",
        op="register",
        model=model,
        number=v.number,
        tags=v.tags,
        artifacts=sorted([a.path, a.size, a.sha256] for a in v.artifacts),
    )


def step(i: int) -> None:
    model = rng.choice(cfg["models"])
    kind = rng.choices(["small", "large", "alias", "unalias", "tag"], cfg["weights"])[0]
    try:
        latest = reg.get_model(model).latest_version
    except NotFound:
        latest = 0
    if kind in ("small", "large") or latest == 0:
        register(model, kind == "large", i)
        return
    current = {a.name: a.version for a in reg.aliases(model)}
    if kind == "unalias" and current:
        alias = rng.choice(sorted(current))
        mark("op.begin", op="unalias", model=model, alias=alias, frm=current[alias])
        expect = current[alias] if rng.random() < 0.5 else None
        reg.delete_alias(model, alias, reason=f"crash loop {cfg['seed']}/{i}", expect=expect)
        mark("op.done", op="unalias", model=model, alias=alias, frm=current[alias])
    elif kind in ("alias", "unalias"):
        alias = rng.choice(["champion", "staging"])
        frm = current.get(alias)
        choices = [n for n in range(1, latest + 1) if n != frm]
        if not choices:
            register(model, False, i)
            return
        to = rng.choice(choices)
        expect = (frm or 0) if rng.random() < 0.5 else None
        mark("op.begin", op="alias", model=model, alias=alias, frm=frm, to=to)
        reg.set_alias(model, alias, to, reason=f"crash loop {cfg['seed']}/{i}", expect=expect)
        mark("op.done", op="alias", model=model, alias=alias, frm=frm, to=to)
    else:
        number = rng.randrange(1, latest + 1)
        value = f"{cfg['seed']}-{i}"
        mark("op.begin", op="tag", model=model, number=number, value=value)
        tags = reg.set_tags(f"models:/{model}/{number}", {"stage_note": value})
        mark("op.done", op="tag", model=model, number=number, tags=tags)


for i in range(cfg.get("max_ops", 10_000)):
    step(i)
mark("exhausted")
