"""The catalog of fields a query may name, with the kind of value each holds, and the
limits of a query.

Sources of the values (all read from the store, never from user files):

- ``name``, ``owner``, ``task``, ``risk``: the version's model;
- ``number``, ``semver``, ``stage``, ``created_at``, ``created_by``,
  ``deprecated``: the version's row; ``alias``: the aliases pointing at it now;
- ``tags.KEY``: the version's tags (a model's tags in a model listing);
- ``metrics.NAME[@SPLIT][{K=V,...}]``: the metric registered with that name,
  split and slice;
- ``code.*``, ``data.*``, ``features.*``, ``run.id``, ``experiment.id``,
  ``parent``: the frozen lineage (``parent`` as ``NAME/NUMBER``,
  ``features.version`` as ``NAME@VERSION``);
- ``env.KEY``: the recorded environment (``python``, ``platform``, ``cpu``,
  ``gpu``, ``image_digest``, ``packages_sha256``, ``lockfile`` for the lock
  file's sha256, any other key a framework's version);
- ``params.KEY``: the training parameters, as registered text;
- ``approved_by``: reviewers whose approval stands (not withdrawn by a
  later rejection of their own).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: The longest query text accepted, in characters.
MAX_QUERY = 10_000
#: How deeply ``not`` and parentheses may nest in the text.
MAX_DEPTH = 64
#: How deeply ``and``, ``or`` and ``not`` may nest once ``not not`` cancels and an
#: ``and`` in an ``and`` (``or`` in ``or``) merges: the depth whose SQL every database
#: reads (SQLite's parser stack overflows near 27 with the deepest conditions).
MAX_LOGIC = 20

Kind = Literal["text", "number", "date", "bool", "semver"]
Scope = Literal["version", "model"]


@dataclass(frozen=True)
class FieldSpec:
    """One field of the catalog.

    ``keyed``: written ``NAME.KEY``; ``many``: a version can hold several
    values; ``scopes``: the listings it applies to; ``orderable``: usable in
    ``--order-by``.
    """

    name: str
    kind: Kind
    help: str
    keyed: bool = False
    many: bool = False
    scopes: frozenset[Scope] = frozenset({"version"})
    orderable: bool = False

    @property
    def written(self) -> str:
        if not self.keyed:
            return self.name
        return f"{self.name}.NAME" if self.name == "metrics" else f"{self.name}.KEY"


_BOTH: frozenset[Scope] = frozenset({"version", "model"})

CATALOG: dict[str, FieldSpec] = {
    f.name: f
    for f in (
        FieldSpec("name", "text", "the model's name", scopes=_BOTH),
        FieldSpec("number", "number", "the version number", orderable=True),
        FieldSpec("semver", "semver", "the semantic version, compared part by part"),
        FieldSpec("stage", "text", "the release stage"),
        FieldSpec("owner", "text", "an owner of the model", many=True, scopes=_BOTH),
        FieldSpec("task", "text", "the model's task", scopes=_BOTH),
        FieldSpec("risk", "text", "the model's risk tier", scopes=_BOTH),
        FieldSpec("created_at", "date", "when it was registered", scopes=_BOTH, orderable=True),
        FieldSpec("created_by", "text", "who registered it", scopes=_BOTH),
        FieldSpec("alias", "text", "an alias that points at the version", many=True),
        FieldSpec("tags", "text", "a tag's value", keyed=True, scopes=_BOTH),
        FieldSpec("metrics", "number", "a metric (NAME@SPLIT{K=V})", keyed=True, orderable=True),
        FieldSpec("code.commit", "text", "the code commit"),
        FieldSpec("code.repo", "text", "the code repository"),
        FieldSpec("data.snapshot", "text", "a dataset snapshot id", many=True),
        FieldSpec("data.sha256", "text", "a dataset snapshot's hash", many=True),
        FieldSpec("features.name", "text", "the feature set"),
        FieldSpec("features.version", "text", "the feature set as NAME@VERSION"),
        FieldSpec("run.id", "text", "the pipeline run id"),
        FieldSpec("experiment.id", "text", "the experiment id"),
        FieldSpec("parent", "text", "a parent version as NAME/NUMBER", many=True),
        FieldSpec("env", "text", "an environment entry or framework version", keyed=True),
        FieldSpec("params", "text", "a training parameter, as text", keyed=True),
        FieldSpec("approved_by", "text", "a reviewer whose approval stands", many=True),
        FieldSpec("deprecated", "bool", "whether the version is deprecated"),
    )
}

#: Environment keys stored as fields of the record; any other ``env.KEY`` is a framework.
ENV_KEYS = ("python", "platform", "packages_sha256", "image_digest", "cpu", "gpu", "lockfile")


def valid_fields(scope: Scope) -> tuple[str, ...]:
    """The fields a query of ``scope`` may name, as written (``tags.KEY`` ...)."""
    return tuple(f.written for f in CATALOG.values() if scope in f.scopes)
