"""Alerts, notifications and the sweeps that raise them: exposure limits, check-in
reminders, overdue and escalation, rotation reviews, webhook deliveries.

Every sweep is idempotent: alerts and notifications are written under unique keys that
the database enforces, so running a sweep twice, or for an earlier instant after a later
one, writes nothing new. Messages go out only after the transaction commits.
"""

from __future__ import annotations

import json
import logging
import secrets
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import F

from welfare.accounts.models import User
from welfare.alerts import rules
from welfare.alerts.models import (
    SUPERVISOR_KINDS,
    Alert,
    AlertKind,
    AlertStatus,
    CaseOwner,
    DeliveryStatus,
    Notification,
    Severity,
    UnitWebhook,
    WebhookDelivery,
)
from welfare.audit.services import audit_record
from welfare.checkins import rules as checkin_rules
from welfare.checkins.models import OPEN_STATUSES, CheckIn, Kind, Status
from welfare.checkins.services import TriggerRequest, checkins_trigger
from welfare.core import clock
from welfare.core.db import create_many_once, prepared_cursor, sql_text
from welfare.core.errors import Conflict, DomainError
from welfare.core.roles import Role
from welfare.exposure.selectors import POLICIES_SQL, POLICIES_WIDTH, Policies, limit_states
from welfare.people.models import Officer, Posting, RotationPolicy, RotationReview, Unit
from welfare.people.selectors import current_posting_q

log = logging.getLogger(__name__)

ALREADY_RESOLVED = "This alert is resolved already."
NOTE_REQUIRED = "Give a note saying what was done."
NOT_A_CLINICIAN = "Choose an active occupational health clinician."
OH_ACTS_NOW = "This has been escalated to occupational health, who act on it now."
EXPOSURE_SWEEP = "exposure_limits"


# --- Notifications ------------------------------------------------------------------------


def _link(path: str) -> str:
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


NOTIFICATIONS_PER_BATCH = 5000


def notify_many(*, specs: Sequence[NotificationSpec]) -> int:
    """In-app notifications, e-mailed after commit; once per recipient and key. One insert
    statement per thousand, built NOTIFICATIONS_PER_BATCH at a time and not kept (a first
    catch-up can tell hundreds of thousands). Returns how many were new here."""
    now = clock.now()
    count = 0
    to_email: list[int] = []
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
                    created_at=now,
                )
                for spec in specs[start : start + NOTIFICATIONS_PER_BATCH]
            ],
            key=("recipient_id", "dedupe_key"),
        )
        count += len(created)
        to_email.extend(n.pk for n in created if n.recipient.email)
    if to_email:
        transaction.on_commit(lambda: _send_emails(to_email))
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
) -> bool:
    """An in-app notification, e-mailed after commit; once per recipient and key. A
    confidential one is e-mailed as "you have a message", its body kept for the inbox."""
    spec = NotificationSpec(recipient, key, subject, body, link, alert, checkin, confidential)
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


def _send_emails(notification_ids: Sequence[int]) -> None:
    sent = []
    notifications = Notification.objects.filter(pk__any=list(notification_ids))
    for notification in notifications.select_related("recipient").order_by("pk"):
        try:
            send_mail(
                email_subject(notification),
                email_text(notification),
                settings.DEFAULT_FROM_EMAIL,
                [notification.recipient.email],
            )
        except Exception:  # a mail server down must not undo the notification
            log.warning("email failed for notification %s", notification.pk, exc_info=True)
            continue
        sent.append(notification.pk)
    if sent:
        Notification.objects.filter(pk__any=sent).update(emailed_at=clock.now())


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
        .annotate(supervising=F("supervised_units__postings__officer_id"))
        .order_by("pk")
    )
    supervisors: dict[int, dict[int, User]] = defaultdict(dict)
    for user in rows:
        supervisors[user.supervising].setdefault(user.pk, user)
    return {officer_id: list(users.values()) for officer_id, users in supervisors.items()}


def _clinicians() -> list[User]:
    return list(User.objects.filter(role=Role.OH, is_active=True).order_by("pk"))


def oh_leads() -> list[User]:
    """Who urgent work escalates to: the active OH leads, or every clinician while there is
    no lead (escalation never goes nowhere)."""
    leads = list(User.objects.filter(role=Role.OH, is_active=True, is_oh_lead=True).order_by("pk"))
    return leads or _clinicians()


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


