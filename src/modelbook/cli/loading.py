"""Commands that load a version's model: ``predict``, ``smoke``, ``scan`` and ``env-check``.

The registry does the work (:meth:`Registry.load`, :meth:`Registry.smoke`,
:meth:`Registry.scan`); these commands read the input file and print what it
returns. Frameworks are imported only when a model is loaded.
"""

from __future__ import annotations

import contextlib
import sys
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
    # What the model itself prints goes to stderr: stdout carries the predictions
    # (one JSON document with --json).
    with contextlib.redirect_stdout(sys.stderr):
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
        emit_json({"uri": version.uri, "flavor": predictor.flavor.name, "outputs": outputs})
    else:
        for value in outputs if isinstance(outputs, list) else [outputs]:
            line(safe(str(value)))


def _plain(outputs: Any) -> Any:
    """Outputs as JSON-safe values (lists of numbers, text, or records)."""
    if hasattr(outputs, "to_dict") and hasattr(outputs, "columns"):
        return outputs.to_dict(orient="records")
    if hasattr(outputs, "tolist"):
        return outputs.tolist()
    return outputs


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
    stored sample, check the outputs; recorded. Exits 1 when the test fails."""
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
        raise typer.Exit(1)


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
