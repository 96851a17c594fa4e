"""How ``audit verify`` names objects and values in its sentences.

The replay of the log (:mod:`modelbook.audit_state`) and its comparison with
the live tables (:mod:`modelbook.audit_compare`) both write sentences about
the same objects; they name them alike. Pure functions over plain values.
"""

from __future__ import annotations

import json
from typing import Any

from .events import model_chain

_PREFIX = model_chain("")


def model_of(chain: str) -> str:
    """The name of the model whose chain is ``chain`` (``model:NAME`` gives ``NAME``)."""
    return chain.removeprefix(_PREFIX)


def model_uri(chain: str) -> str:
    """``models:/NAME`` for the model of ``chain``."""
    return f"models:/{model_of(chain)}"


def version_uri(chain: str, number: Any) -> str:
    """``models:/NAME/N`` for version ``number`` of the model of ``chain``."""
    return f"models:/{model_of(chain)}/{number}"


def alias_uri(chain: str, name: Any) -> str:
    """``models:/NAME@ALIAS`` for alias ``name`` of the model of ``chain``."""
    return f"models:/{model_of(chain)}@{name}"


def shown(value: Any) -> str:
    """A value as a sentence shows it: JSON (keys sorted, text unescaped), ``none`` for
    None, and the ``repr`` of what JSON cannot hold (bytes SQLite keeps in a text
    column, say)."""
    if value is None:
        return "none"
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def shown_target(number: Any) -> str:
    """Where an alias points: ``at version N``, or ``absent`` for None."""
    return "absent" if number is None else f"at version {shown(number)}"


def shown_major(major: Any) -> str:
    """An alias's contract pin: ``at MAJOR N``, or ``absent`` for None."""
    return "absent" if major is None else f"at MAJOR {shown(major)}"
