"""The metadata checklist a version's entry is judged by (pure, no I/O).

The checklist is the "Metadata checklist" of the versioning guide our users
work from (``shared/seeds/002_c944e2cbaac9fafa.txt``), one section per line:

- Model identity: name, version, stage, owners.
- Code lineage: repo URL (as text), commit hash, pipeline run ID.
- Data lineage: dataset snapshot ID/hash, feature definitions version, time window.
- Training setup: hyperparameters, seeds, hardware, duration.
- Artifacts: model files, preprocessing assets, schema, signature.
- Environment: framework version, Docker image digest, dependency lockfile hash.
- Metrics: offline metrics, dataset split, acceptance thresholds.
- Approvals: reviewer, date, decision, risk notes.
- Online linkage: monitoring job ID, alert thresholds.
- Change summary: what changed and why (SemVer bump rationale).

Each item becomes a field named ``SECTION.FIELD`` (:data:`FIELDS`), judged on
the frozen version and on what was recorded beside it (reviews, attestations,
monitoring watches) and on the acceptance thresholds of the policy in force.
"Preprocessing assets" has no field: an artifact manifest cannot tell a
preprocessing file from the model file, so the guide's item is covered by
``artifacts.files`` (every file, with its hash).

The policy names the fields ``modelbook doctor`` requires of a deployed
version (``[doctor] required = [...]``, default :data:`DEFAULT_REQUIRED`).
:func:`modelbook.completeness.assess` scores a version against the checklist.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from .annotations import Approval, Attestation, Rejection, Watch
from .checks.base import is_online
from .checks.metric import MetricRule
from .contract import as_signature
from .domain import Model, Version
from .hashes import data_hashed, lockfile_hashed

INTERNAL_PREFIX = "_modelbook/"
"""Artifacts modelbook writes itself (the stored input sample): not the user's files."""


@dataclass(frozen=True)
class Facts:
    """What the checklist judges about one version.

    Attributes:
        version: the version, as read.
        model: its model (owners, risk tier).
        approvals, rejections, attestations: reviews recorded on the version.
        watches: monitoring watches recorded on the version (``modelbook watch``).
        thresholds: the ``metric`` rules of the policy in force for the model's
            risk tier, every stage's gate together.
    """

    version: Version
    model: Model
    approvals: tuple[Approval, ...] = ()
    rejections: tuple[Rejection, ...] = ()
    attestations: tuple[Attestation, ...] = ()
    watches: tuple[Watch, ...] = ()
    thresholds: tuple[MetricRule, ...] = ()


Probe = Callable[[Facts], bool]


@dataclass(frozen=True)
class ChecklistField:
    """One item of the checklist: what it asks, how it is judged, how to provide it."""

    name: str
    label: str
    probe: Probe
    hint: str

    @property
    def section(self) -> str:
        return self.name.split(".", 1)[0]


SECTIONS: Mapping[str, str] = MappingProxyType(
    {
        "identity": "Model identity",
        "code": "Code lineage",
        "data": "Data lineage",
        "training": "Training set-up",
        "artifacts": "Artifacts and signature",
        "environment": "Environment",
        "metrics": "Metrics with thresholds",
        "approvals": "Approvals",
        "online": "Online linkage",
        "change": "Change summary",
    }
)
"""Section key → title, in the checklist's order."""


def _offline(f: Facts) -> list[str]:
    return [m.key for m in f.version.metrics if not is_online(m.key)]


def _has_threshold(f: Facts) -> bool:
    carried = {(m.name, m.split) for m in f.version.metrics}
    return any((r.name, r.split) in carried for r in f.thresholds)


def _framework(f: Facts) -> bool:
    if f.version.environment.frameworks:
        return True
    signature = as_signature(f.version.contract)
    return signature is not None and bool(signature.runtime.framework_version)


def _signature_outputs(f: Facts) -> bool:
    signature = as_signature(f.version.contract)
    return signature is not None and signature.outputs is not None


def _risk_notes(f: Facts) -> bool:
    notes = [a.comment for a in f.approvals]
    notes += [r.comment for r in f.rejections]
    notes += [a.comment for a in f.attestations]
    return bool(f.version.caveats) or any(n and n.strip() for n in notes)


def _data(f: Facts, attr: str) -> bool:
    data = f.version.lineage.data
    return bool(data) and all(getattr(d, attr) for d in data)


