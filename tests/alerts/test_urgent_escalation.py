"""Urgent alerts must be acknowledged within working hours; past the deadline the OH leads
are told, once, however often or late the schedule runs (the injected clock, re-runs, an
outage and its catch-up, all on PostgreSQL)."""

from __future__ import annotations

import io
import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from schedules.runner import run_all
from tests.conftest import Cast, client_for, run_together
from welfare.accounts.models import User
from welfare.accounts.services import oh_lead_set, user_update
from welfare.alerts import rules
from welfare.alerts.models import Alert, AlertKind, Notification, Severity
from welfare.alerts.services import (
    ack_deadline,
    checkin_escalation_sweep,
    urgent_alerts_sweep,
    working_calendar,
)
from welfare.audit.models import AuditEvent
from welfare.checkins.models import CheckIn
from welfare.checkins.services import checkin_trigger
from welfare.people.models import Officer

LONDON = ZoneInfo("Europe/London")
PHQ9_CRITICAL = [0, 0, 0, 0, 0, 0, 0, 0, 1]
DUTY = "duty.oh@example.invalid"
_keys = itertools.count()


def london(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON).astimezone(UTC)


WEDNESDAY_9 = london(2027, 3, 10, 9)
WEDNESDAY_13 = london(2027, 3, 10, 13)


def raise_critical(officer: Officer) -> Alert:
    """The officer answers PHQ-9 item 9 above 0 for an open check-in of their own."""
    checkin = checkin_trigger(
        officer_id=officer.pk,
        due_on=date(2027, 12, 31),
        key=f"test:{next(_keys)}",
    )
    assert checkin is not None
    response = client_for(officer.user).post(
        f"/api/v1/checkins/{checkin.pk}/screenings",
        {"instrument": "phq9", "answers": PHQ9_CRITICAL},
        format="json",
    )
    assert response.status_code == 201, response.content
    return Alert.objects.get(dedupe_key=f"screening:{response.json()['id']}:critical")


def run_at(clock, at: datetime) -> None:
    clock.set(at)
    run_all(at)


def told_late(alert: Alert) -> list[User]:
    """Who was told the alert was not acknowledged in time, one entry per notification."""
    return [
        n.recipient
        for n in Notification.objects.filter(dedupe_key=f"alert:{alert.pk}:unacknowledged")
        .select_related("recipient")
        .order_by("recipient_id")
    ]


def make_lead(user: User) -> None:
    oh_lead_set(actor=None, user=user, lead=True)


def test_the_working_calendar_comes_from_settings() -> None:
    calendar = working_calendar()
    assert (calendar.opens, calendar.closes) == (time(8), time(18))
    assert calendar.days == frozenset(range(5))
    assert calendar.zone == LONDON
    assert ack_deadline(WEDNESDAY_9) == WEDNESDAY_13


def test_a_critical_answer_is_due_four_working_hours_later(cast: Cast, clock) -> None:
    clock.set(WEDNESDAY_9)
    alert = raise_critical(cast.officer_a1)
    assert alert.kind == AlertKind.SCREENING_RISK
    assert alert.severity == Severity.URGENT
    assert alert.urgent
    assert alert.ack_due_at == WEDNESDAY_13
    assert alert.ack_escalated_at is None


def test_unacknowledged_urgent_alert_escalates_to_the_lead_at_the_deadline_once(
    cast: Cast, clock
) -> None:
    make_lead(cast.oh2)
    clock.set(WEDNESDAY_9)
    alert = raise_critical(cast.officer_a1)

    run_at(clock, london(2027, 3, 10, 12, 59))
    alert.refresh_from_db()
    assert alert.ack_escalated_at is None
    assert told_late(alert) == []

    run_at(clock, WEDNESDAY_13)
    alert.refresh_from_db()
    assert alert.ack_escalated_at == WEDNESDAY_13
    assert alert.status == "open"
    assert told_late(alert) == [cast.oh2]  # the lead, not the other clinician
    late = Notification.objects.get(dedupe_key=f"alert:{alert.pk}:unacknowledged")
    assert late.subject == rules.UNACKNOWLEDGED_SUBJECT
    assert late.link.endswith(f"/alerts/{alert.pk}")
    assert late.alert_id == alert.pk

    for again in (WEDNESDAY_13, london(2027, 3, 10, 13, 1), london(2027, 3, 11, 9)):
        run_at(clock, again)
    alert.refresh_from_db()
    assert alert.ack_escalated_at == WEDNESDAY_13
    assert told_late(alert) == [cast.oh2]