def _alert_notifications(alerts: Sequence[Alert]) -> list[NotificationSpec]:
    """Who is told each alert was raised. Clinical alerts reach occupational health only:
    an urgent one every clinician, another its case's owner (every clinician when the case
    has none). Rotation alerts reach supervisors and occupational health; the others
    supervisors, and the officer is told of a limit alert about them (without its numbers).
    A few queries at most, whatever the number of alerts."""
    if not alerts:
        return []
    today = clock.today()
    supervisors = _supervisors_of_many((a.officer_id for a in alerts if not _clinical(a)), today)
    needs_clinicians = any(_clinical(a) or a.kind == AlertKind.ROTATION_DUE for a in alerts)
    clinicians = _clinicians() if needs_clinicians else []
    owners = case_owners(a.officer_id for a in alerts if _clinical(a) and not a.urgent)
    limits = [a.officer_id for a in alerts if a.kind == AlertKind.EXPOSURE_LIMIT]
    officers = {user.officer_id: user for user in _officer_users(limits)} if limits else {}
    specs: list[NotificationSpec] = []
    for alert in alerts:
        if _clinical(alert):
            owner = owners.get(alert.officer_id)
            recipients = [owner] if owner is not None else clinicians
        elif alert.kind == AlertKind.ROTATION_DUE:
            recipients = supervisors.get(alert.officer_id, []) + clinicians
        else:
            recipients = supervisors.get(alert.officer_id, [])
        specs.extend(
            NotificationSpec(
                recipient=recipient,
                key=f"alert:{alert.pk}",
                subject=rules.ALERT_SUBJECT,
                body=rules.ALERT_BODY,
                link=_link(f"/alerts/{alert.pk}"),
                alert=alert,
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
                    link=_link(f"/alerts/{alert.pk}"),
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


def alert_recipients(alert: Alert) -> list[User]:
    """Who is told an alert was raised. Clinical alerts reach occupational health only."""
    return [spec.recipient for spec in _alert_notifications([alert])]


def _queue_webhooks(alerts: Sequence[Alert]) -> None:
    """Tell each unit's team chat that something needs attention (never clinical alerts):
    one query for the webhooks of all the officers' units, one insert."""
    shared = [a for a in alerts if not a.clinical and a.kind in SUPERVISOR_KINDS]
    if not shared:
        return
    webhooks = UnitWebhook.objects.filter(
        current_posting_q(clock.today(), "unit__postings__"),
        unit__postings__officer_id__any=sorted({a.officer_id for a in shared}),
        active=True,
    ).annotate(posted=F("unit__postings__officer_id"))
    by_officer: dict[int, dict[int, UnitWebhook]] = defaultdict(dict)
    for webhook in webhooks.order_by("pk"):
        by_officer[webhook.posted].setdefault(webhook.pk, webhook)
    now = clock.now()
    deliveries = [
        WebhookDelivery(
            webhook=webhook,
            dedupe_key=f"alert:{alert.pk}",
            payload={
                "event": "alert.raised",
                "alert": alert.pk,
                "kind": alert.kind,
                "severity": alert.severity,
                "unit": webhook.unit_id,
                "message": rules.ALERT_BODY,
                "link": _link(f"/alerts/{alert.pk}"),
                "raised_at": alert.raised_at.isoformat(),
            },
            next_attempt_at=now,
            created_at=now,
        )
        for alert in shared
        for webhook in by_officer.get(alert.officer_id, {}).values()
    ]
    WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True, batch_size=1000)


# --- Alerts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertSpec:
    """One alert to raise, once per `dedupe_key`."""

    officer_id: int
    kind: str
    severity: str
    dedupe_key: str
    detail: Mapping[str, Any] | None = None
    clinical: bool = False
    checkin: CheckIn | None = None
    posting: Posting | None = None


# Alerts are raised this many at a time: a first catch-up at national scale raised 12,000
# rotation alerts at once, each told to its supervisors and every clinician, and held a
# million notifications in memory (2 GB). A batch keeps memory flat; statements grow by a
# handful per batch.
ALERTS_PER_BATCH = 200


def alerts_raise(*, specs: Sequence[AlertSpec]) -> list[tuple[Alert, bool]]:
    """Raise alerts once per key and tell the recipients of the new ones (after commit), in
    a few statements per batch of ALERTS_PER_BATCH: the alerts inserted in one, their
    recipients read in two, the notifications and the webhook deliveries inserted in one
    each. Returns, for each spec, its alert (the existing one when not new) and whether it
    is new; of specs repeating a key, only the first can be new."""
    if not specs:
        return []
    now = clock.now()
    deadline = ack_deadline(now) if any(s.severity == Severity.URGENT for s in specs) else None
    alerts: dict[str, Alert] = {}
    new: set[str] = set()
    with transaction.atomic():
        for start in range(0, len(specs), ALERTS_PER_BATCH):
            batch = [
                s for s in specs[start : start + ALERTS_PER_BATCH] if s.dedupe_key not in alerts
            ]
            created = create_many_once(
                [
                    Alert(
                        officer_id=spec.officer_id,
                        kind=spec.kind,
                        severity=spec.severity,
                        dedupe_key=spec.dedupe_key,
                        detail=dict(spec.detail or {}),
                        clinical=spec.clinical,
                        checkin=spec.checkin,
                        posting=spec.posting,
                        raised_at=now,
                        ack_due_at=deadline if spec.severity == Severity.URGENT else None,
                    )
                    for spec in batch
                ],
                key=("dedupe_key",),
            )
            alerts.update((alert.dedupe_key, alert) for alert in created)
            new.update(alert.dedupe_key for alert in created)
            existing = [spec.dedupe_key for spec in batch if spec.dedupe_key not in alerts]
            if existing:
                alerts.update(
                    (alert.dedupe_key, alert)
                    for alert in Alert.objects.filter(dedupe_key__any=existing)
                )
            notify_many(specs=_alert_notifications(created))
            _queue_webhooks(created)
            if any(alert.urgent for alert in created):
                _tell_out_of_hours_contact(now, "raised")
    results = []
    for spec in specs:
        results.append((alerts[spec.dedupe_key], spec.dedupe_key in new))
        new.discard(spec.dedupe_key)
    return results


def alert_raise(
    *,
    officer_id: int,
    kind: str,
    severity: str,
    dedupe_key: str,
    detail: Mapping[str, Any] | None = None,
    clinical: bool = False,
    checkin: CheckIn | None = None,
    posting: Posting | None = None,
) -> tuple[Alert, bool]:
    """Raise an alert once per key; tell its recipients (after commit) when it is new."""
    spec = AlertSpec(officer_id, kind, severity, dedupe_key, detail, clinical, checkin, posting)
    [(alert, created)] = alerts_raise(specs=[spec])
    return alert, created


def _cover(actor: User | None, alert: Alert) -> dict[str, Any] | None:
    """A clinician acting on an alert of a case another clinician owns: recorded as cover."""
    if actor is None or actor.role != Role.OH:
        return None
    owner = case_owners([alert.officer_id]).get(alert.officer_id)
    return {"cover_for": owner.pk} if owner is not None and owner.pk != actor.pk else None


def _refuse_unless_oh(actor: User | None, alert: Alert) -> None:
    """Urgent work is occupational health's to acknowledge and resolve: a supervisor who can
    see an escalated check-in cannot silence it."""
    if alert.urgent and actor is not None and actor.role != Role.OH:
        raise Conflict(OH_ACTS_NOW, code="occupational_health_acts")


def alert_acknowledge(*, actor: User, alert: Alert) -> Alert:
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        if alert.status == AlertStatus.RESOLVED:
            raise Conflict(ALREADY_RESOLVED, code="resolved")
        _refuse_unless_oh(actor, alert)
        if alert.status == AlertStatus.OPEN:
            alert.status = AlertStatus.ACKNOWLEDGED
            alert.acknowledged_at = clock.now()
            alert.acknowledged_by = actor
            alert.save(update_fields=["status", "acknowledged_at", "acknowledged_by"])
            audit_record(
                actor=actor,
                action="alert.acknowledged",
                target_type="alert",
                target_id=alert.pk,
                detail=_cover(actor, alert),
            )
    return alert


def alert_resolve(*, actor: User | None, alert: Alert, note: str) -> Alert:
    if not note.strip():
        raise DomainError(NOTE_REQUIRED, field="note")
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        if alert.status == AlertStatus.RESOLVED:
            raise Conflict(ALREADY_RESOLVED, code="resolved")
        _refuse_unless_oh(actor, alert)
        now = clock.now()
        if alert.acknowledged_at is None:
            alert.acknowledged_at, alert.acknowledged_by = now, actor
        alert.status = AlertStatus.RESOLVED
        alert.resolved_at = now
        alert.resolved_by = actor
        alert.resolution_note = note.strip()
        alert.save()
        audit_record(
            actor=actor,
            action="alert.resolved",
            target_type="alert",
            target_id=alert.pk,
            detail=_cover(actor, alert),
        )
    return alert


def case_assign(*, actor: User, officer: Officer, clinician: User | None) -> CaseOwner:
    """Give an officer's occupational health work to a clinician (None: to nobody, so every
    clinician sees it as unassigned). The new owner is told, unless they assigned it to
    themselves. Audited."""
    if clinician is not None and (clinician.role != Role.OH or not clinician.is_active):
        raise DomainError(NOT_A_CLINICIAN, field="clinician")
    now = clock.now()
    with transaction.atomic():
        owner, created = CaseOwner.objects.select_for_update().get_or_create(
            officer=officer, defaults={"assigned_at": now}
        )
        if not created and owner.clinician_id == (clinician.pk if clinician else None):
            return owner
        previous = owner.clinician_id
        owner.clinician = clinician
        owner.assigned_at = now
        owner.assigned_by = actor
        owner.save()
        audit_record(
            actor=actor,
            action="case.assigned",
            target_type="officer",
            target_id=officer.pk,
            detail={"clinician": clinician.pk if clinician else None, "previous": previous},
        )
        if clinician is not None and clinician.pk != actor.pk:
            notify(
                recipient=clinician,
                key=f"case:{officer.pk}:assigned:{now.isoformat()}",
                subject=rules.CASE_ASSIGNED_SUBJECT,
                body=rules.CASE_ASSIGNED_BODY,
                link=_link(f"/oh/cases/{officer.pk}"),
            )
    return owner


def self_referral_told(checkin: CheckIn) -> None:
    """An officer asked for a confidential check-in: the case's owning clinician is told, or
    every clinician while the case has none (after commit; never the supervisor)."""
    owner = case_owners([checkin.officer_id]).get(checkin.officer_id)
    notify_many(
        specs=[
            NotificationSpec(
                recipient=clinician,
                key=f"checkin:{checkin.pk}:self_referred",
                subject=rules.SELF_REFERRAL_SUBJECT,
                body=rules.SELF_REFERRAL_BODY,
                link=_link(f"/checkins/{checkin.pk}"),
                checkin=checkin,
            )
            for clinician in ([owner] if owner is not None else _clinicians())
        ]
    )


# --- Urgent work that is not acknowledged in time -----------------------------------------


def _tell_out_of_hours_contact(at: datetime, why: str) -> None:
    """E-mail the configured out-of-hours contact (after commit) when urgent work is raised
    outside working hours (`why` = "raised") or is not acknowledged in time ("late"). The
    message says where to look, never about whom or what."""
    address = settings.OH_OUT_OF_HOURS_EMAIL
    if not address or (why == "raised" and rules.in_working_hours(at, working_calendar())):
        return
    link = _link("/oh/")
    if why == "raised":
        subject, text = rules.OUT_OF_HOURS_SUBJECT, rules.OUT_OF_HOURS_BODY.format(link=link)
    else:
        hours = _hours(settings.URGENT_ACK_WORKING_HOURS)
        subject, text = (
            rules.UNACKNOWLEDGED_SUBJECT,
            (f"{rules.UNACKNOWLEDGED_BODY.format(hours=hours)} {link}"),
        )

    def send() -> None:
        try:
            send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, [address])
        except Exception:  # a mail server down must not undo the escalation
            log.warning("out-of-hours e-mail failed", exc_info=True)

    transaction.on_commit(send)


