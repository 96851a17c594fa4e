"""``modelbook register``: store files as a new immutable version."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .app import JsonOpt, app, open_registry
from .render import change_lines, emit_json, line, progress, safe, version_json

if TYPE_CHECKING:
    from ..domain import Model


@app.command()
def register(
    name: Annotated[str, typer.Argument(help="Model name; created on first use.")],
    paths: Annotated[list[Path], typer.Argument(help="Files or one directory to store.")],
    owner: Annotated[list[str], typer.Option(help="Owner (needed for a new model).")] = [],  # noqa: B006
    task: Annotated[str | None, typer.Option(help="Task, e.g. classification.")] = None,
    risk: Annotated[str | None, typer.Option(help="Risk tier: low, medium or high.")] = None,
    description: Annotated[str | None, typer.Option(help="Model description.")] = None,
    metric: Annotated[
        list[str],
        typer.Option(help="NAME\\[@SPLIT]\\[{K=V,...}]=VALUE, e.g. 'auc{region=eu}=0.91'."),
    ] = [],  # noqa: B006
    tag: Annotated[list[str], typer.Option(help="KEY=VALUE tag of the version.")] = [],  # noqa: B006
    param: Annotated[list[str], typer.Option(help="KEY=VALUE training parameter.")] = [],  # noqa: B006
    data_snapshot: Annotated[list[str], typer.Option(help="Dataset snapshot id, each once.")] = [],  # noqa: B006
    data_sha256: Annotated[
        list[str],
        typer.Option(help="sha256 (64 hex digits) of the data snapshot in the same position."),
    ] = [],  # noqa: B006
    commit: Annotated[
        str | None,
        typer.Option(help="Full git commit id, 40 or 64 hex digits (default: captured)."),
    ] = None,
    repo: Annotated[str | None, typer.Option(help="Code repository (default: captured).")] = None,
    features: Annotated[
        str | None,
        typer.Option(help="Feature set as NAME@VERSION (NAME alone: its version not recorded)."),
    ] = None,
    run_id: Annotated[str | None, typer.Option(help="Pipeline run id.")] = None,
    experiment_id: Annotated[str | None, typer.Option(help="Experiment id.")] = None,
    parent: Annotated[list[str], typer.Option(help="Parent version URI.")] = [],  # noqa: B006
    seed: Annotated[int | None, typer.Option(help="Random seed of training.")] = None,
    hardware: Annotated[
        str | None, typer.Option(help="Hardware trained on, e.g. '8x A100'.")
    ] = None,
    duration_seconds: Annotated[
        float | None, typer.Option(metavar="SECONDS", help="How long training took.")
    ] = None,
    semver: Annotated[
        str | None,
        typer.Option(help="Explicit MAJOR.MINOR.PATCH, at least the computed one."),
    ] = None,
    tolerance: Annotated[
        float,
        typer.Option(help="Predictions closer than this (absolute and relative) are equal."),
    ] = 1e-6,
    compare_timeout: Annotated[
        float,
        typer.Option(
            metavar="SECONDS",
            help="Time limit of each prediction comparison (default 30, at most 3600).",
        ),
    ] = 30.0,
    no_compare_predictions: Annotated[
        bool,
        typer.Option(
            "--no-compare-predictions",
            help="Classify by the contract and the files' hashes only (changed files: MINOR).",
        ),
    ] = False,
    note: Annotated[str | None, typer.Option(help="Change summary.")] = None,
    caveat: Annotated[list[str], typer.Option(help="Known caveat.")] = [],  # noqa: B006
    image_digest: Annotated[
        str | None, typer.Option(help="Container image digest, \\[IMAGE@]sha256:HEX.")
    ] = None,
    no_capture: Annotated[
        bool, typer.Option("--no-capture", help="Do not capture environment and git state.")
    ] = False,
    signature: Annotated[
        Path | None, typer.Option(help="Signature (contract) as a JSON file.")
    ] = None,
    sample: Annotated[
        Path | None,
        typer.Option(help="Input sample: .csv, .parquet or .npy; infers the signature if none."),
    ] = None,
    sample_rows: Annotated[int, typer.Option(help="Rows of the sample to keep.")] = 100,
    flavor: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Declare the model's flavor (sklearn, onnx ...); needs --signature or --sample.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a new immutable version from files or a directory."""
    from .. import files, provenance, validation
    from ..services.classify import check_compare_timeout, check_tolerance

    metrics = validation.metrics(
        [
            validation.metric(*validation.split_key_value(item, "metric", last=True))
            for item in metric
        ]
    )
    tags = validation.key_values(tag, "tag")
    params = validation.key_values(param, "param")
    code: dict[str, Any] = {}
    if commit is not None:
        code.update(commit=provenance.git_commit(commit, "--commit"), dirty=None)
    if image_digest is not None:
        provenance.image_digest(image_digest, "--image-digest")
    data = _data_refs(data_snapshot, data_sha256)
    _check_parents(parent)
    if repo is not None:
        code["repo"] = repo
    # Every argument is read before the registry is opened, so bad input
    # leaves no new registry behind; the size of the whole upload decides
    # whether a progress bar is drawn.
    total = sum(p.stat().st_size for _, p in files.collect(paths))
    check_tolerance(tolerance)
    check_compare_timeout(compare_timeout)
    contract = (
        _contract(signature, sample, sample_rows, flavor) if signature or sample or flavor else {}
    )
    with open_registry(create=True) as registry, progress(total, f"storing {name}") as advance:
        version = registry.register(
            name,
            paths,
            owners=owner or None,
            task=task,
            risk_tier=risk,
            description=description,
            metrics=metrics,
            tags=tags,
            params=params,
            data=data,
            code=code or None,
            features=features,
            run_id=run_id,
            experiment_id=experiment_id,
            parents=parent,
            seed=seed,
            hardware=hardware,
            duration_seconds=duration_seconds,
            semver=semver,
            tolerance=tolerance,
            compare_predictions=not no_compare_predictions,
            compare_timeout_s=compare_timeout,
            change_summary=note,
            caveats=caveat,
            environment={"image_digest": image_digest} if image_digest else None,
            capture_environment=not no_capture,
            progress=advance,
            **contract,
        )
        model = registry.get_model(name) if owner or task or description else None
    if model is not None:
        _say_what_was_not_applied(model, owner, task, description)
    if sample is not None:
        from ..contract import as_signature

        sig = as_signature(version.contract)
        if sig is not None and sig.sample is not None and sig.sample.truncated:
            line(f"sample cut to its first {sig.sample.rows} rows (--sample-rows)", err=True)
    if as_json:
        emit_json(version_json(version))
    else:
        line(
            f"registered {safe(version.uri)} (semver {safe(version.semver)}, "
            f"{len(version.artifacts)} files, {version.size} bytes)"
        )
        for text in change_lines(version):
            line(safe(text))


