"""``modelbook bom URI``: a version's bill of materials (CycloneDX 1.6 JSON).

The registry builds and schema-checks the document (:meth:`~modelbook.Registry.bom`);
this module prints it or writes it to ``--output`` whole: a temporary file in the
same folder renamed into place, so the file is never left half written.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from .app import app, open_registry
from .render import line, safe, write_whole


@app.command()
def bom(
    uri: Annotated[str, typer.Argument(help="models:/NAME/N, /SEMVER, @ALIAS or /latest.")],
    fmt: Annotated[str, typer.Option("--format", help="cyclonedx (JSON, spec 1.6).")] = (
        "cyclonedx"
    ),
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file, not stdout (-: stdout)."),
    ] = None,
) -> None:
    """Export a version as a CycloneDX ML bill of materials: the model, its files with
    SHA-256, datasets, Python and framework packages, code commit and parents."""
    with open_registry(create=False) as registry:
        text = registry.bom(uri, format=fmt)
    if output is None or str(output) == "-":
        sys.stdout.write(text + "\n")
        return
    write_whole(output, text + "\n")
    line(f"wrote {safe(str(output))}", err=True)
