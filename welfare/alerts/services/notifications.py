"""Who is told what: in-app notifications (e-mailed after commit), the recipients of an
alert, the OH leads and case owners, the out-of-hours contact."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db.models import F

from welfare.accounts.models import User
from welfare.alerts import rules
from welfare.alerts.models import (
    Alert,
    AlertKind,
    CaseOwner,
    EmailKind,
    Notification,
)
from welfare.alerts.services.emails import EmailSpec, contact_email, emails_queue
from welfare.checkins.models import CheckIn
from welfare.checkins.services import IncidentRecorded
from welfare.core import clock
from welfare.core.db import create_many_once
from welfare.core.roles import DIGEST_ROLES, Role
from welfare.people.selectors import current_posting_q

# --- Notifications ------------------------------------------------------------------------


def site_link(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def working_calendar() -> rules.WorkingCalendar:
    opens, closes = settings.WORKING_HOURS
    return rules.WorkingCalendar(
        opens=opens,
        closes=closes,
        days=frozenset(settings.WORKING_DAYS),
        holidays=frozenset(settings.WORKING_HOLIDAYS),
        zone=clock.local_zone(),
    )


def ack_deadline(became_urgent: datetime) -> datetime:
    """The deadline to acknowledge an alert that became urgent at that instant."""
    return rules.working_deadline(
        became_urgent, settings.URGENT_ACK_WORKING_HOURS, working_calendar()
    )


@dataclass(frozen=True)
class NotificationSpec:
    """One notification to send: to `recipient`, once per `key`."""

    recipient: User
    key: str
    subject: str
    body: str
    link: str = ""
    alert: Alert | None = None
    checkin: CheckIn | None = None
    confidential: bool = False
    # E-mailed at once even to a recipient who chose the daily digest: about urgent work.
    urgent: bool = False


NOTIFICATIONS_PER_BATCH = 5000


def notify_many(*, specs: Sequence[NotificationSpec], at: datetime | None = None) -> int:
    """In-app notifications, with the e-mails they call for queued in the same transaction
    (an urgent one, or any to a recipient who did not choose the daily digest; `digests_send`
    e-mails the others once a day) and sent after commit (services.emails); once per
    recipient and key. One insert statement per thousand, built NOTIFICATIONS_PER_BATCH at a
    time and not kept (a first catch-up can tell hundreds of thousands). Returns how many
    were new here."""
    now = at or clock.now()
    count = 0
    for start in range(0, len(specs), NOTIFICATIONS_PER_BATCH):
        created = create_many_once(
            [
                Notification(
                    recipient=spec.recipient,
                    dedupe_key=spec.key,
                    subject=spec.subject,
                    body=spec.body,
                    link=spec.link,
                    alert=spec.alert,
                    checkin=spec.checkin,
                    confidential=spec.confidential,
                    urgent=spec.urgent,
                    created_at=now,
                )
                for spec in specs[start : start + NOTIFICATIONS_PER_BATCH]
            ],
            key=("recipient_id", "dedupe_key"),
        )
        count += len(created)
        emails_queue(
            specs=[
                EmailSpec(
                    kind=EmailKind.NOTIFICATION,
                    key=f"notification:{n.pk}",
                    to=n.recipient.email,
                    subject=email_subject(n),
                    body=email_text(n),
                    recipient_id=n.recipient_id,
                    notifications=(n.pk,),
                    urgent=n.urgent,
                )
                for n in created
                if n.recipient.email
                and rules.emailed_at_once(
                    urgent=n.urgent,
                    may_digest=n.recipient.role in DIGEST_ROLES,
                    notify_by=n.recipient.notify_by,
                )
            ],
            at=now,
        )
    return count


def notify(
    *,
    recipient: User,
    key: str,
    subject: str,
    body: str,
    link: str = "",
    alert: Alert | None = None,
    checkin: CheckIn | None = None,
    confidential: bool = False,
    urgent: bool = False,
) -> bool:
    """An in-app notification, e-mailed after commit (see `notify_many`); once per recipient
    and key. A confidential one is e-mailed as "you have a message", its body kept for the
    inbox."""
    spec = NotificationSpec(
        recipient, key, subject, body, link, alert, checkin, confidential, urgent
    )
    return bool(notify_many(specs=[spec]))


CONFIDENTIAL_EMAIL_SUBJECT = "A message from the welfare service"
CONFIDENTIAL_EMAIL_BODY = "You have a new message in the welfare service. Sign in to read it."


def email_subject(notification: Notification) -> str:
    return CONFIDENTIAL_EMAIL_SUBJECT if notification.confidential else notification.subject


def email_text(notification: Notification) -> str:
    """What an e-mail carries: the message, or for a confidential one only that there is one."""
    body = CONFIDENTIAL_EMAIL_BODY if notification.confidential else notification.body
    return body + (f"\n\n{notification.link}" if notification.link else "")


def notifications_mark_read(*, user: User, ids: Sequence[int] | None) -> int:
    """Mark the user's notifications read (these, or every unread one); returns how many were
    unread. One statement; a notification read once keeps its first read time."""
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=list(ids))
    return unread.update(read_at=clock.now())


def supervisors_of(officer_id: int, on: date) -> list[User]:
    return _supervisors_of_many([officer_id], on).get(officer_id, [])


def _supervisors_of_many(officer_ids: Iterable[int], on: date) -> dict[int, list[User]]:
    """The active supervisors of each officer's units on a day, in one query."""
    officer_ids = sorted(set(officer_ids))
    if not officer_ids:
        return {}
    prefix = "supervised_units__postings__"
    rows = (
        User.objects.filter(
            current_posting_q(on, prefix),
            supervised_units__postings__officer_id__any=officer_ids,
            is_active=True,
            role=Role.SUPERVISOR,
        )
        .annotate(supervising=F("supervised_units__postings__officer_id"), own=F("officer__pk"))
        .order_by("pk")
    )
    supervisors: dict[int, dict[int, User]] = defaultdict(dict)
    for user in rows:
        if user.own != user.supervising:  # nobody is told about themselves as supervisor
            supervisors[user.supervising].setdefault(user.pk, user)
    return {officer_id: list(users.values()) for officer_id, users in supervisors.items()}