def _say_what_was_not_applied(
    model: Model, owners: list[str], task: str | None, description: str | None
) -> None:
    """Say on stderr which model fields given to ``register`` an existing model kept.

    They describe the model and are taken from its first registration only; a
    later one leaves them as they are (``--risk`` that differs is refused).
    """
    given = {
        "--owner": (tuple(owners) or None, model.owners),
        "--task": (task, model.task),
        "--description": (description, model.description),
    }
    for flag, (value, kept) in given.items():
        if value is not None and value != kept:
            line(
                f"note: model {safe(model.name)} already existed; {flag} was not applied "
                f"(it keeps {safe(repr(kept))})",
                err=True,
            )


def _contract(
    signature: Path | None, sample: Path | None, rows: int, flavor: str | None
) -> dict[str, Any]:
    """The signature and sample arguments of ``register``, read and checked up front.

    Checked before the registry is opened, so a bad file leaves nothing behind.
    """
    from .. import files, limits
    from .. import sample as samples
    from ..contract import parse_signature
    from ..services import contracts

    parsed = None
    if signature is not None:
        parsed = parse_signature(files.read_text(signature, "signature file", limits.MAX_TEXT))
    samples.check_rows(rows)
    data = None
    if sample is not None:
        # Without --signature the registry infers it, with the model file's framework.
        data = samples.read_file(sample, rows, None if parsed is None else parsed.inputs)
    # The same check the registry runs, here before anything is opened or written.
    contracts.prepare(signature=parsed, sample=data, contract=None, sample_rows=rows, flavor=flavor)
    return {"signature": parsed, "sample": data, "sample_rows": rows, "flavor": flavor}


def _data_refs(snapshots: list[str], hashes: list[str]) -> list[Any]:
    """Snapshot ids, each with the sha256 given in the same position (if any)."""
    from ..domain import DataRef
    from ..errors import InvalidInput
    from ..services.drafts import check_once

    if len(hashes) > len(snapshots):
        raise InvalidInput(
            f"{len(hashes)} --data-sha256 for {len(snapshots)} --data-snapshot: "
            "give one hash per snapshot, in the same order"
        )
    refs = [
        # Checked by the registry, like every other field.
        DataRef.model_construct(snapshot=s, sha256=hashes[i]) if i < len(hashes) else s
        for i, s in enumerate(snapshots)
    ]
    # A snapshot given twice is refused before the registry is opened or created.
    check_once([DataRef.model_construct(snapshot=r) if isinstance(r, str) else r for r in refs])
    return refs


def _check_parents(parents: list[str]) -> None:
    """Refuse a parent given twice before the registry is opened or created."""
    from .. import uris
    from ..services.drafts import check_once

    refs = [uris.parse(p) for p in parents]
    check_once((), [(r.name, r.number) for r in refs if r.kind == "number"])
