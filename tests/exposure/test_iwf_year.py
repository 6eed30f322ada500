"""A year of an officer who follows the IWF regime exactly raises nothing: the limits are
calibrated so that keeping the rules is compliance. Warnings are shown, never raised."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

from tests import oracles
from tests.conftest import Cast, client_for
from welfare.alerts.models import Alert, AlertOccurrence, Notification
from welfare.alerts.services import exposure_limits_sweep
from welfare.checkins.models import CheckIn
from welfare.core import clock as clock_module
from welfare.exposure.models import DailyTotal, ExposureSession
from welfare.exposure.rules import DayTotal
from welfare.exposure.services import exposure_log

FIRST_MONDAY = date(2027, 1, 4)
WEEKS = 52
STRETCHES = [time(9 + n) for n in range(6)]  # 09:00-09:50, 10:00-10:50, ... 14:00-14:50


def local(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=clock_module.local_zone())


def test_an_iwf_compliant_officer_raises_no_alert_in_a_year(cast: Cast, clock) -> None:
    """Five hours a day in 50-minute stretches with 10-minute breaks, Monday to Friday,
    finishing before 16:00, for 52 weeks (both clock changes included), with the exposure
    sweep run each evening as the scheduler does."""
    officer = cast.officer_a1
    examined = 0
    for n in range(WEEKS * 7):
        day = FIRST_MONDAY + timedelta(days=n)
        evening = local(day, time(18))
        clock.set(local(day, time(15)))  # logged when the day's viewing is done
        if day.weekday() < 5:
            for start in STRETCHES:
                exposure_log(
                    officer=officer,
                    recorded_by=officer.user,
                    started_at=local(day, start),
                    ended_at=local(day, start) + timedelta(minutes=50),
                    material="image",
                    category="C",
                    client_ref=uuid.uuid4(),
                )
        clock.set(evening)
        examined += exposure_limits_sweep(at=evening).examined

    viewing_days = WEEKS * 5
    assert ExposureSession.objects.filter(officer=officer).count() == viewing_days * 6
    assert DailyTotal.objects.filter(officer=officer, seconds=300 * 60).count() == viewing_days
    assert examined == viewing_days  # the sweep looked at every day of viewing ...
    # ... and raised nothing: no alert of any kind, no occurrence, no check-in, no message.
    assert Alert.objects.count() == 0
    assert AlertOccurrence.objects.count() == 0
    assert not CheckIn.objects.filter(kind="triggered").exists()
    assert Notification.objects.count() == 0

    # Yet the officer and their supervisor see the warnings: the day, the week and the 28
    # days at their limits exactly (shown from four fifths), the patterns kept.
    friday = FIRST_MONDAY + timedelta(weeks=WEEKS - 1, days=4)
    for user in (officer.user, cast.supervisor_a):
        body = (
            client_for(user)
            .get(f"/api/v1/officers/{officer.pk}/exposure-summary?on={friday.isoformat()}")
            .json()
        )
        limits = body["limits"]
        shown = {rule: (limits[rule]["used"], limits[rule]["state"]) for rule in limits}
        assert shown["daily_minutes"] == (300, "warning")
        assert shown["week_minutes"] == (1500, "warning")
        assert shown["rolling_28d_minutes"] == (6000, "warning")
        assert shown["break_after_minutes"] == (50, "ok")
        assert shown["max_consecutive_days"] == (5, "ok")
        assert shown["latest_end"] == (14 * 60 + 50, "ok")
        assert body["breaches"] == []


def test_the_28_day_window_is_28_days_in_the_database_as_in_the_rules(cast: Cast, clock) -> None:
    """The sweep and the summary read the windows in SQL: the 28 days ending on a day are
    that day and the 27 before it (oracles.window_sum), not 29 days."""
    officer = cast.officer_a1
    on = date(2027, 3, 10)
    clock.set(local(on, time(18)))
    for back, minutes in ((28, 300), (27, 100), (7, 40), (6, 20), (0, 10)):
        day = on - timedelta(days=back)
        exposure_log(
            officer=officer,
            recorded_by=officer.user,
            started_at=local(day, time(9)),
            ended_at=local(day, time(9)) + timedelta(minutes=minutes),
            material="image",
            category="C",
            client_ref=uuid.uuid4(),
        )
    totals = {
        t.day: DayTotal(t.day, t.seconds, t.weighted_seconds)
        for t in DailyTotal.objects.filter(officer=officer)
    }
    expected = oracles.usage_from_days(totals, on)
    assert (expected.week_seconds / 60, expected.rolling_28d_seconds / 60) == (30, 170)
    body = (
        client_for(officer.user)
        .get(f"/api/v1/officers/{officer.pk}/exposure-summary?on={on.isoformat()}")
        .json()
    )
    assert (body["day_minutes"], body["week_minutes"], body["rolling_28d_minutes"]) == (
        10,
        30,
        170,  # not 470: 28 days before is outside the window, as a week before is
    )
    assert body["limits"]["rolling_28d_minutes"]["used"] == 170
