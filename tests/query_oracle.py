"""A plain Python reading of the query language, the reference the SQL compiler is
checked against, and a writer of query text from typed trees.

The meaning is the one docs/search.md states: a comparison holds when the
field has a value that satisfies it (any value, for fields with several);
``!=``, ``not in`` and ``not like`` hold when the field has values and none
matches; ``not`` negates the whole condition; ``is null`` holds when the field
has no value.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from modelbook import Model, Version
from modelbook.query import (
    And,
    Compare,
    Everything,
    Field,
    IsNull,
    Like,
    Member,
    Node,
    Not,
    Or,
)

OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.eq,  # negated by the caller
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
ENV_FIELDS = ("python", "platform", "packages_sha256", "image_digest", "cpu", "gpu")


@dataclass
class Facts:
    """What the oracle knows of a version beyond the Version itself."""

    model: Model
    approved_by: set[str] = field(default_factory=set)


def values(f: Field, v: Version, facts: Facts) -> list[Any]:
    """Every value field ``f`` has on version ``v`` (empty: missing)."""
    lin, env = v.lineage, v.environment
    name = f.name
    if name == "name":
        return [v.model]
    if name == "number":
        return [float(v.number)]
    if name == "semver":
        return [tuple(int(p) for p in v.semver.split("."))]
    if name in ("stage", "created_at", "created_by"):
        return [getattr(v, name)]
    if name == "owner":
        return list(facts.model.owners)
    if name == "task":
        return [] if facts.model.task is None else [facts.model.task]
    if name == "risk":
        return [facts.model.risk_tier]
    if name == "alias":
        return list(v.aliases)
    if name == "tags":
        return [v.tags[f.key]] if f.key in v.tags else []
    if name == "params":
        return [v.training.params[f.key]] if f.key in v.training.params else []
    if name == "metrics":
        return [
            m.value
            for m in v.metrics
            if (m.name, m.split or "", m.slice_key) == (f.key, f.split, f.slice)
        ]
    if name == "code.commit":
        return [lin.code.commit] if lin.code.commit else []
    if name == "code.repo":
        return [lin.code.repo] if lin.code.repo else []
    if name == "data.snapshot":
        return [d.snapshot for d in lin.data]
    if name == "data.sha256":
        return [d.sha256 for d in lin.data if d.sha256]
    if name == "features.name":
        return [lin.features.name] if lin.features else []
    if name == "features.version":
        feats = lin.features
        return [f"{feats.name}@{feats.version}"] if feats and feats.version else []
    if name == "run.id":
        return [lin.run_id] if lin.run_id else []
    if name == "experiment.id":
        return [lin.experiment_id] if lin.experiment_id else []
    if name == "parent":
        return list(lin.parents)
    if name == "env":
        if f.key in ENV_FIELDS:
            value = getattr(env, f.key)
        elif f.key == "lockfile":
            value = env.lockfile.sha256 if env.lockfile else None
        else:
            value = env.frameworks.get(f.key)
        return [] if value is None else [value]
    if name == "approved_by":
        return sorted(facts.approved_by)
    if name == "deprecated":
        return [v.deprecated]
    raise AssertionError(f"no oracle for {name}")


def like_regex(pattern: str) -> re.Pattern[str]:
    out, escaped = [], False
    for char in pattern:
        if escaped:
            out.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.DOTALL)


def _text(value: Any) -> str:
    return ".".join(map(str, value)) if isinstance(value, tuple) else str(value)


def holds(node: Node, v: Version, facts: Facts) -> bool:
    if isinstance(node, Everything):
        return True
    if isinstance(node, And):
        return all(holds(i, v, facts) for i in node.items)
    if isinstance(node, Or):
        return any(holds(i, v, facts) for i in node.items)
    if isinstance(node, Not):
        return not holds(node.item, v, facts)
    found = values(node.field, v, facts)
    if isinstance(node, IsNull):
        return bool(found) if node.negated else not found
    if isinstance(node, Compare):
        test = OPS[node.op]
        if node.op == "!=":
            return bool(found) and not any(test(x, node.value) for x in found)
        return any(test(x, node.value) for x in found)
    if isinstance(node, Member):
        inside = [x in node.values for x in found]
        return bool(found) and not any(inside) if node.negated else any(inside)
    assert isinstance(node, Like)
    regex = like_regex(node.pattern)
    matched = [regex.fullmatch(_text(x)) is not None for x in found]
    return bool(found) and not any(matched) if node.negated else any(matched)


# writing queries ----------------------------------------------------------------


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | int):
        return repr(float(value))
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, tuple):
        return quote(".".join(map(str, value)))
    return quote(value)


def field_text(f: Field) -> str:
    out = f.name if f.key is None else f"{f.name}.{f.key}"
    if f.split:
        out += f"@{f.split}"
    if f.slice:
        out += "{" + f.slice + "}"
    return out


def render(node: Node) -> str:
    """Query text whose parse is ``node`` (every compound in parentheses)."""
    if isinstance(node, Everything):
        return ""
    if isinstance(node, And | Or):
        word = " and " if isinstance(node, And) else " or "
        return "(" + word.join(render(i) for i in node.items) + ")"
    if isinstance(node, Not):
        return f"not {render(node.item)}"
    name = field_text(node.field)
    if isinstance(node, IsNull):
        return f"{name} is {'not ' if node.negated else ''}null"
    if isinstance(node, Compare):
        return f"{name} {node.op} {literal(node.value)}"
    if isinstance(node, Member):
        inner = ", ".join(literal(x) for x in node.values)
        return f"{name} {'not ' if node.negated else ''}in ({inner})"
    return f"{name} {'not ' if node.negated else ''}like {quote(node.pattern)}"


def matching(
    node: Node, versions: list[Version], facts: Mapping[tuple[str, int], Facts]
) -> list[tuple[str, int]]:
    """(model, number) of the versions ``node`` holds for, in the order given."""
    return [(v.model, v.number) for v in versions if holds(node, v, facts[v.model, v.number])]
