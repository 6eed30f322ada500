"""The daily digest: one e-mail a day to each supervisor and clinician who chose it, listing
the subjects of the non-urgent notifications that are new in their inbox.

A digest is claimed in the job's transaction (the recipient's day marked, the notifications
marked `digested_at`) and its e-mail queued in that same transaction (services.emails): the
queue sends it after commit and retries it until it goes, so one that was claimed is sent
once, and a run after an outage sends one digest with everything waiting, never one per day
missed. A rolled-back run leaves neither the claim nor the e-mail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection

from welfare.accounts.models import NotifyBy
from welfare.alerts import rules
from welfare.alerts.models import EmailKind, Notification
from welfare.alerts.services.emails import EmailSpec, emails_queue
from welfare.alerts.services.notifications import email_subject, site_link
from welfare.core import clock
from welfare.core.roles import DIGEST_ROLES


@dataclass(frozen=True)
class DigestReport:
    digests: int = 0  # recipients whose digest was claimed (queued, sent after commit)
    notifications: int = 0  # the notifications those digests list


# Waiting for a digest: not urgent (those were e-mailed at once), not e-mailed, not in a
# digest already, not read in the inbox (read there, it needs no e-mail), written by then.
_PENDING = (
    "{n}.digested_at IS NULL AND {n}.emailed_at IS NULL AND NOT {n}.urgent "
    "AND {n}.read_at IS NULL AND {n}.created_at <= %(at)s"
)
# In one statement: the recipients due (their digest hour has come, no digest yet for this
# day, something waiting), locked so that a concurrent run skips them; their day marked;
# what is waiting marked as digested. The day's mark decides "once a day" whatever the
# timing of runs: a run for an earlier day after a later one finds the later day marked.
_CLAIM_SQL = f"""
    WITH due AS (
        SELECT u.id, u.email, u.digest_sent_on FROM accounts_user u
        WHERE u.is_active AND u.email <> '' AND u.notify_by = %(digest)s
          AND u.role = ANY(%(roles)s)
          AND (u.digest_sent_on IS NULL OR u.digest_sent_on < %(day)s)
          AND EXISTS (SELECT 1 FROM alerts_notification n
                      WHERE n.recipient_id = u.id AND {_PENDING.format(n="n")})
        FOR UPDATE OF u SKIP LOCKED
    ),
    claimed AS (
        UPDATE accounts_user u SET digest_sent_on = %(day)s FROM due WHERE u.id = due.id
        RETURNING u.id
    ),
    marked AS (
        UPDATE alerts_notification m SET digested_at = %(at)s FROM claimed
        WHERE m.recipient_id = claimed.id AND {_PENDING.format(n="m")}
        RETURNING m.id, m.recipient_id
    )
    SELECT due.id, due.email, array_agg(marked.id ORDER BY marked.id)
    FROM marked JOIN due ON due.id = marked.recipient_id
    GROUP BY due.id, due.email ORDER BY due.id
"""  # noqa: S608 - built from constants


def digests_send(*, at: datetime) -> DigestReport:
    """E-mail each recipient who chose the digest one summary of what is waiting, once their
    local digest hour (NOTIFICATION_DIGEST_HOUR) has come today, and at most once a day.
    Recipients without an address, deactivated or with nothing waiting get nothing."""
    day = rules.digest_day(at, hour=settings.NOTIFICATION_DIGEST_HOUR, zone=clock.local_zone())
    if day is None:
        return DigestReport()
    with connection.cursor() as cursor:
        cursor.execute(
            _CLAIM_SQL,
            {
                "at": at,
                "day": day,
                "digest": NotifyBy.DIGEST.value,
                "roles": sorted(DIGEST_ROLES),
            },
        )
        rows = cursor.fetchall()
    if not rows:
        return DigestReport()
    # What each e-mail may say of a notification: its subject, or for a confidential one
    # only that there is a message.
    listed = Notification.objects.filter(pk__any=[pk for *_, ids in rows for pk in ids])
    subjects = {n.pk: email_subject(n) for n in listed.only("subject", "confidential")}
    link = site_link("/inbox")
    emails_queue(
        specs=[
            EmailSpec(
                kind=EmailKind.DIGEST,
                key=f"digest:{user_id}:{day.isoformat()}",
                to=email,
                subject=rules.digest_subject(len(ids)),
                body=rules.digest_text([subjects[pk] for pk in ids], link=link),
                recipient_id=user_id,
                notifications=tuple(ids),
            )
            for user_id, email, ids in rows
        ],
        at=at,
    )
    return DigestReport(digests=len(rows), notifications=sum(len(ids) for *_, ids in rows))