def _hours(value: float) -> str:
    return f"{value:g}"


def urgent_alerts_sweep(*, at: datetime) -> SweepReport:
    """Urgent alerts still not acknowledged at their deadline: the OH leads are told (every
    clinician while there is no lead) and the out-of-hours contact e-mailed. One statement
    marks them: each alert escalates once, however often or late the sweep runs (a catch-up
    after an outage escalates each once)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE alerts_alert SET ack_escalated_at = %s WHERE status = %s "
            "AND ack_due_at <= %s AND ack_escalated_at IS NULL RETURNING id",
            [at, AlertStatus.OPEN.value, at],
        )
        late = sorted(pk for (pk,) in cursor.fetchall())
    if not late:
        return SweepReport()
    leads = oh_leads()
    body = rules.UNACKNOWLEDGED_BODY.format(hours=_hours(settings.URGENT_ACK_WORKING_HOURS))
    notified = notify_many(
        specs=[
            NotificationSpec(
                recipient=lead,
                key=f"alert:{pk}:unacknowledged",
                subject=rules.UNACKNOWLEDGED_SUBJECT,
                body=body,
                link=_link(f"/alerts/{pk}"),
                alert=Alert(pk=pk),
            )
            for pk in late
            for lead in leads
        ]
    )
    _tell_out_of_hours_contact(at, "late")
    return SweepReport(examined=len(late), raised=len(late), notified=notified)


# --- Exposure limits ----------------------------------------------------------------------


@dataclass(frozen=True)
class SweepReport:
    examined: int = 0
    raised: int = 0
    notified: int = 0
    checkins: int = 0


def exposure_limits_sweep(*, at: datetime) -> SweepReport:
    """Evaluate limits for the officers whose daily totals changed since the last run, and
    raise warning and breach alerts (one per officer, rule, period and state). A breach
    also asks for a triggered check-in within a week, unless one is open already.

    Reads changes since the last mark (less a margin, so a transaction that committed
    late is still seen); alerts are deduplicated by key, so re-reading is harmless.
    """
    today = at.astimezone(clock.local_zone()).date()
    oldest = today - timedelta(days=settings.EXPOSURE_ALERT_LOOKBACK_DAYS)
    wanted: dict[int, set[date]] = defaultdict(set)
    # One prepared statement (planned once per connection; a sweep runs every few minutes)
    # reads what the sweep needs and moves the mark on: see _SWEEP_READ_SQL.
    with prepared_cursor() as cursor:
        cursor.execute(
            _SWEEP_READ_SQL,
            {
                "at": at,
                "name": EXPOSURE_SWEEP,
                "margin": settings.SWEEP_MARGIN_SECONDS,
                "oldest": oldest,
                "today": today,
                "first": oldest,
                "last": today,
                "kind": AlertKind.EXPOSURE_LIMIT,
                "since": datetime.combine(oldest, time.min, tzinfo=clock.local_zone()),
            },
        )
        rows = cursor.fetchall()
    raised_before: set[str] = set()
    policy_rows = []
    for part, officer_ids, days, keys, *policy in rows:
        if part == _CHANGED:
            for officer_id, day in zip(officer_ids or (), days or (), strict=True):
                wanted[officer_id].update({day, today})
        elif part == _RAISED:
            raised_before = set(keys or ())
        else:
            policy_rows.append(policy)
    policies = Policies(policy_rows)
    return _raise_limit_alerts(wanted, today, policies, raised_before)


_CHANGED, _RAISED, _POLICY = 0, 1, 2
_NO_POLICY = ", ".join(["NULL"] * POLICIES_WIDTH)
# In one statement, rows told apart by their first column: the officer-days whose totals
# changed since the mark (less the margin), and the limit alerts those officers have had
# raised since the oldest day the sweep asks about (an alert for a day is raised on that
# day at the earliest, so this is a superset of the keys the sweep could make again: they
# are not), each as arrays in one row (a full sweep's thousands of rows, each as wide as
# a policy's, took milliseconds to load); and the policy layers and restrictions of those
# days. Meanwhile the mark moves on (never back: a replay for an earlier instant); every
# part sees the snapshot from before, and the mark only counts if the sweep's
# transaction commits.
_SWEEP_READ_SQL = sql_text(f"""
    WITH recent AS MATERIALIZED (
        SELECT officer_id, day FROM exposure_dailytotal
        WHERE updated_at <= %(at)s
          AND updated_at > COALESCE(
              (SELECT through FROM alerts_sweepmark WHERE name = %(name)s)
              - make_interval(secs => %(margin)s), '-infinity')
    ),
    -- The days are filtered apart (a materialized CTE is a fence): planned once for every
    -- mark, the statement also read the look-back's days from their own index (26,000
    -- entries at force scale) to intersect them with the few rows changed since the mark.
    changed AS MATERIALIZED (
        SELECT officer_id, day FROM recent WHERE day BETWEEN %(oldest)s AND %(today)s
    ),
    marked AS (
        INSERT INTO alerts_sweepmark (name, through) VALUES (%(name)s, %(at)s)
        ON CONFLICT (name) DO UPDATE
        SET through = GREATEST(alerts_sweepmark.through, EXCLUDED.through)
    )
    SELECT {_POLICY}, NULL::bigint[], NULL::date[], NULL::text[], p.*
    FROM ({POLICIES_SQL}) AS p
    UNION ALL
    SELECT {_CHANGED}, array_agg(officer_id), array_agg(day), NULL, {_NO_POLICY} FROM changed
    UNION ALL
    SELECT {_RAISED}, NULL, NULL, array_agg(dedupe_key), {_NO_POLICY} FROM alerts_alert
    WHERE kind = %(kind)s AND raised_at >= %(since)s
      AND officer_id IN (SELECT officer_id FROM changed)
