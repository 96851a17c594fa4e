"""The registry chain's part of the audit log's replay and of its comparison with
the live tables, and what every handler of the replay shares.

:class:`RegistryReplay` keeps what the registry chain's events leave: the roles
held, who granted each and when (``role.grant``, ``role.revoke``), and the policy
in force (``policy.set``). It also keeps what the replay finds besides state, for
each chain alike: the events whose state cannot be read, and those whose
``before`` is not the state the log had left. :class:`modelbook.audit_state.Replay`
extends it with each model's chain. :func:`problems` names where the live roles
and policy disagree with the log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .audit_frozen import shown_when
from .audit_live import Live, changed
from .audit_names import shown


class RegistryReplay:
    """The roles and the policy the registry chain's verified events leave, and what
    the replay of every chain found besides state."""

    def __init__(self) -> None:
        #: (actor, role) held: the event that granted it
        self.roles: dict[tuple[Any, Any], int] = {}
        #: (actor, role) held: who granted it and when (microseconds), as logged
        self.granted: dict[tuple[Any, Any], tuple[Any, Any]] = {}
        #: (sha256, format, event id) of the last policy set; None: none was
        self.policy: tuple[Any, Any, int] | None = None
        #: (chain, event id, action) of events whose state cannot be read
        self.unreadable: list[tuple[str, int, str]] = []
        #: (chain, event id, sentence) of events that found a state other than the
        #: one the log had left: it was changed outside modelbook in between
        self.gaps: list[tuple[str, int, str]] = []

    def registry_handlers(self) -> dict[str, Callable[[dict[str, Any], int], None]]:
        """The handlers of the registry chain's actions, by action."""
        return {
            "role.grant": self._grant,
            "role.revoke": self._revoke,
            "policy.set": self._policy,
        }

    # Each handler reads what a verified event of its action holds. An event
    # whose content was changed and rehashed may hold anything: what cannot be
    # read is named (:meth:`_unreadable`) rather than guessed at.

    def _unreadable(self, event: Mapping[str, Any], event_id: int) -> None:
        self.unreadable.append((str(event.get("chain")), event_id, str(event.get("action"))))

    def _gap(
        self,
        event: Mapping[str, Any],
        event_id: int,
        subject: str,
        what: str,
        found: Any,
        left: Sequence[Any] | None,
        show: Callable[[Any], str] | None = None,
    ) -> None:
        """Name an event whose ``before`` (``found``) is not the state the log had left
        (``left``: the value and the event that set it).

        A change between two events of the log was made outside modelbook, and
        the later event recorded it as where it started.
        """
        show = show or shown
        value, by = (None, "no event") if left is None else (left[0], f"event {left[1]}")
        self.gaps.append(
            (
                str(event["chain"]),
                event_id,
                f"{subject}: event {event_id} ({event['action']}) found {what} "
                f"{show(found)} where the audit log had left {show(value)} ({by}); it was "
                "changed outside modelbook in between",
            )
        )

    def _role(self, event: dict[str, Any], event_id: int, key: tuple[Any, Any]) -> None:
        # A grant is logged only when the role was not held, a revocation only when it was.
        found = event["action"] == "role.revoke"
        by = self.roles.get(key)
        if (by is not None) != found:
            self._gap(
                event,
                event_id,
                f"actor {shown(key[0])}",
                f"the role {shown(key[1])}",
                found,
                None if by is None else (True, by),
                _held,
            )

    def _grant(self, event: dict[str, Any], event_id: int) -> None:
        try:
            after = event["after"]
            key = (after["actor"], after["role"])
            self._role(event, event_id, key)
            self.roles[key] = event_id
            self.granted[key] = (event["actor"], event["at"])
        except (LookupError, TypeError, AttributeError):
            self._unreadable(event, event_id)

    def _revoke(self, event: dict[str, Any], event_id: int) -> None:
        try:
            before = event["before"]
            key = (before["actor"], before["role"])
            self._role(event, event_id, key)
            self.roles.pop(key, None)
            self.granted.pop(key, None)
        except (LookupError, TypeError, AttributeError):
            self._unreadable(event, event_id)

    def _policy(self, event: dict[str, Any], event_id: int) -> None:
        try:
            after, found = event["after"], event["before"]["sha256"]
            left = None if self.policy is None else (self.policy[0], self.policy[2])
            if (None if left is None else left[0]) != found:
                self._gap(event, event_id, "the policy", "the sha256", found, left)
            self.policy = (after["sha256"], after["format"], event_id)
        except (LookupError, TypeError, AttributeError):
            self._unreadable(event, event_id)


def problems(replay: RegistryReplay, live: Live) -> list[str]:
    """Where the live roles and policy disagree with those the registry chain leaves."""
    found: list[str] = []
    held = {(r[0], r[1]): (r[2], r[3]) for r in live.roles}
    for actor, role in sorted(held.keys() - replay.roles.keys(), key=str):
        found.append(
            f"actor {shown(actor)} holds the role {shown(role)} in the registry but no event "
            "of the audit log grants it; it was granted outside modelbook"
        )
    for (actor, role), event in sorted(replay.roles.items(), key=str):
        if (actor, role) not in held:
            found.append(
                f"actor {shown(actor)} holds the role {shown(role)} in the audit log "
                f"(event {event}) but not in the registry; it was revoked outside modelbook"
            )
            continue
        grant = replay.granted.get((actor, role))
        if grant is not None and held[(actor, role)] != grant:
            # role list shows who granted a role and when: an edit there is an edit of
            # history as much as a forged grant.
            (by, at), (logged_by, logged_at) = held[(actor, role)], grant
            now = f"{shown(by)} at {shown_when(at)}"
            then = f"{shown(logged_by)} at {shown_when(logged_at)}"
            found.append(
                f"actor {shown(actor)} holds the role {shown(role)} as granted by {now} in the "
                f"registry but by {then} in the audit log (event {event}); it was changed "
                "outside modelbook"
            )
    logged, policy = replay.policy, live.policy
    subject = "the policy in force"
    if logged is None and policy is not None:
        found.append(
            f"{subject} (sha256 {policy[0]}) has no policy.set event in the audit log; it was "
            "set outside modelbook"
        )
    elif logged is not None:
        sha256, format_, event = logged
        if policy is None:
            found.append(
                f"{subject} is sha256 {sha256} in the audit log (event {event}) but the "
                "registry has none; it was removed outside modelbook"
            )
        else:
            now_sha, now_format, text = policy
            if now_sha != sha256:
                found.append(changed(subject, "the sha256", now_sha, sha256, event))
            if now_format != format_:
                found.append(changed(subject, "the format", now_format, format_, event))
            actual = hashlib.sha256(str(text).encode()).hexdigest()
            if actual != now_sha:
                found.append(
                    f"{subject}: its text hashes to sha256 {actual}, not the {now_sha} its row "
                    "records; the text was changed outside modelbook"
                )
    return found


def _held(held: Any) -> str:
    return "held" if held else "not held"


__all__ = ["RegistryReplay", "problems"]
