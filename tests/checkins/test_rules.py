"""The check-in schedule and statuses, as pure functions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare.checkins import rules
from welfare.checkins.rules import CompletedFact, PostingFact
from welfare.checkins.services import DEFAULT_POLICIES

TODAY = date(2027, 3, 10)
NOW = datetime(2027, 3, 10, 9, tzinfo=UTC)


def plan(postings, completed=(), has_open_periodic=False, today=TODAY):
    return {
        p.key: p
        for p in rules.planned_checkins(
            officer_id=7,
            postings=postings,
            completed=list(completed),
            has_open_periodic=has_open_periodic,
            policies=DEFAULT_POLICIES,
            today=today,
        )
    }


def test_new_posting_in_a_high_risk_unit_gets_a_baseline_and_a_periodic() -> None:
    planned = plan([PostingFact(1, "abusive_images", TODAY + timedelta(days=20), None)])
    assert planned["pre_posting:1"].due_on == TODAY + timedelta(days=20)
    assert "periodic:7:posting:1" not in planned  # not started yet


def test_periodic_counts_from_posting_start_then_from_last_completed() -> None:
    posting = PostingFact(1, "online_cse", date(2026, 1, 15), None)
    assert plan([posting])["periodic:7:posting:1"].due_on == date(2026, 7, 15)
    done = CompletedFact(11, "pre_posting:1", "pre_posting", date(2026, 11, 30))
    # Keyed by the id of what it follows: a key naming the previous key grew with every
    # round, past the column's 120 characters within a few years.
    assert plan([posting], [done])["periodic:7:after:11"].due_on == date(2027, 5, 30)
    assert not any(
        k.startswith("periodic") for k in plan([posting], [done], has_open_periodic=True)
    )


@pytest.mark.parametrize(
    ("kind", "months"),
    [("abusive_images", 6), ("online_cse", 6), ("digital_forensics", 12), ("other", 12)],
)
def test_periodic_interval_per_unit_kind(kind: str, months: int) -> None:
    planned = plan([PostingFact(1, kind, date(2026, 12, 1), None)])
    assert planned["periodic:7:posting:1"].due_on == rules.add_months(date(2026, 12, 1), months)


def test_exit_and_its_follow_up() -> None:
    planned = plan([PostingFact(1, "abusive_images", date(2024, 1, 1), date(2027, 3, 1))])
    assert planned["exit:1"].due_on == date(2027, 3, 1)
    assert planned["exit_follow_up:1"].due_on == date(2027, 9, 1)
    assert planned["exit_follow_up:1"].follow_up is True
    assert "pre_posting:1" not in planned  # long ago: no baseline after the event


def test_old_history_does_not_flood_the_schedule() -> None:
    planned = plan([PostingFact(1, "abusive_images", date(2020, 1, 1), date(2023, 1, 1))])
    assert planned == {}


def test_other_units_have_no_baseline_or_exit() -> None:
    planned = plan([PostingFact(1, "other", TODAY, TODAY + timedelta(days=10))])
    assert set(planned) == {"periodic:7:posting:1"}


def test_exit_and_self_referral_do_not_reset_the_periodic_count() -> None:
    posting = PostingFact(1, "abusive_images", date(2026, 6, 1), None)
    completed = [CompletedFact(12, "self_referral:7:x", "self_referral", date(2027, 1, 1))]
    assert "periodic:7:posting:1" in plan([posting], completed)


@pytest.mark.parametrize(
    ("due_on", "booked_for", "expected"),
    [
        (TODAY + timedelta(days=1), None, rules.DUE),
        (TODAY, None, rules.OVERDUE),
        (TODAY, NOW + timedelta(hours=3), rules.BOOKED),  # booked for later on the due day
        (TODAY, NOW - timedelta(hours=1), rules.OVERDUE),
        (TODAY - timedelta(days=1), NOW + timedelta(hours=3), rules.OVERDUE),
        (TODAY + timedelta(days=5), NOW + timedelta(days=1), rules.BOOKED),
        (TODAY + timedelta(days=5), NOW - timedelta(hours=25), rules.MISSED),
        (TODAY + timedelta(days=5), NOW - timedelta(hours=23), rules.BOOKED),
    ],
)
def test_status(due_on: date, booked_for: datetime | None, expected: str) -> None:
    assert (
        rules.checkin_status(
            due_on=due_on,
            booked_for=booked_for,
            completed=False,
            cancelled=False,
            today=TODAY,
            now=NOW,
            missed_after=timedelta(hours=24),
        )
        == expected
    )


def test_completed_and_cancelled_win() -> None:
    common = dict(
        due_on=TODAY - timedelta(days=30),
        booked_for=None,
        today=TODAY,
        now=NOW,
        missed_after=timedelta(hours=24),
    )
    assert rules.checkin_status(completed=True, cancelled=False, **common) == rules.COMPLETED
    assert rules.checkin_status(completed=False, cancelled=True, **common) == rules.CANCELLED


@pytest.mark.parametrize(
    ("days", "tier"),
    [(20, None), (15, None), (14, 14), (4, 14), (3, 3), (1, 3), (0, None), (-2, None)],
)
def test_reminder_tier(days: int, tier: int | None) -> None:
    assert rules.reminder_tier(days, (14, 3)) == tier


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)),
    st.integers(min_value=0, max_value=120),
)
def test_add_months_and_months_between_agree(start: date, months: int) -> None:
    later = rules.add_months(start, months)
    assert rules.months_between(start, later) == months or later.day < start.day
    assert later >= start
    assert rules.months_between(start, later + timedelta(days=31)) >= months
