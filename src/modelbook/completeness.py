"""How completely a version's entry answers the metadata checklist (pure, no I/O).

The checklist itself, its fields and what each is judged on, is
:mod:`modelbook.checklist`; :func:`assess` judges every field on one version
and scores it by section.
"""

from __future__ import annotations

from collections.abc import Sequence

from .checklist import FIELDS, SECTIONS, Facts
from .domain import Frozen


class FieldStatus(Frozen):
    """One checklist field on one version: present or not, and how to provide it."""

    name: str
    label: str
    present: bool
    hint: str | None = None


class SectionScore(Frozen):
    """One checklist section: its fields and how many are present."""

    key: str
    title: str
    fields: tuple[FieldStatus, ...]

    @property
    def present(self) -> int:
        return sum(f.present for f in self.fields)

    @property
    def total(self) -> int:
        return len(self.fields)

    @property
    def missing(self) -> tuple[FieldStatus, ...]:
        return tuple(f for f in self.fields if not f.present)


class Completeness(Frozen):
    """How much of the checklist a version's entry answers.

    ``score`` is the share of fields present, 0.0 to 1.0, every field weighing
    the same; ``missing`` names the absent fields in checklist order.
    """

    uri: str
    sections: tuple[SectionScore, ...]

    @property
    def present(self) -> int:
        return sum(s.present for s in self.sections)

    @property
    def total(self) -> int:
        return sum(s.total for s in self.sections)

    @property
    def score(self) -> float:
        return self.present / self.total if self.total else 1.0

    @property
    def percent(self) -> int:
        """The score in whole percent, rounded down so that 100 means nothing is missing."""
        return (self.present * 100) // self.total if self.total else 100

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(f.name for s in self.sections for f in s.fields if not f.present)

    def missing_of(self, required: Sequence[str]) -> tuple[str, ...]:
        """The fields of ``required`` that are absent, in checklist order."""
        wanted = set(required)
        return tuple(name for name in self.missing if name in wanted)


def assess(facts: Facts) -> Completeness:
    """Judge every checklist field on one version."""
    sections: dict[str, list[FieldStatus]] = {key: [] for key in SECTIONS}
    for item in FIELDS.values():
        present = bool(item.probe(facts))
        sections[item.section].append(
            FieldStatus(
                name=item.name,
                label=item.label,
                present=present,
                hint=None if present else item.hint,
            )
        )
    return Completeness(
        uri=facts.version.uri,
        sections=tuple(
            SectionScore(key=key, title=SECTIONS[key], fields=tuple(fields))
            for key, fields in sections.items()
        ),
    )
