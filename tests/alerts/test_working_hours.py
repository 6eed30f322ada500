"""Working hours and the deadline to acknowledge urgent work: table tests at every edge
(weekends, holidays, the clock changes of Europe/London, closing time), property tests for
the invariants (never before the start, exactly the hours asked)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.oracles import working_hours_between
from welfare.alerts.rules import (
    WorkingCalendar,
    deadline_words,
    in_working_hours,
    working_deadline,
)

LONDON = ZoneInfo("Europe/London")
WEEKDAYS = frozenset(range(5))
OFFICE = WorkingCalendar(opens=time(8), closes=time(18), days=WEEKDAYS, zone=LONDON)
# Good Friday and Easter Monday 2027, either side of the spring clock change.
EASTER = frozenset({date(2027, 3, 26), date(2027, 3, 29)})
OFFICE_WITH_EASTER = WorkingCalendar(
    opens=time(8), closes=time(18), days=WEEKDAYS, holidays=EASTER, zone=LONDON
)


def london(
    year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=LONDON)


# --- The deadline ----------------------------------------------------------------------------

# 10 March 2027 is a Wednesday; London is on GMT until 28 March and on BST until 31 October.
DEADLINES = [
    ("inside hours", OFFICE, london(2027, 3, 10, 9), 4, london(2027, 3, 10, 13)),
    ("fits to the minute", OFFICE, london(2027, 3, 10, 9, 17), 4, london(2027, 3, 10, 13, 17)),
    ("across closing time", OFFICE, london(2027, 3, 10, 16), 4, london(2027, 3, 11, 10)),
    ("before opening", OFFICE, london(2027, 3, 10, 6, 30), 4, london(2027, 3, 10, 12)),
    ("exactly at opening", OFFICE, london(2027, 3, 10, 8), 4, london(2027, 3, 10, 12)),
    ("after closing", OFFICE, london(2027, 3, 10, 19), 4, london(2027, 3, 11, 12)),
    ("exactly at closing", OFFICE, london(2027, 3, 10, 18), 4, london(2027, 3, 11, 12)),
    ("ends exactly at closing", OFFICE, london(2027, 3, 10, 14), 4, london(2027, 3, 10, 18)),
    ("a second before closing", OFFICE, london(2027, 3, 10, 17, 59, 59), 4,
     london(2027, 3, 11, 11, 59, 59)),
    ("just after midnight", OFFICE, london(2027, 3, 11, 0, 1), 4, london(2027, 3, 11, 12)),
    ("Friday late afternoon", OFFICE, london(2027, 3, 12, 17), 4, london(2027, 3, 15, 11)),
    ("Friday evening", OFFICE, london(2027, 3, 12, 20), 4, london(2027, 3, 15, 12)),
    ("Saturday", OFFICE, london(2027, 3, 13, 11), 4, london(2027, 3, 15, 12)),
    ("Sunday night", OFFICE, london(2027, 3, 14, 23, 59), 4, london(2027, 3, 15, 12)),
    ("several days", OFFICE, london(2027, 3, 10, 9), 25, london(2027, 3, 12, 14)),
    ("over a weekend", OFFICE, london(2027, 3, 12, 9), 25, london(2027, 3, 16, 14)),
    ("a quarter of an hour", OFFICE, london(2027, 3, 10, 17, 50), 0.25,
     london(2027, 3, 11, 8, 5)),
    ("across Good Friday and Easter Monday", OFFICE_WITH_EASTER, london(2027, 3, 25, 16), 4,
     london(2027, 3, 30, 10)),
    ("started on a holiday", OFFICE_WITH_EASTER, london(2027, 3, 26, 10), 4,
     london(2027, 3, 30, 12)),
    ("into summer time", OFFICE, london(2027, 3, 26, 16), 4, london(2027, 3, 29, 10)),
    ("across the spring change overnight", OFFICE, london(2027, 3, 27, 22), 2,
     london(2027, 3, 29, 10)),
    ("into winter time", OFFICE, london(2027, 10, 29, 16), 4, london(2027, 11, 1, 10)),
    ("a working week ends at closing", OFFICE, london(2027, 10, 25, 8), 50,
     london(2027, 10, 29, 18)),
    ("a week of summer time into winter", OFFICE, london(2027, 10, 25, 8), 51,
     london(2027, 11, 1, 9)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("calendar", "start", "hours", "expected"),
    [pytest.param(*row[1:], id=row[0]) for row in DEADLINES],
)
def test_working_deadline(
    calendar: WorkingCalendar, start: datetime, hours: float, expected: datetime
) -> None:
    deadline = working_deadline(start, hours, calendar)
    assert deadline == expected
    assert deadline.astimezone(LONDON).replace(tzinfo=None) == expected.replace(tzinfo=None)
    assert working_hours_between(start, deadline, calendar) == timedelta(hours=hours)


def test_the_start_may_be_given_in_any_zone() -> None:
    start = london(2027, 7, 7, 15)  # 14:00 UTC, 15:00 BST
    for zone in (UTC, ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")):
        assert working_deadline(start.astimezone(zone), 4, OFFICE) == london(2027, 7, 8, 9)


def test_the_clock_change_moves_the_hours_not_the_working_time() -> None:
    # Friday 16:00 GMT to Monday 10:00 BST: four working hours either side, and the instants
    # show the hour the clocks went forward.
    start, deadline = london(2027, 3, 26, 16), london(2027, 3, 29, 10)
    assert working_deadline(start, 4, OFFICE) == deadline
    assert start.astimezone(UTC).hour == 16
    assert deadline.astimezone(UTC).hour == 9
    assert working_hours_between(start, deadline, OFFICE) == timedelta(hours=4)


def test_a_calendar_without_a_working_day_raises() -> None:
    nowhere = WorkingCalendar(opens=time(8), closes=time(18), days=frozenset(), zone=LONDON)
    with pytest.raises(ValueError, match="no working hours"):
        working_deadline(london(2027, 3, 10, 9), 4, nowhere)
    assert working_hours_between(
        london(2027, 3, 10, 9), london(2027, 4, 10, 9), nowhere
    ) == timedelta(0)


def test_a_year_of_holidays_raises_rather_than_looping() -> None:
    start = date(2027, 3, 10)
    every_day = frozenset(start + timedelta(days=n) for n in range(800))
    closed = WorkingCalendar(
        opens=time(8), closes=time(18), days=WEEKDAYS, holidays=every_day, zone=LONDON
    )
    with pytest.raises(ValueError, match="no working hours"):
        working_deadline(london(2027, 3, 10, 9), 1, closed)


# --- In working hours --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("calendar", "at", "expected"),
    [
        pytest.param(OFFICE, london(2027, 3, 10, 8), True, id="opening"),
        pytest.param(OFFICE, london(2027, 3, 10, 7, 59, 59), False, id="a second before"),
        pytest.param(OFFICE, london(2027, 3, 10, 17, 59, 59), True, id="a second to closing"),
        pytest.param(OFFICE, london(2027, 3, 10, 18), False, id="closing"),
        pytest.param(OFFICE, london(2027, 3, 10, 23), False, id="night"),
        pytest.param(OFFICE, london(2027, 3, 13, 11), False, id="Saturday"),
        pytest.param(OFFICE, london(2027, 3, 14, 11), False, id="Sunday"),
        pytest.param(OFFICE, london(2027, 3, 29, 9), True, id="Easter Monday, no holidays"),
        pytest.param(OFFICE_WITH_EASTER, london(2027, 3, 29, 9), False, id="Easter Monday"),
        pytest.param(OFFICE_WITH_EASTER, london(2027, 3, 30, 9), True, id="the day after"),
        # 07:30 UTC is 07:30 in winter (closed) and 08:30 in summer (open).
        pytest.param(OFFICE, datetime(2027, 3, 26, 7, 30, tzinfo=UTC), False, id="07:30 GMT"),
        pytest.param(OFFICE, datetime(2027, 3, 29, 7, 30, tzinfo=UTC), True, id="08:30 BST"),
        pytest.param(OFFICE, datetime(2027, 10, 29, 16, 30, tzinfo=UTC), True, id="17:30 BST"),
        pytest.param(OFFICE, datetime(2027, 10, 29, 17, 30, tzinfo=UTC), False, id="18:30 BST"),
        pytest.param(OFFICE, datetime(2027, 11, 1, 17, 30, tzinfo=UTC), True, id="17:30 GMT"),
    ],
)
def test_in_working_hours(calendar: WorkingCalendar, at: datetime, expected: bool) -> None:
    assert in_working_hours(at, calendar) is expected


# --- The deadline in words ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("deadline", "now", "expected"),
    [
        (london(2027, 3, 10, 13), london(2027, 3, 10, 9), "13:00 today"),
        (london(2027, 3, 10, 9, 5), london(2027, 3, 10, 9), "09:05 today"),
        (london(2027, 3, 11, 10), london(2027, 3, 10, 16), "10:00 tomorrow"),
        (london(2027, 3, 11, 0, 0), london(2027, 3, 10, 23, 59), "00:00 tomorrow"),
        (london(2027, 3, 15, 11), london(2027, 3, 12, 17), "11:00 on Monday 15 March"),
        (london(2027, 11, 1, 10), london(2027, 10, 29, 16), "10:00 on Monday 1 November"),
        # Dates are London's: 00:30 BST on 31 March is still 30 March in UTC.
        (london(2027, 3, 31, 9), london(2027, 3, 31, 0, 30), "09:00 today"),
        (london(2027, 4, 1, 0, 30), london(2027, 3, 31, 9), "00:30 tomorrow"),
        # A deadline already past reads as its day all the same.
        (london(2027, 3, 9, 17), london(2027, 3, 10, 9), "17:00 on Tuesday 9 March"),
    ],
)
def test_deadline_words(deadline: datetime, now: datetime, expected: str) -> None:
    assert deadline_words(deadline.astimezone(UTC), now.astimezone(UTC), LONDON) == expected


# --- Properties ---------------------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(2026, 1, 1),  # noqa: DTZ001 - hypothesis adds the zone
    max_value=datetime(2031, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
# Up to 20 working weeks of the default calendar, to the microsecond.
hours = st.integers(min_value=1, max_value=1000 * 3600 * 10**6).map(lambda us: us / 3600e6)
holidays = st.frozensets(
    st.dates(min_value=date(2026, 1, 1), max_value=date(2032, 12, 31)), max_size=40
)


@st.composite
def calendars(draw: st.DrawFn) -> WorkingCalendar:
    opens = draw(st.integers(min_value=0, max_value=22))
    closes = draw(st.integers(min_value=opens + 1, max_value=23))
    minute = draw(st.sampled_from([0, 30]))
    return WorkingCalendar(
        opens=time(opens, minute),
        closes=time(closes, minute),
        days=draw(st.frozensets(st.integers(min_value=0, max_value=6), min_size=1)),
        zone=ZoneInfo(
            draw(
                st.sampled_from(["Europe/London", "UTC", "America/New_York", "Australia/Lord_Howe"])
            )
        ),
    )


def is_closing_time(at: datetime, calendar: WorkingCalendar) -> bool:
    return calendar.span(at.astimezone(calendar.zone).date())[1] == at


@given(instants, hours, holidays)
def test_the_deadline_is_the_hours_asked_after_the_start(
    start: datetime, wanted: float, days_off: frozenset[date]
) -> None:
    calendar = WorkingCalendar(
        opens=time(8), closes=time(18), days=WEEKDAYS, holidays=days_off, zone=LONDON
    )
    deadline = working_deadline(start, wanted, calendar)
    assert deadline > start
    assert working_hours_between(start, deadline, calendar) == timedelta(hours=wanted)
    assert in_working_hours(deadline, calendar) or is_closing_time(deadline, calendar)
    assert calendar.works_on(deadline.astimezone(LONDON).date())


# A calendar with one hour on one day a week has 57 working hours in the 400 days searched.
@given(instants, st.integers(min_value=1, max_value=50 * 3600 * 10**6), calendars())
def test_any_calendar_counts_exactly_the_hours_asked(
    start: datetime, microseconds: int, calendar: WorkingCalendar
) -> None:
    wanted = timedelta(microseconds=microseconds)
    deadline = working_deadline(start, wanted / timedelta(hours=1), calendar)
    assert deadline > start
    assert working_hours_between(start, deadline, calendar) == timedelta(
        hours=wanted / timedelta(hours=1)
    )
    assert in_working_hours(deadline, calendar) or is_closing_time(deadline, calendar)


@given(instants, hours, hours)
def test_more_hours_never_give_an_earlier_deadline(start: datetime, a: float, b: float) -> None:
    assume(a != b)
    shorter, longer = sorted([a, b])
    assert working_deadline(start, shorter, OFFICE) <= working_deadline(start, longer, OFFICE)


# Two assumptions discard most draws; on a loaded machine Hypothesis's health check then
# called the test flaky, though each draw it keeps is checked exactly.
@settings(suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(instants, hours)
def test_a_start_in_working_hours_with_time_left_that_day_ends_the_same_day(
    start: datetime, wanted: float
) -> None:
    assume(in_working_hours(start, OFFICE))
    closes = OFFICE.span(start.astimezone(LONDON).date())[1]
    assume(start + timedelta(hours=wanted) <= closes)
    assert working_deadline(start, wanted, OFFICE) == start + timedelta(hours=wanted)


@given(instants, instants)
def test_working_hours_between_never_exceeds_the_time_between(
    start: datetime, end: datetime
) -> None:
    worked = working_hours_between(start, end, OFFICE)
    assert timedelta(0) <= worked <= max(end - start, timedelta(0))
