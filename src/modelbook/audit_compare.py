"""The comparison of the state the audit log leaves (:mod:`.audit_state`'s replay)
with the live tables (:mod:`.audit_live`, read once by ``store.audit_state``):
each object whose row disagrees is named with both values and the event that set
it, and what the log does not record (a version's tags, registered before
registrations recorded them; a version's semver or who registered it and when, in
an event converted from revision 0001; the sha256 of its document, in one written
before registrations recorded it) is counted as not checked. The versions' rows
are compared by :mod:`.audit_versions` (their frozen fields by :mod:`.audit_frozen`),
the registry's roles and policy by :mod:`.audit_registry_state`."""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from typing import Any

from . import audit_frozen, audit_registry_state
from .audit_live import Live, changed, json_value, tag_problems
from .audit_names import alias_uri, model_of, model_uri, shown, shown_major, shown_target
from .audit_state import Replay
from .audit_versions import compare_versions
from .events import REGISTRY_CHAIN, model_chain

_Found = list[tuple[str, str]]  # (order, sentence)
#: A disagreement and where it goes among the others: (rank, order, sentence).
Finding = tuple[int, Any, str]


class _Skipped:
    """The chains whose objects are not compared: broken ones, and those left to
    another pass."""

    def __init__(self, broken: Container[str], within: Callable[[str], bool] | None) -> None:
        self.broken, self.within = broken, within

    def __contains__(self, chain: object) -> bool:
        return chain in self.broken or (self.within is not None and not self.within(chain))  # type: ignore[arg-type]


class Comparison:
    """What one or more passes of :func:`compare` found."""

    def __init__(self) -> None:
        #: The disagreements, each with where it goes among the others.
        self.findings: list[Finding] = []
        #: (model name, how many of its versions' tags the log does not record)
        self.unknown_tags: list[tuple[str, int]] = []
        #: (model name, how many of its versions' registration events do not record
        #: every frozen field)
        self.unknown_frozen: list[tuple[str, int]] = []
        #: (model name, how many of its versions' registration events record every
        #: frozen field of the row but no sha256 of the document)
        self.unknown_doc: list[tuple[str, int]] = []

    def disagreements(self) -> list[str]:
        """Every disagreement of every pass, in order, one sentence each."""
        return [sentence for *_, sentence in sorted(self.findings)]

    def unchecked(self) -> list[str]:
        """What could not be checked, one sentence per model: the versions whose tags
        no event records (registered before registrations recorded their tags, or
        last tagged by an event converted from revision 0001). Their two copies of
        the tags were compared with each other only), and the versions whose
        registration events do not record every frozen field (the rest of them was
        compared), among them those written before registrations recorded the
        sha256 of the version's document. Not a disagreement."""
        tags = [
            f"the tags of {_count(n, 'version')} of models:/{name} could not be checked: the "
            "audit log does not record them (registered before registration events "
            "recorded tags, or last tagged by an event converted from revision 0001)"
            for name, n in sorted(self.unknown_tags)
        ]
        frozen = [
            f"the frozen fields of {_count(n, 'version')} of models:/{name} could not all be "
            "checked: their registration events do not record them all (converted from "
            "revision 0001, which logged no semver for some, whose actor and time are "
            "the old log's, and which recorded no sha256 of the version's document); what "
            "they record was checked"
            for name, n in sorted(self.unknown_frozen)
        ]
        documents = [
            f"the frozen records (metrics, lineage, contract, training, environment) of "
            f"{_count(n, 'version')} of models:/{name} could not be checked: their "
            "registration events record no sha256 of the version's document (registered "
            "before registration events recorded it); their semver, creator, creation "
            "time and files were checked"
            for name, n in sorted(self.unknown_doc)
        ]
        return tags + frozen + documents


def _count(n: int, noun: str) -> str:
    return f"1 {noun}" if n == 1 else f"{n} {noun}s"


def compare(
    replay: Replay,
    live: Live,
    broken: Container[str],
    within: Callable[[str], bool] | None = None,
    into: Comparison | None = None,
) -> Comparison:
    """Every disagreement between the replayed log and the live tables.

    ``broken``: chains that did not verify; their objects are not compared.
    ``within``: compare only the objects of the chains it accepts (a pass of
    several, each adding to the same ``into``, which orders the findings of all
    of them as one). Returns ``into``, or a new :class:`Comparison`.
    """
    comparison = Comparison() if into is None else into
    skip = _Skipped(broken, within)
    findings = comparison.findings
    findings += [
        (
            0,
            event_id,
            f"event {event_id} ({action}) records a state that cannot be read "
            "(its content was changed and rehashed)",
        )
        for chain, event_id, action in replay.unreadable
        if chain not in skip
    ]
    findings += [
        (1, event_id, sentence) for chain, event_id, sentence in replay.gaps if chain not in skip
    ]
    found: _Found = []
    _compare_models(replay, live, skip, found)
    unknown_tags, unknown_frozen, unknown_doc = compare_versions(replay, live, skip, found)
    comparison.unknown_tags += unknown_tags
    comparison.unknown_frozen += unknown_frozen
    comparison.unknown_doc += unknown_doc
    _compare_aliases(replay, live, skip, found)
    findings += [(2, order, sentence) for order, sentence in found]
    if REGISTRY_CHAIN not in skip:
        registry = audit_registry_state.problems(replay, live)
        findings += [(3, k, sentence) for k, sentence in enumerate(registry)]
    return comparison


