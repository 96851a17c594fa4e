"""What the audit log's replay keeps of one model's chain (:class:`ChainState`),
and the form in which another process hands a replay back (:class:`ReplayExport`).
:class:`modelbook.audit_state.Replay` fills the one and checks the other."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from .events import REGISTRY_CHAIN

#: Positions in a version's replayed state (:attr:`ChainState.versions`), a list
#: changed in place by its events: the id of its ``version.register`` event (None
#: when the log has none); whether that event was converted from revision 0001; its
#: stage and the event that set it; whether it is deprecated and the event that
#: said so; its tags and the event that recorded them; what its registration froze
#: (:data:`FROZEN_FIELDS`), or None. A stage or tags of None are not known (the
#: event that set them did not record them).
REGISTERED, LEGACY, STAGE, STAGE_BY, DEPRECATED, DEPRECATED_BY, TAGS, TAGS_BY, FROZEN = range(9)
#: What a ``version.register`` event records of the version's frozen fields, in the
#: order of a version's :data:`FROZEN` entry: its semver, the sha256 of its manifest's
#: JSON, its file count and total bytes, who registered it and when (microseconds),
#: and the sha256 of its whole stored document (``versions.doc``). A value of None is
#: not recorded by the event (one converted from revision 0001 has no semver of its
#: own when 0001 logged none, and its actor and time are those of the old log's
#: entry, not of the version's row; no event written before registrations recorded
#: the document's sha256 has it).
FROZEN_FIELDS = (
    "semver",
    "manifest_sha256",
    "files",
    "bytes",
    "created_by",
    "created_at",
    "doc_sha256",
)


class ChainState:
    """What one model's chain left: the model, its versions, aliases and pins.

    ``created``: (event id, legacy, owners, task, description) of its model.create;
    ``risk_tier`` and ``tags``: [value, event id]; ``versions``: number →
    [registered by, legacy, stage, by, deprecated, by, tags, by, frozen]; ``aliases``:
    name → [version number, event id, its actor, its time in microseconds];
    ``pins``: name → [MAJOR, event id]. A value of None means: not known (tags,
    stage) or absent (alias, pin).
    """

    __slots__ = ("aliases", "created", "pins", "risk_tier", "tags", "versions")

    def __init__(self) -> None:
        self.created: list[Any] | None = None
        self.risk_tier: list[Any] | None = None
        self.tags: list[Any] | None = None
        self.versions: dict[Any, list[Any]] = {}
        self.aliases: dict[Any, list[Any]] = {}
        self.pins: dict[Any, list[Any]] = {}

    def exported(self) -> list[Any]:
        """This state as JSON data: a row of :attr:`ReplayExport.chains` after its chain."""
        return [
            self.created,
            self.risk_tier,
            self.tags,
            list(self.versions.items()),
            list(self.aliases.items()),
            list(self.pins.items()),
        ]

    @classmethod
    def absorbed(cls, exported: Sequence[Any]) -> ChainState:
        """The state another process :meth:`exported`, validated by :class:`ReplayExport`."""
        # What is absorbed is only read (by the comparison): the validated tuples are kept.
        state = cls()
        state.created, state.risk_tier, state.tags, versions, aliases, pins = exported
        state.versions, state.aliases, state.pins = dict(versions), dict(aliases), dict(pins)
        return state


def unknown_version() -> list[Any]:
    return [None, False, None, None, False, None, None, None, None]


_Id = Annotated[int, Field(ge=0)]
_By = _Id | None
_Tags = dict[str, str]
# FROZEN_FIELDS: a registration event's values as modelbook writes them.
_Text = str | None
_Number = int | None
_Frozen = tuple[_Text, _Text, _Number, _Number, _Text, _Number, _Text] | None


class ReplayExport(BaseModel):
    """:meth:`Replay.export` as another process hands it back, checked field by field.

    Each value has the type modelbook writes; a log whose events were rewritten
    to hold others is replayed in this process instead (the answer is refused).
    """

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    chains: list[
        tuple[
            str,
            tuple[_Id, bool, list[str], str | None, str | None] | None,
            tuple[str, _Id] | None,
            tuple[_Tags | None, _Id] | None,
            # number: (registered by, legacy, stage, by, deprecated, by, tags, by, frozen)
            list[
                tuple[
                    int,
                    tuple[_By, bool, str | None, _By, bool, _By, _Tags | None, _By, _Frozen],
                ]
            ],
            # alias: (number, event, actor, at)
            list[tuple[str, tuple[int | None, _Id, str, int]]],
            # an alias's pin: (MAJOR, event)
            list[tuple[str, tuple[int | None, _Id]]],
        ]
    ]
    roles: list[tuple[str, str, _Id]]
    granted: list[tuple[str, str, str, int]]
    policy: tuple[str, str, _Id] | None
    unreadable: list[tuple[str, _Id, str]]
    gaps: list[tuple[str, _Id, str]]

    def chains_held(self) -> set[str]:
        """Every chain the export holds state of."""
        found = {row[0] for rows in (self.chains, self.unreadable, self.gaps) for row in rows}
        if self.roles or self.policy is not None:
            found.add(REGISTRY_CHAIN)
        return found