def _clinicians(*, not_about: int | None = None) -> list[User]:
    """The active clinicians, each with `own`: their own officer record's id, if they hold
    one. `not_about`: without the clinician who is that officer (never told about oneself)."""
    clinicians = User.objects.filter(role=Role.OH, is_active=True).annotate(own=F("officer__pk"))
    everyone: list[User] = list(clinicians.order_by("pk"))
    return everyone if not_about is None else _not_about(everyone, not_about)


def oh_leads() -> list[User]:
    """Who urgent work escalates to: the active OH leads, or every clinician while there is
    no lead (escalation never goes nowhere); each with `own` as `_clinicians` gives it."""
    leads = User.objects.filter(role=Role.OH, is_active=True, is_oh_lead=True)
    return list(leads.annotate(own=F("officer__pk")).order_by("pk")) or _clinicians()


def _not_about(clinicians: Sequence[User], officer_id: int) -> list[User]:
    """Those clinicians, without the one who is that officer (never told about oneself)."""
    return [c for c in clinicians if getattr(c, "own", None) != officer_id]


def case_owners(officer_ids: Iterable[int]) -> dict[int, User]:
    """Each officer's owning clinician, where the owner is still an active clinician."""
    rows = CaseOwner.objects.filter(
        officer_id__in=sorted(set(officer_ids)),
        clinician__is_active=True,
        clinician__role=Role.OH,
    ).select_related("clinician")
    return {row.officer_id: row.clinician for row in rows if row.clinician is not None}


def _clinical(alert: Alert) -> bool:
    return alert.clinical or alert.kind == AlertKind.SCREENING_RISK


def alert_notifications(
    alerts: Sequence[Alert], *, at: datetime | None = None
) -> list[NotificationSpec]:
    """Who is told each alert was raised. Clinical alerts reach occupational health only:
    an urgent one every clinician, another its case's owner (every clinician when the case
    has none). Rotation alerts reach supervisors and, for occupational health, the case's
    owner or else the OH leads (a force's rotation reviews would otherwise tell every
    clinician about every officer); the others supervisors, and the officer is told of a
    limit alert about them (without its numbers). A few queries at most, whatever the number
    of alerts."""
    if not alerts:
        return []
    today = (at or clock.now()).astimezone(clock.local_zone()).date()
    supervisors = _supervisors_of_many((a.officer_id for a in alerts if not _clinical(a)), today)
    clinicians = _clinicians() if any(_clinical(a) for a in alerts) else []
    rotations = [a.officer_id for a in alerts if a.kind == AlertKind.ROTATION_DUE]
    leads = oh_leads() if rotations else []
    owners = case_owners(
        [a.officer_id for a in alerts if _clinical(a) and not a.urgent] + rotations
    )
    limits = [a.officer_id for a in alerts if a.kind == AlertKind.EXPOSURE_LIMIT]
    officers = {user.officer_id: user for user in _officer_users(limits)} if limits else {}
    specs: list[NotificationSpec] = []
    for alert in alerts:
        owner = owners.get(alert.officer_id)
        if _clinical(alert):
            # Urgent work reaches every clinician, whoever owns the case.
            if owner is not None and not alert.urgent:
                recipients = [owner]
            else:
                recipients = _not_about(clinicians, alert.officer_id)
        elif alert.kind == AlertKind.ROTATION_DUE:
            oh = [owner] if owner is not None else _not_about(leads, alert.officer_id)
            recipients = supervisors.get(alert.officer_id, []) + oh
        else:
            recipients = supervisors.get(alert.officer_id, [])
        specs.extend(
            NotificationSpec(
                recipient=recipient,
                key=f"alert:{alert.pk}",
                subject=rules.ALERT_SUBJECT,
                body=rules.ALERT_BODY,
                link=site_link(f"/alerts/{alert.pk}"),
                alert=alert,
                urgent=alert.urgent,
            )
            for recipient in recipients
        )
        officer_user = officers.get(alert.officer_id)
        if alert.kind == AlertKind.EXPOSURE_LIMIT and officer_user is not None:
            specs.append(
                NotificationSpec(
                    recipient=officer_user,
                    key=f"alert:{alert.pk}",
                    subject=rules.OFFICER_LIMIT_SUBJECT,
                    body=rules.OFFICER_LIMIT_BODY[
                        "breach" if alert.detail.get("state") == "breach" else "warning"
                    ],
                    link=site_link(f"/alerts/{alert.pk}"),
                    alert=alert,
                    confidential=True,
                )
            )
    return specs


