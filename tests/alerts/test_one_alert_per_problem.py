"""One alert per problem, with its history, through the real exposure sweep: repeated
breaches of a rule add occurrences to the officer's unresolved alert instead of new
lines, only breaches raise alerts, and only repeated dose breaches book a check-in."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest

from tests.conftest import Cast, make_user
from welfare.alerts import rules as alert_rules
from welfare.alerts.models import Alert, AlertOccurrence, Notification, SweepMark, WebhookDelivery
from welfare.alerts.services import (
    alert_acknowledge,
    alert_resolve,
    exposure_limits_sweep,
    webhook_create,
)
from welfare.audit.models import AuditEvent
from welfare.checkins.models import CheckIn
from welfare.core import clock as clock_module
from welfare.core.roles import Role
from welfare.exposure.services import exposure_log, policy_create_for_unit
from welfare.people.models import Officer
from welfare.people.services import unit_update

MONDAY = date(2027, 3, 1)  # GMT all month until the 28th


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=clock_module.local_zone())


def evening(day: date) -> datetime:
    return local(day, 18)


def log(officer: Officer, start: datetime, minutes: float) -> None:
    exposure_log(
        officer=officer,
        recorded_by=officer.user,
        started_at=start,
        ended_at=start + timedelta(minutes=minutes),
        material="image",
        category="C",
        client_ref=uuid.uuid4(),
    )


def log_with_breaks(officer: Officer, day: date, minutes: float, *, start: int = 8) -> None:
    """Stretches of an hour at most with 10-minute breaks: the break rule kept."""
    at = local(day, start)
    while minutes > 0:
        stretch = min(60, minutes)
        log(officer, at, stretch)
        at += timedelta(minutes=stretch + 10)
        minutes -= stretch


def sweep(clock: Any, day: date) -> alert_rules.SweepReport:
    """The sweep as the scheduler runs it, that evening."""
    clock.set(evening(day))
    return exposure_limits_sweep(at=evening(day))


def limit_alerts(officer: Officer) -> list[Alert]:
    return list(Alert.objects.filter(officer=officer, kind="exposure_limit").order_by("id"))


def told(alert: Alert) -> dict[str, int]:
    counts: dict[str, int] = {}
    for username in Notification.objects.filter(alert=alert).values_list(
        "recipient__username", flat=True
    ):
        counts[username] = counts.get(username, 0) + 1
    return counts


def days_of(alert: Alert) -> list[date]:
    return list(alert.occurrence_rows.values_list("on", flat=True))


def triggered(officer: Officer) -> list[CheckIn]:
    return list(CheckIn.objects.filter(officer=officer, kind="triggered"))


@pytest.fixture
def second_supervisor(cast: Cast):
    sup = make_user("sup.c", Role.SUPERVISOR)
    unit_update(
        actor=cast.admin, unit=cast.unit_a, changes={"supervisors": [cast.supervisor_a, sup]}
    )
    return sup


def test_three_break_overruns_make_one_alert_told_once(
    cast: Cast, clock, second_supervisor
) -> None:
    webhook_create(actor=cast.admin, unit=cast.unit_a, url="https://chat.example.invalid/a")
    a1 = cast.officer_a1
    for n in range(3):  # Monday to Wednesday: 70 minutes without a break each morning
        day = MONDAY + timedelta(days=n)
        clock.set(evening(day))
        log(a1, local(day, 9), 70)
        report = sweep(clock, day)
        assert report.raised == (1 if n == 0 else 0)
        [alert] = limit_alerts(a1)
        assert (alert.first_on, alert.last_on, alert.occurrences) == (MONDAY, day, n + 1)

    assert alert.detail["rule"] == "break_after_minutes"
    assert (alert.severity, alert.status, alert.dedupe_key) == (
        "high",
        "open",
        alert_rules.limit_alert_key(a1.pk, "break_after_minutes", MONDAY, "breach"),
    )
    assert days_of(alert) == [MONDAY, MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)]
    assert [o.detail["used"] for o in alert.occurrence_rows.all()] == [70, 70, 70]
    # Told once, on the first day: each of the unit's supervisors and the officer; nobody
    # else, and no message nor team-chat post for the occurrences added.
    assert told(alert) == {"sup.a": 1, "sup.c": 1, "off.a1": 1}
    assert set(Notification.objects.filter(alert=alert).values_list("created_at", flat=True)) == {
        evening(MONDAY)
    }
    assert WebhookDelivery.objects.count() == 1
    # A break overrun is the supervisor's to handle: no check-in however often.
    assert triggered(a1) == []

    # A day at a dose warning (250 of 300 minutes, breaks kept) is shown, never raised.
    thursday = MONDAY + timedelta(days=3)
    clock.set(evening(thursday))
    log_with_breaks(a1, thursday, 250)
    before = (Alert.objects.count(), AlertOccurrence.objects.count(), Notification.objects.count())
    assert sweep(clock, thursday).raised == 0
    assert (
        Alert.objects.count(),
        AlertOccurrence.objects.count(),
        Notification.objects.count(),
    ) == before


def test_a_resolved_alert_takes_no_more_a_new_overrun_raises_a_new_one(cast: Cast, clock) -> None:
    a1 = cast.officer_a1
    clock.set(evening(MONDAY))
    log(a1, local(MONDAY, 9), 70)
    sweep(clock, MONDAY)
    [first] = limit_alerts(a1)
    alert_resolve(actor=cast.supervisor_a, alert=first, note="Spoke to the officer.")

    tuesday = MONDAY + timedelta(days=1)
    clock.set(evening(tuesday))
    log(a1, local(tuesday, 9), 75)
    assert sweep(clock, tuesday).raised == 1
    old, new = limit_alerts(a1)
    assert old == first
    assert (old.status, old.occurrences, old.first_on, old.last_on) == (
        "resolved",
        1,
        MONDAY,
        MONDAY,
    )
    assert (new.status, new.occurrences, new.first_on, new.last_on) == (
        "open",
        1,
        tuesday,
        tuesday,
    )
    assert days_of(new) == [tuesday]
    assert told(new) == {"sup.a": 1, "off.a1": 1}  # a new problem is told again

    # Acknowledged is not resolved: the next overrun joins it, without a message.
    alert_acknowledge(actor=cast.supervisor_a, alert=new)
    wednesday = MONDAY + timedelta(days=2)
    clock.set(evening(wednesday))
    log(a1, local(wednesday, 9), 80)
    assert sweep(clock, wednesday).raised == 0
    new.refresh_from_db()
    assert (new.status, new.occurrences, new.last_on) == ("acknowledged", 2, wednesday)
    assert told(new) == {"sup.a": 1, "off.a1": 1}


def test_two_daily_limit_breaches_in_a_week_make_one_alert_and_one_checkin(
    cast: Cast, clock
) -> None:
    a1 = cast.officer_a1
    thursday = MONDAY + timedelta(days=3)
    clock.set(evening(MONDAY))
    log_with_breaks(a1, MONDAY, 310)  # over the day's 300 minutes, every break taken
    assert sweep(clock, MONDAY) == alert_rules.SweepReport(examined=1, raised=1, checkins=0)
    assert triggered(a1) == []  # one breach: shown and told, no check-in yet

    clock.set(evening(thursday))
    log_with_breaks(a1, thursday, 310)
    report = sweep(clock, thursday)
    assert (report.raised, report.checkins) == (0, 1)
    [alert] = limit_alerts(a1)  # the only alert: no break, cut-off or week problem
    assert alert.detail["rule"] == "daily_minutes"
    assert (alert.first_on, alert.last_on, alert.occurrences) == (MONDAY, thursday, 2)
    assert [o.detail["used"] for o in alert.occurrence_rows.all()] == [310, 310]
    assert told(alert) == {"sup.a": 1, "off.a1": 1}
    [checkin] = triggered(a1)
    assert checkin.key == f"triggered:exposure:{a1.pk}:{thursday.isoformat()}"
    assert checkin.due_on == thursday + timedelta(days=7)
    assert not checkin.confidential  # a limit's check-in is the supervisor's to know of

    # A third breach counts towards the next check-in only: none while nothing repeats.
    friday = thursday + timedelta(days=1)
    clock.set(evening(friday))
    log_with_breaks(a1, friday, 310)
    assert sweep(clock, friday).checkins == 0
    assert len(triggered(a1)) == 1
    alert.refresh_from_db()
    assert alert.occurrences == 3


def test_a_28_day_breach_books_a_checkin_at_once(cast: Cast, clock) -> None:
    # Under the force's limits a 28-day breach needs a week's first (4 x 1,500 = 6,000): a
    # unit that sets 40 hours over 28 days shows the 28-day rule on its own.
    policy_create_for_unit(actor=cast.oh1, unit=cast.unit_a, values={"rolling_28d_minutes": 2400})
    a1 = cast.officer_a1
    first_breach = None
    for n in range(28):  # 130 minutes on weekdays: 650 a week, 2,470 by the 19th weekday
        day = MONDAY + timedelta(days=n)
        clock.set(evening(day))
        if day.weekday() < 5:
            log_with_breaks(a1, day, 130)
        report = sweep(clock, day)
        if report.checkins and first_breach is None:
            first_breach = day
    assert first_breach == date(2027, 3, 25)
    [alert] = limit_alerts(a1)
    assert alert.detail["rule"] == "rolling_28d_minutes"
    assert (alert.first_on, alert.occurrences) == (first_breach, 1)  # one a month
    [checkin] = triggered(a1)
    assert checkin.key == f"triggered:exposure:{a1.pk}:{first_breach.isoformat()}"
    assert checkin.due_on == first_breach + timedelta(days=7)


def test_a_cut_off_overrun_raises_an_alert_and_never_a_checkin(cast: Cast, clock) -> None:
    a1 = cast.officer_a1
    for n in range(3):
        day = MONDAY + timedelta(days=n)
        clock.set(evening(day))
        log(a1, local(day, 15, 30), 40)  # ends 16:10, past the 16:00 cut-off
        sweep(clock, day)
    [alert] = limit_alerts(a1)
    assert alert.detail["rule"] == "latest_end"
    assert (alert.occurrences, alert.first_on, alert.last_on) == (
        3,
        MONDAY,
        MONDAY + timedelta(days=2),
    )
    assert CheckIn.objects.filter(officer=a1).count() == 0
    assert not CheckIn.objects.filter(kind="triggered").exists()


def test_consecutive_days_count_once_a_week_and_never_book_a_checkin(cast: Cast, clock) -> None:
    a1 = cast.officer_a1
    for n in range(8):  # Monday to the next Monday, 30 minutes a day
        day = MONDAY + timedelta(days=n)
        clock.set(evening(day))
        log(a1, local(day, 10), 30)
        sweep(clock, day)
    [alert] = limit_alerts(a1)
    assert alert.detail["rule"] == "max_consecutive_days"
    saturday, next_monday = MONDAY + timedelta(days=5), MONDAY + timedelta(days=7)
    # The sixth day (Saturday) goes past five; Sunday is the same ISO week's problem; the
    # next Monday, a new week's occurrence of it.
    assert days_of(alert) == [saturday, next_monday]
    assert (alert.first_on, alert.last_on, alert.occurrences) == (saturday, next_monday, 2)
    assert triggered(a1) == []


def test_a_late_logged_day_joins_the_open_alert_and_a_far_one_starts_another(
    cast: Cast, clock
) -> None:
    a1 = cast.officer_a1
    wednesday = MONDAY + timedelta(days=2)
    clock.set(evening(wednesday))
    log(a1, local(wednesday, 9), 70)
    sweep(clock, wednesday)
    friday = MONDAY + timedelta(days=4)
    clock.set(evening(friday))
    log(a1, local(MONDAY, 9), 65)  # Monday's overrun, logged late on Friday
    assert sweep(clock, friday).raised == 0
    [alert] = limit_alerts(a1)
    assert (alert.first_on, alert.last_on, alert.occurrences) == (MONDAY, wednesday, 2)
    assert days_of(alert) == [MONDAY, wednesday]

    # Coming back 27 days after the latest occurrence: the same problem, the same alert,
    # though more than 28 days after its first day.
    again = wednesday + timedelta(days=27)
    clock.set(evening(again))
    log(a1, local(again, 9), 70)
    assert sweep(clock, again).raised == 0
    [alert] = limit_alerts(a1)
    assert (alert.first_on, alert.last_on, alert.occurrences) == (MONDAY, again, 3)

    # 28 days or more after the latest occurrence: the problem had stopped, a new alert.
    later = again + timedelta(days=28)
    clock.set(evening(later))
    log(a1, local(later, 9), 70)
    assert sweep(clock, later).raised == 1
    first, second = limit_alerts(a1)
    assert first == alert
    assert (second.first_on, second.occurrences) == (later, 1)


def snapshot() -> dict[str, object]:
    return {
        "alerts": sorted(
            Alert.objects.values_list(
                "id", "status", "occurrences", "first_on", "last_on", "raised_at"
            )
        ),
        "occurrences": sorted(AlertOccurrence.objects.values_list("id", "alert_id", "on")),
        "notifications": Notification.objects.count(),
        "webhooks": WebhookDelivery.objects.count(),
        "checkins": sorted(CheckIn.objects.values_list("id", "key", "due_on")),
        "audit": AuditEvent.objects.count(),
    }


def test_rerunning_the_sweep_for_the_same_or_an_earlier_instant_changes_nothing(
    cast: Cast, clock
) -> None:
    a1, a2 = cast.officer_a1, cast.officer_a2
    webhook_create(actor=cast.admin, unit=cast.unit_a, url="https://chat.example.invalid/a")
    days = [MONDAY + timedelta(days=n) for n in (0, 1, 3)]
    for day in days:
        clock.set(evening(day))
        log_with_breaks(a1, day, 310)  # daily breaches: an alert, then a check-in
        log(a2, local(day, 15, 30), 45)  # cut-off overruns
        sweep(clock, day)
    assert snapshot()["checkins"]
    last = evening(days[-1])
    before = snapshot()
    mark = SweepMark.objects.get().through
    for at in (
        last,  # the same instant
        last + timedelta(seconds=1),  # within the margin: the same days read again
        evening(days[0]),  # an earlier instant, after a later one
        evening(days[1]) - timedelta(hours=6),
    ):
        clock.set(at)
        report = exposure_limits_sweep(at=at)
        assert (report.raised, report.checkins) == (0, 0)
        assert snapshot() == before
    assert SweepMark.objects.get().through == last + timedelta(seconds=1)  # never back
    assert mark == last
