"""The stage flow a policy declares: its checks, each problem with where it is, and
the :class:`~modelbook.stage_graph.StageGraph` built from it (pure).

The graph itself (which moves it allows, via ``promote``, ``deploy`` and
``undeploy``) is :mod:`modelbook.stage_graph`'s; its names are importable from
here too.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence

from . import validation
from .errors import InvalidInput
from .policy_problems import listed_twice
from .stage_graph import (
    ARCHIVED,
    DEFAULT_ORDER,
    DEFAULT_SERVING_ALIASES,
    DEPLOYED,
    StageGraph,
    Via,
)

__all__ = [
    "ARCHIVED",
    "DEFAULT_GRAPH",
    "DEFAULT_ORDER",
    "DEFAULT_SERVING_ALIASES",
    "DEPLOYED",
    "STAGE_NAME",
    "StageGraph",
    "Via",
    "build_graph",
    "default_transitions",
    "graph_problems",
]

STAGE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,15}")


def default_transitions(order: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Each stage to the next, up to the stage before ``deployed``; archived back to the first."""
    steps: dict[str, tuple[str, ...]] = {a: (b,) for a, b in itertools.pairwise(order[:-1])}
    steps[ARCHIVED] = (order[0],)
    return steps


Loc = tuple[str | int, ...]


def graph_problems(
    order: Sequence[str],
    transitions: Mapping[str, Sequence[str]] | None,
    serving_aliases: Sequence[str],
    *,
    strict: bool = True,
) -> list[tuple[Loc, str]]:
    """Every problem of a ``[stages]`` declaration, each with where it is.

    The location is a path such as ``("order", 2)``, ``("transitions",
    "candidate", 0)`` or ``("serving_aliases", 1)``, so that the policy
    loader can name the line. Empty when :func:`build_graph` would succeed.
    ``strict=False`` leaves out the rules a policy a registry already holds may
    predate (see :func:`build_graph`).
    """
    problems: list[tuple[Loc, str]] = []
    stages = list(order)
    if stages and stages[-1] == ARCHIVED:
        stages.pop()
    seen: set[str] = set()
    for i, name in enumerate(stages):
        if not isinstance(name, str) or not STAGE_NAME.fullmatch(name):
            problems.append(
                (
                    ("order", i),
                    f"invalid stage name {name!r}: use 1-16 lower-case letters, digits, "
                    "'_' or '-', starting with a letter",
                )
            )
        elif name == ARCHIVED:
            problems.append(
                (
                    ("order", i),
                    f"{ARCHIVED!r} stands apart from the order: list it last or not at all",
                )
            )
        elif name in seen:
            problems.append((("order", i), f"stage {name!r} is listed twice"))
        seen.add(name)
    if len(stages) < 2 or stages[-1] != DEPLOYED:
        problems.append(
            (
                ("order",),
                f"the stage order must end with {DEPLOYED!r} and have at least one stage "
                f"before it, e.g. {', '.join(DEFAULT_ORDER)}",
            )
        )
    known = tuple(dict.fromkeys((*stages, ARCHIVED)))
    choose = f"choose one of {', '.join(known)}"
    for source, targets in (transitions or {}).items():
        if source not in known:
            problems.append(
                (
                    ("transitions", source),
                    f"unknown stage {source!r} in transitions: {choose}",
                )
            )
        for i, target in enumerate(targets):
            where: Loc = ("transitions", source, i)
            if target not in known:
                problems.append(
                    (
                        where,
                        f"unknown stage {target!r} in transitions: {choose}",
                    )
                )
            elif DEPLOYED in (source, target):
                problems.append(
                    (
                        where,
                        f"transition {source} -> {target}: {DEPLOYED!r} is entered only by "
                        "deploy and left only when its serving alias moves; remove it here",
                    )
                )
            elif source == target:
                problems.append((where, f"transition {source} -> {target} goes nowhere"))
        if strict:
            problems.extend(listed_twice(list(targets), ("transitions", source)))
    if strict and not problems and transitions is not None:
        problems.extend(_unreachable(stages, transitions))
    if not serving_aliases:
        problems.append(
            (("serving_aliases",), "serving_aliases must name at least one alias, e.g. production")
        )
    named: dict[str, str] = {}
    for i, alias in enumerate(serving_aliases):
        try:
            validation.alias_name(alias)
        except InvalidInput as exc:
            problems.append((("serving_aliases", i), exc.message))
            continue
        first = named.get(alias.casefold())
        if first is None:
            named[alias.casefold()] = alias
        elif strict:
            # Two spellings of one name would make two serving aliases that read as one.
            problems.append(
                (
                    ("serving_aliases", i),
                    f"serving alias {alias!r} is named already"
                    + ("" if first == alias else f" as {first!r}, which differs only by case")
                    + ": name each serving alias once",
                )
            )
    return problems