def _officer_users(officer_ids: Iterable[int]) -> list[Any]:
    """The active users of these officers, each with `officer_id`, in one query."""
    return list(
        User.objects.filter(officer__pk__in=sorted(set(officer_ids)), is_active=True).annotate(
            officer_id=F("officer__pk")
        )
    )


# --- Urgent work that is not acknowledged in time -----------------------------------------


def tell_out_of_hours_contact(at: datetime, why: str) -> None:
    """E-mail the configured out-of-hours contact (queued, sent after commit) when urgent
    work is raised outside working hours (`why` = "raised") or is not acknowledged in time
    ("late"). The message says where to look, never about whom or what."""
    address = settings.OH_OUT_OF_HOURS_EMAIL
    if not address or (why == "raised" and rules.in_working_hours(at, working_calendar())):
        return
    link = site_link("/oh/")
    if why == "raised":
        subject, text = rules.OUT_OF_HOURS_SUBJECT, rules.OUT_OF_HOURS_BODY.format(link=link)
    else:
        hours = hours_text(settings.URGENT_ACK_WORKING_HOURS)
        subject, text = (
            rules.UNACKNOWLEDGED_SUBJECT,
            (f"{rules.UNACKNOWLEDGED_BODY.format(hours=hours)} {link}"),
        )

    contact_email(why=why, subject=subject, body=text, at=at)


def hours_text(value: float) -> str:
    return f"{value:g}"


def self_referral_told(checkin: CheckIn) -> None:
    """An officer asked for a confidential check-in: the case's owning clinician is told, or
    every clinician while the case has none (after commit; never the supervisor). Not urgent
    work: it is due within days and is in OH's queue at once, so a clinician who chose the
    digest reads of it next morning; a critical screening answer is what is urgent."""
    owner = case_owners([checkin.officer_id]).get(checkin.officer_id)
    notify_many(
        specs=[
            NotificationSpec(
                recipient=clinician,
                key=f"checkin:{checkin.pk}:self_referred",
                subject=rules.SELF_REFERRAL_SUBJECT,
                body=rules.SELF_REFERRAL_BODY,
                link=site_link(f"/checkins/{checkin.pk}"),
                checkin=checkin,
            )
            for clinician in (
                [owner] if owner is not None else _clinicians(not_about=checkin.officer_id)
            )
        ]
    )


INCIDENT_OH_SUBJECT = "Incident follow-ups to arrange"
INCIDENT_OH_BODY = (
    "A distressing piece of work was recorded for an officer. Follow-up contacts are due "
    "{dates}: arrange them with the unit's TRiM practitioner or occupational health."
)
INCIDENT_OFFICER_SUBJECT = "Follow-ups after a distressing piece of work"
INCIDENT_OFFICER_BODY = (
    "A distressing piece of work of yours on {day} was recorded. Occupational health or a "
    "TRiM practitioner will offer you follow-up contacts, due {dates}."
)


def incident_recorded_told(recorded: IncidentRecorded) -> None:
    """A distressing piece of work was recorded: the case's owning clinician is told (every
    clinician while the case has none), and the officer when someone else recorded it. No
    message names the category; the officer's is e-mailed only as "you have a message"."""
    incident = recorded.incident
    dates = " and ".join(rules.friendly_date(c.due_on) for c in recorded.follow_ups)
    owner = case_owners([incident.officer_id]).get(incident.officer_id)
    clinicians = [owner] if owner is not None else _clinicians(not_about=incident.officer_id)
    key = f"incident:{incident.pk}:recorded"
    specs = [
        NotificationSpec(
            recipient=clinician,
            key=key,
            subject=INCIDENT_OH_SUBJECT,
            body=INCIDENT_OH_BODY.format(dates=dates),
            link=site_link(f"/oh/cases/{incident.officer_id}"),
        )
        for clinician in clinicians
        if clinician.pk != incident.reported_by_id
    ]
    officer_user = incident.officer.user
    first = recorded.follow_ups[0] if recorded.follow_ups else None
    if officer_user.pk != incident.reported_by_id and officer_user.is_active:
        specs.append(
            NotificationSpec(
                recipient=officer_user,
                key=key,
                subject=INCIDENT_OFFICER_SUBJECT,
                body=INCIDENT_OFFICER_BODY.format(
                    day=rules.friendly_date(incident.occurred_on), dates=dates
                ),
                link=site_link(f"/checkins/{first.pk}") if first is not None else "",
                checkin=first,
                confidential=True,
            )
        )
    notify_many(specs=specs)