""")  # noqa: S608 - built from constants


def _raise_limit_alerts(
    wanted: Mapping[int, Iterable[date]],
    today: date,
    policies: Policies,
    raised_before: set[str],
) -> SweepReport:
    """Raise what is new. Only officer-days with a limit at warning or breach are evaluated
    in full, and the new ones raised together (`raised_before`: keys raised before, which
    the unique key would refuse anyway), so a sweep costs a few queries however many
    officers and alerts it has. A new breach asks for a triggered check-in, one per officer
    at most (the first breach found), as an officer has one open triggered check-in at a
    time."""
    states = limit_states(wanted, only_attention=True, policies=policies)
    due = [
        (officer_id, day, state, rules.limit_alert_key(officer_id, state.rule, day, state.state))
        for (officer_id, day), day_states in sorted(states.items())
        for state in day_states
        if state.state != "ok"
    ]
    new = [item for item in due if item[3] not in raised_before]
    results = alerts_raise(
        specs=[
            AlertSpec(
                officer_id=officer_id,
                kind=AlertKind.EXPOSURE_LIMIT,
                severity=rules.limit_severity(state.state),
                dedupe_key=key,
                detail={
                    "rule": state.rule,
                    "state": state.state,
                    "on": day.isoformat(),
                    "period": state.period,
                    "used": state.used,
                    "limit": state.limit,
                    "unit": state.unit,
                    "source": state.source,
                },
            )
            for officer_id, day, state, key in new
        ]
    )
    raised = sum(created for _, created in results)
    # The first new breach of each officer, in officer order (as `due` is sorted); one
    # with a triggered check-in open already gets none, which the insert itself decides.
    breaches: dict[int, tuple[date, str]] = {}
    for (officer_id, day, state, key), (_, created) in zip(new, results, strict=True):
        if created and state.state == "breach":
            breaches.setdefault(officer_id, (day, key))
    triggered = checkins_trigger(
        requests=[
            TriggerRequest(
                officer_id=officer_id,
                due_on=rules.triggered_due_on(day, today, settings.CHECKIN_TRIGGERED_WITHIN_DAYS),
                key=f"triggered:{key}",
            )
            for officer_id, (day, key) in breaches.items()
        ]
    )
    checkins = sum(checkin is not None for checkin in triggered)
    examined = sum(len(set(days)) for days in wanted.values())
    return SweepReport(examined=examined, raised=raised, checkins=checkins)


# --- Check-ins: reminders, overdue, escalation ----------------------------------------------


def checkin_escalation_sweep(*, at: datetime) -> SweepReport:
    """Remind officers 14 and 3 days before a check-in is due; raise an overdue alert on the
    due date (supervisors see it, except for self-referrals); escalate to occupational
    health at 14 days overdue; resolve overdue alerts of check-ins done or cancelled.

    What was raised or sent already is read in bulk first, and what is new is raised,
    escalated and sent in bulk, so a run costs a constant number of queries whatever the
    number of open check-ins (plus one per overdue alert it resolves, each audited).
    """
    today = at.astimezone(clock.local_zone()).date()
    thresholds = settings.CHECKIN_REMINDER_DAYS
    open_checkins = list(
        CheckIn.objects.filter(status__in=OPEN_STATUSES).select_related("officer__user")
    )
    ids = [c.pk for c in open_checkins]
    alerts: dict[int, Alert] = {}  # each check-in's latest overdue alert
    overdue_alerts = Alert.objects.filter(kind=AlertKind.CHECKIN_OVERDUE, checkin_id__in=ids)
    for alert in overdue_alerts.order_by("raised_at", "id"):
        if alert.checkin_id is not None:
            alerts[alert.checkin_id] = alert
    sent = set(Notification.objects.filter(checkin_id__in=ids).values_list("dedupe_key", flat=True))
    messages: list[NotificationSpec] = []
    overdue = []
    for checkin in open_checkins:
        tier = checkin_rules.reminder_tier((checkin.due_on - today).days, thresholds)
        reminder_key = f"checkin:{checkin.pk}:reminder:{tier}"
        if tier is not None and checkin.status != Status.OVERDUE and reminder_key not in sent:
            messages.append(
                NotificationSpec(
                    recipient=checkin.officer.user,
                    key=reminder_key,
                    subject=rules.REMINDER_SUBJECT,
                    body=rules.REMINDER_BODY.format(date=rules.friendly_date(checkin.due_on)),
                    link=_link(f"/checkins/{checkin.pk}"),
                    checkin=checkin,
                )
            )
        if checkin.status == Status.OVERDUE:
            overdue.append(checkin)

    unalerted = [c for c in overdue if c.pk not in alerts]
    results = alerts_raise(
        specs=[
            AlertSpec(
                officer_id=checkin.officer_id,
                kind=AlertKind.CHECKIN_OVERDUE,
                severity=Severity.WARNING,
                dedupe_key=f"checkin_overdue:{checkin.pk}",
                detail={
                    "checkin": checkin.pk,
                    "kind": checkin.kind,
                    "due_on": checkin.due_on.isoformat(),
                },
                clinical=checkin.kind == Kind.SELF_REFERRAL,
                checkin=checkin,
            )
            for checkin in unalerted
        ]
    )
    raised = sum(created for _, created in results)
    alerts.update((c.pk, alert) for c, (alert, _) in zip(unalerted, results, strict=True))

    for checkin in overdue:
        overdue_key = f"checkin:{checkin.pk}:overdue"
        if overdue_key not in sent:
            messages.append(
                NotificationSpec(
                    recipient=checkin.officer.user,
                    key=overdue_key,
                    subject=rules.OVERDUE_SUBJECT,
                    body=rules.OVERDUE_BODY.format(date=rules.friendly_date(checkin.due_on)),
                    link=_link(f"/checkins/{checkin.pk}"),
                    checkin=checkin,
                )
            )
    late = [
        (checkin, alerts[checkin.pk], days)
        for checkin in overdue
        if alerts[checkin.pk].escalated_at is None
        and (days := checkin_rules.days_overdue(checkin.due_on, today))
        >= settings.CHECKIN_ESCALATE_AFTER_DAYS
    ]
    late = _reopened_for_oh(late)
    escalated = _alerts_escalate([alert.pk for _, alert, _ in late], at=at)
    if escalated:
        _tell_out_of_hours_contact(at, "raised")
    leads = oh_leads() if escalated else []
    messages.extend(
        NotificationSpec(
            recipient=lead,
            key=f"checkin:{checkin.pk}:escalated",
            subject=rules.ESCALATED_SUBJECT,
            body=rules.ESCALATED_BODY.format(days=days),
            link=_link(f"/alerts/{alert.pk}"),
            alert=alert,
        )
        for checkin, alert, days in late
        if alert.pk in escalated
        for lead in leads
    )
    notified = notify_many(specs=messages)

    finished = Alert.objects.filter(
        kind=AlertKind.CHECKIN_OVERDUE,
        status__in=(AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED),
    ).exclude(checkin__status__in=OPEN_STATUSES)
    for alert in finished.select_related("checkin"):
        note = f"Check-in {alert.checkin.status if alert.checkin else 'closed'}."
        alert_resolve(actor=None, alert=alert, note=note)
    return SweepReport(raised=raised, notified=notified)


def _reopened_for_oh(
    late: list[tuple[CheckIn, Alert, int]],
) -> list[tuple[CheckIn, Alert, int]]:
    """A check-in still overdue at the escalation point whose overdue alert was resolved
    (by a supervisor, say) reaches OH all the same: as a new overdue alert, which is then
    escalated. The resolved one stays as it was, with its note."""
    resolved = [(c, a, d) for c, a, d in late if a.status == AlertStatus.RESOLVED]
    if not resolved:
        return late
    results = alerts_raise(
        specs=[
            AlertSpec(
                officer_id=checkin.officer_id,
                kind=AlertKind.CHECKIN_OVERDUE,
                severity=Severity.HIGH,
                dedupe_key=f"checkin_overdue:{checkin.pk}:escalated",
                detail={**alert.detail, "after": alert.pk},
                clinical=alert.clinical,
                checkin=checkin,
            )
            for checkin, alert, _ in resolved
        ]
    )
    fresh = {c.pk: alert for (c, _, _), (alert, _) in zip(resolved, results, strict=True)}
    return [
        (checkin, fresh[checkin.pk] if alert.status == AlertStatus.RESOLVED else alert, days)
        for checkin, alert, days in late
    ]


def _alerts_escalate(alert_ids: Sequence[int], *, at: datetime) -> set[int]:
    """Mark alerts escalated to occupational health (severity high, urgent: to be
    acknowledged by the deadline) unless they are already; returns those marked here. One
    statement: a concurrent run escalates each alert once. An alert a supervisor acknowledged
    is open again, for OH to acknowledge (the audit trail keeps the supervisor's)."""
    if not alert_ids:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE alerts_alert SET escalated_at = %(at)s, severity = %(high)s, "
            "ack_due_at = %(due)s, status = %(open)s, "
            "acknowledged_at = NULL, acknowledged_by_id = NULL "
            "WHERE id = ANY(%(ids)s) AND escalated_at IS NULL AND status <> %(resolved)s "
            "RETURNING id",
            {
                "at": at,
                "high": Severity.HIGH.value,
                "due": ack_deadline(at),
                "resolved": AlertStatus.RESOLVED.value,
                "open": AlertStatus.OPEN.value,
                "ids": list(alert_ids),
            },
        )
        return {pk for (pk,) in cursor.fetchall()}


