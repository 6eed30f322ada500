"""Digest instead of pings: supervisors and clinicians who chose the daily digest (the
default) get their non-urgent notifications in one e-mail a day from 08:00 local, never
twice a day, one after an outage; urgent ones, officers' own and those of people who chose
"immediate" are e-mailed at once. The choice is theirs, through the API (audited)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from tests.conftest import Cast, client_for, field_errors
from welfare.accounts.models import NotifyBy, User
from welfare.accounts.services import user_notify_by_set
from welfare.alerts import rules
from welfare.alerts.models import Alert, Notification, OutboundEmail
from welfare.alerts.services import (
    CONFIDENTIAL_EMAIL_SUBJECT,
    DigestReport,
    alert_raise,
    checkin_escalation_sweep,
    digests_send,
    emails_deliver,
    notify,
    urgent_alerts_sweep,
)
from welfare.audit.models import AuditEvent
from welfare.checkins.services import checkin_status_sweep, checkin_trigger, self_refer
from welfare.core.roles import DIGEST_ROLES, Role

LONDON = ZoneInfo("Europe/London")


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """An instant given on the force's local clock, in UTC."""
    return datetime.combine(day, time(hour, minute), tzinfo=LONDON).astimezone(UTC)


def with_email(*users: User) -> None:
    for user in users:
        user.email = f"{user.username}@example.invalid"
        user.save(update_fields=["email"])


def limit_alert(cast: Cast, key: str, **detail: object) -> Alert:
    alert, _ = alert_raise(
        officer_id=cast.officer_a1.pk,
        kind="exposure_limit",
        severity="warning",
        dedupe_key=key,
        detail={"rule": "day_minutes", "state": "warning", **detail},
    )
    return alert


def to(mailoutbox: list, user: User) -> list:
    return [m for m in mailoutbox if m.to == [user.email]]


@pytest.fixture(autouse=True)
def _london(settings) -> None:
    settings.TIME_ZONE = "Europe/London"
    settings.NOTIFICATION_DIGEST_HOUR = 8


# --- The rule -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # An ordinary winter day: 08:00 GMT is 08:00 UTC.
        (datetime(2027, 3, 10, 7, 59, tzinfo=UTC), None),
        (datetime(2027, 3, 10, 8, 0, tzinfo=UTC), date(2027, 3, 10)),
        # The clocks go forward on 28 March 2027: 08:00 BST is 07:00 UTC.
        (datetime(2027, 3, 28, 6, 59, tzinfo=UTC), None),
        (datetime(2027, 3, 28, 7, 0, tzinfo=UTC), date(2027, 3, 28)),
        # And back on 31 October 2027: 07:00 UTC is 07:00 GMT, not yet.
        (datetime(2027, 10, 30, 7, 0, tzinfo=UTC), date(2027, 10, 30)),
        (datetime(2027, 10, 31, 7, 0, tzinfo=UTC), None),
        (datetime(2027, 10, 31, 8, 0, tzinfo=UTC), date(2027, 10, 31)),
        # A summer night: 22:59 UTC is still 30 June locally; 23:30 UTC is 1 July, 00:30.
        (datetime(2027, 6, 30, 22, 59, tzinfo=UTC), date(2027, 6, 30)),
        (datetime(2027, 6, 30, 23, 30, tzinfo=UTC), None),
    ],
)
def test_digest_day_follows_the_local_clock(at: datetime, expected: date | None) -> None:
    assert rules.digest_day(at, hour=8, zone=LONDON) == expected


@pytest.mark.parametrize(
    ("urgent", "role", "notify_by", "at_once"),
    [
        (False, Role.SUPERVISOR, "digest", False),
        (False, Role.OH, "digest", False),
        (True, Role.SUPERVISOR, "digest", True),
        (True, Role.OH, "digest", True),
        (False, Role.SUPERVISOR, "immediate", True),
        (False, Role.OH, "immediate", True),
        (False, Role.OFFICER, "digest", True),  # officers do not choose
        (False, Role.HR, "digest", True),
        (False, Role.ADMIN, "digest", True),
    ],
)
def test_who_is_emailed_at_once(urgent: bool, role: str, notify_by: str, at_once: bool) -> None:
    may_digest = role in DIGEST_ROLES
    assert (
        rules.emailed_at_once(urgent=urgent, may_digest=may_digest, notify_by=notify_by) is at_once
    )


