"""The Registry: the embedded implementation of :class:`~modelbook.api.RegistryAPI`.

A thin facade. It wires the metadata database, the blob store, the clock and
the default actor, and delegates every operation to the service of its
aggregate (:mod:`modelbook.services`). Every mutating call takes ``actor=``;
without it the registry's default actor is used (``actor=`` given to the
constructor, else ``$MODELBOOK_USER``, else the login name), validated when
first needed.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import validation
from .alias_api import AliasOperations
from .artifact_api import ArtifactOperations
from .blobs_url import redact as redact_blob_url
from .domain import (
    Model,
    Page,
    Version,
)
from .lineage_api import LineageOperations
from .registration_api import RegistrationOperations
from .registry_services import Services
from .release_api import ReleaseOperations
from .report_api import ReportOperations
from .search_api import SearchOperations
from .services.base import Context
from .services.versions import VersionService
from .store import Database, default_home
from .store.engine import redact

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .events import Event


def login_name() -> str:
    """``$MODELBOOK_USER``, else the login name, else ``uid-N``."""
    name = os.environ.get("MODELBOOK_USER")
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid-{os.getuid()}"


class Registry(
    Services,
    RegistrationOperations,
    ReleaseOperations,
    ArtifactOperations,
    AliasOperations,
    LineageOperations,
    ReportOperations,
    SearchOperations,
):
    """A model registry on one metadata database and one blob store.

    ``uri`` is any SQLAlchemy database URI; by default a SQLite file under
    ``$MODELBOOK_HOME`` (``~/.modelbook``). ``MODELBOOK_URI`` and
    ``MODELBOOK_BLOB_URI`` override the defaults; ``blob_options`` go to the
    fsspec filesystem (for S3: ``endpoint_url``, ``key``, ``secret`` ...).
    With ``create=False`` a registry that does not exist yet is not created:
    :class:`~modelbook.NotFound` says "no registry at ...". When this call
    creates the registry (``created`` is then True), its creator (the default
    actor) is recorded as its first admin in the same transaction, or ``admin``
    when given; InvalidInput when that name is not a valid actor. Given for a
    registry that exists, ``admin`` must be one of its admins already, else
    :class:`~modelbook.AlreadyExists` names them.
    """

    def __init__(
        self,
        uri: str | None = None,
        *,
        blob_uri: str | None = None,
        home: str | os.PathLike[str] | None = None,
        actor: str | None = None,
        blob_options: Mapping[str, Any] | None = None,
        create: bool = True,
        admin: str | None = None,
    ) -> None:
        root = Path(home).expanduser() if home is not None else default_home()
        uri = uri or os.environ.get("MODELBOOK_URI") or f"sqlite:///{root / 'registry.db'}"
        blob_uri = blob_uri or os.environ.get("MODELBOOK_BLOB_URI") or str(root / "blobs")
        self._actor = None if actor is None else validation.actor(actor)
        first_admin = None if admin is None else validation.actor(admin, "admin")
        self.db = Database(uri, create=create)
        self.created = self.db.migrate(on_create=lambda conn: self._found(conn, first_admin))
        # Given to the blob store only; ``blob_uri`` shows it redacted.
        self._blob_url = blob_uri
        self._blob_options = dict(blob_options or {})
        self.ctx = Context(db=self.db, open_blobs=lambda: self.blobs)
        self._versions = VersionService(self.ctx)
        if first_admin is not None and not self.created:
            self._check_named_admin(first_admin)

    def _check_named_admin(self, admin: str) -> None:
        """``admin=`` names the first admin of a registry this call creates: on one that
        exists it must already be an admin there, else AlreadyExists names its admins."""
        from .errors import AlreadyExists

        admins = sorted(g.actor for g in self.roles() if g.role == "admin")
        if admin not in admins:
            held = f"its admins: {', '.join(admins)}" if admins else "it has no admin"
            self.close()
            raise AlreadyExists(
                f"a registry already exists at {self.uri} ({held}); admin= names the first "
                "admin of a new registry only: an admin grants roles (role grant)"
            )

    def _found(self, conn: Connection, admin: str | None) -> None:
        from .services.base import now_us
        from .services.governance import found

        creator = self.actor
        found(conn, creator=creator, admin=admin or creator, at=now_us())

    @property
    def uri(self) -> str:
        """The database URI with any password hidden."""
        return redact(self.db.uri)

    @property
    def blob_uri(self) -> str:
        """The blob store URL with its user-info and any token, password or signature hidden."""
        return redact_blob_url(self._blob_url)

    @property
    def actor(self) -> str:
        """The default actor of mutations that do not name one."""
        return self._actor if self._actor is not None else validation.actor(login_name())

    def _who(self, actor: str | None) -> str:
        return self.actor if actor is None else validation.actor(actor)

    def close(self) -> None:
        self.db.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Registry(uri={self.uri!r}, blob_uri={self.blob_uri!r})"

    # models -------------------------------------------------------------------

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
        """Create a model; raises AlreadyExists if the name is taken."""
        return self._models.create(
            name,
            actor=self._who(actor),
            owners=owners,
            task=task,
            risk_tier=risk_tier,
            description=description,
            tags=tags,
        )

    def get_model(self, name: str) -> Model:
        return self._models.get(name)

    def models(
        self, *, where: str | None = None, limit: int = 100, page_token: str | None = None
    ) -> Page[Model]:
        """Models, newest first; ``where``: a query over model fields (docs/search.md)."""
        if where is not None:
            return self._filtered_models(where, limit=limit, page_token=page_token)
        return self._models.page(limit=limit, page_token=page_token)

    # reading versions -------------------------------------------------------------

    def get_version(self, uri: str) -> Version:
        """The version a URI names (number, semver, alias or ``latest``)."""
        return self._versions.get(uri)

    resolve = get_version

    def versions(
        self,
        name: str,
        *,
        limit: int = 100,
        page_token: str | None = None,
        newest_first: bool = True,
        where: str | None = None,
    ) -> Page[Version]:
        """Versions of one model, newest first by default; ``where``: a query that
        they must match (docs/search.md)."""
        if where is not None:
            return self._filtered_versions(
                name, where, limit=limit, page_token=page_token, newest_first=newest_first
            )
        return self._versions.page(
            name, limit=limit, page_token=page_token, newest_first=newest_first
        )

    # tags -------------------------------------------------------------------------

    def set_tags(
        self,
        uri: str,
        tags: Mapping[str, object],
        *,
        remove: Sequence[str] = (),
        actor: str | None = None,
    ) -> dict[str, str]:
        """Set and remove tags of a version (``models:/n/3``) or a model (``models:/n``)."""
        return self._tags.set(uri, tags, actor=self._who(actor), remove=remove)

    # audit ------------------------------------------------------------------------

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
        """Audit events newest first, filtered by model, action(s) and time ``[since, until)``."""
        return self._audit.events(
            model=model,
            action=action,
            since=since,
            until=until,
            limit=limit,
            page_token=page_token,
        )


__all__ = ["Registry", "login_name"]
