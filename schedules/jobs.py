"""Every scheduled job, in one table: name, trigger, and the service it calls.

A job is a thin call into a service with the instant it runs as of. Services are
idempotent, so running a job twice for one instant, or for an earlier instant after a
later one, changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings

from welfare.alerts import services as alerts
from welfare.audit import services as audit
from welfare.checkins import services as checkins
from welfare.records import retention


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[datetime], Any]
    trigger: str  # "interval" or "cron"
    trigger_args: dict[str, Any]
    description: str
    # False: the job manages its own short transactions (it talks to the outside world and
    # must not hold one open while it waits); the runner records its run on its own.
    atomic: bool = True


JOBS: tuple[Job, ...] = (
    Job(
        "checkin_schedule",
        lambda at: checkins.checkin_schedule_sweep(at=at),
        "cron",
        {"minute": 5},
        "Create the check-ins the schedule calls for (pre-posting, periodic, regular "
        "contact, exit); withdraw exits that a continuing posting made unneeded.",
    ),
    Job(
        "checkin_status",
        lambda at: checkins.checkin_status_sweep(at=at),
        "cron",
        {"minute": 10},
        "Move open check-ins to overdue or missed as the clock says.",
    ),
    Job(
        "exposure_limits",
        lambda at: alerts.exposure_limits_sweep(at=at),
        "interval",
        {"minutes": 5},
        "Evaluate limits for officers whose daily totals changed; raise alerts and "
        "triggered check-ins.",
    ),
    Job(
        "checkin_escalation",
        lambda at: alerts.checkin_escalation_sweep(at=at),
        "cron",
        {"minute": 15},
        "Reminders 14 and 3 days before due, overdue alerts, escalation to OH at 14 days.",
    ),
    Job(
        "urgent_alerts",
        lambda at: alerts.urgent_alerts_sweep(at=at),
        "interval",
        {"minutes": 1},
        "Urgent alerts not acknowledged by their deadline (4 working hours): tell the OH "
        "leads and the out-of-hours contact, once.",
    ),
    Job(
        "rotation",
        lambda at: alerts.rotation_sweep(at=at),
        "cron",
        {"hour": 6, "minute": 30},
        "Rotation review alerts at 21 months in the work, escalated at 24; a rotate-by "
        "date passed, escalated to the OH leads 14 days later.",
    ),
    Job(
        "webhooks",
        lambda at: alerts.webhook_delivery_sweep(at=at),
        "interval",
        {"minutes": 1},
        "Deliver queued unit webhooks, retrying with back-off; each claimed, sent and its "
        "outcome committed on its own, with no transaction open while sending.",
        atomic=False,
    ),
    Job(
        "notification_digests",
        lambda at: alerts.digests_send(at=at),
        "cron",
        {"minute": 0},
        "E-mail each supervisor and clinician who chose the digest one summary a day of "
        "their non-urgent notifications, from the digest hour (08:00 local); a run after "
        "an outage sends one, never one per day missed.",
    ),
    Job(
        "emails",
        lambda at: alerts.emails_deliver(at=at),
        "interval",
        {"minutes": 1},
        "Send queued e-mails (notifications, digests, the out-of-hours contact), urgent ones "
        "first, in batches: each batch claimed, sent with no transaction open and its outcome "
        "committed; failures retried with back-off, none sent twice.",
        atomic=False,  # after the jobs that queue e-mail, so `run_jobs` sends what they queued
    ),
    Job(
        "retention",
        lambda at: retention.retention_sweep(at=at),
        "cron",
        {"hour": 2, "minute": 30},
        "Remove or anonymise records past retention (40 years from the last entry of a "
        "health record, 6 for others), except under legal hold; cut the audit trail's start.",
    ),
    Job(
        "audit_anchor",
        lambda at: audit.audit_anchor_write(at=at),
        "interval",
        {"minutes": settings.AUDIT_ANCHOR_MINUTES},
        "Write the audit chain's head (newest id and hash) to the log and AUDIT_ANCHOR_FILE, "
        "outside the database, so `verify_audit --anchor-file` can prove no event was cut "
        "from the tail or rewritten since.",
    ),
)
