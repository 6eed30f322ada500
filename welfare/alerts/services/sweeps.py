"""The sweeps that raise alerts: urgent work not acknowledged, exposure limits, check-in
reminders, overdue and escalation, rotation reviews.

Every sweep is idempotent: alerts and notifications are written under unique keys that the
database enforces, so running a sweep twice, or for an earlier instant after a later one,
writes nothing new."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Q

from welfare.alerts import rules
from welfare.alerts.models import (
    Alert,
    AlertKind,
    AlertOccurrence,
    AlertStatus,
    Notification,
    Severity,
    SweepMark,
)
from welfare.alerts.services.lifecycle import AlertSpec, alerts_raise
from welfare.alerts.services.notifications import (
    NotificationSpec,
    ack_deadline,
    hours_text,
    notify_many,
    oh_leads,
    site_link,
    tell_out_of_hours_contact,
)
from welfare.audit.services import AuditEntry, audit_record_many
from welfare.checkins import rules as checkin_rules
from welfare.checkins.models import OPEN_STATUSES, CheckIn, Kind, Status
from welfare.checkins.services import TriggerRequest, checkins_trigger
from welfare.core import clock
from welfare.core.db import create_many_once, prepared_cursor
from welfare.exposure.rules import BREACH, DOSE_RULES, LimitState
from welfare.exposure.selectors import Policies, limit_states, totals_changed
from welfare.people.models import Posting, RotationPolicy, RotationReview
from welfare.people.rules import current_spell, spells
from welfare.people.selectors import current_posting_q, posting_continuity, posting_facts

log = logging.getLogger(__name__)


EXPOSURE_SWEEP = "exposure_limits"

# --- Exposure limits ----------------------------------------------------------------------


def urgent_alerts_sweep(*, at: datetime) -> rules.SweepReport:
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
        return rules.SweepReport()
    leads = oh_leads()
    body = rules.UNACKNOWLEDGED_BODY.format(hours=hours_text(settings.URGENT_ACK_WORKING_HOURS))
    notified = notify_many(
        specs=[
            NotificationSpec(
                recipient=lead,
                key=f"alert:{pk}:unacknowledged",
                subject=rules.UNACKNOWLEDGED_SUBJECT,
                body=body,
                link=site_link(f"/alerts/{pk}"),
                alert=Alert(pk=pk),
                urgent=True,
            )
            for pk in late
            for lead in leads
        ],
        at=at,
    )
    tell_out_of_hours_contact(at, "late")
    return rules.SweepReport(examined=len(late), raised=len(late), notified=notified)


def exposure_limits_sweep(*, at: datetime) -> rules.SweepReport:
    """Evaluate limits for the officers whose daily totals changed since the last run, and
    raise an alert for each limit gone past: one per officer and rule, to which later
    breaches of the rule are added as occurrences while it is not resolved (warnings are
    shown to the officer and on the supervisor's page, never raised: DOMAIN.md). Dose-limit
    breaches that repeat ask for a triggered check-in within a week.

    Reads changes since the last mark (less a margin, so a transaction that committed
    late is still seen); occurrences are deduplicated by key, so re-reading is harmless.
    """
    today = at.astimezone(clock.local_zone()).date()
    oldest = today - timedelta(days=settings.EXPOSURE_ALERT_LOOKBACK_DAYS)
    through = _sweep_mark_move(EXPOSURE_SWEEP, at)
    since = through - timedelta(seconds=settings.SWEEP_MARGIN_SECONDS) if through else None
    changed = totals_changed(since=since, until=at, first=oldest, last=today)
    wanted = {officer_id: {*days, today} for officer_id, days in changed.items()}
    if not wanted:
        return rules.SweepReport()
    policies = Policies.load(oldest, today)
    return _raise_limit_alerts(wanted, today, policies, at=at)


def _sweep_mark_move(name: str, at: datetime) -> datetime | None:
    """The instant an incremental sweep had read through (None the first time), the mark
    moved on to `at` (never back: a replay for an earlier instant). The move only counts
    if the sweep's transaction commits. One prepared statement: it runs every few minutes."""
    with prepared_cursor() as cursor:
        cursor.execute(_MARK_MOVE_SQL, {"name": name, "at": at})
        row = cursor.fetchone()
    return None if row is None else row[0]


_MARK_MOVE_SQL = f"""
    WITH before AS (SELECT through FROM {SweepMark._meta.db_table} WHERE name = %(name)s),
    moved AS (
        INSERT INTO {SweepMark._meta.db_table} AS m (name, through) VALUES (%(name)s, %(at)s)
        ON CONFLICT (name) DO UPDATE SET through = EXCLUDED.through
        WHERE m.through < EXCLUDED.through
    )
    SELECT through FROM before
"""  # noqa: S608 - the model's table


UNRESOLVED = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)
_KNOWN_SQL = f"""
    SELECT dedupe_key FROM {AlertOccurrence._meta.db_table} WHERE dedupe_key = ANY(%(keys)s)
"""  # noqa: S608 - the model's table


