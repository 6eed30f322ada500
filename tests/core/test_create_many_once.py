"""create_many_once: one statement per batch whose text does not grow with its rows (a
catch-up inserts notifications by the hundred thousand), the first row of a key counts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection

from tests.conftest import T0, Cast
from welfare.alerts.models import Notification
from welfare.core.db import create_many_once


@contextmanager
def statements() -> Iterator[list[tuple[str, int]]]:
    """The statements run, as written (before binding), each with its number of parameters."""
    seen: list[tuple[str, int]] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append((sql, len(params or ())))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield seen


def notes(cast: Cast, keys: list[str], subject: str = "s") -> list[Notification]:
    return [
        Notification(recipient=cast.oh1, dedupe_key=key, subject=subject, body="b", created_at=T0)
        for key in keys
    ]


def test_the_statement_is_the_same_for_one_row_or_thousands(cast: Cast) -> None:
    key = ("recipient_id", "dedupe_key")
    with statements() as one:
        assert len(create_many_once(notes(cast, ["one"]), key=key)) == 1
    with statements() as many:
        created = create_many_once(notes(cast, [f"k{i}" for i in range(2500)]), key=key)
    assert len(created) == 2500
    assert len(many) == 3  # a statement per thousand
    assert {sql for sql, _ in many} == {one[0][0]}
    assert {n for _, n in many} == {one[0][1]}  # a parameter per column, not per value


def test_new_rows_come_back_in_order_with_ids_and_the_first_of_a_key_counts(cast: Cast) -> None:
    key = ("recipient_id", "dedupe_key")
    [existing] = create_many_once(notes(cast, ["b"]), key=key)
    rows = notes(cast, ["a", "b", "a", "c"], subject="first")
    rows[2].subject = "second"
    created = create_many_once(rows, key=key)
    assert created == [rows[0], rows[3]]
    assert all(row.pk is not None and not row._state.adding for row in created)
    stored = dict(Notification.objects.values_list("dedupe_key", "subject"))
    assert stored == {"a": "first", "b": "s", "c": "first"}
    assert Notification.objects.get(dedupe_key="b").pk == existing.pk
