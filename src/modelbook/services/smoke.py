"""The smoke test: a version loaded and called on its stored sample, in a fresh subprocess.

The parent stages the version (files verified, flavor picked, pickles scanned:
:meth:`LoadService.stage`) and starts ``python -m modelbook.flavors.worker``
in a new session with ``RLIMIT_AS`` and ``RLIMIT_CPU`` set; it waits at most
``timeout_s`` seconds and then kills the whole process tree: the group, every
descendant, and every process the model started that left the group or was
orphaned (:func:`modelbook.processes.kill_tree`). What the model left running
when it finished is killed the same way. Whatever the
model does (fails to load, raises, hangs, exhausts memory, returns outputs
that break the contract, kills its process) becomes a failed
:class:`~modelbook.smoke.SmokeRecord` with the reason; the record is kept on
the version (``version.smoke``) and read by the ``smoke_test`` gate check.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from .. import processes, uris
from ..contract import SAMPLE_PATH
from ..errors import InvalidInput, UnsafeArtifact, shown
from ..flavors.worker import memory_note, out_of_memory
from ..processes import PACKAGE_ROOT
from ..smoke import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, SmokeRecord
from ..store.rows import to_dt
from . import audit as log
from . import notes
from .base import Context, version_row
from .loading import LoadService

MAX_TIMEOUT_S = 3600.0
MIN_MEMORY_MB = 256
#: 1 TiB of address space: more is a typo, and would overflow the limit on some systems.
MAX_MEMORY_MB = 1024 * 1024


def limits(timeout_s: float | None, memory_mb: int | None) -> tuple[float, int]:
    """The limits, defaulted and checked: ``timeout_s`` in (0, MAX_TIMEOUT_S] seconds,
    ``memory_mb`` a whole number of MiB in [MIN_MEMORY_MB, MAX_MEMORY_MB]; InvalidInput
    naming the range otherwise."""
    t = DEFAULT_TIMEOUT_S if timeout_s is None else timeout_s
    m = DEFAULT_MEMORY_MB if memory_mb is None else memory_mb
    if isinstance(t, bool) or not isinstance(t, int | float) or not 0 < t <= MAX_TIMEOUT_S:
        raise InvalidInput(f"timeout must be more than 0 and at most {MAX_TIMEOUT_S:.0f} seconds")
    if isinstance(m, bool) or not isinstance(m, int) or not MIN_MEMORY_MB <= m <= MAX_MEMORY_MB:
        raise InvalidInput(
            f"memory limit must be a whole number of MiB from {MIN_MEMORY_MB} to "
            f"{MAX_MEMORY_MB} (1 TiB), got {shown(m)}"
        )
    return float(t), m


class SmokeService:
    def __init__(self, ctx: Context, loading: LoadService) -> None:
        self.ctx = ctx
        self.loading = loading

    def run(
        self,
        uri: str,
        *,
        actor: str,
        timeout_s: float | None = None,
        memory_mb: int | None = None,
        flavor: str | None = None,
        allow_unsafe: bool = False,
    ) -> SmokeRecord:
        """Smoke-test the version ``uri`` names and record the outcome (see ``Registry.smoke``)."""
        timeout, memory = limits(timeout_s, memory_mb)
        version = self.loading.versions.get(uri)
        base: dict[str, Any] = {"timeout_s": timeout, "memory_mb": memory, "actor": actor}
        if not any(a.path == SAMPLE_PATH for a in version.artifacts):
            return self._record(
                version.uri,
                passed=False,
                message="no stored input sample: register the version with --sample",
                **base,
            )
        try:
            staged = self.loading.stage(
                version.uri,
                actor=actor,
                flavor=flavor,
                allow_unsafe=allow_unsafe,
                purpose="smoke",
            )
        except (InvalidInput, UnsafeArtifact) as exc:
            return self._record(version.uri, passed=False, message=str(exc), **base)
        try:
            request = {
                "uri": version.uri,
                "folder": str(staged.folder),
                "path": staged.path,
                "flavor": staged.flavor.name,
                "signature": None
                if staged.signature is None
                else staged.signature.model_dump(mode="json"),
                "memory_mb": memory,
                "timeout_s": timeout,
                "allow_unsafe": allow_unsafe,
                "result": str(staged.folder / ".modelbook-smoke-result.json"),
            }
            outcome = spawn_worker(request, staged.folder, timeout)
        finally:
            staged.cleanup()
        return self._record(
            version.uri,
            flavor=staged.flavor.name,
            path=staged.path,
            **{k: v for k, v in outcome.items() if k in SmokeRecord.model_fields},
            **base,
        )

    def _record(self, uri: str, **fields: Any) -> SmokeRecord:
        ref = uris.parse(uri)
        now = self.ctx.clock()
        value = SmokeRecord.model_validate({**fields, "at": to_dt(now)})
        with self.ctx.db.write() as conn:
            row = version_row(conn, ref, lock=True)
            notes.record(
                conn,
                row,
                ref.name,
                value,
                "smoke",
                action="version.smoke",
                head=log.Head.of_model(ref.name, row),
            )
        return value


# What the subprocess runs. Under -P its working folder is not put first on its path,
# and this modelbook is, so a folder there named like a module (modelbook, numpy) is
# never run in its place.
_BOOTSTRAP = (
    "import sys\n"
    f"sys.path.insert(0, {PACKAGE_ROOT!r})\n"
    "from modelbook.flavors.worker import main\n"
    "main()\n"
)


def spawn_worker(request: dict[str, Any], folder: Path, timeout: float) -> dict[str, Any]:
    """Run the worker on ``request``; its outcome, or why it gave none."""
    req_file = folder / ".modelbook-smoke-request.json"
    req_file.write_text(json.dumps(request))
    env = dict(os.environ)
    # The child imports what this process can: the model's own classes included. An
    # empty entry is this process's working folder, which the child inherits.
    env["PYTHONPATH"] = os.pathsep.join(p or os.getcwd() for p in sys.path)
    # One thread each: thread pools reserve address space that would count against the limit.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    # Arrow's jemalloc reserves address space in large chunks; under a limit of a few
    # hundred MiB reading the sample then hangs instead of failing.
    env.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    # Inherited by whatever the model starts: found and killed even outside the group.
    run = uuid.uuid4().hex
    env[processes.MARKER] = run
    with (folder / ".modelbook-smoke-stderr").open("w+b") as err:
        proc = subprocess.Popen(
            [sys.executable, "-P", "-c", _BOOTSTRAP, str(req_file)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
            start_new_session=True,  # its own process group: a timeout kills its children too
        )
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            peak = _address_space_peak_mb(proc.pid)
            _kill(proc, run)
            message = f"did not finish within {timeout:g} s: killed"
            memory = int(request["memory_mb"])
            if peak is not None and peak >= memory * 0.95:
                # A library whose threads or memory could not be had under the limit
                # may wait forever (Arrow does) instead of failing.
                message += f"; it had used {peak} MiB of address space" + memory_note(memory)
            return {"passed": False, "message": message}
        # Whatever the model started and left running ends with the test.
        processes.kill_tree(None, run)
        err.seek(0)
        tail = err.read()[-2000:].decode("utf-8", "replace").strip().splitlines()
    result = Path(request["result"])
    if result.is_file():
        try:
            found: dict[str, Any] = json.loads(result.read_text())
            return found
        except ValueError:
            pass
    memory = int(request["memory_mb"])
    note = memory_note(memory) if out_of_memory("\n".join(tail)) else ""
    if code < 0:
        why = signal.Signals(-code).name
        if why == "SIGKILL" and not note:
            note = f" (the CPU time limit, or memory: the limit of {memory} MiB may be too low)"
        elif why == "SIGXCPU":
            note = " (the CPU time limit)"
        message = f"the subprocess was killed by {why}"
    else:
        message = f"the subprocess exited with code {code} without a result"
    return {"passed": False, "message": message + (f": {tail[-1][:300]}" if tail else "") + note}


def _address_space_peak_mb(pid: int) -> int | None:
    """The most address space (MiB) the live process ``pid`` has used (Linux), or None."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for row in status.splitlines():
        if row.startswith("VmPeak:"):
            return int(row.split()[1]) // 1024  # in kB
    return None


def _kill(proc: subprocess.Popen[bytes], run: str) -> None:
    processes.kill_tree(proc.pid, run)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


__all__ = ["SmokeService", "limits", "spawn_worker"]
