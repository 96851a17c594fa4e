"""How long the database may make a caller wait, and how writes are sent.

Each setting is taken from the :class:`~modelbook.store.engine.Database`
constructor's argument when given, else from its environment variable, else
from the default below. Settings the database URL itself gives (a libpq
``connect_timeout`` or ``keepalives_idle`` in the query string, a
``-c statement_timeout=...`` in its ``options``) win over all three.

- ``busy_timeout_ms``: ``MODELBOOK_BUSY_TIMEOUT_MS``, default 30000, 1 to
  86400000 (24 h);
- ``statement_timeout_ms`` (PostgreSQL): ``MODELBOOK_PG_STATEMENT_TIMEOUT_MS``,
  default 60000, 0 for none, at most 86400000 (24 h);
- ``connect_timeout_s`` (PostgreSQL): ``MODELBOOK_PG_CONNECT_TIMEOUT_S``, default 10,
  1 to 86400 (24 h);
- ``keepalives_idle_s`` (PostgreSQL): ``MODELBOOK_PG_KEEPALIVES_IDLE_S``,
  default 30, 0 turns keepalives off, at most 32767;
- ``keepalives_interval_s`` (PostgreSQL): ``MODELBOOK_PG_KEEPALIVES_INTERVAL_S``,
  default 10, 1 to 32767;
- ``keepalives_count`` (PostgreSQL): ``MODELBOOK_PG_KEEPALIVES_COUNT``, default 3,
  1 to 127;
- ``pipeline`` (PostgreSQL with psycopg 3): ``MODELBOOK_PG_PIPELINE``, default 1
  (on); 0, false, no or off turn it off.

The ranges hold on both databases, so a setting that one database would take
and the other refuse (PostgreSQL's timeouts are 32-bit milliseconds, Linux's
TCP keepalive seconds at most 32767 and its probe count at most 127) is refused
when it is read, before any connection. A setting given in the database URL is
the database's own to check.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import InvalidInput, shown

DEFAULT_BUSY_MS = 30_000
DEFAULT_STATEMENT_MS = 60_000
DEFAULT_CONNECT_S = 10
DEFAULT_KEEPALIVES_IDLE_S = 30
DEFAULT_KEEPALIVES_INTERVAL_S = 10
DEFAULT_KEEPALIVES_COUNT = 3

#: The longest timeout, in milliseconds or seconds as the setting is counted.
MAX_TIMEOUT_MS = 86_400_000
MAX_TIMEOUT_S = 86_400
#: What Linux takes for TCP_KEEPIDLE and TCP_KEEPINTVL (seconds) and TCP_KEEPCNT;
#: libpq fails the connection on a larger value.
MAX_KEEPALIVE_S = 32_767
MAX_KEEPALIVES_COUNT = 127

BUSY_ENV = "MODELBOOK_BUSY_TIMEOUT_MS"
STATEMENT_ENV = "MODELBOOK_PG_STATEMENT_TIMEOUT_MS"
CONNECT_ENV = "MODELBOOK_PG_CONNECT_TIMEOUT_S"
KEEPALIVES_IDLE_ENV = "MODELBOOK_PG_KEEPALIVES_IDLE_S"
KEEPALIVES_INTERVAL_ENV = "MODELBOOK_PG_KEEPALIVES_INTERVAL_S"
KEEPALIVES_COUNT_ENV = "MODELBOOK_PG_KEEPALIVES_COUNT"
PIPELINE_ENV = "MODELBOOK_PG_PIPELINE"

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Settings:
    """The resolved settings of one database.

    - ``busy_timeout_ms``: how long a write waits for other writers before it
      fails with ``Unavailable``: SQLite's busy timeout and the wait for the
      lock file that queues SQLite writers; PostgreSQL's ``lock_timeout``.
    - ``statement_timeout_ms``: PostgreSQL's ``statement_timeout``, the
      longest any one statement may run (0: no limit). Schema upgrades run
      without it.
    - ``connect_timeout_s``: how long opening a PostgreSQL connection may take.
    - ``keepalives_idle_s``, ``keepalives_interval_s``, ``keepalives_count``:
      TCP keepalives of PostgreSQL connections, so that a server that vanished
      without closing the connection (a dead host, a dropped NAT entry) is
      noticed after about ``idle + interval * count`` seconds instead of the
      system's default of hours. ``keepalives_idle_s=0`` turns them off.
    - ``pipeline``: send a PostgreSQL write's statements in a psycopg pipeline.
    """

    busy_timeout_ms: int = DEFAULT_BUSY_MS
    statement_timeout_ms: int = DEFAULT_STATEMENT_MS
    connect_timeout_s: int = DEFAULT_CONNECT_S
    keepalives_idle_s: int = DEFAULT_KEEPALIVES_IDLE_S
    keepalives_interval_s: int = DEFAULT_KEEPALIVES_INTERVAL_S
    keepalives_count: int = DEFAULT_KEEPALIVES_COUNT
    pipeline: bool = True

    @property
    def busy_s(self) -> float:
        """The busy timeout in seconds."""
        return self.busy_timeout_ms / 1000

    @classmethod
    def resolve(
        cls,
        *,
        busy_timeout_ms: int | None = None,
        statement_timeout_ms: int | None = None,
        connect_timeout_s: int | None = None,
        keepalives_idle_s: int | None = None,
        keepalives_interval_s: int | None = None,
        keepalives_count: int | None = None,
        pipeline: bool | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Settings from the given arguments, else ``environ`` (default
        ``os.environ``), else the defaults.

        Raises ``InvalidInput`` naming the argument or variable and its range
        when a value is not a whole number in the range the module's docstring
        gives, or when ``MODELBOOK_PG_PIPELINE`` is not one of 1/0, true/false,
        yes/no, on/off.
        """
        env = os.environ if environ is None else environ
        return cls(
            busy_timeout_ms=_whole(
                busy_timeout_ms,
                "busy_timeout_ms",
                BUSY_ENV,
                env,
                1,
                MAX_TIMEOUT_MS,
                DEFAULT_BUSY_MS,
            ),
            statement_timeout_ms=_whole(
                statement_timeout_ms,
                "statement_timeout_ms",
                STATEMENT_ENV,
                env,
                0,
                MAX_TIMEOUT_MS,
                DEFAULT_STATEMENT_MS,
            ),
            connect_timeout_s=_whole(
                connect_timeout_s,
                "connect_timeout_s",
                CONNECT_ENV,
                env,
                1,
                MAX_TIMEOUT_S,
                DEFAULT_CONNECT_S,
            ),
            keepalives_idle_s=_whole(
                keepalives_idle_s,
                "keepalives_idle_s",
                KEEPALIVES_IDLE_ENV,
                env,
                0,
                MAX_KEEPALIVE_S,
                DEFAULT_KEEPALIVES_IDLE_S,
            ),
            keepalives_interval_s=_whole(
                keepalives_interval_s,
                "keepalives_interval_s",
                KEEPALIVES_INTERVAL_ENV,
                env,
                1,
                MAX_KEEPALIVE_S,
                DEFAULT_KEEPALIVES_INTERVAL_S,
            ),
            keepalives_count=_whole(
                keepalives_count,
                "keepalives_count",
                KEEPALIVES_COUNT_ENV,
                env,
                1,
                MAX_KEEPALIVES_COUNT,
                DEFAULT_KEEPALIVES_COUNT,
            ),
            pipeline=_switch(pipeline, PIPELINE_ENV, env),
        )


def _whole(
    given: int | None,
    arg: str,
    var: str,
    env: Mapping[str, str],
    least: int,
    most: int,
    default: int,
) -> int:
    if given is not None:
        if isinstance(given, bool) or not isinstance(given, int) or not least <= given <= most:
            raise InvalidInput(
                f"{arg} must be a whole number from {least} to {most}, got {shown(given)}"
            )
        return given
    text = env.get(var, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = least - 1
    if not least <= value <= most:
        raise InvalidInput(
            f"{var} must be a whole number from {least} to {most}, got {shown(text)}"
        )
    return value


def _switch(given: bool | None, var: str, env: Mapping[str, str]) -> bool:
    if given is not None:
        return bool(given)
    text = env.get(var, "").strip().lower()
    if not text or text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidInput(f"{var} must be 1 or 0 (true/false, yes/no, on/off), got {text!r}")