def _raise_limit_alerts(
    wanted: Mapping[int, Iterable[date]],
    today: date,
    policies: Policies,
    *,
    at: datetime,
) -> rules.SweepReport:
    """Record what is new. Only officer-days with a limit at warning or breach are
    evaluated in full; each new breach is an occurrence (officer, rule, period), added to
    the officer's unresolved alert for the rule while the problem keeps coming back, or
    raising one (rules.group_occurrences).
    A sweep costs a few queries however many officers and alerts it has."""
    states = limit_states(wanted, only_attention=True, policies=policies)
    found = [
        (officer_id, day, state, rules.limit_alert_key(officer_id, state.rule, day, state.state))
        for (officer_id, day), day_states in sorted(states.items())
        for state in day_states
        if state.state == BREACH
    ]
    new = found
    if new:  # breaches recorded before (the occurrence key is unique): only the others are new
        with prepared_cursor() as cursor:
            cursor.execute(_KNOWN_SQL, {"keys": [key for *_, key in new]})
            known = {key for (key,) in cursor.fetchall()}
        new = [item for item in new if item[3] not in known]
    if not new:
        return rules.SweepReport(examined=sum(len(set(days)) for days in wanted.values()))
    unresolved: dict[tuple[int, str], Alert] = {}
    for alert in Alert.objects.filter(
        kind=AlertKind.EXPOSURE_LIMIT,
        status__in=UNRESOLVED,
        officer_id__any=sorted({officer_id for officer_id, *_ in new}),
    ).order_by("raised_at", "id"):
        unresolved[(alert.officer_id, alert.detail.get("rule", ""))] = alert  # the latest
    groups = rules.group_occurrences(
        [(officer_id, state.rule, day, key) for officer_id, day, state, key in new],
        {group: _span(alert) for group, alert in unresolved.items()},
        settings.ALERT_GROUP_DAYS,
    )
    starting = [item for item, group in zip(new, groups, strict=True) if group == item[3]]
    results = alerts_raise(
        specs=[
            AlertSpec(
                officer_id=officer_id,
                kind=AlertKind.EXPOSURE_LIMIT,
                severity=rules.limit_severity(state.state),
                dedupe_key=key,
                detail=_occurrence_detail(day, state),
                on=day,
            )
            for officer_id, day, state, key in starting
        ],
        at=at,
    )
    raised = sum(created for _, created in results)
    started = {item[3]: alert for item, (alert, _) in zip(starting, results, strict=True)}
    occurrences = create_many_once(
        [
            AlertOccurrence(
                alert=started[group] if group else unresolved[(officer_id, state.rule)],
                officer_id=officer_id,
                dedupe_key=key,
                rule=state.rule,
                on=day,
                detail=_occurrence_detail(day, state),
                seen_at=at,
            )
            for (officer_id, day, state, key), group in zip(new, groups, strict=True)
        ],
        key=("dedupe_key",),
    )
    _count_occurrences([o for o in occurrences if o.dedupe_key != o.alert.dedupe_key])
    checkins = _trigger_checkins(
        sorted({o.officer_id for o in occurrences if o.rule in DOSE_RULES}), today, at=at
    )
    examined = sum(len(set(days)) for days in wanted.values())
    return rules.SweepReport(examined=examined, raised=raised, checkins=checkins)


def _span(alert: Alert) -> tuple[date, date]:
    """The first and latest day an alert is about (the day it was raised, for an old one)."""
    first = alert.first_on or alert.raised_at.astimezone(clock.local_zone()).date()
    return first, alert.last_on or first


