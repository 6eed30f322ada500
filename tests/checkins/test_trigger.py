"""Triggered check-ins asked for in bulk: one statement however many, and the outcome of
asking one by one, in order."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.db import connection, transaction
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from tests.conftest import Cast, run_together
from welfare.checkins.models import CheckIn
from welfare.checkins.services import (
    TriggerRequest,
    checkin_cancel,
    checkin_trigger,
    checkins_trigger,
)

DUE = date(2027, 3, 17)


def stored() -> list[dict[str, Any]]:
    return [
        {name: value for name, value in model_to_dict(c).items() if name != "id"}
        for c in CheckIn.objects.order_by("key", "officer_id")
    ]


def test_bulk_writes_and_returns_what_one_by_one_does(cast: Cast, clock) -> None:
    a1, a2, b1 = cast.officer_a1.pk, cast.officer_a2.pk, cast.officer_b1.pk
    checkin_trigger(officer_id=a2, due_on=DUE, key="open")
    done = checkin_trigger(officer_id=b1, due_on=DUE, key="done")
    assert done is not None
    checkin_cancel(actor=cast.oh1, checkin=done, reason="Posted elsewhere")
    requests = [
        TriggerRequest(a1, DUE, "a1.first"),
        TriggerRequest(a1, date(2027, 3, 20), "a1.second"),  # a1 has one open by then
        TriggerRequest(a2, DUE, "a2.new"),  # a2 has one open already
        TriggerRequest(b1, date(2027, 3, 1), "done"),  # that key made one already
        TriggerRequest(a2, DUE, "shared"),  # a2 has one open: none, and the key stays free
        TriggerRequest(b1, date(2027, 3, 1), "shared"),  # ... so b1's is new (and overdue)
        TriggerRequest(b1, DUE, "shared"),
    ]
    expected = [True, False, False, False, False, True, False]

    with transaction.atomic():
        one_by_one = [checkin_trigger(**vars(r)) for r in requests]
        rows_one_by_one = stored()
        transaction.set_rollback(True)
    with CaptureQueriesContext(connection) as queries:
        in_bulk = checkins_trigger(requests=requests)

    assert len(queries) == 1
    assert [c is not None for c in one_by_one] == expected
    assert [c is not None for c in in_bulk] == expected
    assert stored() == rows_one_by_one
    for alone, bulk in zip(one_by_one, in_bulk, strict=True):
        if bulk is not None:
            assert alone is not None
            assert model_to_dict(bulk) == model_to_dict(CheckIn.objects.get(pk=bulk.pk))
            assert {**model_to_dict(bulk), "id": None} == {**model_to_dict(alone), "id": None}
    assert CheckIn.objects.get(key="shared").status == "overdue"


def test_asking_again_creates_nothing(cast: Cast, clock) -> None:
    requests = [
        TriggerRequest(cast.officer_a1.pk, DUE, "a1"),
        TriggerRequest(cast.officer_b1.pk, DUE, "b1"),
    ]
    assert all(checkins_trigger(requests=requests))
    before = stored()
    assert checkins_trigger(requests=requests) == [None, None]
    assert checkins_trigger(requests=[]) == []
    assert stored() == before


@pytest.mark.django_db(transaction=True)
def test_two_callers_at_once_make_each_checkin_once(cast: Cast, clock) -> None:
    officers = [cast.officer_a1.pk, cast.officer_a2.pk, cast.officer_b1.pk]

    def ask(tag: str) -> list[CheckIn | None]:
        with transaction.atomic():
            return checkins_trigger(
                requests=[TriggerRequest(pk, DUE, f"{tag}:{pk}") for pk in officers]
            )

    results = run_together(lambda: ask("one"), lambda: ask("two"))
    assert all(isinstance(r, list) for r in results), results
    made = [c for r in results for c in r]  # type: ignore[attr-defined]
    assert sum(c is not None for c in made) == 3
    assert sorted(CheckIn.objects.values_list("officer_id", flat=True)) == sorted(officers)