def test_digest_text_counts_repeated_subjects_once_each() -> None:
    text = rules.digest_text(["Welfare alert", "A case", "Welfare alert"], link="https://x/inbox")
    lines = text.splitlines()
    assert lines[0] == "You have 3 new messages in the welfare service:"
    assert [line for line in lines if line.startswith("- ")] == ["- Welfare alert (2)", "- A case"]
    assert "https://x/inbox" in text
    assert rules.digest_subject(1).endswith("1 new message")
    assert rules.digest_subject(3).endswith("3 new messages")


# --- Digest users ---------------------------------------------------------------------------


def test_digest_user_is_told_once_at_eight_the_next_morning(
    cast: Cast, clock, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    with_email(cast.supervisor_a)
    assert cast.supervisor_a.notify_by == NotifyBy.DIGEST  # the default
    with django_capture_on_commit_callbacks(execute=True):
        alert = limit_alert(cast, "a")
    told = Notification.objects.get(recipient=cast.supervisor_a, alert=alert)
    assert (told.urgent, told.emailed_at, told.digested_at) == (False, None, None)
    assert to(mailoutbox, cast.supervisor_a) == []  # in the inbox at once, not e-mailed

    next_day = clock.today() + timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert digests_send(at=local(next_day, 7, 59)) == DigestReport()
    assert to(mailoutbox, cast.supervisor_a) == []

    eight = local(next_day, 8)
    with django_capture_on_commit_callbacks(execute=True):
        assert digests_send(at=eight) == DigestReport(digests=1, notifications=1)
    [digest] = to(mailoutbox, cast.supervisor_a)
    assert digest.subject == rules.digest_subject(1)
    assert f"- {rules.ALERT_SUBJECT}" in digest.body
    assert settings.SITE_URL.rstrip("/") + "/inbox" in digest.body
    told.refresh_from_db()
    assert (told.digested_at, told.emailed_at) == (eight, eight)

    # Later the same day: new work waits for tomorrow's digest; nothing goes twice.
    clock.set(local(next_day, 10))
    with django_capture_on_commit_callbacks(execute=True):
        limit_alert(cast, "b")
    for hour in (9, 11, 23):
        with django_capture_on_commit_callbacks(execute=True):
            assert digests_send(at=local(next_day, hour)) == DigestReport()
    assert len(to(mailoutbox, cast.supervisor_a)) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert digests_send(at=local(next_day + timedelta(days=1), 8)) == DigestReport(1, 1)
    assert len(to(mailoutbox, cast.supervisor_a)) == 2


@pytest.mark.parametrize("day", [date(2027, 3, 28), date(2027, 10, 31)])
def test_digest_at_eight_local_on_the_days_the_clocks_change(
    cast: Cast, clock, mailoutbox, django_capture_on_commit_callbacks, day: date
) -> None:
    with_email(cast.oh1)
    clock.set(local(day - timedelta(days=1), 15))
    with django_capture_on_commit_callbacks(execute=True):
        notify(recipient=cast.oh1, key="case", subject=rules.CASE_ASSIGNED_SUBJECT, body="x")
    # Hourly runs through the night and the morning, on the hour in UTC as in local time.
    sent_at = []
    at = local(day, 0)
    while at < local(day, 12):
        with django_capture_on_commit_callbacks(execute=True):
            if digests_send(at=at).digests:
                sent_at.append(at.astimezone(LONDON).time())
        at += timedelta(hours=1)
    assert sent_at == [time(8)]
    assert len(to(mailoutbox, cast.oh1)) == 1


def test_outage_catch_up_sends_one_digest_and_replays_send_nothing(
    cast: Cast, clock, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    with_email(cast.supervisor_a)
    monday = date(2027, 3, 8)
    for n in range(3):  # Monday to Wednesday, while the scheduler was down
        clock.set(local(monday + timedelta(days=n), 12))
        with django_capture_on_commit_callbacks(execute=True):
            limit_alert(cast, f"day{n}")
    thursday = monday + timedelta(days=3)
    with django_capture_on_commit_callbacks(execute=True):
        assert digests_send(at=local(thursday, 11, 20)) == DigestReport(1, 3)
    [digest] = to(mailoutbox, cast.supervisor_a)
    assert digest.subject == rules.digest_subject(3)
    assert f"- {rules.ALERT_SUBJECT} (3)" in digest.body
    # Catching up the missed days afterwards, or running again, sends nothing more.
    for at in [local(monday + timedelta(days=n), 8) for n in range(3)] + [local(thursday, 12)]:
        with django_capture_on_commit_callbacks(execute=True):
            assert digests_send(at=at) == DigestReport()
    assert len(to(mailoutbox, cast.supervisor_a)) == 1


def test_the_scheduled_job_sends_the_digest(
    cast: Cast, clock, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    from schedules.jobs import JOBS
    from schedules.runner import run_job

    [job] = [j for j in JOBS if j.name == "notification_digests"]
    assert (job.trigger, job.trigger_args) == ("cron", {"minute": 0})
    with_email(cast.supervisor_a)
    with django_capture_on_commit_callbacks(execute=True):
        limit_alert(cast, "a")
    at = local(clock.today() + timedelta(days=1), 8)
    with django_capture_on_commit_callbacks(execute=True):
        run_job(job, at)
    # A job leaves its e-mails to the delivery queue, which the `emails` job sends.
    assert to(mailoutbox, cast.supervisor_a) == []
    [emails] = [j for j in JOBS if j.name == "emails"]
    assert (emails.trigger, emails.trigger_args, emails.atomic) == (
        "interval",
        {"minutes": 1},
        False,
    )
    run_job(emails, at)
    assert len(to(mailoutbox, cast.supervisor_a)) == 1


def test_read_in_the_inbox_before_the_digest_is_not_emailed(
    cast: Cast, clock, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    with_email(cast.supervisor_a)
    with django_capture_on_commit_callbacks(execute=True):
        first = limit_alert(cast, "a")
        limit_alert(cast, "b")
    Notification.objects.filter(recipient=cast.supervisor_a, alert=first).update(
        read_at=clock.now()
    )
    eight = local(clock.today() + timedelta(days=1), 8)
    with django_capture_on_commit_callbacks(execute=True):
        assert digests_send(at=eight) == DigestReport(1, 1)
    [digest] = to(mailoutbox, cast.supervisor_a)
    assert digest.subject == rules.digest_subject(1)
    read = Notification.objects.get(recipient=cast.supervisor_a, alert=first)
    assert (read.digested_at, read.emailed_at) == (None, None)

    # All read: no digest at all.
    Notification.objects.filter(recipient=cast.supervisor_a).update(read_at=clock.now())
    with django_capture_on_commit_callbacks(execute=True):
        limit_alert(cast, "c")
    Notification.objects.filter(recipient=cast.supervisor_a).update(read_at=clock.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert digests_send(at=eight + timedelta(days=1)) == DigestReport()
    assert len(to(mailoutbox, cast.supervisor_a)) == 1


def test_no_address_deactivated_or_not_chosen_get_no_digest(
    cast: Cast, clock, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    with_email(cast.supervisor_b, cast.officer_a1.user)
    cast.supervisor_b.is_active = False
    cast.supervisor_b.save(update_fields=["is_active"])
    with django_capture_on_commit_callbacks(execute=True):
        limit_alert(cast, "a")  # supervisor A, without an address; the officer, at once
        notify(recipient=cast.supervisor_b, key="k", subject="Welfare alert", body="x")
    officer_mail = len(to(mailoutbox, cast.officer_a1.user))
    assert officer_mail == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert digests_send(at=local(clock.today() + timedelta(days=1), 8)) == DigestReport()
    assert len(mailoutbox) == officer_mail
    assert not Notification.objects.filter(digested_at__isnull=False).exists()


def test_mail_server_down_keeps_the_digest_queued_until_it_is_sent_once(
    cast: Cast, clock, mailoutbox, django_capture_on_commit_callbacks, settings
) -> None:
    with_email(cast.supervisor_a)
    with django_capture_on_commit_callbacks(execute=True):
        limit_alert(cast, "a")
    day = clock.today() + timedelta(days=1)

    settings.EMAIL_BACKEND = "tests.alerts.test_email_outbox.RefusingBackend"
    with django_capture_on_commit_callbacks(execute=True):
        assert digests_send(at=local(day, 8)) == DigestReport(1, 1)  # claimed and queued
    assert to(mailoutbox, cast.supervisor_a) == []
    [queued] = OutboundEmail.objects.filter(recipient=cast.supervisor_a, kind="digest")
    assert (queued.status, queued.attempts) == ("pending", 1)
    assert "ConnectionRefusedError" in queued.last_error
    told = Notification.objects.get(recipient=cast.supervisor_a)
    assert told.digested_at is not None
    assert told.emailed_at is None
    cast.supervisor_a.refresh_from_db()
    assert cast.supervisor_a.digest_sent_on == day  # the day's digest is the queued one

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        assert digests_send(at=local(day, 9)) == DigestReport()  # not claimed a second time
    assert queued.next_attempt_at == local(day, 8) + rules.retry_after(1)
    assert emails_deliver(at=queued.next_attempt_at - timedelta(seconds=1)) == rules.SweepReport()
    assert emails_deliver(at=local(day, 9)) == rules.SweepReport(notified=1)
    assert emails_deliver(at=local(day, 10)) == rules.SweepReport()
    assert len(to(mailoutbox, cast.supervisor_a)) == 1
    told.refresh_from_db()
    assert told.emailed_at == local(day, 9)


# --- Urgent work, immediate users, officers ------------------------------------------------------


def test_urgent_alert_is_emailed_at_once_to_digest_users(
    cast: Cast, clock, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    with_email(cast.oh1, cast.oh2)
    with django_capture_on_commit_callbacks(execute=True):
        alert, _ = alert_raise(
            officer_id=cast.officer_a1.pk,
            kind="screening_risk",
            severity="urgent",
            dedupe_key="critical",
            clinical=True,
        )
    assert alert.urgent
    for clinician in (cast.oh1, cast.oh2):
        assert clinician.notify_by == NotifyBy.DIGEST
        assert [m.subject for m in to(mailoutbox, clinician)] == [rules.ALERT_SUBJECT]
    assert set(Notification.objects.values_list("urgent", flat=True)) == {True}
    with django_capture_on_commit_callbacks(execute=True):
        assert digests_send(at=local(clock.today() + timedelta(days=1), 8)) == DigestReport()

    # Not acknowledged in time: the leads (every clinician, with none) are told at once.
    with django_capture_on_commit_callbacks(execute=True):
        urgent_alerts_sweep(at=clock.now() + timedelta(days=3))
    late = Notification.objects.filter(dedupe_key=f"alert:{alert.pk}:unacknowledged")
    assert {n.recipient_id for n in late} == {cast.oh1.pk, cast.oh2.pk}
    assert all(n.urgent and n.emailed_at is not None for n in late)
    for clinician in (cast.oh1, cast.oh2):
        assert [m.subject for m in to(mailoutbox, clinician)] == [
            rules.ALERT_SUBJECT,
            rules.UNACKNOWLEDGED_SUBJECT,
        ]


def test_checkin_escalated_to_oh_is_urgent_the_overdue_alert_is_not(
    cast: Cast, clock, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    with_email(cast.oh1, cast.supervisor_a)
    checkin = checkin_trigger(officer_id=cast.officer_a1.pk, due_on=date(2027, 3, 1), key="x")
    assert checkin is not None
    at = local(date(2027, 3, 20), 6)
    clock.set(at)
    checkin_status_sweep(at=at)
    with django_capture_on_commit_callbacks(execute=True):
        checkin_escalation_sweep(at=at)
    escalated = Notification.objects.get(
        recipient=cast.oh1, dedupe_key=f"checkin:{checkin.pk}:escalated"
    )
    assert escalated.urgent
    overdue = Notification.objects.get(recipient=cast.supervisor_a)
    assert not overdue.urgent
    assert [m.subject for m in to(mailoutbox, cast.oh1)] == [rules.ESCALATED_SUBJECT]
    assert to(mailoutbox, cast.supervisor_a) == []


def test_self_referral_waits_for_the_clinicians_digest(
    cast: Cast, clock, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    with_email(cast.oh1)
    with django_capture_on_commit_callbacks(execute=True):
        self_refer(user=cast.officer_a1.user)
    told = Notification.objects.get(recipient=cast.oh1)
    assert (told.subject, told.urgent) == (rules.SELF_REFERRAL_SUBJECT, False)
    assert to(mailoutbox, cast.oh1) == []
    with django_capture_on_commit_callbacks(execute=True):
        digests_send(at=local(clock.today() + timedelta(days=1), 8))
    [digest] = to(mailoutbox, cast.oh1)
    assert f"- {rules.SELF_REFERRAL_SUBJECT}" in digest.body


def test_immediate_users_are_emailed_each_notification_as_before(
    cast: Cast, clock, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    with_email(cast.supervisor_a)
    user_notify_by_set(user=cast.supervisor_a, notify_by=NotifyBy.IMMEDIATE)
    with django_capture_on_commit_callbacks(execute=True):
        limit_alert(cast, "a")
        limit_alert(cast, "b")
    assert [m.subject for m in to(mailoutbox, cast.supervisor_a)] == [rules.ALERT_SUBJECT] * 2
    assert not Notification.objects.filter(recipient=cast.supervisor_a, emailed_at=None).exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert digests_send(at=local(clock.today() + timedelta(days=1), 8)) == DigestReport()
    assert len(to(mailoutbox, cast.supervisor_a)) == 2


def test_officers_are_emailed_at_once_whatever_is_stored(
    cast: Cast, clock, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    officer = cast.officer_a1.user
    with_email(officer)
    assert officer.notify_by == NotifyBy.DIGEST  # the column's default; not theirs to choose
    with django_capture_on_commit_callbacks(execute=True):
        limit_alert(cast, "a")
    assert [m.subject for m in to(mailoutbox, officer)] == [CONFIDENTIAL_EMAIL_SUBJECT]


# --- No health data in a digest ----------------------------------------------------------------


def test_digest_carries_subjects_only_and_hides_confidential_ones(
    cast: Cast, clock, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    with_email(cast.oh1)
    with django_capture_on_commit_callbacks(execute=True):
        alert_raise(
            officer_id=cast.officer_a1.pk,
            kind="screening_risk",
            severity="high",
            dedupe_key="concerning",
            clinical=True,
            detail={"instrument": "phq9", "total": 17, "band": "moderately_severe"},
        )
        self_refer(user=cast.officer_a2.user)
        notify(
            recipient=cast.oh1,
            key="secret",
            subject="Disclosed: category A incident for Test off.a1",
            body="Legal basis: risk to life.",
            confidential=True,
        )
    with django_capture_on_commit_callbacks(execute=True):
        digests_send(at=local(clock.today() + timedelta(days=1), 8))
    [digest] = to(mailoutbox, cast.oh1)
    listed = sorted(line for line in digest.body.splitlines() if line.startswith("- "))
    assert listed == sorted(
        [
            f"- {rules.ALERT_SUBJECT}",
            f"- {rules.SELF_REFERRAL_SUBJECT}",
            f"- {CONFIDENTIAL_EMAIL_SUBJECT}",
        ]
    )
    text = (digest.subject + digest.body.replace(settings.SITE_URL, "")).lower()
    for word in ("phq", "17", "moderately", "category", "off.a1", "legal", "screening"):
        assert word not in text


# --- The choice, through the API -------------------------------------------------------------


def test_me_shows_the_choice_to_supervisors_and_clinicians_only(cast: Cast) -> None:
    assert client_for(cast.supervisor_a).get("/api/v1/me").json()["notify_by"] == "digest"
    assert client_for(cast.oh1).get("/api/v1/me").json()["notify_by"] == "digest"
    for user in (cast.officer_a1.user, cast.hr, cast.admin):
        assert "notify_by" not in client_for(user).get("/api/v1/me").json()


def test_patch_me_changes_the_choice_and_audits_it(cast: Cast, clock) -> None:
    client = client_for(cast.oh1)
    response = client.patch("/api/v1/me", {"notify_by": "immediate"}, format="json")
    assert response.status_code == 200
    assert response.json()["notify_by"] == "immediate"
    cast.oh1.refresh_from_db()
    assert cast.oh1.notify_by == NotifyBy.IMMEDIATE
    [event] = AuditEvent.objects.filter(action="user.notify_by.changed")
    assert (event.actor_id, event.target_type, event.target_id) == (
        cast.oh1.pk,
        "user",
        str(cast.oh1.pk),
    )
    assert event.detail == {"notify_by": "immediate", "previous": "digest"}

    # The same choice again changes nothing and records nothing.
    again = client.patch("/api/v1/me", {"notify_by": "immediate"}, format="json")
    assert again.status_code == 200
    assert AuditEvent.objects.filter(action="user.notify_by.changed").count() == 1
    back = client.patch("/api/v1/me", {"notify_by": "digest"}, format="json")
    assert back.json()["notify_by"] == "digest"
    assert AuditEvent.objects.filter(action="user.notify_by.changed").count() == 2


@pytest.mark.parametrize("body", [{"notify_by": "weekly"}, {"notify_by": ""}, {"notify_by": 1}])
def test_patch_me_refuses_anything_else_with_a_field_message(cast: Cast, body: dict) -> None:
    response = client_for(cast.supervisor_a).patch("/api/v1/me", body, format="json")
    assert response.status_code == 400
    assert list(field_errors(response)) == ["notify_by"]
    cast.supervisor_a.refresh_from_db()
    assert cast.supervisor_a.notify_by == NotifyBy.DIGEST
    assert not AuditEvent.objects.filter(action="user.notify_by.changed").exists()


def test_patch_me_without_a_choice_changes_nothing(cast: Cast) -> None:
    response = client_for(cast.supervisor_a).patch("/api/v1/me", {}, format="json")
    assert response.status_code == 200
    assert response.json()["notify_by"] == "digest"
    cast.supervisor_a.refresh_from_db()
    assert cast.supervisor_a.notify_by == NotifyBy.DIGEST
    assert not AuditEvent.objects.filter(action="user.notify_by.changed").exists()


def test_patch_me_is_for_verified_supervisors_and_clinicians(cast: Cast) -> None:
    body = {"notify_by": "immediate"}
    for user in (cast.officer_a1.user, cast.hr, cast.admin):
        assert client_for(user).patch("/api/v1/me", body, format="json").status_code == 403
    unverified = client_for(cast.supervisor_a, verified=False)
    response = unverified.patch("/api/v1/me", body, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "two_factor_required"
    assert unverified.get("/api/v1/me").status_code == 200  # reading stays open
    assert client_for(None).patch("/api/v1/me", body, format="json").status_code == 401
    assert not AuditEvent.objects.filter(action="user.notify_by.changed").exists()
