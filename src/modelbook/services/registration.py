"""Registration in two phases: store blobs, then commit a manifest that names them.

Phase one stores each file by content (verified, durable) and returns its
:class:`~modelbook.domain.Artifact`; phase two validates the manifest and the
version's metadata and writes the version, its child rows and its event in
one transaction. :meth:`RegistrationService.register` is the local helper in
front of both: it walks the paths a user names, validates everything, then
runs the two phases. A remote client runs the same two phases over HTTP.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.engine import Connection

from .. import files, limits, validation
from .. import semver as semver_rule
from ..audit_frozen import doc_sha256, manifest_sha256
from ..domain import (
    Artifact,
    Stage,
    Version,
)
from ..errors import InvalidInput, NotFound
from ..events import RegisteredState
from ..manifest_paths import given_sha256
from ..semver import Classification
from ..store import models as model_rows
from ..store import versions as version_rows
from ..store.rows import dumps, to_dt
from . import audit as log
from . import contracts
from .base import Context
from .classify import ClassifyService, overtaken
from .comparison import followed
from .drafts import Draft, check_tier, invalid, prepare
from .models import insert_model

Progress = files.Progress


def _noop(_: int) -> None:
    return None


def _default_first_stage(conn: Connection, policy_sha256: str | None) -> str:
    return Stage.STAGING.value


class _Moved(Exception):
    """A version was registered since the draft was compared: roll back, compare again."""


class RegistrationService:
    """Registration; ``first_stage(conn, policy_sha256)`` names the stage a new version
    enters (the first of the policy whose hash the registration's transaction read); ``classifier``
    gathers the evidence of a new version's semver (made on first use)."""

    def __init__(
        self,
        ctx: Context,
        first_stage: Callable[[Connection, str | None], str] = _default_first_stage,
        classifier: Callable[[], ClassifyService] | None = None,
    ) -> None:
        self.ctx = ctx
        self.first_stage = first_stage
        self._classifier = classifier

    def _classify(
        self,
        draft: Draft,
        manifest: list[Artifact],
        actor: str,
        seen: tuple[Any, Any] | None,
    ) -> Classification:
        """What changed since the parent and since the version holding the model's
        highest semver, before the transaction (it may load the models). ``seen``: the
        model's and its latest version's rows to compare with (None: read them now)."""
        if self._classifier is None or (seen is not None and seen[0] is None):
            return Classification(
                computed=semver_rule.FIRST, method="first", reasons=("the first version",)
            )
        classifier = self._classifier()
        parent, highest = classifier.compared(draft.name, draft.parents, seen)
        return classifier.classify(
            parent,
            highest,
            draft.contract.doc,
            manifest,
            actor=actor,
            options=draft.comparing,
            first=semver_rule.FIRST,
        )

    # the local helper --------------------------------------------------------

    def register(
        self,
        name: str,
        paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
        *,
        actor: str,
        progress: Progress | None = None,
        **metadata: Any,
    ) -> Version:
        """Walk ``paths``, validate everything, store the files, commit the version."""
        validation.model_name(name)
        found = files.collect(paths)
        if (
            metadata.get("signature") is None
            and metadata.get("contract") is None
            and metadata.get("sample") is not None
        ):
            # As infer_signature(model=...) records it: the framework of the model file.
            metadata = contracts.with_runtime(metadata, found)
        draft = prepare(self.ctx, name, actor=actor, **metadata)
        contracts.check_paths(draft.contract, [rel for rel, _ in found])
        contracts.check_flavor(draft.contract, lambda: contracts.local_heads(found))
        manifest = [self.store_file(src, rel, progress) for rel, src in found]
        return self._commit(draft, self._with_sample(draft, manifest), actor=actor)

    def _with_sample(self, draft: Draft, manifest: list[Artifact]) -> list[Artifact]:
        """The manifest and, when the version has one, its stored input sample."""
        if draft.contract.sample is None:
            return manifest
        stored = contracts.store_sample(self.ctx.blobs.put_file, draft.contract.sample)
        return [*manifest, stored]

    # phase one ---------------------------------------------------------------

    def store_file(
        self, src: str | os.PathLike[str], path: str, progress: Progress | None = None
    ) -> Artifact:
        """Store one local file by content; returns its manifest entry once it is durable.

        Raises InvalidInput when the file changed while it was read or is not
        a regular file, Unavailable when the blob store cannot be written.
        """
        if not isinstance(src, str | os.PathLike):
            raise InvalidInput(f"the file to store must be a path, got {type(src).__name__}")
        files.check_manifest_paths([path])
        sha, size = self.ctx.blobs.put_file(Path(src), progress or _noop)
        return Artifact(path=path, size=size, sha256=sha)

    # phase two ---------------------------------------------------------------

    def commit(
        self,
        name: str,
        artifacts: Iterable[Artifact | Mapping[str, Any]],
        *,
        actor: str,
        **metadata: Any,
    ) -> Version:
        """Commit a version whose blobs are already stored (phase two).

        Every artifact's blob must be in the blob store with the stated size;
        else :class:`NotFound` names it and nothing is written.
        """
        # A string is iterable too, and a mapping's items are not artifacts.
        if isinstance(artifacts, str | bytes | Mapping) or not isinstance(artifacts, Iterable):
            raise InvalidInput(
                "artifacts must be a list of stored artifacts (what store_file returns, "
                f"or mappings of path, size and sha256), got {type(artifacts).__name__}"
            )
        manifest = []
        for a in artifacts:
            if not isinstance(a, Artifact | Mapping):
                raise InvalidInput(
                    "each artifact must be what store_file returns or a mapping of path, "
                    f"size and sha256, got {type(a).__name__}"
                )
            try:
                item = a if isinstance(a, Artifact) else Artifact.model_validate(dict(a))
            except ValidationError as exc:
                raise _refused(dict(a), exc) from None
            given_sha256(item.sha256, item.path)
            manifest.append(item)
        files.check_manifest_paths(a.path for a in manifest)
        draft = prepare(self.ctx, name, actor=actor, **metadata)
        if not manifest:
            raise InvalidInput(f"a version of {name!r} needs at least one artifact")
        contracts.check_paths(draft.contract, [a.path for a in manifest])
        for a in manifest:
            stored = self.ctx.blobs.stored_size(a.sha256)
            if stored is None:
                raise NotFound(f"artifact {a.path!r}: blob {a.sha256} is not in the blob store")
            if stored != a.size:
                raise InvalidInput(
                    f"artifact {a.path!r}: blob {a.sha256} holds {stored} bytes, not {a.size}"
                )
        contracts.check_flavor(
            draft.contract, lambda: [(a.path, self.ctx.blobs.head(a.sha256)) for a in manifest]
        )
        return self._commit(draft, self._with_sample(draft, manifest), actor=actor)

    def _commit(self, draft: Draft, manifest: list[Artifact], *, actor: str) -> Version:
        """Compare the version with its parent, then write it, its rows and its event in
        one transaction.

        The comparison is made with the model as :func:`~.drafts.prepare` read it, which
        saves a read. When the transaction finds that a version was registered
        since (while the files were stored or compared), it is rolled back and
        the comparison made again with the model as it is then; a version
        registered during that second comparison is caught in the transaction
        (:func:`~.classify.overtaken`).
        """
        seen = draft.seen
        expected = 0 if seen is None or seen[0] is None else int(seen[0].last_number)
        try:
            change = self._classify(draft, manifest, actor, seen)
            return self._write(draft, manifest, change, actor=actor, expected=expected)
        except _Moved:
            change = self._classify(draft, manifest, actor, None)
            return self._write(draft, manifest, change, actor=actor, expected=None)

    def _write(
        self,
        draft: Draft,
        manifest: list[Artifact],
        change: Classification,
        *,
        actor: str,
        expected: int | None,
    ) -> Version:
        """The registration's transaction; raises :class:`_Moved` when ``expected`` is
        not None and the model's newest number is no longer ``expected``."""
        name = draft.name
        now = self.ctx.clock()
        artifacts = [a.model_dump() for a in manifest]
        doc = {"artifacts": artifacts, **draft.doc}
        with self.ctx.db.write() as conn:
            head = None
            if draft.new_model is not None:
                head = insert_model(conn, {**draft.new_model, "created_at": now})
            model = model_rows.for_registration(conn, name)
            if model is None:
                raise NotFound(f"model {name!r} not found")
            if expected is not None and int(model.last_number) != expected:
                raise _Moved
            if head is None:
                if draft.new_model is not None:
                    # The model was created since this registration was prepared, by
                    # another one: its tier holds, as if it had been there all along.
                    check_tier(name, model.risk_tier, draft.risk_tier)
                head = log.Head.of_model(name, model)
            number = int(model.last_number) + 1
            if number > limits.MAX_NUMBER:
                raise InvalidInput(f"model {name!r} has reached {limits.MAX_NUMBER} versions")
            highest = model_rows.highest_semver(model)
            if highest is not None and highest != followed(change):
                # Another version was registered since the comparisons: the new semver
                # follows that one, so it is compared with that one.
                change = overtaken(
                    self.ctx,
                    conn,
                    name,
                    highest,
                    draft.contract.doc,
                    manifest,
                    draft.comparing,
                    change,
                )
            bump = change.bump or semver_rule.Bump.MINOR
            semver_text = semver_rule.next_semver(
                name, highest, draft.explicit_semver, bump, change.why()
            )
            computed = (
                semver_rule.FIRST
                if highest is None
                else semver_rule.bumped_within(highest, bump) or semver_text
            )
            classified = change.model_copy(
                update={
                    "computed": computed,
                    "bump": change.bump if highest is not None else None,
                    "explicit": draft.explicit_semver,
                }
            )
            doc["classification"] = classified.model_dump(mode="json")
            doc_text, tags_text = dumps(doc), dumps(draft.tags)
            missing = set(draft.parents) - version_rows.existing(conn, draft.parents)
            if missing:
                raise NotFound(
                    "parent version "
                    + ", ".join(f"models:/{n}/{v}" for n, v in sorted(missing))
                    + " not found"
                )
            parts = semver_rule.parse(semver_text)
            stage = self.first_stage(conn, model.policy_sha256)
            version_rows.insert(
                conn,
                {
                    "model_id": model.id,
                    "number": number,
                    "semver": semver_text,
                    "semver_major": parts[0],
                    "semver_minor": parts[1],
                    "semver_patch": parts[2],
                    "stage": stage,
                    "doc": doc_text,
                    "tags": tags_text,
                    "created_at": now,
                    "created_by": actor,
                },
                artifacts=artifacts,
                tags=draft.tags,
                search=draft.rows,
            )
            log.record(
                conn,
                head,
                actor=actor,
                at=now,
                action="version.register",
                subject=log.subject_of(name, number),
                model=name,
                version=number,
                after=RegisteredState(
                    semver=semver_text,
                    stage=stage,
                    files=len(manifest),
                    bytes=sum(a.size for a in manifest),
                    manifest_sha256=manifest_sha256(artifacts),
                    tags=draft.tags,
                    doc_sha256=doc_sha256(doc_text),
                ),
                # The model's newest number and semver move in the statement of its
                # chain head: one UPDATE of its row.
                model_columns=model_rows.numbered(number, parts),
            )
        version = Version.model_validate(
            {
                **doc,
                **draft.record,
                "artifacts": tuple(manifest),
                "classification": classified,
                "model": name,
                "number": number,
                "semver": semver_text,
                "stage": stage,
                "tags": draft.tags,
                "created_by": actor,
                "created_at": to_dt(now),
            }
        )
        self.ctx.cache.registered(version, doc=doc_text, tags=tags_text, created_at=now)
        return version


def _refused(entry: dict[str, Any], exc: ValidationError) -> InvalidInput:
    """Why a caller's manifest entry (a mapping of path, size and sha256) is not an
    :class:`Artifact`: a hash or a path the manifest rule refuses gets that rule's
    message, as a registration gives it; anything else pydantic's first error."""
    fields = {e["loc"][0] for e in exc.errors() if e["loc"]}
    if "sha256" in fields and "sha256" in entry:
        given_sha256(entry["sha256"], str(entry.get("path")))
    if "path" in fields and "path" in entry:
        files.check_manifest_paths([entry["path"]])
    return invalid(exc)
