"""The alias operations of :class:`~modelbook.Registry`: pointing, removing, pinning
and reading the history of movable aliases such as ``production`` and ``champion``.

A mixin of the facade, kept apart so that each file stays readable; every
method delegates to a service and takes ``actor=`` (default: the registry's
default actor). A serving alias moves only under the deploy rule (see
docs/release-flow.md); a pinned one only within its semver MAJOR.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .domain import Alias, AliasEvent

if TYPE_CHECKING:
    from .pins import AliasPin
    from .services.aliases import AliasService
    from .services.pins import PinService
    from .services.serving import ServingService


class AliasOperations:
    """Alias methods of the registry facade (which sets the services below)."""

    @property
    def _aliases(self) -> AliasService:
        raise NotImplementedError

    @property
    def _pins(self) -> PinService:
        raise NotImplementedError

    @property
    def _serving(self) -> ServingService:
        raise NotImplementedError

    def _who(self, actor: str | None) -> str:
        raise NotImplementedError

    def set_alias(
        self,
        name: str,
        alias: str,
        version: int | str,
        *,
        reason: str,
        expect: int | None = None,
        allow_major: bool = False,
        actor: str | None = None,
    ) -> Alias:
        """Point ``alias`` at a version (number or semver).

        With ``expect=N`` the move happens only if the alias still points at
        version N (``expect=0``: only if the alias does not exist yet); else
        :class:`Conflict`. A move of a pinned alias to another semver MAJOR
        raises InvalidInput unless ``allow_major`` (the override is recorded
        with ``reason`` and the pin follows the alias to the new MAJOR).
        """
        return self._serving.set_alias(
            name,
            alias,
            version,
            actor=self._who(actor),
            reason=reason,
            expect=expect,
            allow_major=allow_major,
        )

    def delete_alias(
        self,
        name: str,
        alias: str,
        *,
        reason: str,
        expect: int | None = None,
        actor: str | None = None,
    ) -> None:
        self._serving.delete_alias(
            name, alias, actor=self._who(actor), reason=reason, expect=expect
        )

    def aliases(self, name: str) -> list[Alias]:
        return self._aliases.of_model(name)

    def pin_alias(self, name: str, alias: str, major: int, *, actor: str | None = None) -> Alias:
        """Pin an alias to semver MAJOR ``major``: moves to another MAJOR are refused
        unless ``allow_major``. Raises InvalidInput (bad ``major``, or the alias
        points at another MAJOR), NotFound, PermissionDenied."""
        return self._pins.pin(name, alias, major, actor=self._who(actor))

    def unpin_alias(self, name: str, alias: str, *, actor: str | None = None) -> None:
        """Remove an alias's pin. Raises NotFound (no such pin), PermissionDenied."""
        self._pins.unpin(name, alias, actor=self._who(actor))

    def alias_pins(self, name: str) -> list[AliasPin]:
        """Every pin of the model's aliases, by alias, with pins of removed aliases
        (``version`` None: a pin outlives ``delete_alias``). Raises NotFound."""
        return self._pins.of_model(name)

    def alias_history(
        self, name: str, alias: str | None = None, *, limit: int = 100
    ) -> list[AliasEvent]:
        """Moves of the model's aliases (or one alias), newest first."""
        return self._aliases.history(name, alias, limit=limit)
