"""The per-officer overlap constraints fold the officer into an int8range (no btree_gist in
the embedded PostgreSQL): one helper, `welfare_officer_span`, and its limits. Ranges of
different officers never meet for dates in the years 2000-2999 and officer ids up to 92
million; dates outside those years are refused by check constraints, and sessions before
2000 by the rules first, with a field message."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from tests.conftest import Cast
from welfare.exposure import rules
from welfare.exposure.models import ExposureSession
from welfare.people.models import Posting

pytestmark = pytest.mark.django_db

SECONDS_TO_3000 = int((datetime(3000, 1, 1, tzinfo=UTC) - rules.EARLIEST_SESSION).total_seconds())
DAYS_TO_3000 = (date(3000, 1, 1) - date(2000, 1, 1)).days
LARGEST_OFFICER = 92_000_000


def spans_meet(a: tuple[int, int, int], b: tuple[int, int, int]) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT welfare_officer_span(%s, %s, %s) && welfare_officer_span(%s, %s, %s)",
            [*a, *b],
        )
        return bool(cursor.fetchone()[0])


@pytest.mark.parametrize("officer", [1, 4_321, LARGEST_OFFICER - 1])
def test_neighbouring_officers_never_meet_across_the_whole_millennium(officer: int) -> None:
    assert SECONDS_TO_3000 < 10**11
    assert DAYS_TO_3000 < 10**11
    whole = (officer, 0, SECONDS_TO_3000)
    assert not spans_meet(whole, (officer + 1, 0, 1))
    assert not spans_meet((officer - 1, 0, SECONDS_TO_3000), (officer, 0, 1))
    assert spans_meet(whole, (officer, SECONDS_TO_3000 - 1, SECONDS_TO_3000))  # same officer


def test_the_largest_officer_id_still_fits_in_int8() -> None:
    assert spans_meet((LARGEST_OFFICER, 0, SECONDS_TO_3000), (LARGEST_OFFICER, 5, 6))


def session(cast: Cast, start: datetime, minutes: int = 30) -> ExposureSession:
    return ExposureSession.objects.create(
        officer=cast.officer_a1,
        recorded_by=cast.officer_a1.user,
        started_at=start,
        ended_at=start + timedelta(minutes=minutes),
        material="image",
        category="C",
        client_ref=uuid.uuid4(),
        recorded_at=start,
    )


@pytest.mark.parametrize(
    "start",
    [datetime(2000, 1, 1, tzinfo=UTC), datetime(2999, 12, 31, 23, 0, tzinfo=UTC)],
    ids=["first second", "last hour"],
)
def test_sessions_at_both_ends_of_the_range_are_held_apart(cast: Cast, start: datetime) -> None:
    session(cast, start)
    with pytest.raises(IntegrityError, match="exposure_no_overlap"), transaction.atomic():
        session(cast, start + timedelta(minutes=10))
    assert ExposureSession.objects.filter(officer=cast.officer_a1).count() == 1


@pytest.mark.parametrize(
    ("start", "minutes"),
    [
        (datetime(1999, 12, 31, 23, 0, tzinfo=UTC), 30),
        (datetime(2999, 12, 31, 23, 50, tzinfo=UTC), 20),
    ],
    ids=["before 2000", "past 2999"],
)
def test_sessions_outside_the_years_are_refused_by_the_database(
    cast: Cast, start: datetime, minutes: int
) -> None:
    with pytest.raises(IntegrityError, match="exposure_in_span_years"), transaction.atomic():
        session(cast, start, minutes)


def test_the_rules_refuse_a_session_before_2000_with_a_field_message() -> None:
    start = datetime(1999, 12, 31, 23, 0, tzinfo=UTC)
    problems = rules.session_problems(
        started_at=start,
        ended_at=start + timedelta(minutes=30),
        now=datetime(2027, 1, 1, tzinfo=UTC),
        max_hours=12,
        skew=timedelta(minutes=5),
    )
    assert problems == {"started_at": rules.TOO_EARLY}


def test_postings_outside_the_years_are_refused_and_open_ones_still_exclude(cast: Cast) -> None:
    officer, unit = cast.officer_a1, cast.officer_a1.postings.get().unit
    with pytest.raises(IntegrityError, match="posting_in_span_years"), transaction.atomic():
        Posting.objects.create(
            officer=officer, unit=unit, started_on=date(1999, 12, 31), ended_on=date(2000, 1, 5),
            created_at=datetime(2027, 1, 1, tzinfo=UTC),
        )  # fmt: skip
    # The cast's posting is open: one ending late in 2999 overlaps it all the same.
    with pytest.raises(IntegrityError, match="posting_no_overlap"), transaction.atomic():
        Posting.objects.create(
            officer=officer, unit=unit, started_on=date(2999, 12, 1), ended_on=date(2999, 12, 31),
            created_at=datetime(2027, 1, 1, tzinfo=UTC),
        )  # fmt: skip
    assert officer.postings.count() == 1
