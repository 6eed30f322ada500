"""An alert's life: raised once per key (and told to its recipients), acknowledged, resolved
with a note; the case owner who acts on OH's alerts."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import transaction

from welfare.accounts.models import User
from welfare.alerts import rules
from welfare.alerts.models import (
    Alert,
    AlertKind,
    AlertStatus,
    CaseOwner,
    Severity,
)
from welfare.alerts.services.notifications import (
    ack_deadline,
    alert_notifications,
    case_owners,
    notify,
    notify_many,
    site_link,
    tell_out_of_hours_contact,
)
from welfare.alerts.services.webhooks import queue_webhooks
from welfare.audit.services import audit_record
from welfare.checkins.models import CheckIn
from welfare.core import clock
from welfare.core.db import create_many_once
from welfare.core.errors import Conflict, DomainError, Forbidden
from welfare.core.roles import Role
from welfare.people.models import Officer, Posting, RotationReview
from welfare.people.selectors import spell_postings
from welfare.people.services import rotation_review_record

log = logging.getLogger(__name__)


ALREADY_RESOLVED = "This alert is resolved already."
NOTE_REQUIRED = "Give a note saying what was done."
NOT_A_CLINICIAN = "Choose an active occupational health clinician."
NOT_ON_YOURSELF = "This is about you: another supervisor or clinician acts on it."
NOT_YOUR_OWN_CLINICIAN = "Nobody is their own clinician: choose another."
OH_ACTS_NOW = "This has been escalated to occupational health, who act on it now."

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
    on: date | None = None  # the day the alert is about


# Alerts are raised this many at a time: a first catch-up at national scale raised 12,000
# rotation alerts at once, each told to its supervisors and every clinician, and held a
# million notifications in memory (2 GB). A batch keeps memory flat; statements grow by a
# handful per batch.
ALERTS_PER_BATCH = 200


def alerts_raise(
    *, specs: Sequence[AlertSpec], at: datetime | None = None
) -> list[tuple[Alert, bool]]:
    """Raise alerts once per key and tell the recipients of the new ones (after commit), in
    a few statements per batch of ALERTS_PER_BATCH: the alerts inserted in one, their
    recipients read in two, the notifications and the webhook deliveries inserted in one
    each. Returns, for each spec, its alert (the existing one when not new) and whether it
    is new; of specs repeating a key, only the first can be new."""
    if not specs:
        return []
    now = at or clock.now()
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
                        first_on=spec.on,
                        last_on=spec.on,
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
            notify_many(specs=alert_notifications(created, at=now), at=now)
            queue_webhooks(created, at=now)
            if any(alert.urgent for alert in created):
                tell_out_of_hours_contact(now, "raised")
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
    at: datetime | None = None,
) -> tuple[Alert, bool]:
    """Raise an alert once per key; tell its recipients (after commit) when it is new."""
    spec = AlertSpec(officer_id, kind, severity, dedupe_key, detail, clinical, checkin, posting)
    [(alert, created)] = alerts_raise(specs=[spec], at=at)
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


def _refuse_own(actor: User | None, alert: Alert) -> None:
    """Nobody acts in their role on an alert about their own officer record."""
    if (
        actor is not None
        and actor.role in (Role.SUPERVISOR, Role.OH)
        and Officer.objects.filter(pk=alert.officer_id, user_id=actor.pk).exists()
    ):
        raise Forbidden(NOT_ON_YOURSELF)


def alert_acknowledge(*, actor: User, alert: Alert) -> Alert:
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        if alert.status == AlertStatus.RESOLVED:
            raise Conflict(ALREADY_RESOLVED, code="resolved")
        _refuse_unless_oh(actor, alert)
        _refuse_own(actor, alert)
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


@dataclass(frozen=True)
class BulkAcknowledged:
    acknowledged: list[int]
    skipped: dict[int, str]  # alert id -> why (resolved already; occupational health acts)


def alerts_acknowledge(*, actor: User, alerts: Sequence[Alert]) -> BulkAcknowledged:
    """Acknowledge several alerts in one transaction, each audited as one by one. Those that
    cannot be (resolved already; urgent work that is occupational health's) are skipped with
    the reason; the rest are acknowledged. Acknowledged ones stay as they were."""
    acknowledged: list[int] = []
    skipped: dict[int, str] = {}
    with transaction.atomic():
        for alert in sorted(alerts, key=lambda a: a.pk):  # a stable lock order
            try:
                with transaction.atomic():
                    alert_acknowledge(actor=actor, alert=alert)
            except Conflict as refused:
                skipped[alert.pk] = refused.message
            else:
                acknowledged.append(alert.pk)
    return BulkAcknowledged(acknowledged, skipped)


def alert_resolve(
    *, actor: User | None, alert: Alert, note: str, at: datetime | None = None
) -> Alert:
    """Resolve an alert with a note (by a person, or by a sweep as of its `at`). Audited."""
    if not note.strip():
        raise DomainError(NOTE_REQUIRED, field="note")
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        if alert.status == AlertStatus.RESOLVED:
            raise Conflict(ALREADY_RESOLVED, code="resolved")
        _refuse_unless_oh(actor, alert)
        _refuse_own(actor, alert)
        now = at or clock.now()
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
            at=now,
        )
    return alert


def case_assign(*, actor: User, officer: Officer, clinician: User | None) -> CaseOwner:
    """Give an officer's occupational health work to a clinician (None: to nobody, so every
    clinician sees it as unassigned). The new owner is told, unless they assigned it to
    themselves. Audited."""
    if clinician is not None and (clinician.role != Role.OH or not clinician.is_active):
        raise DomainError(NOT_A_CLINICIAN, field="clinician")
    if clinician is not None and officer.user_id == clinician.pk:
        raise DomainError(NOT_YOUR_OWN_CLINICIAN, field="clinician")
    if officer.user_id == actor.pk:
        raise Forbidden(NOT_ON_YOURSELF)
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
                link=site_link(f"/oh/cases/{officer.pk}"),
            )
    return owner


def rotation_alerts_resolve(*, actor: User, posting: Posting, note: str) -> int:
    """A recorded decision answers the open rotation alerts of the posting's spell in the
    work (raised on any posting of it, before a restructure say); one escalated to
    occupational health is theirs to resolve, so a supervisor's decision leaves it open."""
    resolved = 0
    for alert in Alert.objects.filter(
        posting__in=[p.pk for p in spell_postings(posting)],
        kind=AlertKind.ROTATION_DUE,
        status__in=(AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED),
    ):
        if alert.urgent and actor.role != Role.OH:
            continue
        alert_resolve(actor=actor, alert=alert, note=note)
        resolved += 1
    return resolved


def rotation_decision_record(
    *,
    actor: User,
    posting: Posting,
    decision: str,
    note: str = "",
    next_review_on: date | None = None,
    rotate_by: date | None = None,
) -> RotationReview:
    """A rotation review recorded and the open rotation alerts it answers resolved, in one
    transaction: the one use case behind the API and the supervisor's page."""
    with transaction.atomic():
        review = rotation_review_record(
            actor=actor,
            posting=posting,
            decision=decision,
            note=note,
            next_review_on=next_review_on,
            rotate_by=rotate_by,
        )
        rotation_alerts_resolve(
            actor=actor, posting=posting, note=f"Rotation review recorded: {review.decision}."
        )
    return review
