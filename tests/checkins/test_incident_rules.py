"""Incidents as pure rules: the follow-ups one calls for, and what makes one invalid."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare.checkins import rules
from welfare.checkins.models import IncidentCategory, Kind

TODAY = date(2027, 3, 10)
TRIM = (3, 28)


def due_dates(occurred_on: date, recorded_on: date = TODAY, days=TRIM) -> dict[str, date]:
    return {
        p.key: p.due_on
        for p in rules.incident_follow_ups(
            incident_id=5, occurred_on=occurred_on, recorded_on=recorded_on, days=days
        )
    }


@pytest.mark.parametrize(
    ("occurred_on", "first", "second", "why"),
    [
        (TODAY, date(2027, 3, 13), date(2027, 4, 7), "recorded the same day"),
        (TODAY - timedelta(days=1), date(2027, 3, 12), date(2027, 4, 6), "a day late"),
        (TODAY - timedelta(days=2), date(2027, 3, 11), date(2027, 4, 5), "72 h due tomorrow"),
        # The 72 hours end on the day it is recorded: it would be overdue at once, so the
        # follow-ups count from the day it is recorded.
        (TODAY - timedelta(days=3), date(2027, 3, 13), date(2027, 4, 7), "72 h due today"),
        (TODAY - timedelta(days=40), date(2027, 3, 13), date(2027, 4, 7), "weeks late"),
    ],
)
def test_follow_ups_at_72_hours_and_4_weeks_from_the_incident_or_from_a_late_record(
    occurred_on: date, first: date, second: date, why: str
) -> None:
    assert due_dates(occurred_on) == {"incident:5:3": first, "incident:5:28": second}, why


def test_follow_ups_are_incident_follow_up_check_ins_earliest_first() -> None:
    planned = rules.incident_follow_ups(
        incident_id=9, occurred_on=TODAY, recorded_on=TODAY, days=[28, 3, 3]
    )
    assert [p.key for p in planned] == ["incident:9:3", "incident:9:28"]
    assert {p.kind for p in planned} == {Kind.INCIDENT_FOLLOW_UP}
    assert not any(p.follow_up for p in planned)  # that flag is an exit follow-up's


def test_configured_days_replace_the_defaults() -> None:
    assert due_dates(TODAY, days=[1, 7, 90]) == {
        "incident:5:1": date(2027, 3, 11),
        "incident:5:7": date(2027, 3, 17),
        "incident:5:90": date(2027, 6, 8),
    }


def test_no_days_configured_means_no_follow_ups() -> None:
    assert due_dates(TODAY, days=[]) == {}


@given(
    back=st.integers(min_value=0, max_value=400),
    days=st.sets(st.integers(min_value=1, max_value=120), min_size=1, max_size=4),
)
def test_no_follow_up_is_overdue_when_made_and_spacing_is_kept(back: int, days: set[int]) -> None:
    occurred_on = TODAY - timedelta(days=back)
    planned = rules.incident_follow_ups(
        incident_id=1, occurred_on=occurred_on, recorded_on=TODAY, days=days
    )
    dues = [p.due_on for p in planned]
    assert all(due > TODAY for due in dues)
    assert dues == sorted(dues)
    offsets = sorted(days)
    assert [(due - dues[0]).days for due in dues] == [n - offsets[0] for n in offsets]
    assert len({p.key for p in planned}) == len(days)
    # Counted from the incident whenever that leaves the first one still ahead.
    if occurred_on + timedelta(days=offsets[0]) > TODAY:
        assert dues[0] == occurred_on + timedelta(days=offsets[0])


def problems(occurred_on: date, category: str = IncidentCategory.SEVERE_MATERIAL) -> dict:
    return rules.incident_problems(
        occurred_on=occurred_on,
        category=category,
        categories=IncidentCategory.values,
        today=TODAY,
        max_age_days=90,
    )


@pytest.mark.parametrize(
    ("occurred_on", "expected"),
    [
        (TODAY, {}),
        (TODAY + timedelta(days=1), {"occurred_on": [rules.INCIDENT_IN_FUTURE]}),
        (TODAY - timedelta(days=90), {}),
        (TODAY - timedelta(days=91), {"occurred_on": [rules.INCIDENT_TOO_OLD.format(days=90)]}),
    ],
)
def test_the_date_is_today_or_up_to_the_maximum_age_back(occurred_on: date, expected) -> None:
    assert problems(occurred_on) == expected


@pytest.mark.parametrize("category", IncidentCategory.values)
def test_every_listed_category_is_accepted(category: str) -> None:
    assert problems(TODAY, category) == {}


@pytest.mark.parametrize("category", ["", "Severe_material", "something I saw", "A"])
def test_anything_off_the_list_is_refused(category: str) -> None:
    assert problems(TODAY, category) == {"category": [rules.INCIDENT_CATEGORY_UNKNOWN]}


def test_both_fields_are_reported_at_once() -> None:
    assert set(problems(TODAY + timedelta(days=2), "other text")) == {"occurred_on", "category"}
