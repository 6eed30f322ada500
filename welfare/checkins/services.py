"""Writes for check-ins: the schedule sweep, status transitions, self-referral, booking,
completion and cancellation. Notifications and alerts about check-ins are raised by the
alerts app, which reads these."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from welfare.accounts.models import User
from welfare.audit.services import audit_record
from welfare.checkins import rules
from welfare.checkins.models import OPEN_STATUSES, CheckIn, CheckinPolicy, Kind
from welfare.core import clock
from welfare.core.db import create_many_once
from welfare.core.errors import Conflict, DomainError
from welfare.exposure.services import restriction_create
from welfare.people.models import Officer, Posting

NOT_OPEN = "This check-in is {status}: it cannot be changed."
BOOKING_IN_PAST = "An appointment cannot be booked in the past."
REASON_REQUIRED = "Give a reason."
SELF_REFERRAL_OPEN = "You have a self-referral open already; occupational health will contact you."
NO_OFFICER_RECORD = "Your account has no officer record."

# Apps above this one register what must happen when an officer refers themself (the
# alerts app tells occupational health), in the same transaction as the referral.
SelfReferralListener = Callable[[CheckIn], None]
self_referral_listeners: list[SelfReferralListener] = []

DEFAULT_POLICIES = {
    "abusive_images": rules.KindPolicy(True, 6, True, 6),
    "online_cse": rules.KindPolicy(True, 6, True, 6),
    "digital_forensics": rules.KindPolicy(True, 12, True, 6),
    "other": rules.KindPolicy(False, 12, False, None),
}


def kind_policies() -> dict[str, rules.KindPolicy]:
    stored = {
        p.unit_kind: rules.KindPolicy(
            p.pre_posting, p.periodic_months, p.exit_checkin, p.exit_follow_up_months
        )
        for p in CheckinPolicy.objects.all()
    }
    return stored or dict(DEFAULT_POLICIES)


def _status_for(checkin: CheckIn, now: datetime) -> str:
    return rules.checkin_status(
        due_on=checkin.due_on,
        booked_for=checkin.booked_for,
        completed=checkin.completed_at is not None,
        cancelled=checkin.cancelled_at is not None,
        today=now.astimezone(clock.local_zone()).date(),
        now=now,
        missed_after=timedelta(hours=settings.CHECKIN_MISSED_AFTER_HOURS),
    )


def _new_checkin(officer_id: int, planned: rules.Planned, now: datetime) -> CheckIn:
    checkin = CheckIn(
        officer_id=officer_id,
        kind=planned.kind,
        follow_up=planned.follow_up,
        key=planned.key,
        due_on=planned.due_on,
        created_at=now,
        status_changed_at=now,
    )
    checkin.status = _status_for(checkin, now)
    return checkin


@dataclass(frozen=True)
class SweepResult:
    created: int
    changed: int


def checkin_schedule_sweep(*, at: datetime) -> SweepResult:
    """Create every check-in the schedule calls for as of `at` (pre-posting, periodic, exit).

    Reads all postings and completions in three queries and inserts with ON CONFLICT DO
    NOTHING: the unique key decides, so a second run, or an earlier instant after a later
    one, creates nothing.
    """
    today = at.astimezone(clock.local_zone()).date()
    policies = kind_policies()
    postings: dict[int, list[rules.PostingFact]] = defaultdict(list)
    for posting in Posting.objects.select_related("unit").order_by("started_on"):
        postings[posting.officer_id].append(
            rules.PostingFact(posting.pk, posting.unit.kind, posting.started_on, posting.ended_on)
        )
    completed: dict[int, list[rules.CompletedFact]] = defaultdict(list)
    for officer_id, key, kind, done in CheckIn.objects.filter(
        completed_at__isnull=False
    ).values_list("officer_id", "key", "kind", "completed_at"):
        if done is not None:
            day = done.astimezone(clock.local_zone()).date()
            completed[officer_id].append(rules.CompletedFact(key, kind, day))
    open_periodic = set(
        CheckIn.objects.filter(kind=Kind.PERIODIC, status__in=OPEN_STATUSES).values_list(
            "officer_id", flat=True
        )
    )
    new: list[CheckIn] = []
    for officer_id, facts in postings.items():
        for planned in rules.planned_checkins(
            officer_id=officer_id,
            postings=facts,
            completed=completed.get(officer_id, []),
            has_open_periodic=officer_id in open_periodic,
            policies=policies,
            today=today,
        ):
            new.append(_new_checkin(officer_id, planned, at))
    created = _insert_new(new)
    return SweepResult(created=created, changed=0)


def _insert_new(checkins: list[CheckIn]) -> int:
    if not checkins:
        return 0
    keys = [c.key for c in checkins]
    before = set(CheckIn.objects.filter(key__in=keys).values_list("key", flat=True))
    CheckIn.objects.bulk_create(checkins, ignore_conflicts=True, batch_size=1000)
    after = set(CheckIn.objects.filter(key__in=keys).values_list("key", flat=True))
    return len(after - before)


def checkin_status_sweep(*, at: datetime) -> SweepResult:
    """Move open check-ins to the status the clock says (overdue, missed, ...)."""
    changed = 0
    with transaction.atomic():
        for checkin in CheckIn.objects.select_for_update(skip_locked=True).filter(
            status__in=OPEN_STATUSES
        ):
            status = _status_for(checkin, at)
            if status != checkin.status:
                checkin.status = status
                checkin.status_changed_at = at
                checkin.save(update_fields=["status", "status_changed_at"])
                changed += 1
    return SweepResult(created=0, changed=changed)


@dataclass(frozen=True)
class TriggerRequest:
    """One triggered check-in asked for; `key` names what triggers it (an alert, a screening)."""

    officer_id: int
    due_on: date
    key: str


def checkins_trigger(*, requests: Sequence[TriggerRequest]) -> list[CheckIn | None]:
    """Triggered check-ins, in one statement (per thousand) however many are asked for.

    Returns, for each request, its new check-in, or None when its key made one already or
    its officer has a triggered check-in open (an earlier request's included): the unique
    key and the one-open-triggered index decide, row by row in the given order (INSERT ..
    ON CONFLICT DO NOTHING), so the outcome is that of asking one by one, and under
    concurrency each check-in goes to one caller only. Callers that may run at the same
    time should ask in officer order, so that neither waits for a row the other holds.
    """
    if not requests:
        return []
    now = clock.now()
    new = [
        _new_checkin(r.officer_id, rules.Planned(r.key, Kind.TRIGGERED, r.due_on), now)
        for r in requests
    ]
    with transaction.atomic(savepoint=False):
        inserted = create_many_once(new, key=("officer_id", "key"))
    created = {(checkin.officer_id, checkin.key): checkin for checkin in inserted}
    return [created.pop((r.officer_id, r.key), None) for r in requests]


def checkin_trigger(*, officer_id: int, due_on: date, key: str) -> CheckIn | None:
    """A triggered check-in, unless that trigger made one already or one is open: the unique
    key and the one-open-triggered index decide. Returns the new check-in, or None."""
    [checkin] = checkins_trigger(requests=[TriggerRequest(officer_id, due_on, key)])
    return checkin


def _lock_open(checkin: CheckIn) -> CheckIn:
    locked = CheckIn.objects.select_for_update().get(pk=checkin.pk)
    if locked.status not in OPEN_STATUSES:
        raise Conflict(NOT_OPEN.format(status=locked.status), code="not_open")
    return locked


def _refresh_status(checkin: CheckIn, now: datetime) -> None:
    status = _status_for(checkin, now)
    if status != checkin.status:
        checkin.status = status
        checkin.status_changed_at = now


def self_refer(*, user: User, note: str = "") -> CheckIn:
    """An officer asks occupational health for a check-in; their supervisor never learns of it."""
    officer = Officer.objects.filter(user=user).first()
    if officer is None:
        raise DomainError(NO_OFFICER_RECORD, code="no_officer_record")
    now = clock.now()
    with transaction.atomic():
        if CheckIn.objects.filter(
            officer=officer, kind=Kind.SELF_REFERRAL, status__in=OPEN_STATUSES
        ).exists():
            raise Conflict(SELF_REFERRAL_OPEN, code="open_already")
        due = clock.today() + timedelta(days=settings.CHECKIN_SELF_REFERRAL_DAYS)
        checkin = _new_checkin(
            officer.pk,
            rules.Planned(f"self_referral:{officer.pk}:{now.isoformat()}", Kind.SELF_REFERRAL, due),
            now,
        )
        checkin.referral_note = note
        checkin.save()
        audit_record(
            actor=user, action="checkin.self_referred", target_type="checkin", target_id=checkin.pk
        )
        for listener in self_referral_listeners:
            listener(checkin)
    return checkin


def checkin_book(*, actor: User, checkin: CheckIn, booked_for: datetime) -> CheckIn:
    now = clock.now()
    if booked_for < now:
        raise DomainError(BOOKING_IN_PAST, field="booked_for")
    with transaction.atomic():
        checkin = _lock_open(checkin)
        checkin.booked_for = booked_for
        checkin.booked_by = actor
        _refresh_status(checkin, now)
        checkin.save()
        audit_record(
            actor=actor, action="checkin.booked", target_type="checkin", target_id=checkin.pk
        )
    return checkin


def checkin_complete(
    *,
    actor: User,
    checkin: CheckIn,
    outcome: str,
    adjustments: str = "",
    restrictions: Iterable[Mapping[str, Any]] = (),
) -> CheckIn:
    """Record the outcome (the fitness statement supervisors see), the recommended adjustments
    (OH only until a consented report) and any exposure restrictions (supervisors see them as
    limits, without the reason)."""
    restrictions = list(restrictions)
    now = clock.now()
    with transaction.atomic():
        checkin = _lock_open(checkin)
        checkin.outcome = outcome
        checkin.adjustments = adjustments
        checkin.completed_at = now
        checkin.completed_by = actor
        _refresh_status(checkin, now)
        checkin.save()
        for values in restrictions:
            restriction_create(actor=actor, officer=checkin.officer, **values)
        audit_record(
            actor=actor,
            action="checkin.completed",
            target_type="checkin",
            target_id=checkin.pk,
            detail={"officer": checkin.officer_id, "restrictions": len(restrictions)},
        )
    return checkin


def checkin_cancel(*, actor: User, checkin: CheckIn, reason: str) -> CheckIn:
    if not reason.strip():
        raise DomainError(REASON_REQUIRED, field="reason")
    now = clock.now()
    with transaction.atomic():
        checkin = _lock_open(checkin)
        checkin.cancelled_at = now
        checkin.cancelled_by = actor
        checkin.cancel_reason = reason.strip()
        _refresh_status(checkin, now)
        checkin.save()
        audit_record(
            actor=actor, action="checkin.cancelled", target_type="checkin", target_id=checkin.pk
        )
    return checkin
