"""The check-in on-time rate: check-ins completed on or before their due date, over those
due in the period; none due is "no rate" (null, "-" on the page), never 0 or 100."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from tests.conftest import Cast, client_for, make_user
from welfare.checkins.models import CheckIn
from welfare.checkins.services import checkin_complete, checkin_status_sweep, checkin_trigger
from welfare.core.roles import Role
from welfare.people.models import Officer, UnitKind
from welfare.people.services import officer_create, unit_create

PATH = "/api/v1/stats/checkins?group_by=unit&period=2027Q1"
DUE = date(2027, 2, 15)


def unit_of_twelve(cast: Cast, name: str) -> list[Officer]:
    """A unit of twelve officers, posted since the start of 2026."""
    unit = unit_create(actor=cast.admin, name=name, kind=UnitKind.ONLINE_CSE)
    return [
        officer_create(
            actor=cast.admin,
            user=make_user(f"{name.lower()}.{n}", Role.OFFICER),
            staff_number=f"{name[:2].upper()}{n:04d}",
            display_name=f"Person {name} {n}",
            unit=unit,
            posted_since=date(2026, 1, 1),
        )
        for n in range(12)
    ]


@pytest.fixture
def twelve(cast: Cast, clock) -> list[CheckIn]:
    """A unit of twelve, each with a check-in due on 15 February 2027."""
    clock.set(datetime(2027, 2, 1, 9, tzinfo=UTC))
    checkins = []
    for n, officer in enumerate(unit_of_twelve(cast, "Twelve")):
        checkin = checkin_trigger(officer_id=officer.pk, due_on=DUE, key=f"rate-{n}")
        assert checkin is not None
        checkins.append(checkin)
    return checkins


def _complete(cast: Cast, clock, checkins: list[CheckIn], on: date) -> None:
    clock.set(datetime(on.year, on.month, on.day, 10, tzinfo=UTC))
    for checkin in checkins:
        checkin_complete(actor=cast.oh1, checkin=checkin, outcome="fit")


def _unit_row(cast: Cast, clock) -> dict:
    clock.set(datetime(2027, 4, 10, 9, tzinfo=UTC))
    checkin_status_sweep(at=clock.now())
    body = client_for(cast.hr).get(PATH).json()
    [row] = [r for r in body["rows"] if r["unit"] == "Twelve"]
    assert row["suppressed"] is False
    return row


def test_all_on_time_is_100(cast: Cast, clock, twelve) -> None:
    _complete(cast, clock, twelve, DUE)
    row = _unit_row(cast, clock)
    assert (row["due"], row["completed_on_time"], row["completed_late"]) == (10, 10, 0)
    assert row["on_time_pct"] == 100


def test_all_late_is_0(cast: Cast, clock, twelve) -> None:
    _complete(cast, clock, twelve, date(2027, 2, 20))
    row = _unit_row(cast, clock)
    assert (row["completed_on_time"], row["completed_late"]) == (0, 10)
    assert row["on_time_pct"] == 0


def test_none_done_is_0_not_100(cast: Cast, clock, twelve) -> None:
    row = _unit_row(cast, clock)
    assert row["due"] == 10
    assert row["completed_on_time"] == 0
    assert row["overdue"] + row["missed"] == 10
    assert row["on_time_pct"] == 0


def test_half_on_time_is_half(cast: Cast, clock, twelve) -> None:
    _complete(cast, clock, twelve[:6], DUE)
    _complete(cast, clock, twelve[6:], date(2027, 3, 1))
    row = _unit_row(cast, clock)
    assert row["on_time_pct"] == 50


def test_nothing_due_has_no_rate(cast: Cast, clock, twelve) -> None:
    """A quarter in which nothing fell due: the rate is null, not a figure."""
    clock.set(datetime(2027, 7, 10, 9, tzinfo=UTC))
    body = client_for(cast.hr).get("/api/v1/stats/checkins?group_by=unit&period=2027Q2").json()
    assert body["rows"] == []
    assert all(row["on_time_pct"] is None for row in body["totals"])


def test_the_page_says_the_columns_in_words_and_offers_groupings(cast: Cast, clock, twelve) -> None:
    from tests.conftest import web_client_for

    _complete(cast, clock, twelve, DUE)
    clock.set(datetime(2027, 4, 10, 9, tzinfo=UTC))
    page = web_client_for(cast.hr).get("/hr/?table=checkins&group_by=unit&period=2027Q1")
    text = page.content.decode()
    assert "On time (% of due)" in text
    assert "on_time_pct" not in text.split('id="stats-table"')[1].split("</thead>")[0]
    assert '<option value="unit,quarter"' in text  # groupings are a drop-down
    assert '<option value="kind' not in text  # only this table's
    empty = web_client_for(cast.hr).get("/hr/?table=checkins&group_by=unit&period=2026Q4")
    assert b'id="no-data"' in empty.content


def test_a_grouping_of_another_table_falls_back_to_this_ones(cast: Cast, clock, twelve) -> None:
    from tests.conftest import web_client_for

    clock.set(datetime(2027, 4, 10, 9, tzinfo=UTC))
    page = web_client_for(cast.hr).get("/hr/?table=rotation&group_by=unit,month&period=2027Q1")
    assert page.status_code == 200
    assert b"does not apply to this table" in page.content
    assert b'id="stats-table"' in page.content


def test_groupings_are_exactly_what_the_check_accepts() -> None:
    from welfare.stats.rules import check_grouping, groupings

    allowed = ["unit", "unit_kind", "month", "quarter"]
    offered = groupings(allowed)
    assert ["unit", "month"] in offered
    assert ["month", "quarter"] not in offered  # two periods
    assert all(check_grouping(g, allowed) == g for g in offered)
    assert len(offered) == len({tuple(g) for g in offered})
    assert groupings(["unit", "unit_kind"], most=1) == [["unit"], ["unit_kind"]]


def test_the_page_draws_the_months_of_the_quarter_as_a_trend(cast: Cast, clock) -> None:
    from datetime import timedelta

    from tests.alerts.test_sweeps_in_bulk import log_minutes
    from tests.conftest import web_client_for

    clock.set(datetime(2027, 2, 20, 18, tzinfo=UTC))
    for n, officer in enumerate(unit_of_twelve(cast, "Viewers")):
        log_minutes(officer, datetime(2027, 2, 3, 9, tzinfo=UTC) + timedelta(hours=n % 3), 60)
    clock.set(datetime(2027, 4, 10, 9, tzinfo=UTC))
    page = web_client_for(cast.hr).get("/hr/?table=exposure&group_by=unit,month&period=2027Q1")
    trend = page.content.decode().split('id="trend"')[1].split("</figure>")[0]
    caption = trend.split("<figcaption>")[1]
    assert "2027-01: no figure" in caption
    assert "2027-02: 12" in caption  # twelve hours, the month's total for the force
    assert "2027-03: no figure" in caption
    assert trend.count('class="score-point"') == 1
