"""One of several processes racing on the same registry.

Run as ``python race_worker.py CONFIG_JSON``; prints one JSON object per result.

- ``mixed``: after ``go``, ``ops`` times: register a version of a random model and
  point its ``champion`` alias at it, unconditionally or with ``expect`` set to
  what this worker just read (compare-and-set).
- ``first``: after ``go``, register one version of each of ``models`` (brand-new
  models: every worker races to create them).
- ``cas``: per round, says ``ready``, reads ``go OP ALIAS EXPECT TARGET`` and
  tries that one conditional move (``OP`` is ``set`` or ``delete``).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from modelbook import ModelbookError, Registry

cfg = json.loads(sys.argv[1])
wid = cfg["worker"]
reg = Registry(cfg["uri"], blob_uri=cfg["blob_uri"], actor=f"w{wid}")


def say(**item: object) -> None:
    print(json.dumps(item, sort_keys=True), flush=True)


def mixed() -> None:
    rng = random.Random(cfg["seed"])
    folder = Path(cfg["files_dir"]) / f"w{wid}"
    folder.mkdir(parents=True)
    print("ready", flush=True)
    assert sys.stdin.readline().strip() == "go"
    for j in range(cfg["ops"]):
        model = rng.choice(cfg["models"])
        path = folder / f"{j}.bin"
        path.write_bytes(rng.randbytes(rng.randrange(10, 5000)))
        v = reg.register(
            model, [path], owners="racer", tags={"by": f"w{wid}"}, capture_environment=False
        )
        say(op="register", model=model, number=v.number)
        expect = None
        if rng.random() < 0.5:
            current = {a.name: a.version for a in reg.aliases(model)}
            expect = current.get("champion", 0)
        reason = f"w{wid}-{j}"
        try:
            reg.set_alias(model, "champion", v.number, reason=reason, expect=expect)
            say(op="move", model=model, to=v.number, expect=expect, reason=reason, ok=True)
        except ModelbookError as exc:
            say(
                op="move",
                model=model,
                to=v.number,
                expect=expect,
                reason=reason,
                ok=False,
                error=type(exc).__name__,
            )


def first() -> None:
    folder = Path(cfg["files_dir"]) / f"w{wid}"
    folder.mkdir(parents=True)
    print("ready", flush=True)
    assert sys.stdin.readline().strip() == "go"
    for model in cfg["models"]:
        path = folder / f"{model}.bin"
        path.write_bytes(f"{model} by w{wid}".encode())
        v = reg.register(model, [path], owners=f"w{wid}", capture_environment=False)
        say(op="register", model=model, number=v.number)


def cas() -> None:
    while True:
        print("ready", flush=True)
        line = sys.stdin.readline().split()
        if not line or line[0] == "stop":
            return
        op, alias, expect, target = line[1], line[2], int(line[3]), int(line[4])
        reason = f"w{wid} {op} {alias} {expect}->{target}"
        try:
            if op == "set":
                reg.set_alias(cfg["model"], alias, target, reason=reason, expect=expect)
            else:
                reg.delete_alias(cfg["model"], alias, reason=reason, expect=expect)
            say(ok=True, reason=reason)
        except ModelbookError as exc:
            say(ok=False, error=type(exc).__name__, message=str(exc))


{"mixed": mixed, "first": first, "cas": cas}[cfg["mode"]]()
reg.close()
