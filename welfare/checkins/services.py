"""Writes for check-ins: the schedule sweep, status transitions, self-referral, booking,
completion and cancellation. Notifications and alerts about check-ins are raised by the
alerts app, which reads these."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from welfare.accounts.models import User
from welfare.audit.services import audit_record
from welfare.checkins import rules
from welfare.checkins.models import (
    OPEN_STATUSES,
    CalendarFeed,
    CheckIn,
    CheckinPolicy,
    Incident,
    IncidentCategory,
    Kind,
    Status,
)
from welfare.core import clock
from welfare.core.db import create_many_once, next_id
from welfare.core.errors import Conflict, DomainError, Forbidden
from welfare.core.roles import Role
from welfare.core.sealed import Resealed, reseal_table
from welfare.exposure.services import restriction_create
from welfare.people.models import Officer, Posting
from welfare.people.rules import PostingFact
from welfare.people.selectors import officers_visible_to, posting_continuity

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
            p.pre_posting,
            p.periodic_months,
            p.exit_checkin,
            p.exit_follow_up_months,
            p.contact_every_months,
        )
        for p in CheckinPolicy.objects.all()
    }
    return stored or dict(DEFAULT_POLICIES)


def schedule_settings() -> rules.ScheduleSettings:
    return rules.ScheduleSettings(continuity=posting_continuity())


POLICY_FIELDS = (
    "pre_posting",
    "periodic_months",
    "exit_checkin",
    "exit_follow_up_months",
    "contact_every_months",
)


def checkin_policy_update(
    *, actor: User, policy: CheckinPolicy, changes: Mapping[str, Any]
) -> CheckinPolicy:
    """Change a kind of unit's check-in schedule (administrators), validated as a whole
    and audited with the values before and after. The sweep applies it from its next run."""
    with transaction.atomic():
        policy = CheckinPolicy.objects.select_for_update().get(pk=policy.pk)
        before = {field: getattr(policy, field) for field in POLICY_FIELDS}
        after = {**before, **{k: v for k, v in changes.items() if k in POLICY_FIELDS}}
        problems = rules.checkin_policy_problems(
            exit_checkin=after["exit_checkin"],
            periodic_months=after["periodic_months"],
            exit_follow_up_months=after["exit_follow_up_months"],
            contact_every_months=after["contact_every_months"],
        )
        if problems:
            raise DomainError(fields=problems)
        changed = sorted(field for field in POLICY_FIELDS if after[field] != before[field])
        if not changed:
            return policy
        for field in changed:
            setattr(policy, field, after[field])
        policy.save(update_fields=changed)
        audit_record(
            actor=actor,
            action="checkin_policy.updated",
            target_type="checkin_policy",
            target_id=policy.pk,
            detail={
                "unit_kind": policy.unit_kind,
                "changed": changed,
                **{field: after[field] for field in changed},
                **{f"{field}_was": before[field] for field in changed},
            },
        )
    return policy


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
    """Create every check-in the schedule calls for as of `at` (pre-posting, periodic,
    regular contact, exit), and withdraw open baselines and exits that postings recorded
    since have made unneeded (the officer did not leave the work after all).

    Officers with postings are taken JOB_BATCH_SIZE at a time in id order; for each batch,
    its postings, the completed and cancelled check-ins that the series count from (as of
    `at`) and the open ones are read a query each, so memory stays flat and the queries
    grow with the number of batches only. Inserts are ON CONFLICT DO NOTHING: the unique
    key decides, so a second run, or an earlier instant after a later one, creates nothing.
    """
    policies = kind_policies()
    schedule = schedule_settings()
    size = settings.JOB_BATCH_SIZE
    created = changed = 0
    after = 0
    while True:
        officer_ids = list(
            Posting.objects.filter(officer_id__gt=after)
            .order_by("officer_id")
            .values_list("officer_id", flat=True)
            .distinct()[:size]
        )
        if officer_ids:
            made, withdrawn = _schedule_batch(officer_ids, policies, schedule, at=at)
            created, changed = created + made, changed + withdrawn
        if len(officer_ids) < size:
            break
        after = officer_ids[-1]
    return SweepResult(created=created, changed=changed)


def _schedule_batch(
    officer_ids: Sequence[int],
    policies: Mapping[str, rules.KindPolicy],
    schedule: rules.ScheduleSettings,
    *,
    at: datetime,
) -> tuple[int, int]:
    """The schedule for one batch of officers: (check-ins created, withdrawn)."""
    today = at.astimezone(clock.local_zone()).date()
    zone = clock.local_zone()
    ids = list(officer_ids)
    postings: dict[int, list[PostingFact]] = defaultdict(list)
    for posting in (
        Posting.objects.filter(officer_id__any=ids).select_related("unit").order_by("started_on")
    ):
        postings[posting.officer_id].append(
            PostingFact(posting.pk, posting.unit.kind, posting.started_on, posting.ended_on)
        )
    completed: dict[int, list[rules.CompletedFact]] = defaultdict(list)
    cancelled: dict[int, list[rules.CancelledFact]] = defaultdict(list)
    series = [Kind.PERIODIC, Kind.CONTACT]
    for pk, officer_id, key, kind, due_on, done, dropped in (
        CheckIn.objects.filter(officer_id__any=ids)
        .filter(
            Q(kind__in=[*rules.RESETS_PERIODIC, Kind.CONTACT], completed_at__lte=at)
            | Q(kind__in=series, cancelled_at__lte=at)
        )
        .values_list("pk", "officer_id", "key", "kind", "due_on", "completed_at", "cancelled_at")
    ):
        if done is not None:
            day = done.astimezone(zone).date()
            completed[officer_id].append(rules.CompletedFact(pk, key, kind, day))
        elif dropped is not None:
            cancelled[officer_id].append(rules.CancelledFact(pk, kind, due_on))
    open_kinds: dict[int, set[str]] = defaultdict(set)
    open_once: dict[int, dict[str, int]] = defaultdict(dict)  # baselines and exits, by key
    for pk, officer_id, kind, key in CheckIn.objects.filter(
        officer_id__any=ids,
        kind__in=[*series, Kind.PRE_POSTING, Kind.EXIT],
        status__in=OPEN_STATUSES,
    ).values_list("pk", "officer_id", "kind", "key"):
        open_kinds[officer_id].add(kind)
        if kind in (Kind.PRE_POSTING, Kind.EXIT):
            open_once[officer_id][key] = pk
    new: list[CheckIn] = []
    for officer_id, facts in postings.items():
        for planned in rules.planned_checkins(
            officer_id=officer_id,
            postings=facts,
            completed=completed.get(officer_id, []),
            cancelled=cancelled.get(officer_id, []),
            has_open_periodic=Kind.PERIODIC in open_kinds[officer_id],
            has_open_contact=Kind.CONTACT in open_kinds[officer_id],
            policies=policies,
            today=today,
            settings=schedule,
        ):
            new.append(_new_checkin(officer_id, planned, at))
    created = len(create_many_once(new, key=("key",)))
    unneeded = [
        keys[key]
        for officer_id, keys in open_once.items()
        for key in rules.withdrawn_keys(postings.get(officer_id, []), schedule) & keys.keys()
    ]
    return created, _withdraw(unneeded, at=at)


WITHDRAWN_REASON = "Not needed: the officer's work went on in their next posting."


def _withdraw(checkin_ids: Sequence[int], *, at: datetime) -> int:
    """Cancel open baselines and exits that are not needed after all, in one statement, each
    audited (the system's act, with the reason on the check-in)."""
    if not checkin_ids:
        return 0
    with transaction.atomic():
        withdrawn = list(
            CheckIn.objects.filter(pk__in=checkin_ids, status__in=OPEN_STATUSES)
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)
        )
        CheckIn.objects.filter(pk__in=withdrawn).update(
            status=Status.CANCELLED, cancelled_at=at, status_changed_at=at
        )
        for pk in withdrawn:
            reason = CheckIn(pk=pk)
            reason.cancel_reason = WITHDRAWN_REASON  # sealed, bound to the row
            CheckIn.objects.filter(pk=pk).update(
                cancel_reason_encrypted=reason.cancel_reason_encrypted
            )
            audit_record(
                actor=None,
                action="checkin.withdrawn",
                target_type="checkin",
                target_id=pk,
                detail={"reason": "work_continued"},
                at=at,
            )
    return len(withdrawn)