# --- Rotation -------------------------------------------------------------------------------


def rotation_sweep(*, at: datetime) -> SweepReport:
    """Ask for a rotation review at the review point of time in post, and escalate at the
    tenure point; a decision to stay sets the date of the next review."""
    today = at.astimezone(clock.local_zone()).date()
    policies = {p.unit_kind: p for p in RotationPolicy.objects.all()}
    if not policies:
        return SweepReport()
    latest: dict[int, RotationReview] = {}
    for row in RotationReview.objects.order_by("posting_id", "-decided_at", "-id"):
        latest.setdefault(row.posting_id, row)
    postings = list(Posting.objects.filter(current_posting_q(today)).select_related("unit"))
    existing = set(
        Alert.objects.filter(kind=AlertKind.ROTATION_DUE, posting__in=postings).values_list(
            "dedupe_key", flat=True
        )
    )
    specs = []
    for posting in postings:
        policy = policies.get(posting.unit.kind)
        if policy is None:
            continue
        review = latest.get(posting.pk)
        if review is not None and review.decision == "rotate":
            continue
        if review is not None and review.next_review_on and review.next_review_on > today:
            continue
        months = checkin_rules.months_between(posting.started_on, today)
        round_key = (
            review.next_review_on.isoformat() if review and review.next_review_on else "first"
        )
        if months >= policy.tenure_months:
            level, severity = "tenure", Severity.HIGH
        elif months >= policy.review_months or review is not None:
            level, severity = "review", Severity.WARNING
        else:
            continue
        key = f"rotation:{posting.pk}:{round_key}:{level}"
        if key in existing:
            continue
        specs.append(
            AlertSpec(
                officer_id=posting.officer_id,
                kind=AlertKind.ROTATION_DUE,
                severity=severity,
                dedupe_key=key,
                detail={"months_in_post": months, "posting": posting.pk, "level": level},
                posting=posting,
            )
        )
    raised = sum(created for _, created in alerts_raise(specs=specs))
    return SweepReport(raised=raised)


