"""Audit events: one typed record per mutation, as stored in the append-only log.

Every change to the registry writes exactly one event in the transaction
that makes the change: who (``actor``), when (``at``), what (``action`` and
``subject``, a model URI), the state before and after, and why (``reason``).
Events of one model form one hash chain, registry-wide events (policy and
role changes, garbage collection) another; ``seq`` is the event's position in
its chain and ``hash`` covers the previous event's hash and this event's
canonical encoding (:mod:`modelbook.audit`).

The union :data:`Event` is discriminated by ``action``; each kind narrows what
``before`` and ``after`` hold.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, cast

from pydantic import Field, TypeAdapter

from .domain import Frozen, FrozenDict, FrozenJSON, FrozenMap

REGISTRY_CHAIN = "registry"


def model_chain(model: str) -> str:
    """The name of a model's chain."""
    return f"model:{model}"


class _Event(Frozen):
    id: int
    chain: str
    seq: int
    at: datetime
    actor: str
    subject: str
    model: str | None = None
    version: int | None = None
    reason: str | None = None
    prev_hash: str
    hash: str


class ModelState(Frozen):
    owners: tuple[str, ...]
    task: str | None = None
    risk_tier: str
    description: str | None = None
    tags: FrozenMap[str, str] = Field(default_factory=FrozenDict)


class ModelCreated(_Event):
    action: Literal["model.create"]
    before: None = None
    after: ModelState


class RegisteredState(Frozen):
    """A version as registered: its semver, first stage, manifest (file count, total
    bytes, sha256 of its JSON), tags and the sha256 of its whole frozen document."""

    semver: str
    stage: str
    files: int
    bytes: int
    manifest_sha256: str
    #: None in events written before registrations recorded the version's tags:
    #: not known, which is not the same as none.
    tags: FrozenMap[str, str] | None = None
    #: The sha256 of the version's stored document (``versions.doc``: its files,
    #: metrics, lineage, contract, training, environment and the rest of what
    #: registration froze), as UTF-8. None in events written before registrations
    #: recorded it.
    doc_sha256: str | None = None


class VersionRegistered(_Event):
    action: Literal["version.register"]
    before: None = None
    after: RegisteredState


class TagsChanged(_Event):
    """All tags of a model (``model.tag``) or version (``version.tag``), before and after."""

    action: Literal["model.tag", "version.tag"]
    before: FrozenMap[str, str]
    after: FrozenMap[str, str]


class AliasState(Frozen):
    alias: str
    version: int


class AliasMoved(_Event):
    """An alias set (``before`` None), moved, or removed (``after`` None)."""

    action: Literal["alias.set", "alias.delete"]
    before: AliasState | None = None
    after: AliasState | None = None


class Recorded(_Event):
    """Release-flow and administrative events, whose payloads are JSON objects."""

    action: Literal[
        "version.stage",
        "version.evaluate",
        "version.approve",
        "version.reject",
        "version.attest",
        "version.deploy",
        "version.rollback",
        "version.drill",
        "version.deprecate",
        "version.undeprecate",
        "version.archive",
        "version.healthy",
        "version.comment",
        "version.watch",
        "version.observe",
        "version.scan",
        "version.smoke",
        "alias.swap",
        "alias.pin",
        "alias.unpin",
        "alias.override",
        "policy.set",
        "role.grant",
        "role.revoke",
        "blobs.gc",
        "model.risk_tier",
    ]
    before: FrozenJSON | None = None
    after: FrozenJSON | None = None


Event = Annotated[
    ModelCreated | VersionRegistered | TagsChanged | AliasMoved | Recorded,
    Field(discriminator="action"),
]
EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(cast(Any, Event))

#: Every action an event can carry.
ACTIONS: tuple[str, ...] = (
    "model.create",
    "version.register",
    "model.tag",
    "version.tag",
    "alias.set",
    "alias.delete",
    *Recorded.model_fields["action"].annotation.__args__,  # type: ignore[union-attr]
)


def parse(fields: dict[str, Any]) -> Event:
    """An event from its stored fields; raises pydantic's ValidationError if malformed."""
    event: Event = EVENT_ADAPTER.validate_python(fields)
    return event
