"""The e-mail delivery queue: e-mails are written as rows (`OutboundEmail`) in the transaction
that decides them, and sent after it commits, in batches, like the webhook deliveries.

A batch is claimed in a short transaction of its own (`FOR UPDATE SKIP LOCKED`, each row's
attempt counted and its next attempt moved past a lease), sent with no transaction open,
and its outcome committed: sent rows are never due again, so two senders at once, or a
sender and the after-commit path, never send one twice. A failure is kept and retried with
back-off (1, 2, 4 ... minutes), and given up after EMAIL_MAX_ATTEMPTS. A rolled-back
transaction leaves no row, so nothing is sent for work that did not happen.

Who sends: the `emails` job every minute; and, outside scheduled jobs, the request that
queued them right after it commits (urgent work reaches people at once, the queue retries
what fails). Scheduled jobs leave every e-mail to the `emails` job (`queue_only`), so a
catch-up that tells thousands does not wait on the mail server.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import F

from welfare.alerts import rules
from welfare.alerts.models import DeliveryStatus, EmailKind, Notification, OutboundEmail
from welfare.core import clock
from welfare.core.db import create_many_once

log = logging.getLogger(__name__)

# A claimed e-mail is not due again for this long, so a second sender does not send it while
# the first is; should the sender die mid-send, it is retried after it (at least once).
CLAIM_LEASE = timedelta(minutes=5)
MAX_ERRORS_KEPT = 20
RECIPIENT_GONE = "Not sent: the recipient's account is deactivated."

_queue_only: ContextVar[bool] = ContextVar("emails_queue_only", default=False)


@contextmanager
def queue_only() -> Iterator[None]:
    """Inside: e-mails are queued for the `emails` job, not sent after commit (a scheduled
    job must not wait on the mail server, nor send one by one)."""
    token = _queue_only.set(True)
    try:
        yield
    finally:
        _queue_only.reset(token)


@dataclass(frozen=True)
class EmailSpec:
    kind: str
    key: str
    to: str
    subject: str
    body: str
    recipient_id: int | None = None
    notifications: tuple[int, ...] = ()
    urgent: bool = False


def emails_queue(*, specs: Sequence[EmailSpec], at: datetime | None = None) -> list[int]:
    """Queue e-mails in the caller's transaction, once per key (a replay queues nothing);
    they are sent after it commits. Returns the ids of those queued here."""
    if not specs:
        return []
    now = at or clock.now()
    created = create_many_once(
        [
            OutboundEmail(
                kind=spec.kind,
                dedupe_key=spec.key,
                recipient_id=spec.recipient_id,
                to=spec.to,
                subject=spec.subject,
                body=spec.body,
                notifications=list(spec.notifications),
                urgent=spec.urgent,
                next_attempt_at=now,
                created_at=now,
            )
            for spec in specs
        ],
        key=("dedupe_key",),
    )
    ids = [email.pk for email in created]
    if ids and not _queue_only.get():
        transaction.on_commit(lambda: _deliver_after_commit(ids, now))
    return ids


def _deliver_after_commit(ids: Sequence[int], at: datetime) -> None:
    try:
        emails_deliver(at=max(at, clock.now()), only=ids)
    except Exception:  # the queue retries: a failure here must not fail the request
        log.warning("sending %s queued e-mails after commit failed", len(ids), exc_info=True)


def contact_email(*, why: str, subject: str, body: str, at: datetime) -> None:
    """The out-of-hours contact's e-mail, queued once per reason and instant."""
    emails_queue(
        specs=[
            EmailSpec(
                kind=EmailKind.CONTACT,
                key=f"contact:{why}:{at.isoformat()}",
                to=settings.OH_OUT_OF_HOURS_EMAIL,
                subject=subject,
                body=body,
                urgent=True,
            )
        ],
        at=at,
    )


# --- Sending ----------------------------------------------------------------------------------


