"""Commands that load a version's model: ``predict``, ``smoke``, ``scan`` and ``env-check``.

The registry does the work (:meth:`Registry.load`, :meth:`Registry.smoke`,
:meth:`Registry.scan`); these commands read the input file and print what it
returns. Frameworks are imported only when a model is loaded.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from .app import JsonOpt, app, open_registry
from .release import UriArg
from .render import emit_json, line, safe

AllowUnsafeOpt = Annotated[
    bool,
    typer.Option(
        "--allow-unsafe",
        help="Load a pickle the scan refused (recorded with your name).",
    ),
]
FlavorOpt = Annotated[
    str | None, typer.Option(metavar="NAME", help="The flavor, if not declared or detected.")
]


@app.command()
def predict(
    uri: UriArg,
    input: Annotated[
        Path, typer.Option("--input", metavar="FILE", help="Inputs: .csv, .parquet or .npy.")
    ],
    flavor: FlavorOpt = None,
    allow_unsafe: AllowUnsafeOpt = False,
    check_environment: Annotated[
        bool,
        typer.Option(
            "--check-environment",
            help="Compare this environment with the recorded one first (MODELBOOK_ENV_DRIFT).",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Load a version's model and predict on the inputs in a file, checked against its
    signature."""
    import warnings

    from .. import sample as samples
    from ..contract import as_signature
    from ..drift import EnvironmentDriftWarning
    from ..errors import InvalidInput, ModelbookError

    # What the model prints while it loads and predicts goes to stderr: stdout carries
    # the predictions (one JSON document with --json).
    with model_output_to_stderr():
        with open_registry(create=False) as registry:
            version = registry.get_version(uri)
            sig = as_signature(version.contract)
            # Every row is predicted: the sample reader's cut is for stored samples only.
            data = samples.read_file(input, samples.MAX_ROWS, None if sig is None else sig.inputs)
            with warnings.catch_warnings():
                # Rendered below as lines of this command's own, not as a Python warning.
                warnings.simplefilter("ignore", EnvironmentDriftWarning)
                predictor = registry.load(
                    version.uri,
                    flavor=flavor,
                    allow_unsafe=allow_unsafe,
                    check_environment=check_environment,
                )
        report = predictor.environment
        if report is not None and report.mode == "warn":
            if report.status == "not-recorded":
                line(safe(f"warning: environment: {report.summary()}"), err=True)
            for d in report.differences:
                line(safe(f"warning: environment: {d.line()}"), err=True)
        try:
            raw = predictor.predict(data)
        except ModelbookError:
            raise
        except Exception as exc:  # noqa: BLE001 - the model's own failure, named as such
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            raise InvalidInput(
                f"the model of {version.uri} raised {type(exc).__name__} while predicting: {first}"
            ) from None
    for problem in predictor.output_problems(raw, samples.row_count(data)):
        line(safe(f"warning: the outputs break the output signature: {problem}"), err=True)
    outputs = _plain(raw)
    if as_json:
        try:  # the document is built whole before a byte is written
            emit_json({"uri": version.uri, "flavor": predictor.flavor.name, "outputs": outputs})
        except (TypeError, ValueError) as exc:
            raise InvalidInput(
                f"the outputs of {version.uri} ({type(raw).__name__}) cannot be written as "
                f"JSON: {exc}"
            ) from None
    else:
        for value in outputs if isinstance(outputs, list) else [outputs]:
            line(safe(str(value)))


def _plain(outputs: Any) -> Any:
    """Outputs as JSON-safe values (lists of numbers, text, or records) where they can be."""
    if hasattr(outputs, "to_dict") and hasattr(outputs, "columns"):
        return outputs.to_dict(orient="records")
    if hasattr(outputs, "tolist"):
        return outputs.tolist()
    if isinstance(outputs, Mapping):
        return {str(k): _plain(v) for k, v in outputs.items()}
    if isinstance(outputs, list | tuple):
        return [_plain(v) for v in outputs]
    return outputs


