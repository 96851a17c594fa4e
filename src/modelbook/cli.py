"""The ``modelbook`` command line: a thin front end over :class:`Registry`.

Every command takes ``--json`` for machines and prints a table for people.
Errors are printed on one line to stderr and exit with the code of their
kind (see ``modelbook.errors``); ``--traceback`` shows the stack.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from . import validation
from .domain import Alias, AliasEvent, Model, Version
from .errors import ModelbookError
from .registry import Registry, collect_files

PROGRESS_MIN_BYTES = 16 * 1024 * 1024

app = typer.Typer(
    name="modelbook",
    help="A model registry: immutable versions, verified artifacts, movable aliases.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
alias_app = typer.Typer(help="Move, remove and inspect aliases such as production.")
app.add_typer(alias_app, name="alias")

# markup is off: names, reasons and notes are user text and print verbatim.
out = Console(soft_wrap=True, markup=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True, markup=False)
_state: dict[str, Any] = {"uri": None, "blob_uri": None, "traceback": False}

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


@app.callback()
def _root(
    uri: Annotated[
        str | None, typer.Option(help="Database URI (default: $MODELBOOK_URI or SQLite).")
    ] = None,
    blob_uri: Annotated[
        str | None, typer.Option(help="Blob store URL (default: $MODELBOOK_BLOB_URI).")
    ] = None,
    traceback: Annotated[bool, typer.Option(help="Show the stack trace of an error.")] = False,
) -> None:
    _state.update(uri=uri, blob_uri=blob_uri, traceback=traceback)


def _registry() -> Registry:
    return Registry(_state["uri"], blob_uri=_state["blob_uri"])


def _print_json(value: Any) -> None:
    out.print_json(json.dumps(value, default=str), indent=2)


def _version_json(v: Version) -> dict[str, Any]:
    return {"uri": v.uri, "name": v.model, **v.model_dump(mode="json")}


@contextmanager
def _progress(total: int, label: str) -> Iterator[Any]:
    if total < PROGRESS_MIN_BYTES:
        yield None
        return
    with Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def _fmt_time(v: Any) -> str:
    return str(v.strftime("%Y-%m-%dT%H:%M:%SZ"))


# register -------------------------------------------------------------------


@app.command()
def register(
    name: Annotated[str, typer.Argument(help="Model name; created on first use.")],
    paths: Annotated[list[Path], typer.Argument(help="Files or one directory to store.")],
    owner: Annotated[list[str], typer.Option(help="Owner (needed for a new model).")] = [],  # noqa: B006
    task: Annotated[str | None, typer.Option(help="Task, e.g. classification.")] = None,
    risk: Annotated[str | None, typer.Option(help="Risk tier: low, medium or high.")] = None,
    description: Annotated[str | None, typer.Option(help="Model description.")] = None,
    metric: Annotated[
        list[str], typer.Option(help="NAME[@SPLIT][{K=V,...}]=VALUE, e.g. 'auc{region=eu}=0.91'.")
    ] = [],  # noqa: B006
    tag: Annotated[list[str], typer.Option(help="KEY=VALUE tag of the version.")] = [],  # noqa: B006
    param: Annotated[list[str], typer.Option(help="KEY=VALUE training parameter.")] = [],  # noqa: B006
    data_snapshot: Annotated[list[str], typer.Option(help="Dataset snapshot id.")] = [],  # noqa: B006
    commit: Annotated[str | None, typer.Option(help="Code commit (default: captured).")] = None,
    repo: Annotated[str | None, typer.Option(help="Code repository (default: captured).")] = None,
    features: Annotated[str | None, typer.Option(help="Feature set as NAME[@VERSION].")] = None,
    run_id: Annotated[str | None, typer.Option(help="Pipeline run id.")] = None,
    experiment_id: Annotated[str | None, typer.Option(help="Experiment id.")] = None,
    parent: Annotated[list[str], typer.Option(help="Parent version URI.")] = [],  # noqa: B006
    seed: Annotated[int | None, typer.Option(help="Random seed of training.")] = None,
    semver: Annotated[str | None, typer.Option(help="Explicit MAJOR.MINOR.PATCH.")] = None,
    note: Annotated[str | None, typer.Option(help="Change summary.")] = None,
    caveat: Annotated[list[str], typer.Option(help="Known caveat.")] = [],  # noqa: B006
    image_digest: Annotated[str | None, typer.Option(help="Container image digest.")] = None,
    no_capture: Annotated[
        bool, typer.Option("--no-capture", help="Do not capture environment and git state.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Register a new immutable version from files or a directory."""
    metrics = validation.metrics(
        [
            validation.metric(*validation.split_key_value(item, "metric", last=True))
            for item in metric
        ]
    )
    code: dict[str, Any] = {}
    if commit is not None:
        code.update(commit=commit, dirty=None)
    if repo is not None:
        code["repo"] = repo
    registry = _registry()
    total = sum(p.stat().st_size for _, p in collect_files(paths))
    with _progress(total, f"storing {name}") as advance:
        version = registry.register(
            name,
            paths,
            owners=owner or None,
            task=task,
            risk_tier=risk,
            description=description,
            metrics=metrics,
            tags=validation.key_values(tag, "tag"),
            params=validation.key_values(param, "param"),
            data=data_snapshot,
            code=code or None,
            features=features,
            run_id=run_id,
            experiment_id=experiment_id,
            parents=parent,
            seed=seed,
            semver=semver,
            change_summary=note,
            caveats=caveat,
            environment={"image_digest": image_digest} if image_digest else None,
            capture_environment=not no_capture,
            progress=advance,
        )
    if as_json:
        _print_json(_version_json(version))
    else:
        out.print(
            f"registered {version.uri} (semver {version.semver}, "
            f"{len(version.artifacts)} files, {version.size} bytes)"
        )


