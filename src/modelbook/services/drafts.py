"""A version's validated metadata before it is committed, and the helpers that build it."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from .. import capture, limits, lineage_urls, provenance, uris, validation
from .. import sample as samples
from .. import semver as semver_rule
from ..domain import (
    CodeRef,
    DataRef,
    Environment,
    FeatureSetRef,
    Lineage,
    Metric,
    Training,
)
from ..errors import InvalidInput, shown
from ..flavors.compare import DEFAULT_TOLERANCE
from ..search_rows import SearchRows, search_rows
from ..store import models as model_rows
from ..store import versions as version_rows
from . import contracts
from .base import Context
from .classify import (
    DEFAULT_COMPARE_TIMEOUT_S,
    CompareOptions,
    check_compare_predictions,
    check_compare_timeout,
    check_tolerance,
)
from .models import model_values


def invalid(exc: ValidationError) -> InvalidInput:
    """The first error pydantic found, as InvalidInput naming the field."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    return InvalidInput(f"invalid {where or 'value'}: {message}")


def check_tier(name: str, tier: str, requested: str | None) -> None:
    """Refuse a registration that names another risk tier than its model's ``tier``.

    The tier picks the gates: it is not changed in passing by a registration
    (``modelbook risk-tier`` changes it, with a reason). Raises InvalidInput.
    """
    if requested is not None and validation.risk_tier(requested) != tier:
        raise InvalidInput(
            f"model {name!r} is {tier!r} risk; a registration cannot "
            f"make it {requested!r} (leave out --risk)"
        )


def merge(base: Any, given: Any, cls: type[Any]) -> Any:
    """Explicit fields win over captured ones."""
    if given is None:
        return base
    if isinstance(given, cls):
        return cls.model_validate(given.model_dump())
    if isinstance(given, Mapping):
        try:
            return cls.model_validate({**base.model_dump(), **given})
        except ValidationError as exc:
            raise invalid(exc) from None
    raise InvalidInput(f"expected {cls.__name__} or a mapping, got {type(given).__name__}")


def _check_formats(lineage: Lineage, env: Environment, *, captured: bool) -> Lineage:
    """Refuse a lineage or environment value of a fixed format that does not have it:
    a commit that is no full git id, a dataset, lock file or packages hash that is no
    SHA-256, an image digest that is none. A version is frozen, and lineage, impact,
    the checklist and bills of materials would match or count it as something else.
    Returns ``lineage`` with its commit in lower case, as git prints it, so that a
    search for the id git prints finds it."""
    if lineage.code.commit is not None:
        commit = provenance.git_commit(lineage.code.commit).lower()
        if commit != lineage.code.commit:
            code = lineage.code.model_copy(update={"commit": commit})
            lineage = lineage.model_copy(update={"code": code})
    for d in lineage.data:
        if d.sha256 is not None:
            provenance.sha256(d.sha256, f"the sha256 of data snapshot {d.snapshot!r}")
    if env.lockfile is not None:
        provenance.sha256(env.lockfile.sha256, f"the sha256 of lock file {env.lockfile.path!r}")
        if env.lockfile.repo_path is not None:
            provenance.repo_path(env.lockfile.repo_path)
    if env.packages_sha256 is not None:
        provenance.sha256(env.packages_sha256, "the sha256 of the installed packages")
    if env.image_digest is not None:
        provenance.image_digest(
            env.image_digest,
            "the container image digest"
            + (" (from MODELBOOK_IMAGE_DIGEST)" if captured and _digest_from_env(env) else ""),
        )
    return lineage


def _digest_from_env(env: Environment) -> bool:
    return env.image_digest == (os.environ.get("MODELBOOK_IMAGE_DIGEST") or None)