def _occurrence_detail(day: date, state: LimitState) -> dict[str, Any]:
    return {
        "rule": state.rule,
        "state": state.state,
        "on": day.isoformat(),
        "period": state.period,
        "used": state.used,
        "limit": state.limit,
        "unit": state.unit,
        "source": state.source,
    }


def _count_occurrences(added: Sequence[AlertOccurrence]) -> None:
    """Add occurrences to their alerts' counts and days, in one statement."""
    if not added:
        return
    per_alert: dict[int, list[date]] = defaultdict(list)
    for occurrence in added:
        per_alert[occurrence.alert_id].append(occurrence.on)
    ids = sorted(per_alert)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE alerts_alert a SET occurrences = a.occurrences + v.n, "
            "first_on = LEAST(a.first_on, v.first), last_on = GREATEST(a.last_on, v.last) "
            "FROM unnest(%s::bigint[], %s::int[], %s::date[], %s::date[]) AS v(id, n, first, last) "
            "WHERE a.id = v.id",
            [
                ids,
                [len(per_alert[pk]) for pk in ids],
                [min(per_alert[pk]) for pk in ids],
                [max(per_alert[pk]) for pk in ids],
            ],
        )


def _trigger_checkins(officer_ids: Sequence[int], today: date, *, at: datetime) -> int:
    """Triggered check-ins for the officers whose dose-limit breaches now repeat (DOMAIN.md:
    by default two on different days within 28 days, or one 28-day breach); each breach
    counts towards one check-in at most. An officer with a triggered check-in open gets no
    other, which the insert itself decides. Returns how many were made."""
    if not officer_ids:
        return 0
    policy = rules.TriggerPolicy(
        repeat=settings.CHECKIN_TRIGGER_REPEAT, within_days=settings.CHECKIN_TRIGGER_WITHIN_DAYS
    )
    since = today - timedelta(days=settings.EXPOSURE_ALERT_LOOKBACK_DAYS + policy.within_days)
    breaches: dict[int, list[tuple[str, date]]] = defaultdict(list)
    for officer_id, rule, day in AlertOccurrence.objects.filter(
        officer_id__any=list(officer_ids),
        rule__in=sorted(DOSE_RULES),
        on__gte=since,
        detail__state=BREACH,
    ).values_list("officer_id", "rule", "on"):
        breaches[officer_id].append((rule, day))
    after: dict[int, date] = {}
    zone = clock.local_zone()
    for officer_id, key, created_at in (
        CheckIn.objects.filter(officer_id__any=list(officer_ids), kind=Kind.TRIGGERED)
        .filter(
            Q(key__startswith=rules.EXPOSURE_TRIGGER_PREFIX)
            | Q(key__startswith=rules.LEGACY_EXPOSURE_TRIGGER_PREFIX)
        )
        .values_list("officer_id", "key", "created_at")
    ):
        day = rules.exposure_trigger_day(key, created_at.astimezone(zone).date())
        after[officer_id] = max(after.get(officer_id, day), day)
    requests = []
    for officer_id in officer_ids:
        trigger = rules.checkin_trigger_day(
            breaches.get(officer_id, []),
            after=after.get(officer_id),
            dose_rules=DOSE_RULES,
            policy=policy,
        )
        if trigger is not None:
            requests.append(
                TriggerRequest(
                    officer_id=officer_id,
                    due_on=rules.triggered_due_on(
                        trigger, today, settings.CHECKIN_TRIGGERED_WITHIN_DAYS
                    ),
                    key=rules.exposure_trigger_key(officer_id, trigger),
                )
            )
    return sum(checkin is not None for checkin in checkins_trigger(requests=requests, at=at))


# --- Check-ins: reminders, overdue, escalation ----------------------------------------------