def checkin_status_sweep(*, at: datetime) -> SweepResult:
    """Move open check-ins to the status the clock says (overdue, missed, ...).

    Reads only the open check-ins whose status may have moved (`_may_change`: due today or
    before and not yet overdue, a booking passed, a booking made or taken back), in id order
    JOB_BATCH_SIZE at a time, each batch locked SKIP LOCKED (one being booked now is left for
    the next run) and updated in a statement per new status: the cost grows with the
    check-ins that change, not with all those open, and memory stays flat."""
    today = at.astimezone(clock.local_zone()).date()
    may_change = _may_change(today, at - timedelta(hours=settings.CHECKIN_MISSED_AFTER_HOURS))
    fields = ("pk", "status", "due_on", "booked_for", "completed_at", "cancelled_at")
    size = settings.JOB_BATCH_SIZE
    changed, after = 0, 0
    with transaction.atomic():
        while True:
            batch = list(
                CheckIn.objects.select_for_update(skip_locked=True)
                .filter(may_change, status__in=OPEN_STATUSES, pk__gt=after)
                .order_by("pk")
                .values_list(*fields)[:size]
            )
            moved: dict[str, list[int]] = defaultdict(list)
            for pk, status, due_on, booked_for, completed_at, cancelled_at in batch:
                checkin = CheckIn(
                    pk=pk,
                    due_on=due_on,
                    booked_for=booked_for,
                    completed_at=completed_at,
                    cancelled_at=cancelled_at,
                )
                new = _status_for(checkin, at)
                if new != status:
                    moved[new].append(pk)
            for status, ids in sorted(moved.items()):
                CheckIn.objects.filter(pk__any=ids).update(status=status, status_changed_at=at)
                changed += len(ids)
            if len(batch) < size:
                break
            after = batch[-1][0]
    return SweepResult(created=0, changed=changed)


