"""The transaction tests, run with PostgreSQL's pipelined writes on and off.

``tests/test_transactions.py`` pins down that a write is all or nothing; here
the same tests run once per setting of the one switch
(``MODELBOOK_PG_PIPELINE``), on both databases, so that the unpipelined path
PostgreSQL falls back to keeps the same guarantees.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from modelbook import Registry
from modelbook.store.engine import Database

from . import test_transactions as base


@pytest.fixture(params=["1", "0"], ids=["pipeline_on", "pipeline_off"])
def registry(
    request: pytest.FixtureRequest, db_uri: str, blob_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Registry]:
    monkeypatch.setenv("MODELBOOK_PG_PIPELINE", request.param)
    reg = Registry(db_uri, blob_uri=str(blob_dir), actor="tester")
    expected = request.param == "1" and db_uri.startswith("postgresql")
    assert reg.db.pipelined is expected
    yield reg
    reg.close()


@pytest.fixture
def db(registry: Registry) -> Iterator[Database]:
    yield registry.db


test_a_failing_queued_statement_undoes_the_whole_transaction = (
    base.test_a_failing_queued_statement_undoes_the_whole_transaction
)
test_an_error_in_the_caller_undoes_queued_statements = (
    base.test_an_error_in_the_caller_undoes_queued_statements
)
test_statements_in_a_write_see_the_rows_queued_before_them = (
    base.test_statements_in_a_write_see_the_rows_queued_before_them
)
test_a_registration_after_a_failed_write_is_numbered_without_a_gap = (
    base.test_a_registration_after_a_failed_write_is_numbered_without_a_gap
)
test_a_write_interrupted_midway_leaves_nothing_and_the_next_write_succeeds = (
    base.test_a_write_interrupted_midway_leaves_nothing_and_the_next_write_succeeds
)
test_writes_of_one_thread_reuse_one_connection_until_an_error_leaves_it_in_doubt = (
    base.test_writes_of_one_thread_reuse_one_connection_until_an_error_leaves_it_in_doubt
)
test_more_threads_than_keep_a_write_connection_all_write = (
    base.test_more_threads_than_keep_a_write_connection_all_write
)
test_a_write_inside_a_write_of_the_same_thread_leaves_both_whole = (
    base.test_a_write_inside_a_write_of_the_same_thread_leaves_both_whole
)
test_closing_the_registry_during_a_write_of_another_thread_lets_it_finish = (
    base.test_closing_the_registry_during_a_write_of_another_thread_lets_it_finish
)
test_a_child_forked_while_another_thread_takes_a_connection_can_write = (
    base.test_a_child_forked_while_another_thread_takes_a_connection_can_write
)


def test_every_transaction_test_runs_both_ways() -> None:
    """A test added to test_transactions.py must be added here too."""
    names = {n for n in dir(base) if n.startswith("test_")}
    assert names <= set(globals())
