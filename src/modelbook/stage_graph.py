"""The stage graph: which stage a version may move to, and how.

A :class:`StageGraph` is an immutable value built from the policy (or the
default) by :func:`modelbook.lifecycle.build_graph`. Stages are ordered; the
last step of the order is ``deployed``, and ``archived`` stands apart,
reachable from any stage but ``deployed``.

Three kinds of move, named by ``via``:

- ``"promote"``: someone asks for a stage (``promote``, ``archive``, restoring
  an archived version). Allowed along the declared transitions, plus from any
  stage but ``deployed`` to ``archived`` and from ``archived`` back to the
  first stage.
- ``"deploy"``: a serving alias is set to the version. Allowed only from the
  stage just before ``deployed`` (``approved`` by default), or from
  ``deployed`` when another serving alias already points at it.
- ``"undeploy"``: the last serving alias left the version. It goes back to the
  stage before ``deployed`` and stays a rollback target.

A deployed version is not archived directly: its serving alias would then
point at an archived version. Move the alias away first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .errors import IntegrityError, InvalidInput

DEPLOYED = "deployed"
ARCHIVED = "archived"
DEFAULT_ORDER: tuple[str, ...] = ("staging", "candidate", "approved", DEPLOYED)
DEFAULT_SERVING_ALIASES: tuple[str, ...] = ("production",)

Via = Literal["promote", "deploy", "undeploy"]


@dataclass(frozen=True)
class StageGraph:
    """The stages of a registry and the moves allowed between them.

    Build one with :func:`build_graph`; the fields are already checked.

    Attributes:
        order: the release stages in order, the last one ``deployed``.
        edges: the ``(from, to)`` pairs a promotion may take, including every
            move to ``archived``.
        serving_aliases: alias names that serve traffic; a version one of
            them points at is ``deployed``.
    """

    order: tuple[str, ...]
    edges: frozenset[tuple[str, str]]
    serving_aliases: tuple[str, ...] = DEFAULT_SERVING_ALIASES
    _stages: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_stages", (*self.order, ARCHIVED))

    @property
    def stages(self) -> tuple[str, ...]:
        """Every stage name: the order, then ``archived``."""
        return self._stages

    @property
    def first(self) -> str:
        """The stage a new version enters at registration (``staging`` by default)."""
        return self.order[0]

    @property
    def return_stage(self) -> str:
        """The stage before ``deployed``; a version returns to it when it stops serving."""
        return self.order[-2]

    def stage(self, name: str) -> str:
        """``name`` if it is a stage of this graph.

        Raises:
            InvalidInput: unknown stage; the message lists the valid ones.
        """
        if name not in self._stages:
            raise InvalidInput(f"unknown stage {name!r}: choose one of {', '.join(self._stages)}")
        return name

    def current(self, stage: str, version: str) -> str:
        """``stage``, the stored stage of ``version`` (its URI, ``models:/m/3``), if it is
        a stage of this graph.

        A policy that drops a stage some version is in is refused, so every
        stored stage is one of the graph's unless the row was changed by hand.

        Raises:
            IntegrityError: naming the version and the stored stage.
        """
        if stage not in self._stages:
            raise IntegrityError(
                f"{version} is stored in stage {stage!r}, which is not a stage of this "
                f"registry ({', '.join(self._stages)}); the registry's records may have "
                "been altered"
            )
        return stage

    def is_serving(self, alias: str) -> bool:
        """Whether moving ``alias`` deploys: it is one of the serving aliases."""
        return alias in self.serving_aliases

    def check_alias(self, alias: str) -> None:
        """Refuse an alias that is not a serving alias but differs from one only by case
        (``Production``): it would look like one and point anywhere without a gate.
        Raises InvalidInput."""
        if self.is_serving(alias):
            return
        for serving in self.serving_aliases:
            if alias.casefold() == serving.casefold():
                raise InvalidInput(
                    f"alias {alias!r} differs from the serving alias {serving!r} only by "
                    f"case; alias names are exact: use {serving!r} (deploy) or another name"
                )

    def targets(self, current: str, *, via: Via = "promote") -> tuple[str, ...]:
        """The stages a version in ``current`` may move to by ``via``, in stage order.

        Raises:
            InvalidInput: ``current`` is not a stage of this graph.
        """
        self.stage(current)
        if via == "promote":
            return tuple(s for s in self._stages if (current, s) in self.edges)
        if via == "deploy":
            return (DEPLOYED,) if current in (self.return_stage, DEPLOYED) else ()
        return (self.return_stage,) if current == DEPLOYED else ()

    def allows(self, current: str, target: str, *, via: Via = "promote") -> bool:
        """Whether a version in ``current`` may move to ``target`` by ``via``.

        Raises:
            InvalidInput: either stage is unknown.
        """
        self.stage(target)
        return target in self.targets(current, via=via)

    def check_move(self, current: str, target: str, *, via: Via = "promote") -> None:
        """Refuse a move the graph does not allow.

        Args:
            current: the version's stage now.
            target: the stage asked for.
            via: ``"promote"`` when a person asks for a stage, ``"deploy"``
                when a serving alias is set to the version, ``"undeploy"``
                when the last serving alias left it.

        Raises:
            InvalidInput: an unknown stage, or a move that is not allowed;
                the message names the stages that are.
        """
        if self.allows(current, target, via=via):
            return
        if via == "promote" and target == DEPLOYED:
            raise InvalidInput(
                f"a version enters {DEPLOYED!r} only by deploy, when a serving alias "
                f"({', '.join(self.serving_aliases)}) is moved to it; "
                f"deploy needs the version in {self.return_stage!r}"
            )
        if via == "deploy":
            raise InvalidInput(
                f"only a version in {self.return_stage!r} can be deployed; this one is in "
                f"{current!r}" + self._next_steps(current)
            )
        if via == "undeploy":
            raise InvalidInput(f"a version in {current!r} is not deployed")
        if current == target:
            raise InvalidInput(f"the version is already in {current!r}{self._next_steps(current)}")
        if current == DEPLOYED:
            doing = "be archived" if target == ARCHIVED else f"move to {target!r}"
            raise InvalidInput(
                f"a deployed version cannot {doing} while a serving alias points at it: "
                f"deploy another version or roll back, and it returns to {self.return_stage!r}"
            )
        raise InvalidInput(f"cannot move from {current!r} to {target!r}{self._next_steps(current)}")

    def _next_steps(self, current: str) -> str:
        legal = self.targets(current)
        if current == self.return_stage:
            legal = (*legal, f"{DEPLOYED} (by deploy)")
        if not legal:
            return f"; no stage can follow {current!r}"
        return f"; from {current!r} a version can go to: {', '.join(legal)}"

    def auto_path(self, current: str) -> tuple[str, ...]:
        """The stages ``promote --auto`` walks from ``current``, each gate in turn.

        The path follows the order and stops before ``deployed``: each step is
        the nearest later stage ``current`` has a transition to from which
        the order goes on forward to the stage before ``deployed``. Empty when
        the version is already in the stage before ``deployed`` or beyond.

        Raises:
            InvalidInput: ``current`` is unknown or ``archived``, or a stage on
                the way has no transition forward.
        """
        self.stage(current)
        if current == ARCHIVED:
            raise InvalidInput(
                f"an archived version is off the release path; restore it to {self.first!r} first"
            )
        stop = self.order.index(self.return_stage)
        # A forward step into a stage from which the order cannot go on forward
        # would strand the walk although another step leads on.
        onward = {self.return_stage}
        for i in range(stop - 1, -1, -1):
            if any(
                (self.order[i], self.order[j]) in self.edges
                for j in range(i + 1, stop + 1)
                if self.order[j] in onward
            ):
                onward.add(self.order[i])
        path: list[str] = []
        position = self.order.index(current)
        while position < stop:
            here = self.order[position]
            ahead = [
                i
                for i in range(position + 1, stop + 1)
                if (here, self.order[i]) in self.edges and self.order[i] in onward
            ]
            if not ahead:
                raise InvalidInput(
                    f"no transition leads forward from {here!r}; the policy's transitions "
                    f"allow: {', '.join(self.targets(here)) or 'none'}"
                )
            position = ahead[0]
            path.append(self.order[position])
        return tuple(path)

    def stage_after_unserved(self, current: str, *, still_served: bool) -> str:
        """The stage of a version after a serving alias moved away from it.

        Args:
            current: its stage now.
            still_served: whether another serving alias still points at it.

        Returns:
            ``current`` unless the version was deployed and no serving alias
            points at it any more, then the stage before ``deployed``.
        """
        self.stage(current)
        if current == DEPLOYED and not still_served:
            return self.return_stage
        return current