def _may_change(today: date, booking_missed_before: datetime) -> Q:
    """Open check-ins whose status the clock may have moved (rules.checkin_status): a superset,
    the rule itself decides. Each clause is one way a status can change."""
    return (
        (Q(due_on__lte=today) & ~Q(status=Status.OVERDUE))  # overdue from the due date
        | Q(status=Status.OVERDUE, due_on__gte=today)  # booked later today, or moved on
        | (Q(booked_for__lt=booking_missed_before) & ~Q(status__in=[Status.MISSED, Status.OVERDUE]))
        | (
            Q(status=Status.MISSED)  # booked again, or the booking taken back
            & (Q(booked_for__isnull=True) | Q(booked_for__gte=booking_missed_before))
        )
        | Q(status=Status.BOOKED, booked_for__isnull=True)
        | Q(status=Status.DUE, booked_for__isnull=False)
        | Q(completed_at__isnull=False)
        | Q(cancelled_at__isnull=False)
    )


@dataclass(frozen=True)
class TriggerRequest:
    """One triggered check-in asked for; `key` names what triggers it (an alert, a screening)."""

    officer_id: int
    due_on: date
    key: str
    # Occupational health's alone (a screening triggered it): supervisors never see it.
    confidential: bool = False


def checkins_trigger(
    *, requests: Sequence[TriggerRequest], at: datetime | None = None
) -> list[CheckIn | None]:
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
    now = at or clock.now()
    new = [
        _new_checkin(r.officer_id, rules.Planned(r.key, Kind.TRIGGERED, r.due_on), now)
        for r in requests
    ]
    for checkin, request in zip(new, requests, strict=True):
        checkin.confidential = request.confidential
    with transaction.atomic(savepoint=False):
        inserted = create_many_once(new, key=("officer_id", "key"))
    created = {(checkin.officer_id, checkin.key): checkin for checkin in inserted}
    return [created.pop((r.officer_id, r.key), None) for r in requests]


def checkin_trigger(
    *,
    officer_id: int,
    due_on: date,
    key: str,
    confidential: bool = False,
    at: datetime | None = None,
) -> CheckIn | None:
    """A triggered check-in, unless that trigger made one already or one is open: the unique
    key and the one-open-triggered index decide. Returns the new check-in, or None."""
    [checkin] = checkins_trigger(
        requests=[TriggerRequest(officer_id, due_on, key, confidential)], at=at
    )
    return checkin


def _lock_open(checkin: CheckIn) -> CheckIn:
    locked = CheckIn.objects.select_for_update().get(pk=checkin.pk)
    if locked.status not in OPEN_STATUSES:
        raise Conflict(NOT_OPEN.format(status=locked.status), code="not_open")
    return locked