def checkin_escalation_sweep(*, at: datetime) -> rules.SweepReport:
    """Remind officers 14 and 3 days before a check-in is due; raise an overdue alert on the
    due date (supervisors see it, except for self-referrals); escalate to occupational
    health at 14 days overdue; resolve overdue alerts of check-ins done or cancelled.

    Only the open check-ins with something due are read (within the furthest reminder of
    their due date, or overdue), JOB_BATCH_SIZE at a time in id order; of each batch, what
    was raised or sent already is read in bulk, and what is new is raised, escalated and
    sent in bulk, so a run costs a constant number of queries per batch whatever the number
    of officers (plus one per overdue alert it resolves, each audited).
    """
    today = at.astimezone(clock.local_zone()).date()
    size = settings.JOB_BATCH_SIZE
    horizon = today + timedelta(days=max(settings.CHECKIN_REMINDER_DAYS, default=0))
    due = Q(due_on__lte=horizon) | Q(status=Status.OVERDUE)
    raised = notified = 0
    escalated_any = False
    after = 0
    while True:
        batch = list(
            CheckIn.objects.filter(due, status__in=OPEN_STATUSES, pk__gt=after)
            .select_related("officer__user")
            .order_by("pk")[:size]
        )
        if batch:
            report, escalated = _escalation_batch(batch, today, at=at)
            raised, notified = raised + report.raised, notified + report.notified
            escalated_any = escalated_any or escalated
        if len(batch) < size:
            break
        after = batch[-1].pk
    if escalated_any:
        tell_out_of_hours_contact(at, "raised")

    _resolve_finished(at=at)
    return rules.SweepReport(raised=raised, notified=notified)


# The overdue alerts of check-ins no longer open (done, cancelled, or gone), resolved as
# `alert_resolve` resolves one by the system, a batch per statement; one locked by a person
# acting on it now is left for the next run.
_RESOLVE_FINISHED_SQL = f"""
    WITH done AS (
        SELECT a.id, c.status AS checkin_status
        FROM {Alert._meta.db_table} a
        LEFT JOIN {CheckIn._meta.db_table} c ON c.id = a.checkin_id
        WHERE a.kind = %(kind)s AND a.status = ANY(%(unresolved)s)
          AND (c.id IS NULL OR NOT c.status = ANY(%(open)s))
        ORDER BY a.id LIMIT %(limit)s
        FOR UPDATE OF a SKIP LOCKED
    )
    UPDATE {Alert._meta.db_table} a SET status = %(resolved)s, resolved_at = %(at)s,
        resolved_by_id = NULL, acknowledged_at = COALESCE(a.acknowledged_at, %(at)s),
        resolution_note = 'Check-in ' || COALESCE(done.checkin_status, 'closed') || '.'
    FROM done WHERE a.id = done.id
    RETURNING a.id
"""  # noqa: S608 - the models' tables


def _resolve_finished(*, at: datetime) -> int:
    """Resolve the overdue alerts whose check-in is done or cancelled, JOB_BATCH_SIZE at a
    time, each audited (as the system, in order, in one insert per batch)."""
    resolved = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                _RESOLVE_FINISHED_SQL,
                {
                    "kind": AlertKind.CHECKIN_OVERDUE.value,
                    "unresolved": [status.value for status in UNRESOLVED],
                    "open": [status.value for status in OPEN_STATUSES],
                    "limit": settings.JOB_BATCH_SIZE,
                    "resolved": AlertStatus.RESOLVED.value,
                    "at": at,
                },
            )
            ids = sorted(pk for (pk,) in cursor.fetchall())
        audit_record_many(
            actor=None,
            entries=[AuditEntry("alert.resolved", "alert", pk) for pk in ids],
            at=at,
        )
        resolved += len(ids)
        if len(ids) < settings.JOB_BATCH_SIZE:
            return resolved


