"""Reading commands: ``models``, ``versions``, ``show`` and ``resolve``.

None of them writes; each opens the registry with ``create=False``, so a
mistyped path or URI is reported instead of becoming an empty registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from .app import JsonOpt, LimitOpt, PageTokenOpt, app, open_registry
from .render import (
    change_lines,
    emit_json,
    fmt_time,
    heading,
    line,
    page_footer,
    page_json,
    safe,
    table,
    version_json,
)

if TYPE_CHECKING:
    from ..contract import FieldSpec
    from ..domain import Model, Version

WhereOpt = Annotated[
    str | None, typer.Option(help="Only those a query matches (see docs/search.md).")
]
MODEL_COLUMNS = ("name", "versions", "owners", "task", "risk", "created")


def _model_row(m: Model) -> tuple[str, ...]:
    return (
        m.name,
        str(m.latest_version),
        ", ".join(m.owners),
        m.task or "",
        m.risk_tier,
        fmt_time(m.created_at),
    )


@app.command()
def models(
    where: WhereOpt = None,
    limit: LimitOpt = 100,
    page_token: PageTokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List models, newest first (--where: those a query of model fields matches)."""
    with open_registry(create=False) as registry:
        page = registry.models(where=where, limit=limit, page_token=page_token)
    if as_json:
        emit_json(page_json("models", page, [m.model_dump(mode="json") for m in page.items]))
        return
    table(MODEL_COLUMNS, map(_model_row, page.items))
    page_footer(page)


@app.command()
def versions(
    name: Annotated[str, typer.Argument(help="Model name.")],
    limit: LimitOpt = 100,
    page_token: PageTokenOpt = None,
    oldest_first: Annotated[bool, typer.Option(help="Oldest first.")] = False,
    where: WhereOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the versions of a model, newest first (--where: those a query matches)."""
    with open_registry(create=False) as registry:
        page = registry.versions(
            name,
            limit=limit,
            page_token=page_token,
            newest_first=not oldest_first,
            where=where,
        )
    if as_json:
        emit_json(page_json("versions", page, [version_json(v) for v in page.items]))
        return
    table(
        ("#", "semver", "stage", "aliases", "files", "bytes", "created", "by"),
        (
            (
                str(v.number),
                v.semver,
                str(v.stage) + (" (deprecated)" if v.deprecated else ""),
                ", ".join(v.aliases),
                str(len(v.artifacts)),
                str(v.size),
                fmt_time(v.created_at),
                v.created_by,
            )
            for v in page.items
        ),
    )
    page_footer(page)


def _show_version(v: Version) -> None:
    from ..lineage_urls import shown_version

    v = shown_version(v)
    heading(
        f"{safe(v.uri)}  semver {safe(v.semver)}  stage {safe(str(v.stage))}"
        + ("  deprecated" if v.deprecated else "")
    )
    line(f"created {fmt_time(v.created_at)} by {safe(v.created_by)}")
    if v.aliases:
        line("aliases: " + safe(", ".join(v.aliases)))
    if v.change_summary:
        line(f"note: {safe(v.change_summary)}")
    for text in change_lines(v):
        line(safe(text))
    table(
        ("path", "size", "sha256"),
        ((a.path, str(a.size), a.sha256) for a in v.artifacts),
        title="artifacts",
    )
    if v.metrics:
        table(
            ("metric", "split", "slice", "value"),
            ((m.name, m.split or "", m.slice_key, f"{m.value:g}") for m in v.metrics),
            title="metrics",
        )
    code = v.lineage.code
    line(
        f"code: {safe(code.repo or '-')} @ {safe(code.commit or '-')}"
        + (" (dirty)" if code.dirty else "")
    )
    if v.lineage.data:
        line("data: " + safe(", ".join(d.snapshot for d in v.lineage.data)))
    if v.training.params:
        line("params: " + safe(", ".join(f"{k}={x}" for k, x in v.training.params.items())))
    env = v.environment
    line(
        f"python {safe(env.python or '-')} on {safe(env.platform or '-')}; "
        f"packages {safe(env.packages_sha256 or '-')}"
    )
    if v.tags:
        line("tags: " + safe(", ".join(f"{k}={x}" for k, x in v.tags.items())))
    for c in v.caveats:
        line(f"caveat: {safe(c)}")
    _show_contract(v)


def _show_contract(v: Version) -> None:
    """The contract: each schema's fields, the runtime and the stored sample."""
    from ..contract import as_signature

    if v.contract is None:
        line("contract: none")
        return
    sig = as_signature(v.contract)
    if sig is None:
        line("contract: free-form, keys " + safe(", ".join(sorted(str(k) for k in v.contract))))
        return
    for side, schema in (("inputs", sig.inputs), ("outputs", sig.outputs)):
        if schema is None:
            line(f"{side}: not declared")
            continue
        table(
            ("field", "dtype", "shape", "nullable"),
            (
                (f.name, _dtype_text(f), str(list(f.shape)), "yes" if f.nullable else "no")
                for f in schema.fields
            ),
            title=f"{side} ({schema.kind})",
        )
    rt = sig.runtime
    line(f"runtime: {safe(rt.framework or '-')} {safe(rt.framework_version or '')}".rstrip())
    if sig.sample is not None:
        cut = " (cut: more rows were given)" if sig.sample.truncated else ""
        line(f"sample: {sig.sample.rows} rows in {sig.sample.path}{cut}")


def _dtype_text(field: FieldSpec) -> str:
    """A field's dtype, with the time zone a date-time field is read in."""
    return field.dtype if field.tz is None else f"{field.dtype} (tz {field.tz})"


@app.command()
def show(
    uri: Annotated[str, typer.Argument(help="models:/NAME/N, /SEMVER, @ALIAS, or models:/NAME.")],
    as_json: JsonOpt = False,
) -> None:
    """Show a version (models:/NAME/N, /SEMVER, @ALIAS) or a model (models:/NAME)."""
    from .. import uris

    ref = uris.parse(uri)
    if ref.kind == "model":
        _show_model(ref.name, as_json)
        return
    from .notes import annotations_json, print_annotations

    with open_registry(create=False) as registry:
        version = registry.get_version(uri)
        notes = annotations_json(registry, version)
    if as_json:
        emit_json({**version_json(version), "annotations": notes})
    else:
        _show_version(version)
        print_annotations(notes)


def _show_model(name: str, as_json: bool) -> None:
    with open_registry(create=False) as registry:
        model = registry.get_model(name)
        aliases = registry.aliases(name)
    if as_json:
        emit_json(
            {**model.model_dump(mode="json"), "aliases": {a.name: a.version for a in aliases}}
        )
        return
    table(MODEL_COLUMNS, [_model_row(model)])
    for a in aliases:
        line(f"@{safe(a.name)} -> {a.version}")


@app.command()
def resolve(
    uri: Annotated[str, typer.Argument(help="models:/NAME/N, /SEMVER, @ALIAS or /latest.")],
    as_json: JsonOpt = False,
) -> None:
    """Print NAME/NUMBER of the version a URI names."""
    with open_registry(create=False) as registry:
        version = registry.resolve(uri)
    if as_json:
        emit_json(version_json(version))
    else:
        line(f"{safe(version.model)}/{version.number}")