@contextlib.contextmanager
def model_output_to_stderr() -> Iterator[None]:
    """Send what is written to standard output meanwhile to standard error: Python's
    ``print`` and ``sys.stdout``, and what C code writes to file descriptor 1 (``printf``,
    ``write(1, ...)``: LightGBM's C++ log lines, a native library's banner) alike.

    Standard output is kept for the command's own output; the real descriptor comes
    back when the block ends, after whatever C's stdio buffered meanwhile was
    flushed to where it was meant to go.
    """
    sys.stdout.flush()
    _flush_c_stdio()
    saved: int | None = None
    with contextlib.suppress(OSError):  # no descriptor 1 or 2: nothing to keep apart
        saved = os.dup(1)
        try:
            os.dup2(2, 1)
        except OSError:
            os.close(saved)
            saved = None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        for stream in (sys.stdout, sys.__stdout__):
            if stream is not None:
                with contextlib.suppress(OSError, ValueError):  # closed by the model
                    stream.flush()
        _flush_c_stdio()
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)


def _flush_c_stdio() -> None:
    """Flush C's stdio buffers (``fflush(NULL)``): ``printf`` to a pipe is buffered."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        import ctypes

        ctypes.CDLL(None).fflush(None)


@app.command()
def smoke(
    uri: UriArg,
    timeout: Annotated[
        float | None, typer.Option(metavar="SECONDS", help="Wall-clock limit (default 120).")
    ] = None,
    memory: Annotated[
        int | None, typer.Option(metavar="MIB", help="Address-space limit (default 4096).")
    ] = None,
    flavor: FlavorOpt = None,
    allow_unsafe: AllowUnsafeOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Smoke-test a version: load it in a fresh subprocess under limits, predict on its
    stored sample, check the outputs; recorded. Exits 9 when the test fails."""
    with open_registry(create=False) as registry:
        version = registry.get_version(uri)
        result = registry.smoke(
            version.uri,
            timeout_s=timeout,
            memory_mb=memory,
            flavor=flavor,
            allow_unsafe=allow_unsafe,
        )
    if as_json:
        emit_json({"uri": version.uri, **result.model_dump(mode="json")})
    else:
        verdict = "passed" if result.passed else "FAILED"
        line(f"smoke test of {safe(version.uri)} {verdict}: {safe(result.message)}")
    if not result.passed:
        from ..errors import GateFailed

        # A check that failed, as a refused gate or a rollback drill not ready: not a bug (1).
        raise typer.Exit(GateFailed.exit_code)


@app.command()
def scan(uri: UriArg, as_json: JsonOpt = False) -> None:
    """Scan a version's pickle-based files for code that runs on load; recorded.
    Exits 11 when one is dangerous or cannot be scanned."""
    with open_registry(create=False) as registry:
        version = registry.get_version(uri)
        report = registry.scan(version.uri)
    if as_json:
        emit_json(
            {
                "uri": version.uri,
                "scanner": report.scanner,
                "verdict": report.verdict,
                "files": [f.model_dump(mode="json") for f in report.files],
            }
        )
    else:
        line(f"{safe(version.uri)}: {safe(report.summary())}")
        for f in report.files:
            found = ", ".join(f.dangerous or f.suspicious) or f.error or "nothing"
            line(f"  {safe(f.path)}: {f.verdict} ({safe(found)})")
    if report.unsafe:
        from ..errors import UnsafeArtifact

        raise typer.Exit(UnsafeArtifact.exit_code)


@app.command("env-check")
def env_check(uri: UriArg, as_json: JsonOpt = False) -> None:
    """Compare this environment with the one a version was registered in; list what differs.

    Exits 12 under MODELBOOK_ENV_DRIFT=refuse when a difference is blocking.
    """
    from .. import drift

    with open_registry(create=False) as registry:
        report = registry.env_check(uri)
    if as_json:
        emit_json(
            {
                "uri": report.uri,
                "mode": report.mode,
                "status": report.status,
                "drifted": report.drifted,
                "differences": [
                    {
                        "what": d.what,
                        "recorded": d.recorded,
                        "current": d.current,
                        "blocking": d.blocking,
                    }
                    for d in report.differences
                ],
                "checked": list(report.checked),
                "unchecked": list(report.unchecked),
            }
        )
    else:
        if report.status != "differs":
            line(safe(report.summary()))
        for d in report.differences:
            line(safe(d.line()))
        if report.unchecked:
            line(f"not recorded, not checked: {', '.join(report.unchecked)}")
    drift.refuse_if_drifted(report)