# A recorded check-in is changed only in these (PostgreSQL refuses the rest: db_roles).
STATUS_FIELDS = ["status", "status_changed_at"]
CANCEL_FIELDS = ["cancelled_at", "cancelled_by", "cancel_reason_encrypted", *STATUS_FIELDS]


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
        checkin.pk = next_id(CheckIn)  # the message is sealed bound to the row's id
        checkin.referral_note = note
        checkin.confidential = True  # OH's alone: the supervisor never learns of it
        checkin.save(force_insert=True)
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
        checkin.save(update_fields=["booked_for", "booked_by", *STATUS_FIELDS])
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
        checkin.save(
            update_fields=[
                "outcome",
                "adjustments_encrypted",  # sealed by the assignment above
                "completed_at",
                "completed_by",
                *STATUS_FIELDS,
            ]
        )
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


NOT_RELEASABLE = (
    "Only a check-in that is occupational health's alone can be released, never a self-referral."
)


def checkin_release(*, actor: User, checkin: CheckIn) -> CheckIn:
    """Occupational health lets the officer's supervisors see a check-in that is theirs alone
    (one a screening triggered), as a welfare appointment without its kind: so the officer
    can be released from duty for it. A self-referral is never released. Audited once."""
    with transaction.atomic():
        checkin = CheckIn.objects.select_for_update().get(pk=checkin.pk)
        if not checkin.confidential or checkin.kind == Kind.SELF_REFERRAL:
            raise Conflict(NOT_RELEASABLE, code="not_releasable")
        if checkin.released_at is None:
            checkin.released_at = clock.now()
            checkin.save(update_fields=["released_at"])
            audit_record(
                actor=actor, action="checkin.released", target_type="checkin", target_id=checkin.pk
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
        checkin.save(update_fields=CANCEL_FIELDS)
        audit_record(
            actor=actor, action="checkin.cancelled", target_type="checkin", target_id=checkin.pk
        )
    return checkin


# --- Incidents: TRiM-style follow-ups ------------------------------------------------------

MAY_NOT_RECORD = (
    "You may record an incident for yourself, or for an officer in a unit you supervise."
)
MAY_NOT_WITHDRAW = "Only the person who recorded it, or occupational health, may withdraw it."
WITHDRAWN_ALREADY = "This incident was withdrawn already."
FOLLOW_UP_CANCEL_REASON = "Incident withdrawn: {reason}"
RECORDING_IN_PROGRESS = "This incident is being recorded already: try again."


@dataclass(frozen=True)
class IncidentRecorded:
    """An incident and its follow-ups; `created` is False for a retry (the stored one)."""

    incident: Incident
    follow_ups: list[CheckIn]
    created: bool


# Apps above this one register what must happen when an incident is recorded (the alerts
# app tells occupational health, and the officer when someone else recorded it), in the
# same transaction as the incident.
IncidentListener = Callable[[IncidentRecorded], None]
incident_listeners: list[IncidentListener] = []


def _may_record_for(actor: User, officer: Officer, today: date) -> bool:
    """The officer for themself, a supervisor for an officer now in a unit they supervise,
    occupational health for anyone."""
    if actor.role not in (Role.OFFICER, Role.SUPERVISOR, Role.OH):
        return False
    return officers_visible_to(actor, today=today).filter(pk=officer.pk).exists()


def _stored(officer: Officer, client_ref: uuid.UUID) -> IncidentRecorded | None:
    incident = Incident.objects.filter(officer=officer, client_ref=client_ref).first()
    if incident is None:
        return None
    follow_ups = list(incident.follow_ups.order_by("due_on", "id"))
    return IncidentRecorded(incident, follow_ups, created=False)


def incident_record(
    *,
    actor: User,
    officer: Officer,
    occurred_on: date,
    category: str,
    client_ref: uuid.UUID | None = None,
    at: datetime | None = None,
) -> IncidentRecorded:
    """Record that a piece of work was especially distressing (a date and a category, nothing
    more) and schedule its follow-up contacts, as check-ins that the supervisor sees are due
    (never the category). The same client_ref again returns the stored incident and creates
    nothing; the unique (officer, client_ref) decides under concurrency."""
    now = at or clock.now()
    today = now.astimezone(clock.local_zone()).date()
    if not _may_record_for(actor, officer, today):
        raise Forbidden(MAY_NOT_RECORD, code="not_allowed")
    if client_ref is not None and (stored := _stored(officer, client_ref)) is not None:
        return stored
    problems = rules.incident_problems(
        occurred_on=occurred_on,
        category=category,
        categories=IncidentCategory.values,
        today=today,
        max_age_days=settings.INCIDENT_MAX_AGE_DAYS,
    )
    if problems:
        raise DomainError(fields=problems)
    with transaction.atomic():
        new = Incident(
            officer=officer,
            occurred_on=occurred_on,
            category=category,
            reported_by=actor,
            created_at=now,
            client_ref=client_ref,
        )
        if not create_many_once([new], key=("officer_id", "client_ref")):
            # A retry that a concurrent request stored first.
            stored = _stored(officer, client_ref) if client_ref is not None else None
            if stored is None:  # pragma: no cover - only a committed client_ref conflicts
                raise Conflict(RECORDING_IN_PROGRESS, code="in_progress")
            return stored
        follow_ups = []
        for planned in rules.incident_follow_ups(
            incident_id=new.pk,
            occurred_on=occurred_on,
            recorded_on=today,
            days=settings.INCIDENT_FOLLOW_UP_DAYS,
        ):
            checkin = _new_checkin(officer.pk, planned, now)
            checkin.incident = new
            follow_ups.append(checkin)
        CheckIn.objects.bulk_create(follow_ups)
        # No category here: the audit trail is read by administrators too.
        audit_record(
            actor=actor,
            action="incident.recorded",
            target_type="incident",
            target_id=new.pk,
            detail={"officer": officer.pk, "follow_ups": [c.pk for c in follow_ups]},
            at=now,
        )
        recorded = IncidentRecorded(new, follow_ups, created=True)
        for listener in incident_listeners:
            listener(recorded)
    return recorded


def incident_withdraw(
    *, actor: User, incident: Incident, reason: str, at: datetime | None = None
) -> Incident:
    """An incident recorded in error (the wrong officer, say) is withdrawn, never deleted:
    it stays on record with the reason, and its open follow-ups are cancelled."""
    if not reason.strip():
        raise DomainError(REASON_REQUIRED, field="reason")
    if actor.role != Role.OH and incident.reported_by_id != actor.pk:
        raise Forbidden(MAY_NOT_WITHDRAW, code="not_allowed")
    now = at or clock.now()
    with transaction.atomic():
        locked = Incident.objects.select_for_update().get(pk=incident.pk)
        if locked.withdrawn_at is not None:
            raise Conflict(WITHDRAWN_ALREADY, code="withdrawn")
        locked.withdrawn_at = now
        locked.withdrawn_by = actor
        locked.withdraw_reason = reason.strip()
        locked.save(update_fields=["withdrawn_at", "withdrawn_by", "withdraw_reason"])
        cancelled = []
        open_follow_ups = CheckIn.objects.select_for_update().filter(
            incident=locked, status__in=OPEN_STATUSES
        )
        for checkin in open_follow_ups.order_by("id"):
            checkin.cancelled_at = now
            checkin.cancelled_by = actor
            checkin.cancel_reason = FOLLOW_UP_CANCEL_REASON.format(reason=reason.strip())[:280]
            _refresh_status(checkin, now)
            checkin.save(update_fields=CANCEL_FIELDS)
            audit_record(
                actor=actor,
                action="checkin.cancelled",
                target_type="checkin",
                target_id=checkin.pk,
                at=now,
            )
            cancelled.append(checkin.pk)
        audit_record(
            actor=actor,
            action="incident.withdrawn",
            target_type="incident",
            target_id=locked.pk,
            detail={"officer": locked.officer_id, "cancelled": cancelled},
            at=now,
        )
    return locked


def calendar_key_issue(*, user: User) -> str:
    """A new secret key for the user's calendar feed (the old one stops working), audited;
    only its SHA-256 is stored, so the key is shown once."""
    key = secrets.token_urlsafe(24)
    with transaction.atomic():
        CalendarFeed.objects.update_or_create(
            user=user,
            defaults={
                "key_hash": hashlib.sha256(key.encode()).hexdigest(),
                "created_at": clock.now(),
            },
        )
        audit_record(
            actor=user, action="calendar.key_issued", target_type="user", target_id=user.pk
        )
    return key


def checkins_reseal(*, batch: int = 500) -> dict[str, Resealed]:
    """Key rotation: every sealed check-in text under the current key (owner only: the
    application may not rewrite them)."""
    return {
        CheckIn._meta.db_table: reseal_table(
            CheckIn,
            ("referral_note_encrypted", "adjustments_encrypted", "cancel_reason_encrypted"),
            batch=batch,
        ),
    }
