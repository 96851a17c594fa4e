"""The comparison of every version's row with the state the audit log leaves for it
(:mod:`.audit_state`'s replay): its stage, deprecation, tags, the aliases its row
lists and, through :mod:`.audit_frozen`, what its registration froze; a version the
log has and the registry lacks, or the other way round, is named too. Part of
:func:`modelbook.audit_compare.compare`, which orders what this finds among the rest."""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any

from . import audit_frozen
from .audit_live import Live, changed, json_value, tag_problems
from .audit_names import shown, version_uri
from .audit_state import (
    DEPRECATED,
    DEPRECATED_BY,
    FROZEN,
    LEGACY,
    REGISTERED,
    STAGE,
    TAGS,
    TAGS_BY,
    ChainState,
    Replay,
)
from .events import model_chain


class _Model:
    """A model as :func:`compare_versions` walks its versions' rows."""

    __slots__ = (
        "chain",
        "listed",
        "matched",
        "name",
        "skipped",
        "unknown_doc",
        "unknown_frozen",
        "unknown_tags",
        "versions",
    )

    def __init__(
        self,
        name: str,
        chains: Mapping[str, ChainState],
        broken: Container[str],
        listed: dict[Any, list[str]],
    ) -> None:
        self.name, self.chain = name, model_chain(name)
        self.skipped = self.chain in broken
        state = chains.get(self.chain)
        self.versions: dict[Any, list[Any]] = {} if state is None else state.versions
        #: number: the names of the model's aliases whose rows point at it
        self.listed = listed
        self.matched = 0
        #: its versions whose tags the log does not record
        self.unknown_tags = 0
        #: its versions whose registration event does not record every frozen field
        self.unknown_frozen = 0
        #: of the others, those whose registration event records no document sha256
        self.unknown_doc = 0


def compare_versions(
    replay: Replay, live: Live, broken: Container[str], found: list[tuple[str, str]]
) -> tuple[list[tuple[str, int]], list[tuple[str, int]], list[tuple[str, int]]]:
    """The hot loop of the comparison: one pass over every version's row, whose
    strings are made only for a version that disagrees, each added to ``found`` as
    (order, sentence). Returns (model name, count)
    of the versions whose tags could not be checked, of those whose frozen fields
    could not all be, and of the other versions whose document could not be."""
    # A version's row lists the aliases the database finds pointing at it (its
    # triggers on ``aliases`` keep the list, revision 0009), and those are compared
    # with the log apart: an alias moved by hand is named once, as the alias.
    listed: dict[Any, dict[Any, list[str]]] = {}
    for model, alias, _, target_number, target_model, *_ in live.aliases:
        if target_model == model:
            listed.setdefault(model, {}).setdefault(target_number, []).append(str(alias))
    models = {
        row[0]: _Model(row[1], replay.chains, broken, listed.get(row[1], {})) for row in live.models
    }
    for row in live.versions:
        model_id, number, stage, deprecated, tags, indexed, aliases = row[:7]
        model = models.get(model_id)
        if model is None:
            # A row whose model is gone (or never was): no chain holds it, so the pass
            # that compares what belongs to none names it.
            if "" not in broken:
                found.append(
                    (
                        f"2 {model_id} {number!s:>12}",
                        f"a version numbered {number} belongs to no model (model id "
                        f"{model_id}); it was added outside modelbook",
                    )
                )
            continue
        if model.skipped:
            continue
        v = model.versions.get(number)
        if v is None or v[REGISTERED] is None:
            found.append(
                _at(
                    model,
                    number,
                    " has no version.register event in the audit log; it was added outside "
                    "modelbook",
                )
            )
            continue
        model.matched += 1
        frozen = v[FROZEN]
        if frozen is None or None in frozen:
            if frozen is not None and None not in frozen[:-1]:
                model.unknown_doc += 1
            else:
                model.unknown_frozen += 1
        if frozen is not None and not audit_frozen.agrees(frozen, row[7:]):
            for sentence in audit_frozen.problems(frozen, v[REGISTERED], row[7:]):
                found.append(_at(model, number, sentence))
        if v[STAGE] is not None and stage != v[STAGE]:
            sentence = changed("", "the stage", stage, *v[STAGE:DEPRECATED])
            found.append(_at(model, number, sentence))
        if bool(deprecated) != (v[DEPRECATED] is True):
            by = v[DEPRECATED_BY] or v[REGISTERED]
            sentence = changed("", "deprecated", bool(deprecated), v[DEPRECATED] is True, by)
            found.append(_at(model, number, sentence))
        known = v[TAGS]
        if known is None:
            model.unknown_tags += 1
        if tags != indexed or (known is not None and json_value(tags) != known):
            logged = None if v[TAGS_BY] is None else v[TAGS:FROZEN]
            for sentence in tag_problems("", tags, indexed, logged):
                found.append(_at(model, number, sentence))
        expected = model.listed.get(number)
        if aliases is not None or expected is not None:
            now = sorted(str(aliases).split(",")) if aliases else []
            if now != sorted(expected or ()):
                found.append(
                    _at(
                        model,
                        number,
                        f": its row lists the aliases {shown(now)} but the aliases "
                        f"{shown(sorted(expected or ()))} point at it; the row was changed "
                        "outside modelbook",
                    )
                )
    # Versions of the log missing from the registry: counted first, named when some are.
    present: dict[str, set[Any]] | None = None
    unknown_tags, unknown_frozen, unknown_doc = [], [], []
    for model in models.values():
        if model.unknown_tags:
            unknown_tags.append((model.name, model.unknown_tags))
        if model.unknown_frozen:
            unknown_frozen.append((model.name, model.unknown_frozen))
        if model.unknown_doc:
            unknown_doc.append((model.name, model.unknown_doc))
        registered = sum(1 for v in model.versions.values() if v[REGISTERED] is not None)
        if model.skipped or model.matched == registered:
            continue
        if present is None:
            present = {}
            for model_id, number, *_ in live.versions:
                if model_id in models:
                    present.setdefault(models[model_id].chain, set()).add(number)
        numbers = present.get(model.chain, set())
        for number, v in model.versions.items():
            if number not in numbers and v[REGISTERED] is not None and not v[LEGACY]:
                found.append(
                    _at(
                        model,
                        number,
                        f" is in the audit log (event {v[REGISTERED]}) but not in the "
                        "registry; it was deleted outside modelbook",
                    )
                )
    return unknown_tags, unknown_frozen, unknown_doc


def _at(model: _Model, number: Any, sentence: str) -> tuple[str, str]:
    """A problem of a version, in the order of model and number; ``sentence`` follows
    the version's URI (a space or a colon first, as it says)."""
    return (f"2 {model.name} {number!s:>12}", f"{version_uri(model.chain, number)}{sentence}")
