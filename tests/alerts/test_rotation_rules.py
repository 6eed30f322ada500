"""What a rotation sweep raises for a spell in the work, as a pure function: each edge."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare.alerts import rules
from welfare.alerts.rules import RotationDecision, RotationDue
from welfare.checkins.rules import months_between

START = date(2025, 6, 1)  # review at 21 months (1 March 2027), tenure at 24 (1 June 2027)
STAY = RotationDecision("stay", next_review_on=date(2027, 9, 1))
ROTATE = RotationDecision("rotate", rotate_by=date(2027, 9, 1))


def due(
    today: date,
    decision: RotationDecision | None = None,
    *,
    start: date = START,
    review: int | None = 21,
    tenure: int | None = 24,
) -> RotationDue | None:
    return rules.rotation_due(
        started_on=start,
        today=today,
        review_months=review,
        tenure_months=tenure,
        decision=decision,
        escalate_after_days=14,
    )


def test_nothing_before_the_review_point() -> None:
    assert due(date(2027, 2, 28)) is None


@pytest.mark.parametrize(
    ("today", "level", "severity", "key_part", "on"),
    [
        (date(2027, 3, 1), "review", "warning", "first:review", date(2027, 3, 1)),
        (date(2027, 5, 31), "review", "warning", "first:review", date(2027, 3, 1)),
        (date(2027, 6, 1), "tenure", "high", "first:tenure", date(2027, 6, 1)),
        (date(2029, 1, 1), "tenure", "high", "first:tenure", date(2027, 6, 1)),
    ],
)
def test_review_then_tenure_without_a_decision(
    today: date, level: str, severity: str, key_part: str, on: date
) -> None:
    found = due(today)
    assert found == RotationDue(level, severity, key_part, months_between(START, today), on)
    assert found is not None
    assert not found.escalate


def test_the_review_point_at_a_short_months_end() -> None:
    # 31 May + 21 months is 28 February (2027 is not a leap year): the review is due that day.
    start = date(2025, 5, 31)
    assert due(date(2027, 2, 27), start=start) is None
    found = due(date(2027, 2, 28), start=start)
    assert found is not None
    assert (found.level, found.months_in_work, found.on) == ("review", 21, date(2027, 2, 28))


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2027, 8, 31), None),  # the day before the review date a decision set
        (date(2027, 9, 1), ("tenure", "high", "2027-09-01:tenure")),  # 27 months: past tenure
    ],
)
def test_a_decision_to_stay_waits_for_its_review_date(
    today: date, expected: tuple[str, str, str] | None
) -> None:
    found = due(today, STAY)
    if expected is None:
        assert found is None
    else:
        assert found is not None
        assert (found.level, found.severity, found.key_part) == expected
        assert found.on == STAY.next_review_on


def test_a_review_date_before_the_review_point_is_a_review_round() -> None:
    start = date(2027, 1, 1)
    early = RotationDecision("stay", next_review_on=date(2027, 6, 1))
    found = due(date(2027, 6, 1), early, start=start)
    assert found is not None
    assert (found.level, found.severity, found.key_part, found.months_in_work) == (
        "review",
        "warning",
        "2027-06-01:review",
        5,
    )


@pytest.mark.parametrize(
    ("today", "escalate"),
    [
        (date(2027, 9, 2), False),  # the first day past the date
        (date(2027, 9, 14), False),  # 13 days past
        (date(2027, 9, 15), True),  # 14 days past: escalated, like an overdue check-in
        (date(2028, 3, 1), True),
    ],
)
def test_a_rotate_by_date_passed_raises_a_high_alert_then_escalates(
    today: date, escalate: bool
) -> None:
    found = due(today, ROTATE)
    assert found == RotationDue(
        "rotate_by_passed",
        "high",
        "2027-09-01:rotate_by_passed",
        months_between(START, today),
        date(2027, 9, 1),
        escalate,
    )


@pytest.mark.parametrize("today", [date(2027, 6, 2), date(2027, 8, 31), date(2027, 9, 1)])
def test_nothing_until_the_rotate_by_date_has_passed(today: date) -> None:
    # Past tenure, but a decision was made: no review or tenure alert while it stands, and
    # still in post on the date itself is in time.
    assert due(today, ROTATE) is None


def test_a_rotate_by_date_counts_without_a_rotation_policy() -> None:
    found = due(date(2027, 9, 2), ROTATE, review=None, tenure=None)
    assert found is not None
    assert found.level == "rotate_by_passed"
    assert due(date(2029, 1, 1), review=None, tenure=None) is None
    assert due(date(2029, 1, 1), STAY, review=None, tenure=None) is None


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31)),
    st.integers(min_value=0, max_value=120 * 31),
    st.integers(min_value=1, max_value=36),
    st.integers(min_value=0, max_value=12),
)
def test_without_a_decision_the_level_follows_the_months_in_the_work(
    start: date, days: int, review: int, extra: int
) -> None:
    today = start + timedelta(days=days)
    months = months_between(start, today)
    found = due(today, start=start, review=review, tenure=review + extra)
    if months < review:
        assert found is None
    else:
        assert found is not None
        assert not found.escalate
        assert found.level == ("tenure" if months >= review + extra else "review")
        assert found.key_part == f"first:{found.level}"
        assert start < found.on <= today