def _escalation_batch(
    open_checkins: Sequence[CheckIn], today: date, *, at: datetime
) -> tuple[rules.SweepReport, bool]:
    """One batch of open check-ins: reminders, overdue alerts, escalations, in a constant
    number of queries. Returns what it raised and told, and whether it escalated any."""
    thresholds = settings.CHECKIN_REMINDER_DAYS
    ids = [c.pk for c in open_checkins]
    alerts: dict[int, Alert] = {}  # each check-in's latest overdue alert
    overdue_alerts = Alert.objects.filter(kind=AlertKind.CHECKIN_OVERDUE, checkin_id__any=ids)
    for alert in overdue_alerts.order_by("raised_at", "id"):
        if alert.checkin_id is not None:
            alerts[alert.checkin_id] = alert
    sent = set(
        Notification.objects.filter(checkin_id__any=ids).values_list("dedupe_key", flat=True)
    )
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
                    link=site_link(f"/checkins/{checkin.pk}"),
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
                clinical=checkin.confidential,  # OH's alone: never the supervisor's
                checkin=checkin,
                on=checkin.due_on,
            )
            for checkin in unalerted
        ],
        at=at,
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
                    link=site_link(f"/checkins/{checkin.pk}"),
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
    late = _reopened_for_oh(late, at=at)
    escalated = _alerts_escalate([alert.pk for _, alert, _ in late], at=at)
    leads = oh_leads() if escalated else []
    messages.extend(
        NotificationSpec(
            recipient=lead,
            key=f"checkin:{checkin.pk}:escalated",
            subject=rules.ESCALATED_SUBJECT,
            body=rules.ESCALATED_BODY.format(days=days),
            link=site_link(f"/alerts/{alert.pk}"),
            alert=alert,
            urgent=True,
        )
        for checkin, alert, days in late
        if alert.pk in escalated
        for lead in leads
    )
    notified = notify_many(specs=messages, at=at)
    return rules.SweepReport(raised=raised, notified=notified), bool(escalated)


def _reopened_for_oh(
    late: list[tuple[CheckIn, Alert, int]], *, at: datetime
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
                on=checkin.due_on,
            )
            for checkin, alert, _ in resolved
        ],
        at=at,
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


def rotation_sweep(*, at: datetime) -> rules.SweepReport:
    """Rotation alerts for the officers in the work today (rules.rotation_due): a review at
    the review point of time in the work, the tenure alert at the tenure point, the next
    round on the review date a decision to stay set; and when the date a decision to rotate
    set has passed with the officer still in the work, a high alert, escalated to the OH
    leads CHECKIN_ESCALATE_AFTER_DAYS days after the date. Time in the work counts from the
    start of the spell (people.rules.spells: a restructure does not restart it), and the
    latest decision recorded on any posting of the spell applies. Each once, by key.

    The officers in the work are taken JOB_BATCH_SIZE at a time in id order, a few queries
    per batch whatever the number of officers, so memory stays flat."""
    today = at.astimezone(clock.local_zone()).date()
    policies = {p.unit_kind: p for p in RotationPolicy.objects.all()}
    size = settings.JOB_BATCH_SIZE
    total = rules.SweepReport()
    after = 0
    while True:
        officer_ids = list(
            Posting.objects.filter(current_posting_q(today), officer_id__gt=after)
            .order_by("officer_id")
            .values_list("officer_id", flat=True)
            .distinct()[:size]
        )
        if officer_ids:
            report = _rotation_batch(officer_ids, policies, today, at=at)
            total = rules.SweepReport(
                examined=total.examined + report.examined,
                raised=total.raised + report.raised,
                notified=total.notified + report.notified,
            )
        if len(officer_ids) < size:
            break
        after = officer_ids[-1]
    return total


