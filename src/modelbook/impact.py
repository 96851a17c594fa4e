"""Impact references and their answer, as pure values and rules.

An impact query names one thing a version may be made from, such as
``dataset:ds_2025_10_01`` or ``commit:1a2b3c4`` (:data:`IMPACT_KINDS`), and
asks which versions depend on it. :func:`parse_ref` reads such a reference
into the lineage rows it matches (:func:`modelbook.lineage.index_rows`);
:class:`Impact` lists the dependent versions. The service
(:mod:`modelbook.services.lineage`) walks the store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import PrivateAttr

from . import limits, provenance, uris
from .domain import Frozen
from .errors import InvalidInput, NotFound
from .lineage_urls import shown_url

#: The reference kinds :meth:`Registry.impact` takes, with what each matches.
IMPACT_KINDS: dict[str, str] = {
    "dataset": "dataset:SNAPSHOT (a data snapshot id as registered)",
    "commit": "commit:SHA (the full commit, or a prefix of at least 7 characters)",
    "features": "features:NAME@VERSION (or features:NAME for every version of the set)",
    "run": "run:ID (a pipeline run id)",
    "experiment": "experiment:ID (an experiment id)",
    "models": "models:/NAME/N (a version: every version descended from it)",
}
# A commit given by fewer characters than a full hash is a prefix; shorter
# than git's own default abbreviation it would match too much by accident.
MIN_COMMIT_PREFIX = 7
_FULL_HASH_LENGTHS = (40, 64)


class Dependent(Frozen):
    """A version that depends on the reference an impact query names.

    ``direct``: its own lineage names the reference. Otherwise it depends
    through parent links: ``parent`` is the parent it depends through,
    ``origin`` the direct dependent the chain starts from and ``hops`` the
    number of parent links from ``origin`` to it (:meth:`Impact.chain` gives
    the whole chain). Only the parent is kept, not the chain, so an impact of
    a long chain stays in proportion to its length. ``deployed``: a serving
    alias of the policy in force points at it; ``serving_aliases`` are those
    aliases, ``aliases`` all.
    """

    uri: str
    model: str
    number: int
    semver: str
    stage: str
    aliases: tuple[str, ...] = ()
    serving_aliases: tuple[str, ...] = ()
    deployed: bool = False
    direct: bool
    parent: str | None = None
    origin: str | None = None
    hops: int = 0


class Impact(Frozen):
    """Every version that depends on ``ref``, by model then number.

    ``known`` is False when nothing in the registry names ``ref`` (then
    ``versions`` is empty and ``suggestions`` lists stored values of the same
    kind that are close to it, best first): a mistyped reference is told apart
    from one that is recorded but that no other version depends on.
    """

    ref: str
    kind: str
    known: bool = True
    suggestions: tuple[str, ...] = ()
    versions: tuple[Dependent, ...]
    # The registry's resolver of version references (number, semver, alias, latest),
    # the one lineage() uses; set by the service that made this answer.
    _resolve: Callable[[str], str] | None = PrivateAttr(default=None)

    def with_resolver(self, resolve: Callable[[str], str]) -> Impact:
        """This answer, naming versions in :meth:`chain` through ``resolve`` (a version
        reference -> ``models:/NAME/N``)."""
        self._resolve = resolve
        return self

    def _uri(self, uri: str) -> str:
        """``models:/NAME/N`` of a version reference in any form the registry takes
        (``fraud/3``, ``models:/fraud/1.2.0``, ``models:/fraud@latest``)."""
        ref = uris.parse(uri)
        if ref.kind == "model":
            raise InvalidInput(f"{uri!r} names a model: name one version, models:/NAME/N")
        if ref.kind == "number":
            return str(ref)
        if self._resolve is None:
            # Without a registry (an answer read back from JSON), by what it lists.
            found = [
                v.uri
                for v in self.versions
                if v.model == ref.name
                and (
                    (ref.kind == "semver" and v.semver == ref.value)
                    or (ref.kind == "alias" and ref.value in v.aliases)
                )
            ]
            if len(found) == 1:
                return found[0]
            raise NotFound(f"{uri} is not among the versions that depend on {self.ref}")
        return self._resolve(str(ref))

    @property
    def deployed(self) -> tuple[Dependent, ...]:
        return tuple(v for v in self.versions if v.deployed)

    def chain(self, uri: str) -> tuple[str, ...]:
        """The parent links from the direct dependent down to ``uri``'s parent
        (empty for a direct dependent). ``uri`` names a version as ``lineage()``
        takes it: by number, semver, alias or ``latest``, with or without
        ``models:/``.

        Raises:
            NotFound: ``uri`` is not among :attr:`versions`.
        """
        by_uri = {v.uri: v for v in self.versions}
        uri = self._uri(uri)
        if uri not in by_uri:
            raise NotFound(f"{uri} is not among the versions that depend on {self.ref}")
        links: list[str] = []
        parent = by_uri[uri].parent
        while parent is not None:
            links.append(parent)
            parent = by_uri[parent].parent
        return tuple(reversed(links))


@dataclass(frozen=True, slots=True)
class Ref:
    """A parsed impact reference: the lineage row it matches, or a version.

    ``kind`` is one of :data:`IMPACT_KINDS` (``models`` for a version);
    ``key``/``value`` are the indexed lineage row (see
    :func:`modelbook.lineage.index_rows`); ``prefix`` matches a commit by
    its first characters; ``fold`` compares without regard to case (commits).
    """

    kind: str
    key: str
    value: str
    prefix: bool = False
    fold: bool = False

    def __str__(self) -> str:
        if self.kind == "models":
            return self.value
        # A snapshot URL given with a secret is shown without it, as stored ones are.
        return f"{self.kind}:{shown_url(self.value)}"


def parse_ref(text: str) -> Ref:
    """An impact reference such as ``dataset:ds_2025_10_01`` or ``commit:1a2b3c4``.

    Spaces around the reference and its value are dropped; a commit is
    lower-cased (it is compared without regard to case). Raises InvalidInput
    naming the valid kinds for an unknown kind, and for an empty or over-long
    value or a too-short commit prefix.
    """
    if not isinstance(text, str):
        raise InvalidInput(f"a lineage reference must be text, got {type(text).__name__}")
    kinds = "; ".join(IMPACT_KINDS.values())
    # Spaces around a reference are dropped, as around a models:/ URI.
    text = text.strip()
    kind, sep, value = text.partition(":")
    value = value.strip()
    if not sep or kind not in IMPACT_KINDS:
        raise InvalidInput(f"unknown lineage reference {text!r}: use one of {kinds}")
    if kind == "models":
        ref = uris.parse(text)
        if ref.kind == "model":
            raise InvalidInput(f"{text!r} names a model: name one version, models:/NAME/N")
        return Ref("models", "version", str(ref))
    limits.check_text(value, f"{kind} reference", limits.MAX_VALUE)
    if not value.strip():
        raise InvalidInput(f"{text!r} names no {kind}: use {IMPACT_KINDS[kind]}")
    if kind == "dataset":
        return Ref(kind, "snapshot", value)
    if kind == "commit":
        if len(value) < MIN_COMMIT_PREFIX:
            raise InvalidInput(
                f"commit {value!r} is too short: give at least {MIN_COMMIT_PREFIX} characters"
            )
        # Hashes are hex: compared without regard to case.
        prefix = len(value) not in _FULL_HASH_LENGTHS
        return Ref(kind, "commit", value.lower(), prefix=prefix, fold=True)
    if kind == "features":
        # The rule registration reads --features by, so both name one feature set alike.
        try:
            name, version = provenance.feature_set(value)
        except InvalidInput:
            raise InvalidInput(f"{text!r}: use features:NAME@VERSION or features:NAME") from None
        if version is None:
            return Ref(kind, "name", name)
        return Ref(kind, "ref", f"{name}@{version}")
    return Ref(kind, "id", value)


# Indexed lineage rows use "code"/"data" for the kinds a reference calls commit/dataset.
ROW_KIND = {"dataset": "data", "commit": "code"}


def row_kind(ref: Ref) -> str:
    """The ``kind`` column of the lineage rows a reference matches."""
    return ROW_KIND.get(ref.kind, ref.kind)