def _unreachable(
    order: Sequence[str], transitions: Mapping[str, Sequence[str]]
) -> list[tuple[Loc, str]]:
    """A problem for each stage of ``order`` no promotion from the first stage reaches.

    Only moves along the order count: a version reaches a stage by being
    promoted, not by being archived and restored. The stage before
    ``deployed`` being unreachable means no version can ever be deployed.
    """
    first, return_stage = order[0], order[-2]
    reached = {first}
    todo = [first]
    while todo:
        here = todo.pop()
        for there in transitions.get(here, ()):
            if there not in reached and there not in (ARCHIVED, DEPLOYED):
                reached.add(there)
                todo.append(there)
    problems: list[tuple[Loc, str]] = []
    for position, stage in enumerate(order[:-1]):
        if stage in reached:
            continue
        before = next((s for s in reversed(order[:position]) if s in reached), first)
        message = (
            f"stage {stage!r} cannot be reached from the first stage {first!r}: no transition "
            f"leads to it from the stages reached ({', '.join(s for s in order if s in reached)}); "
            f'add one, e.g. {before} = ["{stage}"]'
        )
        if stage == return_stage:
            message += (
                f"; without it no version can be deployed, as {DEPLOYED!r} is entered "
                f"only by deploy from {stage!r}"
            )
        # Cited where the stage is declared: the line to look at is the stage's,
        # whichever transition is missing.
        problems.append((("order", position), message))
    return problems


def build_graph(
    order: Sequence[str] | None = None,
    transitions: Mapping[str, Sequence[str]] | None = None,
    serving_aliases: Sequence[str] = DEFAULT_SERVING_ALIASES,
    *,
    strict: bool = True,
) -> StageGraph:
    """A stage graph from a policy's ``[stages]`` and ``serving_aliases``.

    Args:
        order: release stages in order, ending with ``deployed``; ``archived``
            may follow it. Default: staging, candidate, approved, deployed.
        transitions: from-stage → the stages a promotion may go to. Moves
            into and out of ``deployed`` are implied and may not be listed;
            every stage but ``deployed`` may always go to ``archived``, and
            ``archived`` back to the first stage. Default: each stage to the
            next up to the stage before ``deployed``.
        serving_aliases: aliases whose versions are deployed; at least one.
        strict: also refuse a stage no promotion reaches and a serving alias
            named twice or in two letter cases; False only for a policy a
            registry already holds, accepted before these rules.

    Raises:
        InvalidInput: a malformed order, an unknown stage in ``transitions``,
            a transition into or out of ``deployed``, a stage of the order
            that no promotion from the first stage reaches (so that perhaps
            nothing can be deployed), no serving alias, or one named twice
            (also in two letter cases); the message lists
            every problem.
    """
    order = tuple(DEFAULT_ORDER if order is None else order)
    problems = graph_problems(order, transitions, serving_aliases, strict=strict)
    if problems:
        raise InvalidInput("; ".join(message for _, message in problems))
    stages = order[:-1] if order[-1] == ARCHIVED else order
    steps = default_transitions(stages) if transitions is None else transitions
    edges = {(source, target) for source, targets in steps.items() for target in targets}
    edges.update((s, ARCHIVED) for s in stages if s != DEPLOYED)
    # An archived version keeps its files and history, so it may always be
    # restored; it then climbs through every gate again.
    edges.add((ARCHIVED, stages[0]))
    return StageGraph(
        order=stages,
        edges=frozenset(edges),
        serving_aliases=tuple(dict.fromkeys(serving_aliases)),
    )


DEFAULT_GRAPH = build_graph()
