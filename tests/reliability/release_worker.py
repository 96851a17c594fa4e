"""A registry user that races others through the release flow, or is killed mid-way.

Run as ``python release_worker.py CONFIG_JSON``; ``mode`` picks what it does.

- ``rounds``: per round, says ``ready``, reads one line ``go OP ARGS...`` and runs that
  one operation, then prints one JSON result. Operations: ``deploy VERSION ALIAS
  EXPECT`` and ``rollback ALIAS EXPECT`` (``EXPECT`` ``-`` for none). ``stop`` ends.
- ``writer``: after ``go``, runs the whole release flow ``rounds`` times on its own
  model (register, promote, approve, deploy, observe, comment, and a rollback once
  after the last round), printing one JSON line per operation.
- ``crash``: random release operations on one model until killed, reporting every
  step on stdout as ``M <index> <marker> [json]`` *before* it happens, as
  ``crash_worker.py`` does: ``op.begin``/``op.done`` around each operation (``op.done``
  carries the aliases and stages the worker reads right after it), ``tx.begin``,
  ``sql`` and ``commit`` for the database. With ``halt_at`` >= 0 it stops at that marker,
  prints ``HALT`` and waits to be killed.
"""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path
from typing import Any

cfg = json.loads(sys.argv[1])
MODE = cfg["mode"]
# A full git commit id: registration refuses anything else.
COMMIT = "c0ffee" + "0" * 34
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


if MODE == "crash":
    # Instrument the process (never the library files): SQLAlchemy events of every
    # engine the registry creates, as crash_worker.py does.
    import sqlalchemy as sa
    from sqlalchemy import event

    _create_engine = sa.create_engine

    def _traced_engine(*args: Any, **kwargs: Any) -> sa.Engine:
        engine = _create_engine(*args, **kwargs)

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
                mark("commit")  # a pipelined write (PostgreSQL) sends COMMIT as a statement
                return
            mark("sql", s=verb, w=writing(conn))

        @event.listens_for(engine, "commit")
        def _commit(conn: sa.Connection) -> None:
            if writing(conn):
                mark("commit")

        return engine

    sa.create_engine = _traced_engine  # type: ignore[assignment]

from modelbook import ModelbookError, Registry  # noqa: E402

if MODE == "crash":
    mark("open")
reg = Registry(cfg["uri"], blob_uri=cfg["blob_uri"], actor=cfg.get("actor", "worker"))
if MODE == "crash":
    mark("opened")


def say(**item: object) -> None:
    print(json.dumps(item, sort_keys=True), flush=True)


def attempt(op: str, call: Any, *args: Any, **kwargs: Any) -> dict[str, object]:
    """Run ``call(*args, **kwargs)``; what it did, or the kind of error it raised."""
    try:
        out = call(*args, **kwargs)
    except ModelbookError as exc:
        return {"op": op, "ok": False, "error": type(exc).__name__, "message": str(exc)}
    result: dict[str, object] = {"op": op, "ok": True}
    for attr in ("from_version", "to_version", "number", "version"):
        value = getattr(out, attr, None)
        if isinstance(value, int):
            result[attr] = value
    return result


# rounds: one operation per round, released together -----------------------------------------


def rounds() -> None:
    model = cfg["model"]
    played = 0
    while True:
        print("ready", flush=True)
        words = sys.stdin.readline().split()
        if not words or words[0] == "stop":
            return
        played += 1
        op, args = words[1], words[2:]
        reason = f"{cfg['actor']} round {played}: {' '.join(words[1:])}"
        expect = None if args[-1] == "-" else int(args[-1])
        if op == "deploy":
            number, alias = int(args[0]), args[1]
            uri = f"models:/{model}/{number}"
            out = attempt("deploy", reg.deploy, uri, alias=alias, reason=reason, expect=expect)
            say(**out, to=number, reason=reason)
        elif op == "rollback":
            out = attempt(
                "rollback",
                reg.rollback,
                model,
                alias=args[0],
                reason_code="race",
                note=reason,
                expect=expect,
            )
            say(**out, reason=reason)
        else:
            raise SystemExit(f"unknown operation {op!r}")


# writer: the whole flow on one's own model ----------------------------------------------------