def check_once(data: Sequence[DataRef], parents: Sequence[tuple[str, int]] = ()) -> None:
    """Refuse a data snapshot given twice in one role, a snapshot given two SHA-256s,
    or a parent listed twice. A snapshot may serve in two roles (``train`` and
    ``eval``), but in one role it has one window and sampling, and it has one content
    in all. Even an identical second entry is refused: it likely stands where another
    snapshot was meant, and the version would keep it forever."""
    in_role: dict[tuple[str, str], DataRef] = {}
    hashed: dict[str, str] = {}
    for d in data:
        seen = in_role.get((d.snapshot, d.role))
        if seen is None:
            in_role[(d.snapshot, d.role)] = d
        elif seen == d:
            raise InvalidInput(
                f"data snapshot {d.snapshot!r} is listed twice in the role {d.role!r}: give it once"
            )
        else:
            raise InvalidInput(
                f"data snapshot {d.snapshot!r} is given twice in the role {d.role!r} with "
                f"different values ({_differences(seen, d)}): give it once"
            )
        if d.sha256 is not None and hashed.setdefault(d.snapshot, d.sha256).lower() != (
            d.sha256.lower()
        ):
            raise InvalidInput(
                f"data snapshot {d.snapshot!r} is given two SHA-256s "
                f"({hashed[d.snapshot]} and {d.sha256}): one snapshot has one content"
            )
    if len(set(parents)) != len(parents):
        twice = next(p for i, p in enumerate(parents) if p in parents[:i])
        raise InvalidInput(f"parent models:/{twice[0]}/{twice[1]} is listed twice: give it once")


def _differences(a: DataRef, b: DataRef) -> str:
    one, other = a.model_dump(), b.model_dump()
    return "; ".join(
        f"{k} {shown(one[k], 80)} and {shown(other[k], 80)}" for k in one if one[k] != other[k]
    )


@dataclass(frozen=True)
class Draft:
    """A version's validated metadata, ready to commit once its blobs are stored."""

    name: str
    new_model: dict[str, Any] | None
    risk_tier: str | None
    explicit_semver: str | None
    parents: tuple[tuple[str, int], ...]
    tags: dict[str, str]
    # The rows search reads, as the values frozen in ``doc`` yield them: ``verify``
    # compares the stored rows with what the stored record yields by the same rule.
    rows: SearchRows
    doc: dict[str, Any]
    # The validated values ``doc`` was dumped from: the returned Version is built
    # from them, not by validating the dump again.
    record: dict[str, Any]
    contract: contracts.Prepared
    comparing: CompareOptions
    # The model's row and its latest version's row as the draft was prepared (None:
    # no such model then): the new version is compared with what they hold unless
    # a version was registered since.
    seen: tuple[Any, Any] | None = None