def test_an_outage_catches_up_with_one_escalation(cast: Cast, clock) -> None:
    make_lead(cast.oh1)
    clock.set(WEDNESDAY_9)
    alert = raise_critical(cast.officer_a1)

    # Nothing runs until Friday; then one catch-up as of then.
    friday = london(2027, 3, 12, 9)
    clock.set(friday)
    call_command("run_jobs", "--at", friday.isoformat(), stdout=io.StringIO())
    alert.refresh_from_db()
    assert alert.ack_escalated_at == friday
    assert told_late(alert) == [cast.oh1]

    # A second catch-up for an earlier instant (after the deadline, then before it).
    for earlier in ("2027-03-11T09:00:00Z", "2027-03-10T13:00:00Z", "2027-03-10T12:00:00Z"):
        call_command("run_jobs", "--at", earlier, stdout=io.StringIO())
    alert.refresh_from_db()
    assert alert.ack_escalated_at == friday
    assert told_late(alert) == [cast.oh1]


def test_an_alert_acknowledged_before_the_deadline_never_escalates(cast: Cast, clock) -> None:
    make_lead(cast.oh2)
    clock.set(WEDNESDAY_9)
    alert = raise_critical(cast.officer_a1)
    clock.set(london(2027, 3, 10, 12))
    response = client_for(cast.oh1).post(f"/api/v1/alerts/{alert.pk}/acknowledge")
    assert response.status_code == 200, response.content

    for at in (WEDNESDAY_13, london(2027, 3, 11, 9), london(2027, 3, 17, 9)):
        run_at(clock, at)
    alert.refresh_from_db()
    assert alert.status == "acknowledged"
    assert alert.ack_escalated_at is None
    assert told_late(alert) == []


def test_an_alert_resolved_before_the_deadline_never_escalates(cast: Cast, clock) -> None:
    clock.set(WEDNESDAY_9)
    alert = raise_critical(cast.officer_a1)
    clock.set(london(2027, 3, 10, 10))
    response = client_for(cast.oh1).post(
        f"/api/v1/alerts/{alert.pk}/resolve", {"note": "Spoke to them."}, format="json"
    )
    assert response.status_code == 200, response.content
    run_at(clock, london(2027, 3, 11, 9))
    alert.refresh_from_db()
    assert alert.ack_escalated_at is None
    assert told_late(alert) == []


def test_raised_friday_late_afternoon_is_due_monday_at_eleven(cast: Cast, clock) -> None:
    make_lead(cast.oh2)
    clock.set(london(2027, 3, 12, 17))
    alert = raise_critical(cast.officer_a1)
    monday_11 = london(2027, 3, 15, 11)
    assert alert.ack_due_at == monday_11

    for at in (london(2027, 3, 13, 12), london(2027, 3, 15, 10, 59)):
        run_at(clock, at)
    alert.refresh_from_db()
    assert alert.ack_escalated_at is None

    run_at(clock, monday_11)
    alert.refresh_from_db()
    assert alert.ack_escalated_at == monday_11
    assert told_late(alert) == [cast.oh2]


def test_without_a_lead_every_clinician_is_told(cast: Cast, clock) -> None:
    clock.set(WEDNESDAY_9)
    alert = raise_critical(cast.officer_a1)
    run_at(clock, WEDNESDAY_13)
    assert told_late(alert) == [cast.oh1, cast.oh2]


def test_a_deactivated_lead_is_no_lead(cast: Cast, clock) -> None:
    make_lead(cast.oh1)
    user_update(actor=cast.admin, user=cast.oh1, changes={"is_active": False})
    clock.set(WEDNESDAY_9)
    alert = raise_critical(cast.officer_a1)
    run_at(clock, WEDNESDAY_13)
    assert told_late(alert) == [cast.oh2]


