"""``modelbook tag``: set and remove tags of a version or a model."""

from __future__ import annotations

from typing import Annotated

import typer

from .app import JsonOpt, app, open_registry
from .render import emit_json, line, safe


@app.command()
def tag(
    uri: Annotated[
        str, typer.Argument(help="A version (models:/NAME/N) or a model (models:/NAME).")
    ],
    items: Annotated[list[str], typer.Argument(help="KEY=VALUE to set.")] = [],  # noqa: B006
    rm: Annotated[list[str], typer.Option("--rm", help="Key to remove.")] = [],  # noqa: B006
    as_json: JsonOpt = False,
) -> None:
    """Set or remove tags of a version (models:/NAME/N) or a model (models:/NAME)."""
    from .. import uris, validation

    target = str(uris.parse(uri))
    changes = validation.key_values(items)
    with open_registry(create=False) as registry:
        tags = registry.set_tags(uri, changes, remove=rm)
    if as_json:
        emit_json({"uri": target, "tags": dict(tags)})
    else:
        line(safe(", ".join(f"{k}={v}" for k, v in tags.items())) or "(no tags)")
