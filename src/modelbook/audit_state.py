"""The state the audit log implies, and where the live tables disagree with it.

Chain verification proves the events unchanged, and :mod:`modelbook.audit_records`
proves the annotations are the ones the events describe. This module does the
same for the current state the release flow decides by: each verified event
that sets part of it is replayed (:class:`Replay`, fed by
:class:`modelbook.audit.ChainVerifier` in chain order), and
:func:`modelbook.audit_compare.compare` names every object whose live row says
otherwise, with both values and the event the log's value comes from. A stage
set to ``approved`` by hand, an alias pointed elsewhere, a role inserted or a
policy swapped are found by ``audit verify`` like an edited event.

What is replayed, from each event's ``after`` (and ``before`` for a removal):

- a model (``model.create``): its risk tier (then ``model.risk_tier``), owners,
  task, description and tags (then ``model.tag``, which records them all);
- a version (``version.register``): its stage (then ``version.stage`` and
  ``version.archive``), its deprecation (``version.deprecate``,
  ``version.undeprecate``) and its tags
  (then ``version.tag``, which records them all). A registration event written
  before registrations recorded their tags leaves them unknown: such a
  version's tags are checked only for their two copies, the row's and the
  indexed one, agreeing with each other, until a tag write records them. What
  the registration froze and its event records is kept too (semver, the sha256
  of the manifest with its file count and bytes, who and when, and the sha256
  of its whole document), and compared with the version's row, its files, both
  as its document lists them and as the ``artifacts`` table does, and its
  document (metrics, lineage, contract, training, environment and the rest);
- an alias's target (``alias.set``, ``alias.delete``), who last moved it and
  when (that event's actor and time, which every move writes to the alias's
  row too: what ``alias list`` shows; compared when the target agrees), and
  its contract pin (``alias.pin``, ``alias.unpin``, ``alias.override``). The
  alias names each version's row lists are compared with the aliases that
  point at it in the registry (the database keeps the two alike), not with
  the log: an alias moved by hand is named once, as the alias;
- the roles held, who granted each and when (``role.grant``, ``role.revoke``),
  and the policy in force (``policy.set``: its hash and format; the live
  policy's text must hash to it), by :mod:`modelbook.audit_registry_state`.

Each event's ``before`` is also checked against the state the log had left:
a change made by hand and then carried on by a later event (a stage set to
``approved`` in SQL, then a deploy, whose own events agree with the final
state) is named by the event that found it.

Events converted from revision 0001 (their reason starts with
:data:`LEGACY_REASON`) recorded less: the tags they set without those they
removed, and registrations without the stage the version had. The state they
leave is unknown until a later event sets it again, and the models and
versions they describe need not exist (revision 0001 logged some that were
never stored). Its alias moves were converted with their actor and time, which
revision 0001 wrote to the alias's row as well: they are compared like others.

A model's state is replayed from its own chain, and the objects of a broken
chain are not compared: the events after the break are not verified, so the
state they imply is not known (the break is reported). The replay costs a
dictionary entry or two per event; the comparison reads each table once, in
bulk, and costs one lookup per object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .audit_chain_state import (
    DEPRECATED,
    DEPRECATED_BY,
    FROZEN,
    FROZEN_FIELDS,
    LEGACY,
    REGISTERED,
    STAGE,
    STAGE_BY,
    TAGS,
    TAGS_BY,
    ChainState,
    ReplayExport,
    unknown_version,
)
from .audit_names import alias_uri, model_uri, shown_major, shown_target, version_uri
from .audit_registry_state import RegistryReplay

#: How the reason of an event converted from revision 0001 starts (see migration 0002).
LEGACY_REASON = "recorded before revision 0002"


class Replay(RegistryReplay):
    """The state implied by verified events, fed one at a time in chain order.

    A model's state is kept per chain (``model:NAME``), so the events of one
    chain, which arrive together, work on a few small dictionaries.
    """

    def __init__(self) -> None:
        super().__init__()
        self.chains: dict[str, ChainState] = {}

    def handlers(self) -> dict[str, Callable[[dict[str, Any], int], None]]:
        """What :class:`~modelbook.audit.ChainVerifier` calls, by action, with each
        verified event (its parsed encoding) and its id."""
        return {
            "model.create": self._model_create,
            "model.tag": self._model_tag,
            "model.risk_tier": self._model_risk_tier,
            "version.register": self._version_register,
            "version.stage": self._version_stage,
            "version.archive": self._version_stage,
            "version.deprecate": self._version_deprecate,
            "version.undeprecate": self._version_deprecate,
            "version.tag": self._version_tag,
            "alias.set": self._alias,
            "alias.delete": self._alias,
            "alias.pin": self._pin,
            "alias.override": self._pin,
            "alias.unpin": self._unpin,
            **self.registry_handlers(),
        }

    def _of(self, chain: str) -> ChainState:
        # The hot handlers look the chain up themselves and call this for a new one.
        found = self.chains.get(chain)
        if found is None:
            if type(chain) is not str:
                raise TypeError("no chain")
            found = self.chains[chain] = ChainState()
        return found

    # models --------------------------------------------------------------------------

    def _model_create(self, event: dict[str, Any], event_id: int) -> None:
        try:
            state, after, reason = self._of(event["chain"]), event["after"], event["reason"]
            legacy = reason is not None and reason.startswith(LEGACY_REASON)
            owners, task, description = after["owners"], after["task"], after["description"]
            state.created = [event_id, legacy, owners, task, description]
            state.risk_tier = [after["risk_tier"], event_id]
            state.tags = [after["tags"], event_id]
        except (LookupError, TypeError, AttributeError):
            self._unreadable(event, event_id)

    def _model_tag(self, event: dict[str, Any], event_id: int) -> None:
        try:
            chain, reason = event["chain"], event["reason"]
            state = self._of(chain)
            if reason is not None and reason.startswith(LEGACY_REASON):
                state.tags = [None, event_id]
                return
            left = state.tags
            if left is not None and left[0] is not None and left[0] != event["before"]:
                self._gap(event, event_id, model_uri(chain), "the tags", event["before"], left)
            state.tags = [event["after"], event_id]
        except (LookupError, TypeError, AttributeError):
            self._unreadable(event, event_id)

    def _model_risk_tier(self, event: dict[str, Any], event_id: int) -> None:
        try:
            chain, found = event["chain"], event["before"]["risk_tier"]
            state = self._of(chain)
            left = state.risk_tier
            if left is not None and left[0] != found:
                self._gap(event, event_id, model_uri(chain), "the risk tier", found, left)
            state.risk_tier = [event["after"]["risk_tier"], event_id]
        except (LookupError, TypeError, AttributeError):
            self._unreadable(event, event_id)

    # versions ------------------------------------------------------------------------

    def _version_register(self, event: dict[str, Any], event_id: int) -> None:
        try:
            chain, reason = event["chain"], event["reason"]
            versions = (self.chains.get(chain) or self._of(chain)).versions
            after = event["after"]
            if reason is not None and reason.startswith(LEGACY_REASON):
                # Revision 0001 did not log the stage: its conversion wrote "staging".
                stage, legacy, tags = None, True, None
                # Its conversion hashed the version's manifest as stored then, took the
                # semver 0001 logged (or none) and the old entry's actor and time.
                frozen = (after.get("semver") or None, *_files(after), None, None, None)
            else:
                # A registration written before registrations recorded their tags has
                # none: they are not known, which is not the same as no tags.
                stage, legacy, tags = after["stage"], False, after.get("tags")
                frozen = (
                    after.get("semver"),
                    *_files(after),
                    event["actor"],
                    event["at"],
                    after.get("doc_sha256"),
                )
            versions[event["version"]] = [
                event_id,
                legacy,
                stage,
                event_id,
                False,
                None,
                tags,
                None if tags is None else event_id,
                frozen,
            ]
        except (LookupError, TypeError, AttributeError):
            self._unreadable(event, event_id)

    def _version(self, event: Mapping[str, Any]) -> list[Any]:
        chain, number = event["chain"], event["version"]
        versions = (self.chains.get(chain) or self._of(chain)).versions
        found = versions.get(number)
        if found is None:
            found = versions[number] = unknown_version()
        return found

    # The hot handlers (a stage move, a tag write, an alias move) look their version
    # or alias up themselves: a call fewer per event.

    def _version_stage(self, event: dict[str, Any], event_id: int) -> None:
        try:
            chain, number = event["chain"], event["version"]
            v = (self.chains.get(chain) or self._of(chain)).versions.get(number)
            if v is None:
                v = self._version(event)
            found = event["before"]["stage"]
            left = v[STAGE]
            if left is not None and left != found:
                subject = version_uri(event["chain"], event["version"])
                self._gap(event, event_id, subject, "the stage", found, v[STAGE : STAGE_BY + 1])
            v[STAGE] = event["after"]["stage"]
            v[STAGE_BY] = event_id
        except (LookupError, TypeError, AttributeError):
            self._unreadable(event, event_id)

    def _version_deprecate(self, event: dict[str, Any], event_id: int) -> None:
        try:
            v, found = self._version(event), event["before"]["deprecated"]
            if v[REGISTERED] is not None and (v[DEPRECATED] is True) != found:
                subject = version_uri(event["chain"], event["version"])
                by = v[DEPRECATED_BY] or v[REGISTERED]
                self._gap(event, event_id, subject, "deprecated", found, (v[DEPRECATED], by))
            v[DEPRECATED], v[DEPRECATED_BY] = event["after"]["deprecated"], event_id
        except (LookupError, TypeError, AttributeError):
            self._unreadable(event, event_id)

    def _version_tag(self, event: dict[str, Any], event_id: int) -> None:
        try:
            chain, number = event["chain"], event["version"]
            v = (self.chains.get(chain) or self._of(chain)).versions.get(number)
            if v is None:
                v = self._version(event)
            reason = event["reason"]
            if reason is not None and reason.startswith(LEGACY_REASON):
                v[TAGS], v[TAGS_BY] = None, event_id
                return
            left = v[TAGS]
            if left is not None and left != event["before"]:
                subject = version_uri(event["chain"], event["version"])
                self._gap(
                    event, event_id, subject, "the tags", event["before"], v[TAGS : TAGS_BY + 1]
                )
            v[TAGS] = event["after"]
            v[TAGS_BY] = event_id
        except (LookupError, TypeError, AttributeError):
            self._unreadable(event, event_id)

    # aliases, pins -------------------------------------------------------------------

    def _alias(self, event: dict[str, Any], event_id: int) -> None:
        try:
            before, after = event["before"], event["after"]
            chain, name = event["chain"], (after or before)["alias"]
            aliases = (self.chains.get(chain) or self._of(chain)).aliases
            found = None if before is None else before["version"]
            left = aliases.get(name)
            if (None if left is None else left[0]) != found:
                subject = alias_uri(event["chain"], name)
                self._gap(event, event_id, subject, "the alias", found, left, shown_target)
            # Revision 0001 logged a removal as alias.set to nothing: ``after`` decides.
            # Every move writes its actor and time to the alias's row as to its event
            # (revision 0001's too, whose conversion kept both).
            target = None if after is None else after["version"]
            aliases[name] = [target, event_id, event["actor"], event["at"]]
        except (LookupError, TypeError, AttributeError):
            self._unreadable(event, event_id)

    def _pin(self, event: dict[str, Any], event_id: int) -> None:
        try:
            before, after = event["before"], event["after"]
            pins, name = self._of(event["chain"]).pins, after["alias"]
            self._pin_found(
                event, event_id, pins, name, None if before is None else before["major"]
            )
            pins[name] = [after["major"], event_id]
        except (LookupError, TypeError, AttributeError):
            self._unreadable(event, event_id)

    def _unpin(self, event: dict[str, Any], event_id: int) -> None:
        try:
            before = event["before"]
            pins, name = self._of(event["chain"]).pins, before["alias"]
            self._pin_found(event, event_id, pins, name, before["major"])
            pins[name] = [None, event_id]
        except (LookupError, TypeError, AttributeError):
            self._unreadable(event, event_id)

    def _pin_found(
        self, event: dict[str, Any], event_id: int, pins: dict[Any, Any], name: Any, found: Any
    ) -> None:
        left = pins.get(name)
        if (None if left is None else left[0]) != found:
            subject = alias_uri(event["chain"], name)
            self._gap(event, event_id, subject, "the pin", found, left, shown_major)

    # another process's replay ----------------------------------------------------------

    def export(self) -> dict[str, Any]:
        """This replay as JSON data, for :meth:`absorb` in another process."""
        return {
            "chains": [[chain, *state.exported()] for chain, state in self.chains.items()],
            "roles": [[*key, event] for key, event in self.roles.items()],
            "granted": [[*key, *by] for key, by in self.granted.items()],
            "policy": None if self.policy is None else list(self.policy),
            "unreadable": [list(u) for u in self.unreadable],
            "gaps": [list(g) for g in self.gaps],
        }

    def absorb(self, found: ReplayExport) -> None:
        """Add the replay of other chains (another process's :meth:`export`, validated)."""
        for chain, *exported in found.chains:
            self.chains[chain] = ChainState.absorbed(exported)
        for actor, role, event in found.roles:
            self.roles[(actor, role)] = event
        for actor, role, by, at in found.granted:
            self.granted[(actor, role)] = (by, at)
        if found.policy is not None:
            self.policy = found.policy
        self.unreadable.extend(found.unreadable)
        self.gaps.extend(found.gaps)


def _files(after: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    """The manifest's sha256, file count and bytes a registration event records."""
    return after.get("manifest_sha256"), after.get("files"), after.get("bytes")


__all__ = [
    "DEPRECATED",
    "DEPRECATED_BY",
    "FROZEN",
    "FROZEN_FIELDS",
    "LEGACY",
    "LEGACY_REASON",
    "REGISTERED",
    "STAGE",
    "STAGE_BY",
    "TAGS",
    "TAGS_BY",
    "ChainState",
    "Replay",
    "ReplayExport",
]
