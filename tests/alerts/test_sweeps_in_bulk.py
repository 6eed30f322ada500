"""Alerts and notifications raised in bulk: the sweeps cost the same number of queries
however many rows they raise, and write exactly what raising them one by one did."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from tests.conftest import Cast, make_user, run_together
from welfare.alerts import rules
from welfare.alerts.models import Alert, Notification, WebhookDelivery
from welfare.alerts.services import (
    SweepReport,
    alert_raise,
    checkin_escalation_sweep,
    exposure_limits_sweep,
    notify,
    webhook_create,
)
from welfare.checkins.models import CheckIn
from welfare.checkins.services import checkin_status_sweep, checkin_trigger, self_refer
from welfare.core import clock as clock_module
from welfare.core.roles import Role
from welfare.exposure.services import exposure_log
from welfare.people.models import Officer, Unit
from welfare.people.services import officer_create

EVENING = datetime(2027, 3, 10, 18, tzinfo=UTC)


def morning(day: date) -> datetime:
    return datetime.combine(day, time(6), tzinfo=clock_module.local_zone()).astimezone(UTC)


def new_officer(cast: Cast, name: str, unit: Unit | None = None) -> Officer:
    return officer_create(
        actor=cast.admin,
        user=make_user(name, Role.OFFICER),
        staff_number=name.upper(),
        display_name=f"Test {name}",
        unit=unit or cast.unit_a,
        posted_since=date(2026, 1, 1),
    )


def log_minutes(officer: Officer, start: datetime, minutes: int) -> None:
    exposure_log(
        officer=officer,
        recorded_by=officer.user,
        started_at=start,
        ended_at=start + timedelta(minutes=minutes),
        material="image",
        category="C",
        client_ref=uuid.uuid4(),
    )


def log_with_breaks(officer: Officer, start: datetime, minutes: int) -> None:
    """`minutes` of viewing in stretches of an hour, each followed by a 10-minute break: a
    dose, with the break rule kept."""
    while minutes > 0:
        stretch = min(60, minutes)
        log_minutes(officer, start, stretch)
        start += timedelta(minutes=stretch + 10)
        minutes -= stretch


def counted(sweep: Callable[..., SweepReport], at: datetime) -> tuple[int, SweepReport]:
    with CaptureQueriesContext(connection) as queries:
        report = sweep(at=at)
    return len(queries), report


def rows() -> dict[str, int]:
    return {
        "alerts": Alert.objects.count(),
        "notifications": Notification.objects.count(),
        "webhooks": WebhookDelivery.objects.count(),
        "checkins": CheckIn.objects.count(),
    }


def test_escalation_sweep_queries_do_not_grow_with_overdue_checkins(cast: Cast, clock) -> None:
    webhook_create(actor=cast.admin, unit=cast.unit_a, url="https://chat.example.invalid/a")
    queries = {}
    for n in (2, 12):
        with transaction.atomic():
            for i in range(n):
                officer = new_officer(cast, f"late{n}x{i}")
                checkin_trigger(officer_id=officer.pk, due_on=date(2027, 2, 1), key=f"late{i}")
            queries[n], report = counted(checkin_escalation_sweep, clock.now())
            # Each: an alert, the officer told, both clinicians told of the escalation.
            assert report == SweepReport(raised=n, notified=3 * n)
            assert Alert.objects.filter(severity="high", escalated_at=clock.now()).count() == n
            assert WebhookDelivery.objects.count() == n
            before = rows()
            assert checkin_escalation_sweep(at=clock.now()) == SweepReport()
            assert rows() == before
            transaction.set_rollback(True)
    assert queries[2] == queries[12]


def test_exposure_sweep_queries_do_not_grow_with_alerts(cast: Cast, clock) -> None:
    clock.set(EVENING)
    webhook_create(actor=cast.admin, unit=cast.unit_a, url="https://chat.example.invalid/a")
    queries = {}
    for n in (1, 10):
        with transaction.atomic():
            for i in range(n):
                officer = new_officer(cast, f"exp{n}x{i}")
                # 61 minutes without a break: a breach (60 would be the rule kept: nothing)
                log_minutes(officer, datetime(2027, 3, 10, 8, tzinfo=UTC), 61)
            queries[n], report = counted(exposure_limits_sweep, clock.now())
            assert report.raised == n
            assert Notification.objects.filter(recipient=cast.supervisor_a).count() == n
            assert WebhookDelivery.objects.count() == n
            before = rows()
            assert exposure_limits_sweep(at=clock.now()).raised == 0
            assert rows() == before
            transaction.set_rollback(True)
    assert queries[1] == queries[10]


def test_exposure_sweep_queries_do_not_grow_with_triggered_checkins(cast: Cast, clock) -> None:
    clock.set(EVENING)
    queries = {}
    for n in (1, 10):
        with transaction.atomic():
            officers = [new_officer(cast, f"brk{n}x{i}") for i in range(n)]
            for officer in officers:
                for day in (9, 10):  # over the daily limit two days running: a repeat
                    log_with_breaks(officer, datetime(2027, 3, day, 8, tzinfo=UTC), 310)
            queries[n], report = counted(exposure_limits_sweep, clock.now())
            # One alert per officer (the two days are its occurrences) and one check-in.
            assert (report.raised, report.checkins) == (n, n)
            assert set(
                CheckIn.objects.filter(kind="triggered").values_list("officer_id", "due_on")
            ) == {(officer.pk, date(2027, 3, 17)) for officer in officers}
            assert set(Alert.objects.values_list("officer_id", "occurrences")) == {
                (officer.pk, 2) for officer in officers
            }
            before = rows()
            # The margin has the rerun evaluate the same officer-days again: nothing new.
            assert exposure_limits_sweep(at=clock.now()) == SweepReport(examined=2 * n)
            assert rows() == before
            transaction.set_rollback(True)
    assert queries[1] == queries[10]


def test_new_breaches_trigger_one_checkin_per_officer_from_the_day_they_repeat(
    cast: Cast, clock
) -> None:
    clock.set(EVENING)
    checkin_trigger(officer_id=cast.officer_a2.pk, due_on=date(2027, 3, 20), key="open")
    for officer in (cast.officer_a1, cast.officer_a2):
        for day in (8, 9):  # over the daily limit on two days: a repeated dose breach
            log_with_breaks(officer, datetime(2027, 3, day, 8, tzinfo=UTC), 310)
    for day in (8, 9):  # 150 minutes without a break: a breach each day, the supervisor's
        log_minutes(cast.officer_b1, datetime(2027, 3, day, 8, tzinfo=UTC), 150)
    report = exposure_limits_sweep(at=clock.now())
    assert report.raised == 3  # one per officer and rule, the second day an occurrence
    assert set(Alert.objects.values_list("officer_id", "detail__rule", "occurrences")) == {
        (cast.officer_a1.pk, "daily_minutes", 2),
        (cast.officer_a2.pk, "daily_minutes", 2),
        (cast.officer_b1.pk, "break_after_minutes", 2),
    }
    # Officer A2 has a triggered check-in open already; officer B1's breaks book none.
    assert report.checkins == 1
    triggered = CheckIn.objects.filter(kind="triggered").exclude(key="open")
    assert {(c.officer_id, c.key, c.due_on) for c in triggered} == {
        (
            cast.officer_a1.pk,
            f"triggered:exposure:{cast.officer_a1.pk}:2027-03-09",
            date(2027, 3, 16),
        )
    }


def test_escalation_sweep_writes_what_each_checkin_calls_for(
    cast: Cast, clock, django_capture_on_commit_callbacks
) -> None:
    webhook_create(actor=cast.admin, unit=cast.unit_a, url="https://chat.example.invalid/a")
    for user in (cast.supervisor_a, cast.officer_a1.user, cast.oh1):
        user.email = f"{user.username}@example.invalid"
        user.save()
    fresh_officer = new_officer(cast, "fresh")
    late = checkin_trigger(officer_id=cast.officer_a1.pk, due_on=date(2027, 3, 1), key="late")
    referral = self_refer(user=cast.officer_a2.user)  # due 17 March
    soon = checkin_trigger(officer_id=cast.officer_b1.pk, due_on=date(2027, 4, 3), key="soon")
    fresh = checkin_trigger(officer_id=fresh_officer.pk, due_on=date(2027, 3, 25), key="fresh")
    assert late is not None
    assert soon is not None
    assert fresh is not None
    at = morning(date(2027, 3, 31))
    clock.set(at)
    checkin_status_sweep(at=at)
    with django_capture_on_commit_callbacks(execute=True):
        report = checkin_escalation_sweep(at=at)

    alerts = {a.checkin_id: a for a in Alert.objects.all()}
    assert set(alerts) == {late.pk, referral.pk, fresh.pk}
    expected = {
        late.pk: (cast.officer_a1.pk, "high", at, False, "triggered", "2027-03-01"),
        referral.pk: (cast.officer_a2.pk, "high", at, True, "self_referral", "2027-03-17"),
        fresh.pk: (fresh_officer.pk, "warning", None, False, "triggered", "2027-03-25"),
    }
    for checkin_id, (officer_id, severity, escalated_at, clinical, kind, due) in expected.items():
        alert = alerts[checkin_id]
        assert (alert.officer_id, alert.kind, alert.status) == (
            officer_id,
            "checkin_overdue",
            "open",
        )
        assert (alert.severity, alert.escalated_at, alert.clinical) == (
            severity,
            escalated_at,
            clinical,
        )
        assert alert.dedupe_key == f"checkin_overdue:{checkin_id}"
        assert alert.detail == {"checkin": checkin_id, "kind": kind, "due_on": due}
        assert alert.raised_at == at

    def link(path: str) -> str:
        return f"http://127.0.0.1:8000{path}"

    def told_of_alert(username: str, checkin_id: int) -> tuple[object, ...]:
        pk = alerts[checkin_id].pk
        return (
            username,
            f"alert:{pk}",
            rules.ALERT_SUBJECT,
            rules.ALERT_BODY,
            link(f"/alerts/{pk}"),
            pk,
            None,
        )

    def overdue(username: str, checkin: CheckIn) -> tuple[object, ...]:
        body = rules.OVERDUE_BODY.format(date=rules.friendly_date(checkin.due_on))
        return (
            username,
            f"checkin:{checkin.pk}:overdue",
            rules.OVERDUE_SUBJECT,
            body,
            link(f"/checkins/{checkin.pk}"),
            None,
            checkin.pk,
        )

    def escalated(username: str, checkin_id: int, days: int) -> tuple[object, ...]:
        pk = alerts[checkin_id].pk
        return (
            username,
            f"checkin:{checkin_id}:escalated",
            rules.ESCALATED_SUBJECT,
            rules.ESCALATED_BODY.format(days=days),
            link(f"/alerts/{pk}"),
            pk,
            None,
        )

    def self_referred(username: str, checkin: CheckIn) -> tuple[object, ...]:
        return (
            username,
            f"checkin:{checkin.pk}:self_referred",
            rules.SELF_REFERRAL_SUBJECT,
            rules.SELF_REFERRAL_BODY,
            link(f"/checkins/{checkin.pk}"),
            None,
            checkin.pk,
        )

    notifications = set(
        Notification.objects.values_list(
            "recipient__username", "dedupe_key", "subject", "body", "link", "alert", "checkin"
        )
    )
    assert notifications == {
        told_of_alert("sup.a", late.pk),
        told_of_alert("sup.a", fresh.pk),
        told_of_alert("oh.one", referral.pk),
        told_of_alert("oh.two", referral.pk),
        overdue("off.a1", late),
        overdue("off.a2", referral),
        overdue("fresh", fresh),
        escalated("oh.one", late.pk, 30),
        escalated("oh.two", late.pk, 30),
        escalated("oh.one", referral.pk, 14),
        escalated("oh.two", referral.pk, 14),
        self_referred("oh.one", referral),  # when the officer referred themself
        self_referred("oh.two", referral),
        (
            "off.b1",
            f"checkin:{soon.pk}:reminder:3",
            rules.REMINDER_SUBJECT,
            rules.REMINDER_BODY.format(date="3 April 2027"),
            link(f"/checkins/{soon.pk}"),
            None,
            soon.pk,
        ),
    }
    assert report == SweepReport(raised=3, notified=8)
    # The team chat hears of the unit's alerts as they were raised, never of clinical ones.
    deliveries = {d.payload["alert"]: d for d in WebhookDelivery.objects.all()}
    assert set(deliveries) == {alerts[late.pk].pk, alerts[fresh.pk].pk}
    for pk, delivery in deliveries.items():
        assert delivery.dedupe_key == f"alert:{pk}"
        assert delivery.payload == {
            "event": "alert.raised",
            "alert": pk,
            "kind": "checkin_overdue",
            "severity": "warning",
            "unit": cast.unit_a.pk,
            "message": rules.ALERT_BODY,
            "link": link(f"/alerts/{pk}"),
            "raised_at": at.isoformat(),
        }
    # Mail after commit, to those with an address, and each marked sent: the officer's own
    # and the urgent escalations at once; the supervisor's and the clinician's other
    # notifications wait for their daily digest (the default).
    assert sorted(m.to[0] for m in mail.outbox) == [
        "off.a1@example.invalid",
        "oh.one@example.invalid",
        "oh.one@example.invalid",
    ]
    emailed = Notification.objects.filter(emailed_at=at)
    assert emailed.count() == 3
    assert not emailed.filter(recipient__email="").exists()
    assert set(emailed.values_list("urgent", "recipient__username")) == {
        (False, "off.a1"),
        (True, "oh.one"),
    }

    before = rows()
    with django_capture_on_commit_callbacks(execute=True):
        assert checkin_escalation_sweep(at=at) == SweepReport()
    assert rows() == before
    assert len(mail.outbox) == 3


def test_single_raise_and_notify_return_the_existing_row(cast: Cast, clock) -> None:
    first, created = alert_raise(
        officer_id=cast.officer_a1.pk, kind="exposure_limit", severity="warning", dedupe_key="k"
    )
    again, created_again = alert_raise(
        officer_id=cast.officer_a1.pk, kind="exposure_limit", severity="high", dedupe_key="k"
    )
    assert created
    assert not created_again
    assert again.pk == first.pk
    assert again.severity == "warning"
    assert notify(recipient=cast.oh1, key="n", subject="s", body="b")
    assert not notify(recipient=cast.oh1, key="n", subject="other", body="other")
    assert Notification.objects.get(recipient=cast.oh1, dedupe_key="n").subject == "s"


@pytest.mark.django_db(transaction=True)
def test_two_escalation_sweeps_at_once_raise_and_send_each_thing_once(cast: Cast, clock) -> None:
    for i in range(3):
        officer = new_officer(cast, f"both{i}")
        checkin_trigger(officer_id=officer.pk, due_on=date(2027, 2, 1), key=f"both{i}")

    def sweep() -> SweepReport:
        with transaction.atomic():
            return checkin_escalation_sweep(at=clock.now())

    reports = run_together(sweep, sweep)
    assert all(isinstance(r, SweepReport) for r in reports), reports
    assert sum(r.raised for r in reports) == 3  # type: ignore[union-attr]
    assert sum(r.notified for r in reports) == 9  # type: ignore[union-attr]
    assert Alert.objects.count() == 3
    assert Notification.objects.count() == 3 + 9  # supervisor A told of each, and the above


def test_batches_write_what_one_batch_writes(
    cast: Cast, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alerts raised a few at a time, and their notifications built a few at a time (as a
    national first catch-up does by the hundred and the thousand), write the same rows,
    tell the same people and report the same counts as all at once."""
    from welfare.alerts.services import lifecycle, notifications

    webhook_create(actor=cast.admin, unit=cast.unit_a, url="https://chat.example.invalid/a")
    results = {}
    for per_batch in (1000, 3):
        monkeypatch.setattr(lifecycle, "ALERTS_PER_BATCH", per_batch)
        monkeypatch.setattr(notifications, "NOTIFICATIONS_PER_BATCH", max(2, per_batch // 2))
        with transaction.atomic():
            for i in range(7):
                officer = new_officer(cast, f"b{per_batch}x{i}")
                checkin_trigger(officer_id=officer.pk, due_on=date(2027, 2, 1), key=f"b{i}")
            report = checkin_escalation_sweep(at=clock.now())
            told = sorted(
                (n.recipient.username, n.subject)
                for n in Notification.objects.select_related("recipient")
            )
            results[per_batch] = (report, rows(), len(told), sorted({s for _, s in told}))
            assert checkin_escalation_sweep(at=clock.now()) == SweepReport()
            transaction.set_rollback(True)
    assert results[3] == results[1000]
    assert results[3][0] == SweepReport(raised=7, notified=21)
