"""Whether two actor names are one person: the rule separation of duties and role
grants count people by (case, accents, compatibility forms and look-alike letters,
after Unicode Technical Standard #39). Pure: no I/O beyond ICU's own data."""

from __future__ import annotations

import functools
import unicodedata
from typing import Any


def person_keys(name: str) -> frozenset[str]:
    """The keys under which actor names that one reader could take for the other are
    one person: two names are one person when they share a key (:func:`same_person`).

    Such names differ only by case, accents or compatibility forms (``Rita``,
    ``ríta``, fullwidth letters), or by look-alike letters of another script or
    letters shaped like others (Cyrillic U+0430 for Latin ``a``, Greek lunate sigma
    U+03F2 for ``c``, Greek capital kappa for ``K``, ``rn`` for ``m``, ``0`` for
    ``O``).

    The look-alikes are those of the confusables skeleton of Unicode Technical
    Standard #39 (Unicode Security Mechanisms), as ICU computes it. Case and
    look-alikes cannot share one key: ``I`` looks like ``l`` but is ``i`` in
    another case, and U+03F2 looks like ``c`` but folds to a sigma, which looks
    like ``o``. So a name has three keys, each folded (case, accents): its
    skeleton taken after folding, as UTS #39 advises for case-insensitive
    identifiers; its skeleton as written; and the skeleton of its capitals. The
    keys depend on the Unicode data of the ICU release installed: they are
    computed at each comparison and never stored.
    """
    return frozenset(
        {
            _folded(_skeleton(_folded(name))),
            _folded(_skeleton(name)),
            _folded(_skeleton(name.upper())),
        }
    )


def same_person(a: str, b: str) -> bool:
    """Whether actor names ``a`` and ``b`` are one person (see :func:`person_keys`).

    Separation of duties counts people by it, and a role is not granted to a
    name that is one person with another principal holding a role.
    """
    return a == b or not person_keys(a).isdisjoint(person_keys(b))


def _folded(name: str) -> str:
    """Without case, accents or compatibility forms (``RÍta`` is ``rita``)."""
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", bare.casefold())


def _skeleton(text: str) -> str:
    """The UTS #39 confusables skeleton: each character replaced by the prototype
    of the characters that look like it."""
    return str(_spoof_checker().getSkeleton(0, text))


@functools.cache
def _spoof_checker() -> Any:
    # Imported on first use: ICU's data costs a CLI start that compares no names
    # some milliseconds. getSkeleton does not change the checker, and ICU documents
    # it as safe to call from several threads at once.
    import icu

    return icu.SpoofChecker()
