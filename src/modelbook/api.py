"""The service interface every registry implements: embedded or remote.

:class:`RegistryAPI` lists every public operation with its types. The
embedded :class:`~modelbook.Registry` implements it over a database and a
blob store; a remote client implements the same protocol over HTTP, so a
caller's code does not change with where the registry runs and every rule
runs once, in the service.

Conventions shared by every operation:

- Versions are named by URI: ``models:/NAME/NUMBER``, ``models:/NAME/SEMVER``,
  ``models:/NAME@ALIAS`` or ``models:/NAME/latest`` (``models:/`` optional).
- Listings return a :class:`~modelbook.domain.Page`: ``limit`` from 1 to
  1000, newest first, and an opaque ``next_page_token`` to pass back.
- Every mutation takes ``actor=`` (default: the registry's default actor)
  and writes one audit event in the same transaction.
- Errors are :class:`~modelbook.errors.ModelbookError` subclasses:
  ``NotFound``, ``AlreadyExists``, ``Conflict``, ``InvalidInput``,
  ``IntegrityError``, ``Unavailable``, ``GateFailed``, ``PermissionDenied``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload, runtime_checkable

from .api_release import ReleaseAPI
from .domain import (
    Alias,
    AliasEvent,
    Artifact,
    Model,
    Page,
    Stage,
    VerifyReport,
    Version,
    VersionSummary,
)
from .events import Event
from .files import Progress

if TYPE_CHECKING:
    from .doctor import DoctorReport
    from .impact import Impact
    from .lineage import LineageGraph
    from .pins import AliasPin
    from .version_diff import VersionDiff


@runtime_checkable
class RegistryAPI(ReleaseAPI, Protocol):
    """Every public operation of a model registry (the release flow's in :class:`ReleaseAPI`)."""

    # models
    def create_model(
        self,
        name: str,
        *,
        owners: Sequence[str] | str,
        task: str | None = None,
        risk_tier: str = "low",
        description: str | None = None,
        tags: Mapping[str, object] | None = None,
        actor: str | None = None,
    ) -> Model:
        """Create a model. Raises AlreadyExists, InvalidInput."""
        ...

    def get_model(self, name: str) -> Model:
        """One model. Raises NotFound."""
        ...

    def models(
        self, *, where: str | None = None, limit: int = 100, page_token: str | None = None
    ) -> Page[Model]:
        """Models, newest first; ``where`` filters by model fields. Raises InvalidQuery."""
        ...

    # registration: the local helper, and its two phases
    def register(
        self,
        name: str,
        paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
        **metadata: Any,
    ) -> Version:
        """Store files and commit a new version. Raises InvalidInput, NotFound, Unavailable."""
        ...

    def store_file(
        self, path: str | os.PathLike[str], name: str, *, progress: Progress | None = None
    ) -> Artifact:
        """Phase one: store one file by content. Raises InvalidInput, Unavailable."""
        ...

    def commit_version(
        self,
        name: str,
        artifacts: Iterable[Artifact | Mapping[str, Any]],
        *,
        actor: str | None = None,
        **metadata: Any,
    ) -> Version:
        """Phase two: commit a version naming stored blobs. Raises NotFound, InvalidInput."""
        ...

    # versions
    def get_version(self, uri: str) -> Version:
        """The version a URI names. Raises NotFound, InvalidInput, IntegrityError."""
        ...

    def resolve(self, uri: str) -> Version:
        """Same as :meth:`get_version`."""
        ...

    def diff(self, a: str, b: str) -> VersionDiff:
        """What differs from version ``a`` to ``b`` (two models allowed). Raises NotFound,
        InvalidInput, IntegrityError."""
        ...

    def versions(
        self,
        name: str,
        *,
        limit: int = 100,
        page_token: str | None = None,
        newest_first: bool = True,
        where: str | None = None,
    ) -> Page[Version]:
        """Versions of one model, those ``where`` matches when given; unreadable rows are
        named in ``Page.unreadable``. Raises NotFound, InvalidQuery."""
        ...

    @overload
    def search(
        self,
        query: str,
        *,
        order_by: str | None = ...,
        limit: int = ...,
        page_token: str | None = ...,
        fields: Literal["full"] = ...,
    ) -> Page[Version]: ...

    @overload
    def search(
        self,
        query: str,
        *,
        order_by: str | None = ...,
        limit: int = ...,
        page_token: str | None = ...,
        fields: Literal["summary"],
    ) -> Page[VersionSummary]: ...

    def search(
        self,
        query: str,
        *,
        order_by: str | None = None,
        limit: int = 100,
        page_token: str | None = None,
        fields: Literal["full", "summary"] = "full",
    ) -> Page[Version] | Page[VersionSummary]:
        """Versions of every model that a query of the query language matches (see
        docs/search.md), newest first or in ``order_by``; ``fields="summary"``: each
        a :class:`VersionSummary`. Raises InvalidQuery."""
        ...

    def search_hints(self, query: str) -> tuple[str, ...]:
        """Sentences on why ``query`` may have found nothing (a metric registered only
        under another split or slice, an abbreviated commit id); empty when there is
        nothing to suggest."""
        ...

    def search_versions(
        self,
        *,
        model: str | None = None,
        tags: Mapping[str, object] | None = None,
        metrics: Sequence[tuple[str, str, float]] = (),
        stage: Stage | str | None = None,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[Version]:
        """Versions matching every filter, newest first."""
        ...

    # tags
    def set_tags(
        self,
        uri: str,
        tags: Mapping[str, object],
        *,
        remove: Sequence[str] = (),
        actor: str | None = None,
    ) -> dict[str, str]:
        """Set and remove tags of a version or a model; returns all its tags."""
        ...

    # aliases
    def set_alias(
        self,
        name: str,
        alias: str,
        version: int | str,
        *,
        reason: str,
        expect: int | None = None,
        allow_major: bool = False,
        actor: str | None = None,
    ) -> Alias:
        """Point an alias at a version. Raises Conflict when ``expect`` does not hold,
        InvalidInput when a pinned alias would change MAJOR without ``allow_major``."""
        ...

    def delete_alias(
        self,
        name: str,
        alias: str,
        *,
        reason: str,
        expect: int | None = None,
        actor: str | None = None,
    ) -> None:
        """Remove an alias. Raises NotFound, Conflict."""
        ...

    def aliases(self, name: str) -> list[Alias]:
        """Where each alias of a model points, and its pin."""
        ...

    def pin_alias(self, name: str, alias: str, major: int, *, actor: str | None = None) -> Alias:
        """Pin an alias to one semver MAJOR. Raises InvalidInput, NotFound, PermissionDenied."""
        ...

    def unpin_alias(self, name: str, alias: str, *, actor: str | None = None) -> None:
        """Remove an alias's pin. Raises NotFound, PermissionDenied."""
        ...

    def alias_pins(self, name: str) -> list[AliasPin]:
        """Every pin of a model's aliases, those of removed aliases included (``version``
        None). Raises NotFound."""
        ...

    def alias_history(
        self, name: str, alias: str | None = None, *, limit: int = 100
    ) -> list[AliasEvent]:
        """Moves of a model's aliases, newest first."""
        ...

    # artifacts
    def download(
        self,
        uri: str,
        dest: str | os.PathLike[str],
        progress: Progress | None = None,
        *,
        overwrite: bool = False,
    ) -> Path:
        """Write a version's verified files under ``dest``, all or nothing."""
        ...

    def read_artifact(self, uri: str, path: str) -> bytes:
        """One artifact's verified bytes."""
        ...

    def verify(self, name: str | None = None, progress: Progress | None = None) -> VerifyReport:
        """Rehash stored artifacts and name each missing or corrupt file. Raises NotFound,
        and IntegrityError naming each version whose artifact rows or rows search reads
        (metrics, params, lineage) are not the ones its stored record yields."""
        ...

    # lineage
    def lineage(
        self, uri: str, *, direction: str = "both", depth: int | None = None
    ) -> LineageGraph:
        """The lineage graph around a version: ``up`` (inputs, ancestors), ``down``
        (descendants) or ``both``; ``depth`` >= 1 parent links (None: all). Raises
        InvalidInput, NotFound, IntegrityError."""
        ...

    def impact(self, ref: str) -> Impact:
        """Every version depending on ``dataset:ID``, ``commit:SHA``, ``features:NAME@V``,
        ``run:ID``, ``experiment:ID`` or a version URI, through parent links too, marked
        deployed. Raises InvalidInput, NotFound."""
        ...

    def bom(self, uri: str, *, format: str = "cyclonedx") -> str:
        """The version as a CycloneDX 1.6 ML-BOM (JSON text), schema-checked. Raises
        InvalidInput, NotFound, IntegrityError."""
        ...

    # reports
    def report(self, uri: str, format: str = "md") -> str:
        """A one-page audit and reproducibility report, ``md`` or ``html`` (one self-contained
        page). Raises InvalidInput, NotFound, IntegrityError."""
        ...

    def doctor(self, name: str | None = None, stage: str | None = None) -> DoctorReport:
        """Versions whose entries miss metadata checklist fields, worst first; ``check()`` on
        the result raises IncompleteMetadata for deployed versions missing required fields.
        Raises NotFound, InvalidInput."""
        ...

    # audit
    def events(
        self,
        *,
        model: str | None = None,
        action: str | tuple[str, ...] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[Event]:
        """Audit events newest first, filtered by model, action and time.

        Raises NotFound when ``model`` is not and never was a model.
        """
        ...