def _rotation_batch(
    officer_ids: Sequence[int],
    policies: Mapping[str, RotationPolicy],
    today: date,
    *,
    at: datetime,
) -> rules.SweepReport:
    """Rotation alerts for one batch of officers in the work."""
    ids = list(officer_ids)
    postings: dict[int, list[Posting]] = defaultdict(list)
    for posting in Posting.objects.filter(officer_id__any=ids).select_related("unit"):
        postings[posting.officer_id].append(posting)
    latest: dict[int, RotationReview] = {}  # each posting's latest decision
    for row in RotationReview.objects.filter(posting__officer_id__any=ids).order_by(
        "-decided_at", "-id"
    ):
        latest.setdefault(row.posting_id, row)
    continuity = posting_continuity()
    due: list[tuple[str, Posting, rules.RotationDue, date]] = []
    for mine in postings.values():
        spell = current_spell(spells(posting_facts(mine), continuity), today)
        if spell is None:
            continue
        current = next(p for p in mine if p.pk == spell.posting_on(today).id)
        if current.ended_on is not None and current.ended_on < today:
            continue  # not in post today (between two postings of a spell, say)
        reviews = [latest[p.id] for p in spell.postings if p.id in latest]
        review = max(reviews, key=lambda r: (r.decided_at, r.pk), default=None)
        decision = None
        if review is not None:
            decision = rules.RotationDecision(
                review.decision, review.next_review_on, review.rotate_by
            )
        policy = policies.get(current.unit.kind)
        action = rules.rotation_due(
            started_on=spell.started_on,
            today=today,
            review_months=policy.review_months if policy else None,
            tenure_months=policy.tenure_months if policy else None,
            decision=decision,
            escalate_after_days=settings.CHECKIN_ESCALATE_AFTER_DAYS,
        )
        if action is not None:
            key = f"rotation:{spell.id}:{action.key_part}"
            due.append((key, current, action, spell.started_on))
    if not due:
        return rules.SweepReport()
    keys = [key for key, *_ in due]
    keys += [f"{key}:escalated" for key, _, action, _ in due if action.escalate]
    known = {alert.dedupe_key: alert for alert in Alert.objects.filter(dedupe_key__any=keys)}
    results = alerts_raise(
        specs=[
            AlertSpec(
                officer_id=posting.officer_id,
                kind=AlertKind.ROTATION_DUE,
                severity=action.severity,
                dedupe_key=key,
                detail=_rotation_detail(posting, action, since),
                posting=posting,
                on=action.on,
            )
            for key, posting, action, since in due
            if key not in known
        ],
        at=at,
    )
    known.update((alert.dedupe_key, alert) for alert, _ in results)
    raised = sum(created for _, created in results)
    late = [
        (known[key], posting, action, since)
        for key, posting, action, since in due
        if action.escalate
    ]
    escalated, notified = _rotation_escalate(late, known, today=today, at=at)
    return rules.SweepReport(examined=len(postings), raised=raised + escalated, notified=notified)


def _rotation_detail(posting: Posting, action: rules.RotationDue, since: date) -> dict[str, Any]:
    detail = {
        "months_in_post": action.months_in_work,
        "posting": posting.pk,
        "level": action.level,
        "in_work_since": since.isoformat(),
    }
    if action.level == rules.ROTATE_BY_PASSED:
        detail["rotate_by"] = action.on.isoformat()
    return detail


def _rotation_escalate(
    late: Sequence[tuple[Alert, Posting, rules.RotationDue, date]],
    known: Mapping[str, Alert],
    *,
    today: date,
    at: datetime,
) -> tuple[int, int]:
    """Escalate the rotate-by alerts whose date passed long enough ago, as overdue check-ins
    are (_alerts_escalate: high, to be acknowledged by OH by the deadline) and tell the OH
    leads, each once. One a supervisor resolved without recording a new decision reaches
    OH all the same, as a new alert. Returns (new alerts, notifications)."""
    fresh = [
        (alert, posting, action, since)
        for alert, posting, action, since in late
        if alert.status == AlertStatus.RESOLVED and f"{alert.dedupe_key}:escalated" not in known
    ]
    results = alerts_raise(
        specs=[
            AlertSpec(
                officer_id=posting.officer_id,
                kind=AlertKind.ROTATION_DUE,
                severity=Severity.HIGH,
                dedupe_key=f"{alert.dedupe_key}:escalated",
                detail={**_rotation_detail(posting, action, since), "after": alert.pk},
                posting=posting,
                on=action.on,
            )
            for alert, posting, action, since in fresh
        ],
        at=at,
    )
    again = {**known, **{alert.dedupe_key: alert for alert, _ in results}}
    targets = [
        (again.get(f"{alert.dedupe_key}:escalated", alert), action)
        if alert.status == AlertStatus.RESOLVED
        else (alert, action)
        for alert, _, action, _ in late
    ]
    escalated = _alerts_escalate([alert.pk for alert, _ in targets], at=at)
    if not escalated:
        return sum(created for _, created in results), 0
    tell_out_of_hours_contact(at, "raised")
    leads = oh_leads()
    notified = notify_many(
        specs=[
            NotificationSpec(
                recipient=lead,
                key=f"rotation:{alert.pk}:escalated",
                subject=rules.ALERT_SUBJECT,
                body=rules.ROTATION_ESCALATED_BODY.format(days=(today - action.on).days),
                link=site_link(f"/alerts/{alert.pk}"),
                alert=alert,
                urgent=True,  # escalated: OH must acknowledge it by the deadline
            )
            for alert, action in targets
            if alert.pk in escalated
            for lead in leads
        ],
        at=at,
    )
    return sum(created for _, created in results), notified