def test_the_deadline_follows_the_configured_working_hours(cast: Cast, clock, settings) -> None:
    settings.URGENT_ACK_WORKING_HOURS = 2.5
    clock.set(london(2027, 3, 10, 17))
    alert = raise_critical(cast.officer_a1)
    assert alert.ack_due_at == london(2027, 3, 11, 9, 30)
    run_at(clock, london(2027, 3, 11, 9, 30))
    bodies = Notification.objects.filter(dedupe_key=f"alert:{alert.pk}:unacknowledged").values_list(
        "body", flat=True
    )
    assert list(bodies) == [rules.UNACKNOWLEDGED_BODY.format(hours="2.5")] * 2


# --- The out-of-hours contact -------------------------------------------------------------------

# Words an e-mail to a shared address must never carry: who, or anything clinical.
NEVER_SAID = ("self-harm", "phq", "screening", "questionnaire", "answer", "score", "suicid")


def duty_mail(mailoutbox) -> list:
    return [message for message in mailoutbox if message.to == [DUTY]]


def assert_says_nothing_of_anyone(message, cast: Cast) -> None:
    text = f"{message.subject}\n{message.body}".lower()
    for word in NEVER_SAID:
        assert word not in text
    for officer in (cast.officer_a1, cast.officer_a2, cast.officer_b1):
        for value in (officer.display_name, officer.staff_number, officer.user.username):
            assert value.lower() not in text
    for user in (cast.oh1, cast.oh2, cast.supervisor_a):
        assert user.username.lower() not in text