def writer() -> None:
    model = cfg["model"]
    folder = Path(cfg["files_dir"]) / model
    folder.mkdir(parents=True)
    print("ready", flush=True)
    assert sys.stdin.readline().strip() == "go"
    reviewer, deployer = cfg["reviewer"], cfg["deployer"]
    for i in range(cfg["rounds"]):
        path = folder / f"{i}.bin"
        path.write_bytes(os.urandom(512))
        v = reg.register(
            model, [path], owners="team", code={"commit": COMMIT}, capture_environment=False
        )
        say(op="register", ok=True, version=v.number)
        steps: list[tuple[str, Any, tuple[Any, ...], dict[str, Any]]] = [
            ("promote", reg.promote, (v.uri,), {"to": "candidate"}),
            ("approve", reg.approve, (v.uri,), {"actor": reviewer}),
            ("deploy", reg.deploy, (v.uri,), {"reason": f"round {i}", "actor": deployer}),
            ("observe", reg.observe, (v.uri, "ctr@online", 0.03 + i / 1000), {}),
            ("comment", reg.comment, (v.uri, f"round {i} shipped"), {}),
        ]
        if i == cfg["rounds"] - 1:
            steps.append(
                ("rollback", reg.rollback, (model,), {"reason_code": "drill", "actor": deployer})
            )
        for op, call, args, kwargs in steps:
            say(**attempt(op, call, *args, **kwargs))


# crash: random operations until killed -------------------------------------------------------


def snapshot(model: str) -> dict[str, object]:
    """Aliases, stages and deprecation of the model, as the worker reads them now."""
    versions = reg.versions(model, limit=1000).items
    return {
        "aliases": {a.name: a.version for a in reg.aliases(model)},
        "stages": {str(v.number): v.stage.value for v in versions},
        "deprecated": sorted(v.number for v in versions if v.deprecated),
    }


def crash() -> None:
    rng = random.Random(cfg["seed"])
    model = cfg["model"]
    files = Path(cfg["files_dir"])
    serving = cfg["serving"]
    deployer, reviewer = cfg["deployer"], cfg["reviewer"]
    weights = cfg["weights"]
    kinds = list(weights)
    for i in range(cfg.get("max_ops", 10_000)):
        versions = reg.versions(model, limit=1000).items
        by_stage: dict[str, list[int]] = {}
        for v in versions:
            by_stage.setdefault(v.stage.value, []).append(v.number)
        aliases = {a.name: a.version for a in reg.aliases(model)}
        kind = rng.choices(kinds, [weights[k] for k in kinds])[0]
        tag = f"{cfg['seed']}-{i}"
        detail: dict[str, object] = {"op": kind, "tag": tag}
        call: Any
        args: tuple[Any, ...] = ()
        kwargs: dict[str, Any] = {}
        if kind == "register" or not versions:
            path = files / f"{tag}.bin"
            path.write_bytes(rng.randbytes(rng.randrange(64, 4096)))
            detail["op"] = "register"
            call, args = reg.register, (model, [path])
            kwargs = {"owners": "crash", "code": {"commit": COMMIT}, "capture_environment": False}
        elif kind == "promote" and by_stage.get("staging"):
            n = rng.choice(by_stage["staging"])
            detail["version"] = n
            call, args, kwargs = reg.promote, (f"models:/{model}/{n}",), {"auto": True}
        elif kind == "approve" and by_stage.get("candidate"):
            n = rng.choice(by_stage["candidate"])
            detail["version"] = n
            call, args, kwargs = reg.approve, (f"models:/{model}/{n}",), {"actor": reviewer}
        elif kind == "deploy" and (by_stage.get("approved") or by_stage.get("deployed")):
            n = rng.choice(by_stage.get("approved", []) + by_stage.get("deployed", []))
            alias = rng.choice(serving)
            detail.update(version=n, alias=alias)
            call, args = reg.deploy, (f"models:/{model}/{n}",)
            kwargs = {"alias": alias, "reason": tag, "actor": deployer}
        elif kind == "rollback" and any(a in aliases for a in serving):
            alias = rng.choice([a for a in serving if a in aliases])
            detail["alias"] = alias
            call, args = reg.rollback, (model,)
            kwargs = {"alias": alias, "reason_code": "crash_loop", "note": tag, "actor": deployer}
        elif kind == "swap" and len(aliases) >= 2:
            first, second = rng.sample(sorted(aliases), 2)
            detail.update(first=first, second=second)
            call, args = reg.swap_aliases, (model, first, second)
            kwargs = {"reason": tag, "actor": deployer}
        elif kind == "champion" and versions:
            n = rng.choice([v.number for v in versions])
            detail["version"] = n
            call, args = reg.set_alias, (model, "champion", n)
            kwargs = {"reason": tag, "actor": deployer}
        elif kind == "healthy" and by_stage.get("deployed"):
            n = rng.choice(by_stage["deployed"])
            detail["version"] = n
            call, args = reg.mark_healthy, (f"models:/{model}/{n}",)
            kwargs = {"signal": tag, "actor": deployer}
        else:
            continue
        mark("op.begin", **detail)
        outcome = attempt(str(detail["op"]), call, *args, **kwargs)
        mark(
            "op.done",
            **detail,
            ok=outcome["ok"],
            error=outcome.get("error"),
            state=snapshot(model),
        )
    mark("exhausted")


{"rounds": rounds, "writer": writer, "crash": crash}[MODE]()
reg.close()
