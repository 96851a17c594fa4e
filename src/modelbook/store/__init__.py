"""Metadata storage: SQLAlchemy tables, engines and Alembic migrations.

Nothing outside this package sees a SQLAlchemy object other than a
``Connection``; driver errors are translated to modelbook errors here.
"""

from .engine import Database, default_home
from .schema import metadata

__all__ = ["Database", "default_home", "metadata"]
