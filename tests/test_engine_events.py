"""Statements run outside SQLAlchemy's execution fire its events with a real context.

The listener below does what opentelemetry-instrumentation-sqlalchemy does: in
``before_cursor_execute`` (``retval=True``) it reads the statement, opens a
span, stores it on ``context._otel_span`` and appends a comment to the SQL
(as its sqlcommenter does); in ``after_cursor_execute`` it ends the span it
finds on the context; in ``handle_error`` it ends it with an error. Every span
opened must be ended, on reads and writes, pipelined or not, on SQLite and on
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.engine.default import DefaultExecutionContext

from modelbook import AlreadyExists, Registry
from modelbook.store import models as model_rows
from modelbook.store import schema as t
from modelbook.store.engine import Database, Prebuilt

from .test_transactions import _MODEL, _model

COMMENT = "/* traced */"


@dataclass
class Span:
    statement: str
    context: Any
    ended: bool = False
    error: str | None = None


@dataclass
class Tracer:
    spans: list[Span] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def before(
        self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> tuple[str, Any]:
        if not isinstance(context, DefaultExecutionContext):
            self.problems.append(f"no execution context for {statement!r}: {context!r}")
            return statement, params
        if context.cursor is not cursor:
            self.problems.append(f"the context's cursor is not the one used: {statement!r}")
        if context.statement != statement:
            self.problems.append(f"context.statement {context.statement!r} != {statement!r}")
        if context.root_connection is not conn:
            self.problems.append(f"the context's connection is another: {statement!r}")
        span = Span(statement, context)
        context._otel_span = span
        self.spans.append(span)
        return f"{statement} {COMMENT}", params

    def after(
        self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        span = getattr(context, "_otel_span", None)
        if span is None:
            self.problems.append(f"after_cursor_execute without a span: {statement!r}")
            return
        if not statement.endswith(COMMENT):
            self.problems.append(f"the commented statement was not the one run: {statement!r}")
        span.ended = True

    def error(self, exception_context: Any) -> None:
        span = getattr(exception_context.execution_context, "_otel_span", None)
        if span is not None:
            span.error = str(exception_context.original_exception)
            span.ended = True

    def check(self) -> None:
        assert self.problems == []
        open_spans = [s.statement for s in self.spans if not s.ended]
        assert open_spans == [], f"spans never ended: {open_spans}"


@pytest.fixture
def tracer() -> Iterator[Tracer]:
    """A tracer listening on every engine, as the instrumentation's global mode does."""
    tracer = Tracer()
    hooks: list[tuple[str, Any, dict[str, bool]]] = [
        ("before_cursor_execute", tracer.before, {"retval": True}),
        ("after_cursor_execute", tracer.after, {}),
        ("handle_error", tracer.error, {}),
    ]
    for name, fn, kw in hooks:
        sa.event.listen(Engine, name, fn, **kw)
    yield tracer
    for name, fn, _ in hooks:
        sa.event.remove(Engine, name, fn)


@pytest.fixture(params=[True, False], ids=["pipeline_on", "pipeline_off"])
def reg(request: pytest.FixtureRequest, db_uri: str, blob_dir: Path) -> Iterator[Registry]:
    """A registry on each database, with PostgreSQL writes pipelined and not."""
    if db_uri.startswith("sqlite") and not request.param:
        pytest.skip("SQLite writes are never pipelined")
    request.getfixturevalue("monkeypatch").setenv(
        "MODELBOOK_PG_PIPELINE", "1" if request.param else "0"
    )
    with Registry(db_uri, blob_uri=str(blob_dir), actor="tester") as registry:
        assert registry.db.pipelined == (request.param and registry.db.dialect == "postgresql")
        yield registry


