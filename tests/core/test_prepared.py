"""Prepared statements: planned once per connection, still counted and logged."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from welfare.core.db import prepared_cursor

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