_ITEMS: tuple[ChecklistField, ...] = (
    ChecklistField("identity.name", "model name", lambda f: bool(f.version.model), ""),
    ChecklistField("identity.version", "version number and semver", lambda f: True, ""),
    ChecklistField("identity.stage", "stage", lambda f: bool(f.version.stage), ""),
    ChecklistField(
        "identity.owners",
        "owners",
        lambda f: any(o.strip() for o in f.model.owners),
        "give the model its owners (modelbook register --owner)",
    ),
    ChecklistField(
        "code.repo",
        "repository URL",
        lambda f: bool(f.version.lineage.code.repo),
        "register with --repo URL (or from a checkout with a remote)",
    ),
    ChecklistField(
        "code.commit",
        "commit hash",
        lambda f: bool(f.version.lineage.code.commit),
        "register from a git checkout or with --commit SHA",
    ),
    ChecklistField(
        "code.run_id",
        "pipeline run ID",
        lambda f: bool(f.version.lineage.run_id),
        "register with --run-id ID",
    ),
    ChecklistField(
        "data.snapshot",
        "dataset snapshot ID",
        lambda f: bool(f.version.lineage.data),
        "register with --data-snapshot ID",
    ),
    ChecklistField(
        "data.sha256",
        "dataset hash",
        lambda f: data_hashed(f.version),
        "give every data snapshot its sha256, 64 hex digits (--data-sha256)",
    ),
    ChecklistField(
        "data.features_version",
        "feature definitions version",
        lambda f: (
            f.version.lineage.features is not None and bool(f.version.lineage.features.version)
        ),
        "register with --features NAME@VERSION",
    ),
    ChecklistField(
        "data.window",
        "time window",
        lambda f: _data(f, "window"),
        "give every data snapshot its window (DataRef(window=...) in Python)",
    ),
    ChecklistField(
        "training.params",
        "hyper-parameters",
        lambda f: bool(f.version.training.params),
        "register with --param KEY=VALUE",
    ),
    ChecklistField(
        "training.seed",
        "random seed",
        lambda f: f.version.training.seed is not None,
        "register with --seed N",
    ),
    ChecklistField(
        "training.hardware",
        "hardware",
        lambda f: bool(f.version.training.hardware),
        "register with hardware= (Python API)",
    ),
    ChecklistField(
        "training.duration",
        "training time",
        lambda f: f.version.training.duration_seconds is not None,
        "register with duration_seconds= (Python API)",
    ),
    ChecklistField(
        "artifacts.files",
        "model files with hashes",
        lambda f: any(not a.path.startswith(INTERNAL_PREFIX) for a in f.version.artifacts),
        "register the model's files",
    ),
    ChecklistField(
        "artifacts.schema",
        "input schema",
        lambda f: f.version.contract is not None,
        "register with --signature FILE or a --sample of the inputs",
    ),
    ChecklistField(
        "artifacts.signature",
        "signature with outputs",
        _signature_outputs,
        "register with a signature that names the outputs (infer_signature(X, y))",
    ),
    ChecklistField(
        "environment.framework",
        "framework version",
        _framework,
        "register without --no-capture so framework versions are captured",
    ),
    ChecklistField(
        "environment.image_digest",
        "container image digest",
        lambda f: bool(f.version.environment.image_digest),
        "register with --image-digest or MODELBOOK_IMAGE_DIGEST set",
    ),
    ChecklistField(
        "environment.lockfile",
        "dependency lockfile hash",
        lambda f: lockfile_hashed(f.version),
        "register from a project with a lockfile (uv.lock, poetry.lock, requirements.txt ...)",
    ),
    ChecklistField(
        "metrics.offline",
        "offline metrics",
        lambda f: bool(_offline(f)),
        "register with --metric NAME@SPLIT=VALUE",
    ),
    ChecklistField(
        "metrics.split",
        "dataset split of every metric",
        lambda f: bool(_offline(f)) and all(m.split for m in f.version.metrics),
        "name the split of each metric: --metric auc@test=0.91",
    ),
    ChecklistField(
        "metrics.thresholds",
        "acceptance thresholds",
        _has_threshold,
        'add a metric check for the model\'s risk tier to the policy (check = "metric")',
    ),
    ChecklistField(
        "approvals.review",
        "reviewer, date and decision",
        lambda f: bool(f.approvals or f.rejections),
        "have a reviewer run modelbook approve (or reject) on the version",
    ),
    ChecklistField(
        "approvals.risk_notes",
        "risk notes",
        _risk_notes,
        "register with --caveat TEXT, or review with --comment",
    ),
    ChecklistField(
        "online.monitoring_job",
        "monitoring job ID",
        lambda f: any(w.job for w in f.watches),
        "record it with modelbook watch URI --job ID",
    ),
    ChecklistField(
        "online.alerts",
        "alert thresholds",
        lambda f: any(w.alerts for w in f.watches),
        "record them with modelbook watch URI --alert 'NAME OP VALUE'",
    ),
    ChecklistField(
        "change.summary",
        "what changed and why",
        lambda f: bool(f.version.change_summary and f.version.change_summary.strip()),
        "register with --note TEXT (change_summary= in Python)",
    ),
)

FIELDS: Mapping[str, ChecklistField] = MappingProxyType({f.name: f for f in _ITEMS})
"""Every checklist field by name (``code.commit``), in the checklist's order."""

DEFAULT_REQUIRED: tuple[str, ...] = (
    "identity.owners",
    "code.commit",
    "data.snapshot",
    "artifacts.files",
    "metrics.offline",
    "approvals.review",
)
"""What ``doctor`` requires of a deployed version when the policy has no ``[doctor]``."""


def known_field(name: str) -> str:
    """``name`` when it is a checklist field.

    Raises:
        ValueError: an unknown name; the message lists the known ones (pydantic
            turns it into a policy error on the field's line).
    """
    if name not in FIELDS:
        import difflib

        close = difflib.get_close_matches(name, FIELDS, n=1)
        guess = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown checklist field {name!r} (known: {', '.join(FIELDS)}){guess}")
    return name