def _compare_models(replay: Replay, live: Live, broken: Container[str], found: _Found) -> None:
    chains, seen = replay.chains, set()
    for _, name, risk_tier, owners, task, description, tags, indexed in live.models:
        chain = model_chain(name)
        seen.add(chain)
        if chain in broken:
            continue
        subject, order = f"models:/{name}", f"1 {name}"
        state = chains.get(chain)
        created = None if state is None else state.created
        if state is None or created is None:
            found.append(
                (
                    order,
                    f"{subject} has no model.create event in the audit log; it was added "
                    "outside modelbook",
                )
            )
            continue
        event = created[0]
        logged = state.risk_tier or (None, event)
        if risk_tier != logged[0]:
            found.append((order, changed(subject, "the risk tier", risk_tier, *logged)))
        for what, now, then in (
            ("the owners", json_value(owners), created[2]),
            ("the task", task, created[3]),
            ("the description", description, created[4]),
        ):
            if now != then:
                found.append((order, changed(subject, what, now, then, event)))
        for sentence in tag_problems(subject, tags, indexed, state.tags):
            found.append((order, sentence))
    for chain, state in chains.items():
        created = state.created
        if created is None or created[1] or chain in seen or chain in broken:
            continue
        found.append(
            (
                f"1 {model_of(chain)}",
                f"{model_uri(chain)} is in the audit log (event {created[0]}) but not in the "
                "registry; it was deleted outside modelbook",
            )
        )


def _compare_aliases(replay: Replay, live: Live, broken: Container[str], found: _Found) -> None:
    for what, live_rows in (("the alias", live.aliases), ("its pin", live.pins)):
        show = shown_target if what == "the alias" else shown_major
        logged_rows = {
            (chain, name): value
            for chain, state in replay.chains.items()
            for name, value in (state.aliases if what == "the alias" else state.pins).items()
        }
        rows = {(model_chain(row[0]), row[1]): row for row in live_rows}
        for key in logged_rows.keys() | rows.keys():
            if key[0] in broken:
                continue
            subject = alias_uri(*key)
            order = f"3 {subject}"
            logged = logged_rows.get(key)
            value, event = (None, None) if logged is None else logged[:2]
            row = rows.get(key)
            now = None if row is None else row[2]
            if now != value:
                if event is None:
                    sentence = (
                        f"{subject}: {what} is {show(now)} in the registry but the audit log "
                        "has no event that set it; it was set outside modelbook"
                    )
                else:
                    sentence = changed(subject, what, now, value, event, show)
                found.append((order, sentence))
            if what == "the alias" and row is not None:
                _, _, number, target_number, target_model, by, at = row
                if logged is not None and value is not None and now == value:
                    _moved_by(found, order, subject, (by, at), logged)
                if (target_model, target_number) != (row[0], number):
                    target = (
                        "no version"
                        if target_model is None
                        else f"models:/{target_model}/{target_number}"
                    )
                    found.append(
                        (
                            order,
                            f"{subject}: its row names version {number} but refers to the row "
                            f"of {target}; it was changed outside modelbook",
                        )
                    )


def _moved_by(
    found: _Found, order: str, subject: str, row: tuple[Any, Any], logged: Sequence[Any]
) -> None:
    """Who last moved an alias and when, as its row says (what ``alias list`` shows),
    against the event that set it (``logged``: target, event, actor, time)."""
    _, event, logged_by, logged_at = logged
    if row != (logged_by, logged_at):
        by, at = row
        now = f"{shown(by)} at {audit_frozen.shown_when(at)}"
        then = f"{shown(logged_by)} at {audit_frozen.shown_when(logged_at)}"
        found.append(
            (
                order,
                f"{subject}: the alias was last set by {now} in the registry but by {then} in "
                f"the audit log (event {event}); it was changed outside modelbook",
            )
        )


__all__ = ["Comparison", "Finding", "Live", "compare"]