def _claim(at: datetime, only: Sequence[int] | None) -> list[OutboundEmail]:
    """The next due batch (urgent first), taken in a short transaction of its own."""
    with transaction.atomic():
        due = OutboundEmail.objects.select_for_update(skip_locked=True, of=("self",)).filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lte=at
        )
        if only is not None:
            due = due.filter(pk__any=list(only))
        batch = list(
            due.select_related("recipient").order_by("-urgent", "next_attempt_at", "id")[
                : settings.EMAIL_BATCH_SIZE
            ]
        )
        if batch:
            OutboundEmail.objects.filter(pk__any=[e.pk for e in batch]).update(
                attempts=F("attempts") + 1, next_attempt_at=at + CLAIM_LEASE
            )
            for email in batch:
                email.attempts += 1
    return batch


def _send(batch: Sequence[OutboundEmail]) -> dict[int, str]:
    """Send a batch over one connection; each e-mail's error ("" when sent)."""
    outcome: dict[int, str] = {}
    mailer = get_connection(fail_silently=False)
    try:
        mailer.open()
    except Exception as exc:  # the server is down: every e-mail of the batch waits
        return {email.pk: f"{type(exc).__name__}: {exc}"[:300] for email in batch}
    try:
        for email in batch:
            if email.recipient is not None and not email.recipient.is_active:
                outcome[email.pk] = RECIPIENT_GONE
                continue
            message = EmailMessage(
                email.subject, email.body, settings.DEFAULT_FROM_EMAIL, [email.to],
                connection=mailer,
            )  # fmt: skip
            try:
                message.send()
            except Exception as exc:
                outcome[email.pk] = f"{type(exc).__name__}: {exc}"[:300]
                continue
            outcome[email.pk] = ""
    finally:
        try:
            mailer.close()
        except Exception:  # closing a broken connection: the outcomes stand
            log.info("closing the mail connection failed", exc_info=True)
    return outcome


def _record(batch: Sequence[OutboundEmail], outcome: dict[int, str], *, at: datetime) -> int:
    """Commit a batch's outcomes: the sent ones in one statement (and their notifications
    marked e-mailed), each failure with its history."""
    sent = [email for email in batch if not outcome[email.pk]]
    with transaction.atomic():
        if sent:
            OutboundEmail.objects.filter(pk__any=[e.pk for e in sent]).update(
                status=DeliveryStatus.DELIVERED, sent_at=at, last_error=""
            )
            carried = [pk for email in sent for pk in email.notifications]
            if carried:
                Notification.objects.filter(pk__any=carried, emailed_at__isnull=True).update(
                    emailed_at=at
                )
        for email in batch:
            error = outcome[email.pk]
            if not error:
                continue
            log.info("e-mail %s failed (attempt %s)", email.pk, email.attempts)
            entry = {"attempt": email.attempts, "at": at.isoformat(), "error": error}
            email.errors = [*email.errors, entry][-MAX_ERRORS_KEPT:]
            email.last_error = error
            if error == RECIPIENT_GONE or email.attempts >= settings.EMAIL_MAX_ATTEMPTS:
                email.status = DeliveryStatus.FAILED
            else:
                email.next_attempt_at = at + rules.retry_after(email.attempts)
            email.save(update_fields=["status", "next_attempt_at", "last_error", "errors"])
    return len(sent)


def emails_deliver(*, at: datetime, only: Sequence[int] | None = None) -> rules.SweepReport:
    """Send due e-mails (`only`: of these), a batch at a time, at most EMAIL_BATCHES_PER_RUN
    batches: claimed, sent with no transaction open (the scheduler runs this job outside its
    job transaction), outcome committed. Returns how many were sent."""
    sent = 0
    for _ in range(settings.EMAIL_BATCHES_PER_RUN):
        batch = _claim(at, only)
        if not batch:
            break
        sent += _record(batch, _send(batch), at=at)
    return rules.SweepReport(notified=sent)
