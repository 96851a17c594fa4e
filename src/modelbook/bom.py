"""A version as a CycloneDX 1.6 machine-learning bill of materials (JSON).

The document is built with ``cyclonedx-python-lib`` and checked against the
CycloneDX 1.6 JSON schema by that library's own validator before it is
returned. Its parts, all taken from the version's frozen record:

- ``metadata.component``: the model (``machine-learning-model``), named by
  model name and semver, its ``bom-ref`` and ``purl``
  ``pkg:generic/modelbook/NAME@SEMVER``; the owners as authors; its parent
  versions as pedigree ancestors and its code commit as a pedigree commit and
  a ``vcs`` external reference; a model card with the task, the datasets,
  every metric by split and slice, and the caveats as technical limitations.
  The library has no model card type, so the card is added to the
  serialised document, which is then validated whole.
- a ``file`` component per artifact with its SHA-256 (``bom-ref`` the model's
  purl with the path as subpath);
- a ``data`` component per dataset snapshot (``bom-ref`` ``dataset:ID``, its
  SHA-256 when it is one; window, sampling and role as properties);
- a ``platform`` component for Python and a ``library`` component
  (``pkg:pypi``) per recorded framework package; the lockfile and the
  container image, when recorded, as a ``file`` and a ``container``.

The model depends on every other component. Values that a schema format
would refuse (a hash that is not hex) and repositories that are no place to
fetch code from (see :func:`repo_uri`) are kept as ``modelbook:*`` properties
instead of being dropped or becoming links.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .domain import Model, Version
from .errors import IntegrityError, InvalidInput
from .hashes import is_sha256

if TYPE_CHECKING:
    from cyclonedx.model import HashType, Property, XsUri
    from cyclonedx.model.component import Component
    from cyclonedx.validation.json import JsonValidator

FORMATS: tuple[str, ...] = ("cyclonedx",)
SPEC_VERSION = "1.6"
# ``user@host:path``, git's short form of an SSH URL, is no URI; ssh://user@host/path is.
_REPO_SCHEMES = ("http", "https", "ssh", "git", "git+ssh")
_SCP_LIKE = re.compile(r"(?P<user>[\w.-]+)@(?P<host>[\w.-]+):(?!//)(?P<path>.+)")


def check_format(fmt: object) -> str:
    """``fmt`` if it is a format :func:`build` writes; else InvalidInput naming them."""
    if fmt not in FORMATS:
        raise InvalidInput(f"bill of materials format {fmt!r}: use one of {', '.join(FORMATS)}")
    return str(fmt)


def model_purl(version: Version, subpath: str | None = None) -> str:
    """``pkg:generic/modelbook/NAME@SEMVER`` (``#PATH`` for one of its files)."""
    from packageurl import PackageURL

    return str(
        PackageURL(
            type="generic",
            namespace="modelbook",
            name=version.model,
            version=version.semver,
            subpath=subpath,
        )
    )


def _sha256(value: str | None) -> list[HashType]:
    from cyclonedx.model import HashAlgorithm, HashType

    if is_sha256(value):
        return [HashType(alg=HashAlgorithm.SHA_256, content=value.lower())]
    return []


def _props(pairs: Iterable[tuple[str, str | None]]) -> list[Property]:
    from cyclonedx.model import Property

    return [Property(name=f"modelbook:{k}", value=v) for k, v in pairs if v is not None]


def repo_uri(repo: str) -> str | None:
    """A repository as a URI: git's ``user@host:path`` becomes ``ssh://user@host/path``;
    an ``http``, ``https``, ``ssh``, ``git`` or ``git+ssh`` URL with a host stays as
    it is. Anything else (``javascript:``, ``file:``, a bare path) is None: it is
    no place to fetch code from, and a reader's tool could follow such a link."""
    m = _SCP_LIKE.fullmatch(repo)
    if m:
        return f"ssh://{m['user']}@{m['host']}/{m['path'].lstrip('/')}"
    scheme, sep, rest = repo.partition("://")
    if sep and scheme.lower() in _REPO_SCHEMES and rest[:1] not in ("", "/"):
        return repo
    return None


def _uri(text: str) -> XsUri | None:
    """``text`` as the library's URI if the schema's ``iri-reference`` format takes it;
    else None (the repository is still shown, as the ``modelbook:code.repo`` property)."""
    from cyclonedx.exception.model import InvalidUriException
    from cyclonedx.model import XsUri
    from jsonschema import Draft7Validator

    try:
        uri = XsUri(text)
    except InvalidUriException:
        return None
    return uri if Draft7Validator.FORMAT_CHECKER.conforms(str(uri), "iri-reference") else None


def _model_component(version: Version, model: Model, parents: Mapping[str, str]) -> Component:
    from cyclonedx.model import ExternalReference, ExternalReferenceType
    from cyclonedx.model.component import Commit, Component, ComponentType, Pedigree
    from cyclonedx.model.contact import OrganizationalContact
    from packageurl import PackageURL

    from .lineage import parents_of

    code = version.lineage.code
    refs, commits = [], []
    uri = repo_uri(code.repo) if code.repo else None
    url = _uri(uri) if uri else None
    if url is not None:
        refs.append(ExternalReference(type=ExternalReferenceType.VCS, url=url, comment=code.commit))
    if code.commit:
        commits.append(Commit(uid=code.commit, url=url))
    ancestors = [
        Component(
            type=ComponentType.MACHINE_LEARNING_MODEL,
            name=name,
            version=parents.get(f"models:/{name}/{number}"),
            bom_ref=f"models:/{name}/{number}",
        )
        for name, number in parents_of(version)
    ]
    pedigree = Pedigree(ancestors=ancestors, commits=commits) if ancestors or commits else None
    purl = model_purl(version)
    return Component(
        type=ComponentType.MACHINE_LEARNING_MODEL,
        name=version.model,
        version=version.semver,
        bom_ref=purl,
        purl=PackageURL.from_string(purl),
        description=model.description,
        authors=[OrganizationalContact(name=owner) for owner in model.owners],
        external_references=refs,
        pedigree=pedigree,
        properties=_props(
            [
                ("uri", version.uri),
                ("number", str(version.number)),
                ("risk_tier", model.risk_tier),
                ("created_by", version.created_by),
                ("created_at", version.created_at.isoformat()),
                ("code.branch", code.branch),
                ("code.dirty", None if code.dirty is None else str(code.dirty).lower()),
                ("code.repo", code.repo),
                ("features", _features(version)),
                ("run_id", version.lineage.run_id),
                ("experiment_id", version.lineage.experiment_id),
                ("change_summary", version.change_summary),
                *sorted((f"param.{k}", v) for k, v in version.training.params.items()),
                ("seed", None if version.training.seed is None else str(version.training.seed)),
            ]
        ),
    )


def _features(version: Version) -> str | None:
    f = version.lineage.features
    if f is None:
        return None
    return f"{f.name}@{f.version}" if f.version else f.name


def _components(version: Version) -> list[Component]:
    """Every component but the model: files, datasets, Python, packages, lock, image."""
    from cyclonedx.model.component import Component, ComponentType
    from packageurl import PackageURL

    out = [
        Component(
            type=ComponentType.FILE,
            name=a.path,
            bom_ref=model_purl(version, a.path),
            hashes=_sha256(a.sha256),
            properties=_props([("size", str(a.size))]),
        )
        for a in version.artifacts
    ]
    seen: set[str] = set()
    for d in version.lineage.data:
        # One component per snapshot, even when it is used in two roles.
        if d.snapshot in seen:
            continue
        seen.add(d.snapshot)
        hashes = _sha256(d.sha256)
        out.append(
            Component(
                type=ComponentType.DATA,
                name=d.snapshot,
                bom_ref=f"dataset:{d.snapshot}",
                hashes=hashes,
                properties=_props(
                    [
                        ("role", d.role),
                        ("window", d.window),
                        ("sampling", d.sampling),
                        ("sha256", None if hashes else d.sha256),
                    ]
                ),
            )
        )
    env = version.environment
    if env.python:
        out.append(
            Component(
                type=ComponentType.PLATFORM,
                name="python",
                version=env.python,
                bom_ref=f"python@{env.python}",
                properties=_props([("platform", env.platform)]),
            )
        )
    for name, pkg_version in sorted(env.frameworks.items()):
        purl = PackageURL(type="pypi", name=name, version=pkg_version)
        out.append(
            Component(
                type=ComponentType.LIBRARY,
                name=name,
                version=pkg_version,
                bom_ref=str(purl),
                purl=purl,
            )
        )
    if env.lockfile is not None:
        out.append(
            Component(
                type=ComponentType.FILE,
                name=env.lockfile.path,
                bom_ref=f"lockfile:{env.lockfile.sha256}",
                hashes=_sha256(env.lockfile.sha256),
                properties=_props([("role", "lockfile"), ("sha256", env.lockfile.sha256)]),
            )
        )
    if env.image_digest:
        digest = env.image_digest.removeprefix("sha256:")
        out.append(
            Component(
                type=ComponentType.CONTAINER,
                name="image",
                version=env.image_digest,
                bom_ref=f"image:{env.image_digest}",
                hashes=_sha256(digest),
            )
        )
    return out


def _model_card(version: Version, model: Model) -> dict[str, Any]:
    """The ``modelCard`` object of CycloneDX 1.6 for the version."""
    metrics = []
    for m in version.metrics:
        entry = {"type": m.name, "value": repr(m.value)}
        parts = ([f"split={m.split}"] if m.split else []) + [
            f"{k}={v}" for k, v in sorted(m.slice.items())
        ]
        if parts:
            entry["slice"] = ",".join(parts)
        metrics.append(entry)
    parameters: dict[str, Any] = {}
    if model.task:
        parameters["task"] = model.task
    if version.lineage.data:
        snapshots = dict.fromkeys(d.snapshot for d in version.lineage.data)
        parameters["datasets"] = [{"ref": f"dataset:{s}"} for s in snapshots]
    card: dict[str, Any] = {}
    if parameters:
        card["modelParameters"] = parameters
    if metrics:
        card["quantitativeAnalysis"] = {"performanceMetrics": metrics}
    if version.caveats:
        card["considerations"] = {"technicalLimitations": list(version.caveats)}
    return card


def build(
    version: Version, model: Model, parents: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The CycloneDX 1.6 document of ``version`` of ``model``, validated, as a JSON object.

    ``parents`` maps each parent's ``models:/NAME/N`` to its semver (read by the
    service), shown as the ancestor's version. A repository or data snapshot URL
    stored with a secret is shown with it hidden (:mod:`modelbook.lineage_urls`).

    Raises IntegrityError if the document does not pass the schema (which
    would be a fault of this module, not of the version).
    """
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output.json import JsonV1Dot6

    from .lineage_urls import shown_version

    version = shown_version(version)
    subject = _model_component(version, model, parents or {})
    components = _components(version)
    bom = Bom(components=components)
    bom.metadata.component = subject
    bom.metadata.tools.components.add(
        Component(type=ComponentType.APPLICATION, name="modelbook", version=_own_version())
    )
    bom.register_dependency(subject, components)
    doc: dict[str, Any] = json.loads(JsonV1Dot6(bom).output_as_string())
    card = _model_card(version, model)
    if card:
        doc["metadata"]["component"]["modelCard"] = card
    by_ref = {c["bom-ref"]: c for c in doc.get("components", [])}
    for d in version.lineage.data:
        by_ref[f"dataset:{d.snapshot}"]["data"] = [{"type": "dataset", "name": d.snapshot}]
    validate(doc, version.uri)
    return doc


def _own_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("modelbook")
    except PackageNotFoundError:
        return None


@functools.cache
def _validator() -> JsonValidator:
    """The library's validator, kept: it reads and compiles the schema once."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonValidator

    return JsonValidator(SchemaVersion.V1_6)


def validate(doc: dict[str, Any], uri: str) -> None:
    """Check a document against the CycloneDX 1.6 JSON schema; IntegrityError if it fails."""
    error = _validator().validate_str(json.dumps(doc))
    if error is not None:
        raise IntegrityError(
            f"the bill of materials of {uri} does not pass the CycloneDX {SPEC_VERSION} "
            f"schema ({error.data.message}); it was not written"
        )


def to_json(version: Version, model: Model, parents: Mapping[str, str] | None = None) -> str:
    """:func:`build` as indented JSON text, ASCII only (other characters as ``\\u`` escapes)."""
    return json.dumps(build(version, model, parents), indent=2, ensure_ascii=True)
