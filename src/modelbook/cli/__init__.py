"""The ``modelbook`` command line: a thin front end over :class:`~modelbook.Registry`.

Every command takes ``--json`` for machines and prints a table or a line for
people; the registry decides, the CLI only parses and renders. Errors are one
line on stderr and exit with the code of their kind (see
:mod:`modelbook.errors`); ``--traceback`` also shows the stack. The JSON of every
command is documented in ``docs/cli.md``.

One module per command group, each importing what it needs when it runs:

- ``app``: the root options, how a registry is opened, the error boundary;
- ``render``: safe text, tables, JSON, progress bars;
- ``times``: points in time as typed on the command line;
- ``register``; ``read`` (models, versions, show, resolve); ``search``; ``diff``;
  ``artifacts`` (download, verify); ``tags``; ``aliases``; ``events``;
- ``release`` (promote, approve, reject, attest, evidence, deprecate, archive);
  ``serving`` (deploy, rollback, mark-healthy, gc); ``notes`` (comment, watch,
  observe); ``governance`` (policy, role); ``audit`` (log, verify, head);
  ``lineage`` (lineage, impact); ``bom``; ``reports`` (report, doctor).
"""

from __future__ import annotations

from .app import app, main

# Importing a command module adds its commands to the app, in the order that
# ``modelbook --help`` lists them.
# isort: off
from . import register, read, diff, artifacts, tags, aliases, events  # noqa: F401
from . import release, serving, notes, governance, audit, loading, search  # noqa: F401
from . import lineage, bom, reports  # noqa: F401
# isort: on

__all__ = ["app", "main"]