def rotation_alerts_resolve(*, actor: User, posting: Posting, note: str) -> int:
    """A recorded decision answers the posting's open rotation alerts."""
    resolved = 0
    for alert in Alert.objects.filter(
        posting=posting,
        kind=AlertKind.ROTATION_DUE,
        status__in=(AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED),
    ):
        alert_resolve(actor=actor, alert=alert, note=note)
        resolved += 1
    return resolved


# --- Webhooks -------------------------------------------------------------------------------


def webhook_create(*, actor: User, unit: Unit, url: str) -> UnitWebhook:
    with transaction.atomic():
        if UnitWebhook.objects.filter(unit=unit).exists():
            raise DomainError("This unit has a webhook already.", field="unit", code="unique")
        webhook = UnitWebhook.objects.create(
            unit=unit, url=url, secret=secrets.token_hex(32), created_at=clock.now()
        )
        audit_record(actor=actor, action="webhook.created", target_type="unit", target_id=unit.pk)
    return webhook


def webhook_delivery_sweep(*, at: datetime, timeout: float = 5.0) -> SweepReport:
    """Send due webhook deliveries; failures back off (1, 2, 4 ... minutes) and are recorded,
    and a delivery is given up after the configured number of attempts."""
    sent = 0
    due = WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=at)
    for delivery in due.select_related("webhook").order_by("next_attempt_at")[:500]:
        body = json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode()
        stamp = str(int(at.timestamp()))
        request = urllib.request.Request(  # noqa: S310 - an admin-configured https/http URL
            delivery.webhook.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "welfare-service",
                "X-Welfare-Timestamp": stamp,
                "X-Welfare-Signature": "sha256="
                + rules.signature(delivery.webhook.secret, body, stamp),
                "X-Welfare-Delivery": str(delivery.pk),
            },
        )
        delivery.attempts += 1
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                ok = 200 <= response.status < 300
                error = "" if ok else f"HTTP {response.status}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            ok, error = False, type(exc).__name__ + ": " + str(exc)[:200]
        if ok:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.delivered_at = at
            delivery.last_error = ""
            sent += 1
        else:
            delivery.last_error = error[:300]
            if delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
                delivery.status = DeliveryStatus.FAILED
            else:
                delivery.next_attempt_at = at + rules.retry_after(delivery.attempts)
        delivery.save(
            update_fields=["status", "attempts", "next_attempt_at", "last_error", "delivered_at"]
        )
    return SweepReport(notified=sent)


def webhook_update(*, actor: User, webhook: UnitWebhook, changes: Mapping[str, Any]) -> UnitWebhook:
    changed = [
        name
        for name in ("url", "active")
        if name in changes and changes[name] != getattr(webhook, name)
    ]
    if changed:
        with transaction.atomic():
            for name in changed:
                setattr(webhook, name, changes[name])
            webhook.save(update_fields=changed)
            audit_record(
                actor=actor,
                action="webhook.updated",
                target_type="unit",
                target_id=webhook.unit_id,
                detail={"changed": changed},
            )
    return webhook