def test_reads_and_writes_fire_both_events_with_a_real_context(
    reg: Registry, model_file: Path, tracer: Tracer
) -> None:
    """Registration, tag writes, alias moves and the hot reads: each statement's span
    is opened with a real execution context and ended after the statement ran."""
    reg.register("m", [model_file], owners="o", capture_environment=False, tags={"k": "v"})
    reg.set_tags("models:/m/1", {"note": "value-not-in-sql"})
    reg.set_alias("m", "champion", 1, reason="r")
    assert reg.get_version("models:/m@champion").number == 1
    assert reg.get_version("models:/m/1").tags["note"] == "value-not-in-sql"
    assert [m.name for m in reg.models().items] == ["m"]
    tracer.check()
    statements = [s.statement for s in tracer.spans]
    assert any(s.lstrip().upper().startswith("INSERT INTO EVENTS") for s in statements)
    assert any("versions" in s for s in statements)
    # Values travel as bound parameters, never in the SQL text.
    assert not any("value-not-in-sql" in s for s in statements)
    if reg.db.pipelined:
        assert {"BEGIN", "COMMIT"} <= set(statements)


def test_a_prebuilt_statement_is_traced_on_its_own_cursor(db_uri: str, tracer: Tracer) -> None:
    """One Prebuilt lookup: exactly one span, whose context was made for the compiled
    statement and carries its parameters."""
    db = Database(db_uri)
    try:
        db.migrate()
        lookup = Prebuilt(sa.select(t.models.c.id).where(t.models.c.name == sa.bindparam("name")))
        tracer.spans.clear()
        assert db.reading(lambda conn: lookup.first(conn, {"name": "absent"})) is None
        tracer.check()
        [span] = tracer.spans
        assert span.context.compiled is not None
        assert span.context.compiled.string == span.statement
        assert span.context.invoked_statement is lookup.stmt
        assert "absent" in str(span.context.parameters)
    finally:
        db.dispose()


def test_a_failing_statement_ends_its_span_through_handle_error(
    reg: Registry, model_file: Path, tracer: Tracer
) -> None:
    """A unique violation in a write: the span of the failing statement is ended with
    the error (at once, or at the commit of a pipelined write), and the error is the
    usual AlreadyExists."""
    row = _model("taken")
    with reg.db.write() as conn:
        _MODEL.run(conn, row)
    with pytest.raises(AlreadyExists), reg.db.write() as conn:
        _MODEL.run(conn, row)
        model_rows.find(conn, "taken")
    tracer.check()
    assert any(s.error for s in tracer.spans), "the failure was not reported to the span"


def test_no_listener_no_context(db_uri: str) -> None:
    """Without listeners the fast path makes no execution context (it costs about as
    much as the lookup itself): the dialect's context class is never instantiated."""
    db = Database(db_uri)
    try:
        db.migrate()
        made: list[int] = []
        cls = db.engine.dialect.execution_ctx_cls
        original = cls._init_compiled.__func__  # type: ignore[attr-defined]

        def counting(klass: Any, *args: Any, **kwargs: Any) -> Any:
            made.append(1)
            return original(klass, *args, **kwargs)

        lookup = Prebuilt(sa.select(t.models.c.id).where(t.models.c.name == sa.bindparam("name")))
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(cls, "_init_compiled", classmethod(counting))
            db.reading(lambda conn: lookup.first(conn, {"name": "x"}))
        assert made == []
    finally:
        db.dispose()


def test_a_listener_s_own_error_reaches_handle_error(db_uri: str, tracer: Tracer) -> None:
    """As with SQLAlchemy's execution, an error raised by a listener goes through
    handle_error (ending its span) and reaches the caller unchanged."""
    db = Database(db_uri)
    lookup = Prebuilt(sa.select(t.models.c.id).where(t.models.c.name == sa.bindparam("name")))

    def refuse(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if "FROM models" in statement:
            raise ValueError("refused by a listener")

    try:
        db.migrate()
        sa.event.listen(db.engine, "before_cursor_execute", refuse)
        with pytest.raises(ValueError, match="refused by a listener"):
            db.reading(lambda conn: lookup.first(conn, {"name": "x"}))
        tracer.check()
        assert any(s.error == "refused by a listener" for s in tracer.spans)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", refuse)
        db.dispose()
