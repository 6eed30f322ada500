"""The daily digest: one e-mail a day to each supervisor and clinician who chose it, listing
the subjects of the non-urgent notifications that are new in their inbox.

A digest is claimed in the job's transaction (the recipient's day marked, the notifications
marked `digested_at`) and sent after it commits; a digest that cannot be sent is given back,
so the next hourly run sends it, and one that was sent is never sent again: a run after an
outage sends one digest with everything waiting, never one per day missed."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction

from welfare.accounts.models import NotifyBy, User
from welfare.alerts import rules
from welfare.alerts.models import Notification
from welfare.alerts.services.notifications import email_subject, site_link
from welfare.core import clock
from welfare.core.roles import DIGEST_ROLES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DigestReport:
    digests: int = 0  # recipients whose digest was claimed (sent after commit)
    notifications: int = 0  # the notifications those digests list


@dataclass(frozen=True)
class _Digest:
    user_id: int
    email: str
    previous: date | None  # the recipient's day before this claim, to give it back
    ids: list[int]
    subjects: list[str]


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
        SELECT u.id, u.email, u.digest_sent_on AS previous FROM accounts_user u
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
    SELECT due.id, due.email, due.previous, array_agg(marked.id ORDER BY marked.id)
    FROM marked JOIN due ON due.id = marked.recipient_id
    GROUP BY due.id, due.email, due.previous ORDER BY due.id
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
    digests = [
        _Digest(
            user_id=user_id,
            email=email,
            previous=previous,
            ids=list(ids),
            subjects=[subjects[pk] for pk in ids],
        )
        for user_id, email, previous, ids in rows
    ]
    transaction.on_commit(lambda: _send(digests, at=at, day=day))
    return DigestReport(digests=len(digests), notifications=sum(len(d.ids) for d in digests))


def _send(digests: Sequence[_Digest], *, at: datetime, day: date) -> None:
    link = site_link("/inbox")
    sent: list[int] = []
    for digest in digests:
        try:
            send_mail(
                rules.digest_subject(len(digest.ids)),
                rules.digest_text(digest.subjects, link=link),
                settings.DEFAULT_FROM_EMAIL,
                [digest.email],
            )
        except Exception:  # a mail server down: given back, the next run sends it
            log.warning("digest e-mail failed for user %s", digest.user_id, exc_info=True)
            _give_back(digest, at=at, day=day)
            continue
        sent.extend(digest.ids)
    if sent:
        Notification.objects.filter(pk__any=sent).update(emailed_at=at)


def _give_back(digest: _Digest, *, at: datetime, day: date) -> None:
    """Undo a claim whose e-mail failed: the notifications wait again, and the day is the
    recipient's again (unless a later run has claimed it since)."""
    with transaction.atomic():
        Notification.objects.filter(pk__any=digest.ids, digested_at=at).update(digested_at=None)
        User.objects.filter(pk=digest.user_id, digest_sent_on=day).update(
            digest_sent_on=digest.previous
        )
