"""Artifact commands: ``download`` and ``verify``.

The blob store (and fsspec under it) is needed only here and by ``register``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import IntegrityError
from .app import JsonOpt, app, open_registry
from .render import emit_json, line, progress, safe


@app.command()
def download(
    uri: Annotated[str, typer.Argument(help="The version: models:/NAME/N, /SEMVER or @ALIAS.")],
    dest: Annotated[Path, typer.Argument(help="Folder to write the files into.")],
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace files that already exist in DEST.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Download a version's files into DEST, each verified against its sha256.

    All or nothing: a corrupt or missing file leaves DEST as it was.
    """
    with open_registry(create=False) as registry:
        version = registry.get_version(uri)
        label = f"downloading {version.model}/{version.number}"
        with progress(version.size, label) as advance:
            root = registry.download(version.uri, dest, progress=advance, overwrite=overwrite)
    if as_json:
        emit_json(
            {
                "uri": version.uri,
                "dest": str(root),
                "files": [a.model_dump(mode="json") for a in version.artifacts],
            }
        )
    else:
        line(
            f"downloaded {len(version.artifacts)} verified files of {safe(version.uri)} "
            f"to {safe(str(root))}"
        )


@app.command()
def verify(
    name: Annotated[str | None, typer.Argument(help="Only this model.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Rehash stored artifacts; exits non-zero naming each corrupt or missing file.

    First checks each version's artifact rows and the rows search reads (metrics,
    params, lineage) against its stored record: exit 7 naming each that differs.
    """
    with open_registry(create=False) as registry:
        report = registry.verify(name)
    if as_json:
        emit_json({"ok": report.ok, **report.model_dump(mode="json")})
    else:
        for p in report.problems:
            line(
                safe(
                    f"{p.kind}: models:/{p.model}/{p.version} {p.path} "
                    f"(sha256 {p.sha256}): {p.detail}"
                ),
                err=True,
            )
        status = "OK" if report.ok else f"{len(report.problems)} problem(s)"
        line(
            f"verified {report.files} files of {report.versions} versions "
            f"({report.bytes} bytes): {status}"
        )
    if not report.ok:
        raise typer.Exit(IntegrityError.exit_code)