def prepare(
    ctx: Context,
    name: str,
    *,
    actor: str,
    owners: Sequence[str] | str | None = None,
    task: str | None = None,
    risk_tier: str | None = None,
    description: str | None = None,
    metrics: Mapping[str, object] | Iterable[Metric] | None = None,
    tags: Mapping[str, object] | None = None,
    params: Mapping[str, object] | None = None,
    seed: int | None = None,
    hardware: str | None = None,
    duration_seconds: float | None = None,
    code: CodeRef | Mapping[str, Any] | None = None,
    data: Sequence[DataRef | str] | str | DataRef | None = None,
    features: FeatureSetRef | str | None = None,
    run_id: str | None = None,
    experiment_id: str | None = None,
    parents: Sequence[str] = (),
    environment: Environment | Mapping[str, Any] | None = None,
    contract: Mapping[str, Any] | None = None,
    signature: Any = None,
    sample: Any = None,
    sample_rows: int = samples.DEFAULT_ROWS,
    flavor: str | None = None,
    semver: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    compare_predictions: bool = True,
    compare_timeout_s: float = DEFAULT_COMPARE_TIMEOUT_S,
    change_summary: str | None = None,
    caveats: Sequence[str] = (),
    capture_environment: bool = True,
) -> Draft:
    """Validate a version's metadata without writing anything; reads the model and its
    latest version once (see ``Registry.register`` for the arguments).

    Raises InvalidInput naming the first bad value; nothing is written.
    """
    validation.model_name(name)
    metric_list = validation.metrics(metrics)
    tag_map = validation.indexed_tags(tags)
    param_map = validation.indexed_tags(params, "param")
    explicit = None if semver is None else semver_rule.text(semver_rule.parse(semver))
    comparing = CompareOptions(
        tolerance=check_tolerance(tolerance),
        predictions=check_compare_predictions(compare_predictions),
        timeout_s=check_compare_timeout(compare_timeout_s),
    )
    prepared = contracts.prepare(
        signature=signature,
        sample=sample,
        contract=contract,
        sample_rows=sample_rows,
        flavor=flavor,
    )
    if seed is not None and (
        not isinstance(seed, int) or isinstance(seed, bool) or not -(2**63) <= seed < 2**63
    ):
        raise InvalidInput(f"seed must be a 64-bit integer, got {shown(seed)}")
    if isinstance(parents, str) or not isinstance(parents, list | tuple):
        raise InvalidInput("parents must be a list of version URIs")
    parent_refs: list[tuple[str, int]] = []
    for p in parents:
        ref = uris.parse(p)
        if ref.kind != "number":
            raise InvalidInput(f"parent {p!r} must name a version number: models:/NAME/N")
        parent_refs.append((ref.name, ref.number))
    try:
        data_refs = [data] if isinstance(data, str | DataRef) else list(data or [])
        data_list = []
        for d in data_refs:
            if isinstance(d, DataRef):
                data_list.append(DataRef.model_validate(d.model_dump()))
            elif isinstance(d, str):
                data_list.append(DataRef(snapshot=validation.text(d, "data", limits.MAX_VALUE)))
            else:
                raise InvalidInput(
                    f"data must be snapshot ids or DataRef values, got {type(d).__name__}"
                )
        if isinstance(features, str):
            fname, fver = provenance.feature_set(features)
            features = FeatureSetRef(name=fname, version=fver)
        elif isinstance(features, FeatureSetRef):
            # Revalidated: a value built with model_construct skips the text rules.
            features = FeatureSetRef.model_validate(features.model_dump())
        elif features is not None:
            raise InvalidInput(
                f"features must be NAME[@VERSION] or a FeatureSetRef, got {type(features).__name__}"
            )
        lineage = Lineage(
            code=merge(capture.code() if capture_environment else CodeRef(), code, CodeRef),
            data=tuple(data_list),
            features=features,
            run_id=run_id,
            experiment_id=experiment_id,
            parents=tuple(f"{n}/{v}" for n, v in parent_refs),
        )
        env = merge(
            capture.environment() if capture_environment else Environment(),
            environment,
            Environment,
        )
        training = Training(
            params=param_map,
            seed=seed,
            hardware=validation.optional_text(hardware, "hardware", limits.MAX_VALUE),
            duration_seconds=validation.duration(duration_seconds),
        )
    except ValidationError as exc:
        raise invalid(exc) from None
    lineage = _check_formats(lineage, env, captured=capture_environment)
    lineage_urls.check_lineage(lineage)
    check_once(lineage.data, parent_refs)
    rows = search_rows(metric_list, param_map, lineage)
    if isinstance(caveats, str) or not isinstance(caveats, list | tuple):
        raise InvalidInput("caveats must be a list of texts")
    caveat_list = [validation.text(c, "caveat", limits.MAX_TEXT) for c in caveats]
    summary = (
        None
        if change_summary is None
        else validation.text(change_summary, "change summary", limits.MAX_TEXT)
    )
    now = ctx.clock()
    existing, latest = ctx.db.reading(lambda conn: version_rows.model_and_latest(conn, name))
    new_model = None
    if existing is None:
        new_model = model_values(
            name, owners, task, risk_tier, description, None, actor=actor, at=now
        )
    else:
        check_tier(name, existing.risk_tier, risk_tier)
        if explicit is not None:
            # Early, before any file is stored: against the least bump; the
            # evidence of what changed decides in the transaction.
            semver_rule.next_semver(
                name, model_rows.highest_semver(existing), explicit, semver_rule.Bump.PATCH
            )
    doc = {
        "contract": prepared.doc,
        "lineage": lineage.model_dump(mode="json"),
        "training": training.model_dump(mode="json"),
        "environment": env.model_dump(mode="json"),
        "metrics": [m.model_dump(mode="json") for m in metric_list],
        "caveats": caveat_list,
        "change_summary": summary,
    }
    return Draft(
        name=name,
        new_model=new_model,
        risk_tier=risk_tier,
        explicit_semver=explicit,
        parents=tuple(parent_refs),
        tags=tag_map,
        rows=rows,
        doc=doc,
        record={
            "lineage": lineage,
            "training": training,
            "environment": env,
            "metrics": tuple(metric_list),
        },
        contract=prepared,
        comparing=comparing,
        seen=(existing, latest),
    )
