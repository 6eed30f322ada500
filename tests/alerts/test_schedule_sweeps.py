"""The schedule running itself, with the injected clock: two simulated years, re-runs and
outages, all on PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.core import mail
from django.core.management import call_command

from schedules.runner import run_all
from tests.conftest import Cast, make_user
from welfare.alerts.models import Alert, Notification, WebhookDelivery
from welfare.audit.models import AuditEvent
from welfare.checkins.models import CheckIn
from welfare.checkins.services import checkin_complete
from welfare.core import clock as clock_module
from welfare.core.roles import Role
from welfare.exposure.models import DailyTotal
from welfare.exposure.services import exposure_log
from welfare.people.services import officer_create

LONDON = clock_module.local_zone


def morning(day: date) -> datetime:
    return datetime.combine(day, time(6, 0), tzinfo=LONDON()).astimezone(UTC)


def counts() -> dict[str, int]:
    return {
        "checkins": CheckIn.objects.count(),
        "alerts": Alert.objects.count(),
        "notifications": Notification.objects.count(),
        "webhooks": WebhookDelivery.objects.count(),
        "audit": AuditEvent.objects.count(),
        "emails": len(mail.outbox),
    }


@pytest.fixture
def newcomer(cast: Cast, clock):
    """An officer posted to unit A on 1 February 2027, known from 1 January."""
    clock.set(morning(date(2027, 1, 1)))
    user = make_user("off.new", Role.OFFICER)
    user.email = "off.new@example.invalid"
    user.save()
    return officer_create(
        actor=cast.admin,
        user=user,
        staff_number="T0100",
        display_name="Test New",
        unit=cast.unit_a,
        posted_since=date(2027, 2, 1),
    )


def first_day(days: dict[str, date], key: str, day: date, present: bool) -> None:
    if present and key not in days:
        days[key] = day


def test_two_years_of_a_units_life(
    cast: Cast, clock, newcomer, django_capture_on_commit_callbacks
) -> None:
    start = date(2027, 1, 1)
    seen: dict[str, date] = {}
    cast.supervisor_a.email = "sup.a@example.invalid"
    cast.supervisor_a.notify_by = "immediate"  # the jobs run at 06:00, before the digest
    cast.supervisor_a.save()
    for n in range(730):
        day = start + timedelta(days=n)
        at = morning(day)
        clock.set(at)
        with django_capture_on_commit_callbacks(execute=True):
            run_all(at)
        pre = CheckIn.objects.filter(officer=newcomer, kind="pre_posting").first()
        first_day(seen, "pre_posting created", day, pre is not None)
        if pre is not None:
            for tier in (14, 3):
                first_day(
                    seen,
                    f"reminder {tier}",
                    day,
                    Notification.objects.filter(
                        dedupe_key=f"checkin:{pre.pk}:reminder:{tier}"
                    ).exists(),
                )
            first_day(
                seen,
                "overdue alert",
                day,
                Alert.objects.filter(dedupe_key=f"checkin_overdue:{pre.pk}").exists(),
            )
            first_day(
                seen,
                "escalated",
                day,
                Alert.objects.filter(
                    dedupe_key=f"checkin_overdue:{pre.pk}", escalated_at__isnull=False
                ).exists(),
            )
            if day == date(2027, 2, 20):
                checkin_complete(actor=cast.oh1, checkin=pre, outcome="fit")
        periodic = CheckIn.objects.filter(officer=newcomer, kind="periodic").order_by("due_on")
        first_day(seen, "first periodic", day, periodic.exists())
        if periodic.exists() and day == date(2027, 8, 19):
            checkin_complete(
                actor=cast.oh1, checkin=periodic.first(), outcome="fit_with_adjustments"
            )
        posting = cast.officer_a1.postings.get()
        first_day(
            seen,
            "rotation review",
            day,
            Alert.objects.filter(posting=posting, detail__level="review").exists(),
        )
        first_day(
            seen,
            "rotation tenure",
            day,
            Alert.objects.filter(posting=posting, detail__level="tenure").exists(),
        )

    # Pre-posting baseline: created ahead, reminded 14 and 3 days before, overdue on the
    # due date, escalated to OH at 14 days overdue.
    assert seen["pre_posting created"] == date(2027, 1, 1)
    assert seen["reminder 14"] == date(2027, 1, 18)
    assert seen["reminder 3"] == date(2027, 1, 29)
    assert seen["overdue alert"] == date(2027, 2, 1)
    assert seen["escalated"] == date(2027, 2, 15)
    pre = CheckIn.objects.get(officer=newcomer, kind="pre_posting")
    assert pre.status == "completed"
    overdue = Alert.objects.get(dedupe_key=f"checkin_overdue:{pre.pk}")
    assert overdue.status == "resolved"  # done, so answered by the sweep
    assert overdue.severity == "high"
    # Each reminder exactly once.
    assert (
        Notification.objects.filter(dedupe_key__startswith=f"checkin:{pre.pk}:reminder").count()
        == 2
    )
    # Periodic every 6 months in an IIOC unit, counted from the last completion.
    periodic = list(CheckIn.objects.filter(officer=newcomer, kind="periodic").order_by("due_on"))
    # The first counts from the posting start (the baseline was late); the next from its
    # completion on 19 August 2027; that one is never done, so no third appears.
    assert seen["first periodic"] == date(2027, 2, 1)
    assert [c.due_on for c in periodic] == [date(2027, 8, 1), date(2028, 2, 19)]
    assert periodic[0].status == "completed"
    assert periodic[1].status == "overdue"
    # Rotation: officer A1 posted 1 June 2025: review at 21 months, escalated at 24.
    assert seen["rotation review"] == date(2027, 3, 1)
    assert seen["rotation tenure"] == date(2027, 6, 1)
    # Escalations reached OH; overdue alerts reached the supervisor by mail too.
    assert (
        Notification.objects.filter(
            recipient=cast.oh1, dedupe_key=f"checkin:{pre.pk}:escalated"
        ).count()
        == 1
    )
    assert Notification.objects.filter(recipient=cast.supervisor_a, alert=overdue).count() == 1
    assert any(m.to == ["sup.a@example.invalid"] for m in mail.outbox)


def test_every_job_twice_for_the_same_instant_changes_nothing(cast: Cast, clock, newcomer) -> None:
    at = morning(date(2027, 2, 20))
    clock.set(at)
    run_all(at)
    assert CheckIn.objects.exists()
    assert Alert.objects.exists()
    before = counts()
    run_all(at)
    assert counts() == before
    call_command("run_jobs", "--at", at.isoformat())
    assert counts() == before


def test_an_earlier_instant_after_a_later_one_changes_nothing(cast: Cast, clock, newcomer) -> None:
    later = morning(date(2027, 3, 1))
    clock.set(later)
    run_all(later)
    before = counts()
    run_all(morning(date(2027, 2, 1)))
    assert counts() == before


def test_outage_of_ten_days_handles_each_missed_item_once(cast: Cast, clock, newcomer) -> None:
    for day in (date(2027, 1, 25), date(2027, 1, 26)):  # runs stop on the 26th
        clock.set(morning(day))
        run_all(morning(day))
    pre = CheckIn.objects.get(officer=newcomer, kind="pre_posting")
    assert Notification.objects.filter(dedupe_key=f"checkin:{pre.pk}:reminder:14").count() == 1
    back = morning(date(2027, 2, 16))  # ten days late, after the due date and 15 days overdue
    clock.set(back)
    run_all(back)
    pre.refresh_from_db()
    assert pre.status == "overdue"
    alert = Alert.objects.get(dedupe_key=f"checkin_overdue:{pre.pk}")
    assert alert.escalated_at == back
    # The 3-day reminder is not sent late: it was overtaken by the overdue notice.
    assert not Notification.objects.filter(dedupe_key=f"checkin:{pre.pk}:reminder:3").exists()
    assert Notification.objects.filter(dedupe_key=f"checkin:{pre.pk}:overdue").count() == 1
    before = counts()
    run_all(back)
    assert counts() == before


def test_a_breach_raises_one_alert_and_a_repeat_a_triggered_checkin(cast: Cast, clock) -> None:
    def over_the_day(day: date) -> None:
        # four 85-minute sessions: 340 minutes, over the 300-minute day (and 5-minute pauses,
        # no break: a break overrun too, which is the supervisor's and books no check-in)
        for n in range(4):
            session_start = datetime.combine(day, time(8), tzinfo=UTC) + timedelta(minutes=90 * n)
            exposure_log(
                officer=cast.officer_a1,
                recorded_by=cast.officer_a1.user,
                started_at=session_start,
                ended_at=session_start + timedelta(minutes=85),
                material="image",
                category="C",
                client_ref=uuid.uuid4(),
            )

    clock.set(datetime(2027, 3, 10, 18, tzinfo=UTC))
    over_the_day(date(2027, 3, 10))
    run_all(clock.now())
    breach = Alert.objects.get(
        officer=cast.officer_a1,
        kind="exposure_limit",
        detail__rule="daily_minutes",
        detail__state="breach",
    )
    assert breach.severity == "high"
    assert breach.detail["used"] == 340
    assert (breach.first_on, breach.last_on, breach.occurrences) == (
        date(2027, 3, 10),
        date(2027, 3, 10),
        1,
    )
    assert Alert.objects.filter(
        officer=cast.officer_a1, detail__rule="break_after_minutes", detail__state="breach"
    ).exists()
    # One breach of a day's limit books no check-in: only a repeat does.
    assert not CheckIn.objects.filter(officer=cast.officer_a1, kind="triggered").exists()
    assert Notification.objects.filter(recipient=cast.supervisor_a, alert=breach).exists()
    assert not Notification.objects.filter(recipient=cast.supervisor_b, alert=breach).exists()
    before = counts()
    clock.advance(minutes=5)
    run_all(clock.now())
    assert counts() == before
    # A second breach later that week joins the alert, and the repeat books one check-in.
    clock.set(datetime(2027, 3, 11, 18, tzinfo=UTC))
    over_the_day(date(2027, 3, 11))
    run_all(clock.now())
    breach.refresh_from_db()
    daily = Alert.objects.filter(officer=cast.officer_a1, detail__rule="daily_minutes")
    assert list(daily) == [breach]
    assert (breach.first_on, breach.last_on, breach.occurrences) == (
        date(2027, 3, 10),
        date(2027, 3, 11),
        2,
    )
    # No new message for an added occurrence: those of the first day only.
    assert set(Notification.objects.filter(alert=breach).values_list("created_at", flat=True)) == {
        datetime(2027, 3, 10, 18, tzinfo=UTC)
    }
    triggered = CheckIn.objects.get(officer=cast.officer_a1, kind="triggered")
    assert triggered.key == f"triggered:exposure:{cast.officer_a1.pk}:2027-03-11"
    assert triggered.due_on == date(2027, 3, 18)
    # A third breach within the open check-in's reach asks for no other.
    clock.set(datetime(2027, 3, 12, 18, tzinfo=UTC))
    over_the_day(date(2027, 3, 12))
    run_all(clock.now())
    assert CheckIn.objects.filter(officer=cast.officer_a1, kind="triggered").count() == 1


def test_the_exposure_sweep_is_incremental(
    cast: Cast, clock, django_assert_max_num_queries
) -> None:
    from welfare.alerts.services import exposure_limits_sweep

    clock.set(datetime(2027, 3, 10, 18, tzinfo=UTC))
    exposure_limits_sweep(at=clock.now())
    exposure_log(
        officer=cast.officer_b1,
        recorded_by=cast.officer_b1.user,
        started_at=datetime(2027, 3, 10, 9, tzinfo=UTC),
        ended_at=datetime(2027, 3, 10, 10, tzinfo=UTC),
        material="image",
        category="C",
        client_ref=uuid.uuid4(),
    )
    clock.advance(minutes=10)
    report = exposure_limits_sweep(at=clock.now())
    assert report.examined == 1  # one officer, one day: not a scan of everybody
    assert DailyTotal.objects.count() == 1