def test_an_urgent_alert_raised_out_of_hours_emails_the_duty_address(
    cast: Cast, clock, settings, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    settings.OH_OUT_OF_HOURS_EMAIL = DUTY
    clock.set(london(2027, 3, 10, 19))
    with django_capture_on_commit_callbacks(execute=True):
        alert = raise_critical(cast.officer_a1)
    [message] = duty_mail(mailoutbox)
    assert message.subject == rules.OUT_OF_HOURS_SUBJECT
    assert message.body.endswith("/oh/")
    assert f"/alerts/{alert.pk}" not in message.body
    assert_says_nothing_of_anyone(message, cast)


def test_an_urgent_alert_raised_at_the_weekend_emails_the_duty_address(
    cast: Cast, clock, settings, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    settings.OH_OUT_OF_HOURS_EMAIL = DUTY
    clock.set(london(2027, 3, 13, 11))
    with django_capture_on_commit_callbacks(execute=True):
        raise_critical(cast.officer_a1)
    assert [m.subject for m in duty_mail(mailoutbox)] == [rules.OUT_OF_HOURS_SUBJECT]


@pytest.mark.parametrize(
    "at", [london(2027, 3, 10, 8), london(2027, 3, 10, 9), london(2027, 3, 12, 17, 59)]
)
def test_an_urgent_alert_raised_in_working_hours_emails_nobody_at_once(
    cast: Cast, clock, settings, mailoutbox, django_capture_on_commit_callbacks, at: datetime
) -> None:
    settings.OH_OUT_OF_HOURS_EMAIL = DUTY
    clock.set(at)
    with django_capture_on_commit_callbacks(execute=True):
        raise_critical(cast.officer_a1)
    assert duty_mail(mailoutbox) == []


def test_an_escalation_emails_the_duty_address_once(
    cast: Cast, clock, settings, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    settings.OH_OUT_OF_HOURS_EMAIL = DUTY
    make_lead(cast.oh2)
    clock.set(WEDNESDAY_9)
    with django_capture_on_commit_callbacks(execute=True):
        raise_critical(cast.officer_a1)
        # (Until 16:00: the cast's own check-ins the first run finds overdue escalate at 12:59
        # and are due at 16:59, and their escalation e-mails the same address.)
        for at in (
            london(2027, 3, 10, 12, 59),
            WEDNESDAY_13,
            WEDNESDAY_13,
            london(2027, 3, 10, 16),
        ):
            run_at(clock, at)
    [message] = duty_mail(mailoutbox)
    assert message.subject == rules.UNACKNOWLEDGED_SUBJECT
    assert "4 working hours" in message.body
    assert message.body.endswith("/oh/")
    assert_says_nothing_of_anyone(message, cast)


def test_no_duty_address_no_email(
    cast: Cast, clock, settings, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    settings.OH_OUT_OF_HOURS_EMAIL = ""
    clock.set(london(2027, 3, 10, 19))
    with django_capture_on_commit_callbacks(execute=True):
        raise_critical(cast.officer_a1)
        run_at(clock, london(2027, 3, 11, 12))
    assert mailoutbox == []


# --- Check-ins escalated to occupational health at 14 days overdue ------------------------------


def test_a_check_in_14_days_overdue_goes_to_the_leads_as_urgent_work(cast: Cast, clock) -> None:
    make_lead(cast.oh2)
    clock.set(WEDNESDAY_9)
    checkin = checkin_trigger(officer_id=cast.officer_a1.pk, due_on=date(2027, 3, 10), key="t")
    assert checkin is not None
    assert checkin.status == "overdue"
    checkin_escalation_sweep(at=WEDNESDAY_9)
    alert = Alert.objects.get(dedupe_key=f"checkin_overdue:{checkin.pk}")
    assert (alert.severity, alert.urgent) == (Severity.WARNING, False)

    # The supervisor acknowledges it; it stays theirs until the 14th day.
    response = client_for(cast.supervisor_a).post(f"/api/v1/alerts/{alert.pk}/acknowledge")
    assert response.status_code == 200, response.content
    clock.set(london(2027, 3, 23, 9))
    checkin_escalation_sweep(at=clock.now())
    alert.refresh_from_db()
    assert alert.escalated_at is None
    assert alert.status == "acknowledged"

    fourteen_days = london(2027, 3, 24, 9)
    clock.set(fourteen_days)
    checkin_escalation_sweep(at=fourteen_days)
    alert.refresh_from_db()
    assert alert.escalated_at == fourteen_days
    assert alert.severity == Severity.HIGH
    assert alert.urgent
    assert alert.ack_due_at == london(2027, 3, 24, 13)
    # The supervisor's acknowledgement is undone: OH must acknowledge it (the audit trail
    # keeps the supervisor's).
    assert (alert.status, alert.acknowledged_at, alert.acknowledged_by_id) == ("open", None, None)
    assert AuditEvent.objects.filter(
        action="alert.acknowledged", actor=cast.supervisor_a, target_id=str(alert.pk)
    ).exists()
    escalated = Notification.objects.filter(dedupe_key=f"checkin:{checkin.pk}:escalated")
    assert [n.recipient for n in escalated] == [cast.oh2]
    assert escalated.get().body == rules.ESCALATED_BODY.format(days=14)

    # Re-runs change nothing; past the deadline the lead is told it is still not acknowledged.
    checkin_escalation_sweep(at=fourteen_days + timedelta(hours=1))
    alert.refresh_from_db()
    assert alert.escalated_at == fourteen_days
    assert escalated.count() == 1
    urgent_alerts_sweep(at=london(2027, 3, 24, 12, 59))
    assert told_late(alert) == []
    urgent_alerts_sweep(at=london(2027, 3, 24, 13))
    assert told_late(alert) == [cast.oh2]


def test_a_supervisors_acknowledgement_after_escalation_does_not_stop_the_leads_being_told(
    cast: Cast, clock
) -> None:
    """Once escalated, the check-in is occupational health's to acknowledge: a supervisor who
    acknowledges it again must not silence the deadline (DOMAIN: OH must acknowledge)."""
    make_lead(cast.oh2)
    clock.set(WEDNESDAY_9)
    checkin = checkin_trigger(officer_id=cast.officer_a1.pk, due_on=date(2027, 2, 24), key="t")
    assert checkin is not None
    checkin_escalation_sweep(at=WEDNESDAY_9)
    alert = Alert.objects.get(dedupe_key=f"checkin_overdue:{checkin.pk}")
    assert alert.urgent
    clock.set(london(2027, 3, 10, 10))
    client_for(cast.supervisor_a).post(f"/api/v1/alerts/{alert.pk}/acknowledge")
    urgent_alerts_sweep(at=WEDNESDAY_13)
    assert told_late(alert) == [cast.oh2]


def test_a_check_in_still_overdue_at_14_days_reaches_oh_even_if_its_alert_was_resolved(
    cast: Cast, clock
) -> None:
    """The supervisor closes the overdue alert with a note, but the check-in never happens:
    at 14 days overdue it is still urgent work for occupational health, open, with a
    deadline, and in OH's queue, not a notification about a closed alert."""
    make_lead(cast.oh2)
    clock.set(WEDNESDAY_9)
    checkin = checkin_trigger(officer_id=cast.officer_a1.pk, due_on=date(2027, 3, 10), key="t")
    assert checkin is not None
    checkin_escalation_sweep(at=WEDNESDAY_9)
    alert = Alert.objects.get(dedupe_key=f"checkin_overdue:{checkin.pk}")
    response = client_for(cast.supervisor_a).post(
        f"/api/v1/alerts/{alert.pk}/resolve", {"note": "Reminded them."}, format="json"
    )
    assert response.status_code == 200, response.content

    fourteen_days = london(2027, 3, 24, 9)
    clock.set(fourteen_days)
    checkin_escalation_sweep(at=fourteen_days)
    assert CheckIn.objects.get(pk=checkin.pk).status == "overdue"
    assert Notification.objects.filter(
        dedupe_key=f"checkin:{checkin.pk}:escalated", recipient=cast.oh2
    ).exists()
    urgent = Alert.objects.filter(checkin=checkin, status="open", ack_due_at__isnull=False)
    assert urgent.exists()
    queue = client_for(cast.oh2).get("/api/v1/oh/queue/", {"scope": "all"}).json()["results"]
    assert any(row["kind"] == AlertKind.CHECKIN_OVERDUE and row["urgent"] for row in queue)


def test_a_check_in_escalated_over_the_weekend_is_due_monday(cast: Cast, clock) -> None:
    saturday = london(2027, 3, 13, 9)
    clock.set(saturday)
    checkin = checkin_trigger(officer_id=cast.officer_b1.pk, due_on=date(2027, 2, 27), key="t")
    assert checkin is not None
    checkin_escalation_sweep(at=saturday)
    alert = Alert.objects.get(dedupe_key=f"checkin_overdue:{checkin.pk}")
    assert alert.escalated_at == saturday
    assert alert.ack_due_at == london(2027, 3, 15, 12)
    # No lead: every clinician is told of the escalation.
    escalated = Notification.objects.filter(dedupe_key=f"checkin:{checkin.pk}:escalated")
    assert sorted(n.recipient_id for n in escalated) == [cast.oh1.pk, cast.oh2.pk]


def test_a_check_in_escalated_out_of_hours_tells_the_duty_address_at_once(
    cast: Cast, clock, settings, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    settings.OH_OUT_OF_HOURS_EMAIL = DUTY
    saturday = london(2027, 3, 13, 9)
    clock.set(saturday)
    checkin = checkin_trigger(officer_id=cast.officer_b1.pk, due_on=date(2027, 2, 27), key="t")
    assert checkin is not None
    with django_capture_on_commit_callbacks(execute=True):
        checkin_escalation_sweep(at=saturday)
    assert [m.subject for m in duty_mail(mailoutbox)] == [rules.OUT_OF_HOURS_SUBJECT]
    assert_says_nothing_of_anyone(duty_mail(mailoutbox)[0], cast)


def test_an_escalated_check_in_acknowledged_by_oh_is_not_escalated_again(cast: Cast, clock) -> None:
    clock.set(WEDNESDAY_9)
    checkin = checkin_trigger(officer_id=cast.officer_a2.pk, due_on=date(2027, 2, 24), key="t")
    assert checkin is not None
    run_at(clock, WEDNESDAY_9)
    alert = Alert.objects.get(dedupe_key=f"checkin_overdue:{checkin.pk}")
    assert alert.urgent
    response = client_for(cast.oh1).post(f"/api/v1/alerts/{alert.pk}/acknowledge")
    assert response.status_code == 200, response.content
    for at in (WEDNESDAY_13, london(2027, 3, 11, 9), london(2027, 3, 12, 9)):
        run_at(clock, at)
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by_id) == ("acknowledged", cast.oh1.pk)
    assert alert.escalated_at == WEDNESDAY_9
    assert alert.ack_escalated_at is None
    assert told_late(alert) == []
    assert CheckIn.objects.get(pk=checkin.pk).status == "overdue"


# --- Two schedulers at once -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_escalate_once(cast: Cast, clock) -> None:
    make_lead(cast.oh1)
    clock.set(WEDNESDAY_9)
    alert = raise_critical(cast.officer_a1)
    clock.set(WEDNESDAY_13)
    reports = run_together(
        *[lambda: urgent_alerts_sweep(at=WEDNESDAY_13) for _ in range(4)],
    )
    assert sorted(report.raised for report in reports) == [0, 0, 0, 1]  # type: ignore[attr-defined]
    assert told_late(alert) == [cast.oh1]