# reading ----------------------------------------------------------------------


def _models_table(models: list[Model]) -> Table:
    table = Table("name", "versions", "owners", "task", "risk", "created")
    for m in models:
        table.add_row(
            m.name,
            str(m.latest_version),
            ", ".join(m.owners),
            m.task or "",
            m.risk_tier,
            _fmt_time(m.created_at),
        )
    return table


def _next(token: str | None) -> None:
    if token:
        err.print(f"more: --page-token {token}")


@app.command()
def models(
    limit: Annotated[int, typer.Option(help="Rows per page.")] = 100,
    page_token: Annotated[str | None, typer.Option(help="Token of the next page.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List models, newest first."""
    page = _registry().models(limit=limit, page_token=page_token)
    if as_json:
        _print_json(
            {
                "models": [m.model_dump(mode="json") for m in page.items],
                "next_page_token": page.next_page_token,
            }
        )
        return
    out.print(_models_table(page.items))
    _next(page.next_page_token)


@app.command()
def versions(
    name: str,
    limit: Annotated[int, typer.Option(help="Rows per page.")] = 100,
    page_token: Annotated[str | None, typer.Option(help="Token of the next page.")] = None,
    oldest_first: Annotated[bool, typer.Option(help="Oldest first.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List the versions of a model, newest first."""
    registry = _registry()
    page = registry.versions(
        name, limit=limit, page_token=page_token, newest_first=not oldest_first
    )
    if as_json:
        _print_json(
            {
                "versions": [_version_json(v) for v in page.items],
                "next_page_token": page.next_page_token,
            }
        )
        return
    by_number: dict[int, list[str]] = {}
    for a in registry.aliases(name):
        by_number.setdefault(a.version, []).append(a.name)
    table = Table("#", "semver", "stage", "aliases", "files", "bytes", "created", "by")
    for v in page.items:
        table.add_row(
            str(v.number),
            v.semver,
            v.stage.value,
            ", ".join(by_number.get(v.number, [])),
            str(len(v.artifacts)),
            str(v.size),
            _fmt_time(v.created_at),
            v.created_by,
        )
    out.print(table)
    _next(page.next_page_token)


def _show_version(v: Version) -> None:
    out.print(f"{v.uri}  semver {v.semver}  stage {v.stage.value}", style="bold")
    out.print(f"created {_fmt_time(v.created_at)} by {v.created_by}")
    if v.change_summary:
        out.print(f"note: {v.change_summary}")
    files = Table("path", "size", "sha256", title="artifacts")
    for a in v.artifacts:
        files.add_row(a.path, str(a.size), a.sha256)
    out.print(files)
    if v.metrics:
        mt = Table("metric", "split", "slice", "value", title="metrics")
        for m in v.metrics:
            mt.add_row(m.name, m.split or "", m.slice_key, f"{m.value:g}")
        out.print(mt)
    lin = v.lineage
    out.print(
        f"code: {lin.code.repo or '-'} @ {lin.code.commit or '-'}"
        + (" (dirty)" if lin.code.dirty else "")
    )
    if lin.data:
        out.print("data: " + ", ".join(d.snapshot for d in lin.data))
    if v.training.params:
        out.print("params: " + ", ".join(f"{k}={x}" for k, x in v.training.params.items()))
    env = v.environment
    out.print(
        f"python {env.python or '-'} on {env.platform or '-'}; packages {env.packages_sha256}"
    )
    if v.tags:
        out.print("tags: " + ", ".join(f"{k}={x}" for k, x in v.tags.items()))
    for c in v.caveats:
        out.print(f"caveat: {c}")


@app.command()
def show(uri: str, as_json: JsonOpt = False) -> None:
    """Show a version (models:/NAME/N, /SEMVER, @ALIAS) or a model (models:/NAME)."""
    from . import uris

    registry = _registry()
    ref = uris.parse(uri)
    if ref.kind == "model":
        model = registry.get_model(ref.name)
        aliases = registry.aliases(ref.name)
        if as_json:
            _print_json(
                {
                    **model.model_dump(mode="json"),
                    "aliases": {a.name: a.version for a in aliases},
                }
            )
            return
        out.print(_models_table([model]))
        for a in aliases:
            out.print(f"@{a.name} -> {a.version}")
        return
    version = registry.get_version(uri)
    if as_json:
        _print_json(_version_json(version))
    else:
        _show_version(version)


@app.command()
def resolve(uri: str, as_json: JsonOpt = False) -> None:
    """Print NAME/NUMBER of the version a URI names."""
    version = _registry().resolve(uri)
    if as_json:
        _print_json(_version_json(version))
    else:
        out.print(f"{version.model}/{version.number}", highlight=False)


@app.command()
def download(uri: str, dest: Path, as_json: JsonOpt = False) -> None:
    """Download a version's files into DEST, each verified against its sha256."""
    registry = _registry()
    version = registry.get_version(uri)
    with _progress(version.size, f"downloading {version.model}/{version.number}") as advance:
        root = registry.download(version.uri, dest, progress=advance)
    if as_json:
        _print_json(
            {
                "uri": version.uri,
                "dest": str(root),
                "files": [a.model_dump() for a in version.artifacts],
            }
        )
    else:
        out.print(f"downloaded {len(version.artifacts)} verified files of {version.uri} to {root}")


@app.command()
def tag(
    uri: str,
    items: Annotated[list[str], typer.Argument(help="KEY=VALUE to set.")] = [],  # noqa: B006
    rm: Annotated[list[str], typer.Option("--rm", help="Key to remove.")] = [],  # noqa: B006
    as_json: JsonOpt = False,
) -> None:
    """Set or remove tags of a version (models:/NAME/N) or a model (models:/NAME)."""
    tags = _registry().set_tags(uri, validation.key_values(items), remove=rm)
    if as_json:
        _print_json({"uri": uri, "tags": tags})
    else:
        out.print(", ".join(f"{k}={v}" for k, v in tags.items()) or "(no tags)")


@app.command()
def verify(
    name: Annotated[str | None, typer.Argument(help="Only this model.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Rehash stored artifacts; exits non-zero naming each corrupt or missing file."""
    report = _registry().verify(name)
    if as_json:
        _print_json({"ok": report.ok, **report.model_dump(mode="json")})
    else:
        for p in report.problems:
            err.print(
                f"{p.kind}: models:/{p.model}/{p.version} {p.path} (sha256 {p.sha256}): {p.detail}",
                highlight=False,
            )
        status = "OK" if report.ok else f"{len(report.problems)} problem(s)"
        out.print(
            f"verified {report.files} files of {report.versions} versions "
            f"({report.bytes} bytes): {status}"
        )
    if not report.ok:
        raise typer.Exit(7)


# aliases -----------------------------------------------------------------------


def _alias_json(a: Alias) -> dict[str, Any]:
    return a.model_dump(mode="json")


@alias_app.command("set")
def alias_set(
    name: str,
    alias: str,
    version: Annotated[str, typer.Argument(help="Version number or semver.")],
    reason: Annotated[str, typer.Option(help="Why the alias moves (recorded).")] = "",
    expect: Annotated[
        int | None, typer.Option(help="Move only if the alias points at this version (0: unset).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Point ALIAS at VERSION."""
    target: int | str = int(version) if version.isascii() and version.isdigit() else version
    result = _registry().set_alias(name, alias, target, reason=reason, expect=expect)
    if as_json:
        _print_json(_alias_json(result))
    else:
        out.print(f"models:/{name}@{alias} -> {result.version}")


@alias_app.command("rm")
def alias_rm(
    name: str,
    alias: str,
    reason: Annotated[str, typer.Option(help="Why the alias is removed (recorded).")] = "",
    expect: Annotated[
        int | None, typer.Option(help="Remove only if the alias points at this version.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove ALIAS."""
    _registry().delete_alias(name, alias, reason=reason, expect=expect)
    if as_json:
        _print_json({"model": name, "alias": alias, "removed": True})
    else:
        out.print(f"removed models:/{name}@{alias}")


@alias_app.command("list")
def alias_list(name: str, as_json: JsonOpt = False) -> None:
    """Show where each alias of a model points."""
    aliases = _registry().aliases(name)
    if as_json:
        _print_json([_alias_json(a) for a in aliases])
        return
    table = Table("alias", "version", "since", "by")
    for a in aliases:
        table.add_row(a.name, str(a.version), _fmt_time(a.updated_at), a.updated_by)
    out.print(table)


@alias_app.command("history")
def alias_history(
    name: str,
    alias: Annotated[str | None, typer.Argument(help="Only this alias.")] = None,
    limit: Annotated[int, typer.Option(help="Most recent moves to show.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Every move of the model's aliases: who, when, from, to, why."""
    events = _registry().alias_history(name, alias, limit=limit)
    if as_json:
        _print_json([e.model_dump(mode="json") for e in events])
        return
    table = Table("when", "alias", "from", "to", "who", "why")

    def num(n: int | None) -> str:
        return "-" if n is None else str(n)

    for e in events:
        _row(table, e, num)
    out.print(table)


def _row(table: Table, e: AliasEvent, num: Any) -> None:
    table.add_row(
        _fmt_time(e.at), e.alias, num(e.from_version), num(e.to_version), e.actor, e.reason
    )


# entry point ---------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Run the CLI with one error boundary: domain errors become exit codes.

    Typer handles usage errors itself (exit 2); modelbook errors are printed
    on one line and exit with the code of their kind.
    """
    try:
        app(args=argv, standalone_mode=True)
    except ModelbookError as exc:
        if _state["traceback"]:
            raise
        err.print(f"error: {exc}", highlight=False)
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        os._exit(0)


if __name__ == "__main__":
    main()
