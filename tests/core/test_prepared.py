"""Prepared statements: planned once per connection, still counted and logged."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from welfare.core.db import prepared_cursor, sql_text

pytestmark = pytest.mark.django_db


def test_a_statement_is_prepared_once_and_still_logged() -> None:
    sql = "SELECT %s::int + 1"
    with CaptureQueriesContext(connection) as captured:
        for n in range(3):
            with prepared_cursor() as cursor:
                cursor.execute(sql, [n])
                assert cursor.fetchone() == (n + 1,)
    assert [q["sql"] for q in captured.captured_queries] == [sql] * 3
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans + custom_plans, generic_plans FROM pg_prepared_statements"
            " WHERE statement = 'SELECT $1::int + 1'"
        )
        runs, generic = cursor.fetchone()
    assert runs == 3
    assert generic == 3  # planned once, generically (plan_cache_mode in settings)


def test_other_statements_are_not_prepared() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::int * 7", [6])
        assert cursor.fetchone() == (42,)
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%%* 7%%'")
        assert cursor.fetchone() == (0,)


def test_sql_text_drops_comments_and_whitespace_but_keeps_literals() -> None:
    sql = """
        SELECT a,   b -- the officer's columns
        FROM t
        WHERE x = 'two  spaces -- not a comment' AND y = 'it''s'   -- trailing
          AND z > now() - interval '24 hours'
    """
    assert sql_text(sql) == (
        "SELECT a, b FROM t WHERE x = 'two  spaces -- not a comment' AND y = 'it''s'"
        " AND z > now() - interval '24 hours'"
    )
    with connection.cursor() as cursor:  # still a statement PostgreSQL runs the same
        cursor.execute("SELECT 'a  -- b', 1 -- c's\n + 1")
        expected = cursor.fetchone()
        cursor.execute(sql_text("SELECT 'a  -- b', 1 -- c's\n + 1"))
        assert cursor.fetchone() == expected == ("a  -- b", 2)


# psycopg caches the conversion of a statement's placeholders only for texts up to this
# length (psycopg._queries.MAX_CACHED_STATEMENT_LENGTH); past it, every run converts again.
PSYCOPG_CACHED_LENGTH = 4096


def test_the_statements_run_most_often_stay_in_psycopgs_cache() -> None:
    from welfare.alerts.services.sweeps import _SWEEP_READ_SQL
    from welfare.exposure.selectors import _WINDOW_FEW
    from welfare.exposure.services import _log_call

    two_days = " UNION ALL ".join([f"({_WINDOW_FEW})"] * 2)  # an incremental sweep's days
    for statement in (_log_call(), _SWEEP_READ_SQL, two_days):
        assert len(statement) <= PSYCOPG_CACHED_LENGTH
