"""The e-mail delivery queue: queued in the deciding transaction, sent once after commit,
retried with back-off after a failure, never twice under two senders, nothing sent for a
transaction that rolled back; a scheduled job leaves its e-mails to the `emails` job."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, ClassVar

import pytest
from django.core.mail.backends.locmem import EmailBackend
from django.db import transaction

from schedules.jobs import JOBS
from schedules.runner import run_job
from tests.conftest import Cast, run_together
from welfare.accounts.models import User
from welfare.accounts.services import user_deactivate
from welfare.alerts import rules
from welfare.alerts.models import Notification, OutboundEmail
from welfare.alerts.services import (
    CONFIDENTIAL_EMAIL_BODY,
    emails_deliver,
    notify,
    queue_only,
)
from welfare.checkins.services import checkin_trigger


class RefusingBackend(EmailBackend):
    """A mail server that refuses every message."""

    def send_messages(self, messages: Any) -> int:
        raise ConnectionRefusedError("mail server down")


class FlakyBackend(EmailBackend):
    """A mail server that refuses the first message it is given, then takes the rest."""

    refused: ClassVar[int] = 0

    def send_messages(self, messages: Any) -> int:
        if FlakyBackend.refused == 0:
            FlakyBackend.refused += 1
            raise ConnectionRefusedError("mail server down")
        return super().send_messages(messages)


def with_email(*users: User) -> None:
    for user in users:
        user.email = f"{user.username}@example.invalid"
        user.save(update_fields=["email"])


def tell(user: User, key: str, **kwargs: Any) -> bool:
    return notify(recipient=user, key=key, subject="Subject", body="Body", **kwargs)


def test_queued_in_the_transaction_and_sent_once_after_it(cast: Cast, clock, mailoutbox) -> None:
    with_email(cast.officer_a1.user)
    assert tell(cast.officer_a1.user, "k1")
    [queued] = OutboundEmail.objects.all()
    assert (queued.status, queued.to, queued.kind) == (
        "pending",
        cast.officer_a1.user.email,
        "notification",
    )
    assert mailoutbox == []  # the test's transaction has not committed: nothing sent
    assert emails_deliver(at=clock.now()) == rules.SweepReport(notified=1)
    assert emails_deliver(at=clock.now() + timedelta(hours=1)) == rules.SweepReport()
    assert [m.to for m in mailoutbox] == [[cast.officer_a1.user.email]]
    queued.refresh_from_db()
    assert (queued.status, queued.attempts, queued.sent_at) == ("delivered", 1, clock.now())
    assert Notification.objects.get(dedupe_key="k1").emailed_at == clock.now()
    assert not tell(cast.officer_a1.user, "k1")  # a replay queues nothing
    assert OutboundEmail.objects.count() == 1


def test_sent_right_after_commit_outside_a_job(
    cast: Cast, clock, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    with_email(cast.officer_a1.user)
    with django_capture_on_commit_callbacks(execute=True):
        tell(cast.officer_a1.user, "k1")
    assert len(mailoutbox) == 1
    assert OutboundEmail.objects.get().status == "delivered"
    assert emails_deliver(at=clock.now() + timedelta(days=1)) == rules.SweepReport()
    assert len(mailoutbox) == 1


def test_a_failure_is_kept_and_retried_with_back_off(
    cast: Cast, clock, mailoutbox, settings, django_capture_on_commit_callbacks
) -> None:
    settings.EMAIL_BACKEND = "tests.alerts.test_email_outbox.FlakyBackend"
    FlakyBackend.refused = 0
    with_email(cast.officer_a1.user)
    with django_capture_on_commit_callbacks(execute=True):
        tell(cast.officer_a1.user, "k1")  # the after-commit send meets the refusal
    assert mailoutbox == []
    queued = OutboundEmail.objects.get()
    assert (queued.status, queued.attempts) == ("pending", 1)
    assert queued.errors == [
        {
            "attempt": 1,
            "at": clock.now().isoformat(),
            "error": "ConnectionRefusedError: mail server down",
        }
    ]
    assert queued.next_attempt_at == clock.now() + rules.retry_after(1)
    assert Notification.objects.get().emailed_at is None
    assert emails_deliver(at=clock.now() + timedelta(seconds=30)) == rules.SweepReport()
    later = clock.now() + rules.retry_after(1)
    assert emails_deliver(at=later) == rules.SweepReport(notified=1)
    assert emails_deliver(at=later + timedelta(hours=1)) == rules.SweepReport()
    assert len(mailoutbox) == 1
    queued.refresh_from_db()
    assert (queued.status, queued.attempts, queued.last_error) == ("delivered", 2, "")


def test_given_up_after_the_configured_attempts(cast: Cast, clock, mailoutbox, settings) -> None:
    settings.EMAIL_BACKEND = "tests.alerts.test_email_outbox.RefusingBackend"
    settings.EMAIL_MAX_ATTEMPTS = 3
    with_email(cast.officer_a1.user)
    tell(cast.officer_a1.user, "k1")
    at = clock.now()
    for _ in range(5):
        emails_deliver(at=at)
        at += timedelta(hours=7)  # past the longest back-off
    queued = OutboundEmail.objects.get()
    assert (queued.status, queued.attempts, len(queued.errors)) == ("failed", 3, 3)
    assert mailoutbox == []


def test_nothing_is_sent_when_the_transaction_rolls_back(
    cast: Cast, clock, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    with_email(cast.officer_a1.user)

    def failing_job() -> None:
        with transaction.atomic():
            tell(cast.officer_a1.user, "k1", urgent=True)
            raise RuntimeError("the job failed half-way")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        failing_job()
    assert not OutboundEmail.objects.exists()
    assert emails_deliver(at=clock.now()) == rules.SweepReport()
    assert mailoutbox == []


def test_a_deactivated_recipient_is_not_emailed(cast: Cast, clock, mailoutbox) -> None:
    with_email(cast.officer_a1.user)
    tell(cast.officer_a1.user, "k1")
    user_deactivate(actor=cast.admin, user=cast.officer_a1.user)
    assert emails_deliver(at=clock.now()) == rules.SweepReport()
    queued = OutboundEmail.objects.get()
    assert queued.status == "failed"
    assert "deactivated" in queued.last_error
    assert mailoutbox == []


def test_a_confidential_message_is_queued_without_its_body(cast: Cast, clock, mailoutbox) -> None:
    with_email(cast.officer_a1.user)
    notify(
        recipient=cast.officer_a1.user,
        key="k1",
        subject="Clinical subject",
        body="Clinical detail",
        confidential=True,
    )
    queued = OutboundEmail.objects.get()
    assert "Clinical" not in queued.subject + queued.body
    assert queued.body.startswith(CONFIDENTIAL_EMAIL_BODY)
    emails_deliver(at=clock.now())
    assert "Clinical" not in mailoutbox[0].subject + mailoutbox[0].body


def test_a_scheduled_job_queues_and_the_emails_job_sends(cast: Cast, clock, mailoutbox) -> None:
    with_email(cast.officer_a1.user, cast.oh1, cast.oh2)
    checkin_trigger(officer_id=cast.officer_a1.pk, due_on=date(2027, 2, 1), key="late")
    escalation = next(job for job in JOBS if job.name == "checkin_escalation")
    emails = next(job for job in JOBS if job.name == "emails")
    report = run_job(escalation, clock.now())
    assert report.notified >= 3  # type: ignore[attr-defined]
    assert mailoutbox == []  # left to the queue: the job did not wait on the mail server
    queued = set(OutboundEmail.objects.values_list("to", "urgent"))
    assert {(cast.oh1.email, True), (cast.oh2.email, True)} <= queued
    assert run_job(emails, clock.now()) == rules.SweepReport(notified=len(queued))
    assert sorted(m.to[0] for m in mailoutbox) == sorted(to for to, _ in queued)
    # Urgent first: the escalations to OH lead the batch.
    assert {m.to[0] for m in mailoutbox[:2]} == {cast.oh1.email, cast.oh2.email}


@pytest.mark.django_db(transaction=True)
def test_two_senders_at_once_send_each_email_once(cast: Cast, clock, mailoutbox, settings) -> None:
    settings.EMAIL_BATCH_SIZE = 2  # several batches each, interleaved
    users = [cast.officer_a1.user, cast.officer_a2.user, cast.supervisor_a, cast.oh1, cast.oh2]
    with_email(*users)
    with queue_only():  # outside a transaction, on_commit would send at once
        for n, user in enumerate(users):
            tell(user, f"k{n}", urgent=True)
    assert mailoutbox == []
    reports = run_together(
        lambda: emails_deliver(at=clock.now()), lambda: emails_deliver(at=clock.now())
    )
    assert all(isinstance(r, rules.SweepReport) for r in reports), reports
    assert sum(r.notified for r in reports) == len(users)  # type: ignore[union-attr]
    assert sorted(m.to[0] for m in mailoutbox) == sorted(u.email for u in users)
    assert set(OutboundEmail.objects.values_list("status", "attempts")) == {("delivered", 1)}
