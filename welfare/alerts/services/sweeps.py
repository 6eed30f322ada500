"""The sweeps that raise alerts: urgent work not acknowledged, exposure limits, check-in
reminders, overdue and escalation, rotation reviews.

Every sweep is idempotent: alerts and notifications are written under unique keys that the
database enforces, so running a sweep twice, or for an earlier instant after a later one,
writes nothing new."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import connection

from welfare.alerts import rules
from welfare.alerts.models import (
    Alert,
    AlertKind,
    AlertStatus,
    Notification,
    Severity,
)
from welfare.alerts.services.lifecycle import AlertSpec, alert_resolve, alerts_raise
from welfare.alerts.services.notifications import (
    NotificationSpec,
    ack_deadline,
    hours_text,
    notify_many,
    oh_leads,
    site_link,
    tell_out_of_hours_contact,
)
from welfare.checkins import rules as checkin_rules
from welfare.checkins.models import OPEN_STATUSES, CheckIn, Kind, Status
from welfare.checkins.services import TriggerRequest, checkins_trigger
from welfare.core import clock
from welfare.core.db import prepared_cursor, sql_text
from welfare.exposure.selectors import POLICIES_SQL, POLICIES_WIDTH, Policies, limit_states
from welfare.people.models import Posting, RotationPolicy, RotationReview
from welfare.people.selectors import current_posting_q

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
            )
            for pk in late
            for lead in leads
        ]
    )
    tell_out_of_hours_contact(at, "late")
    return rules.SweepReport(examined=len(late), raised=len(late), notified=notified)


def exposure_limits_sweep(*, at: datetime) -> rules.SweepReport:
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
) -> rules.SweepReport:
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
    return rules.SweepReport(examined=examined, raised=raised, checkins=checkins)


# --- Check-ins: reminders, overdue, escalation ----------------------------------------------


def checkin_escalation_sweep(*, at: datetime) -> rules.SweepReport:
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
    late = _reopened_for_oh(late)
    escalated = _alerts_escalate([alert.pk for _, alert, _ in late], at=at)
    if escalated:
        tell_out_of_hours_contact(at, "raised")
    leads = oh_leads() if escalated else []
    messages.extend(
        NotificationSpec(
            recipient=lead,
            key=f"checkin:{checkin.pk}:escalated",
            subject=rules.ESCALATED_SUBJECT,
            body=rules.ESCALATED_BODY.format(days=days),
            link=site_link(f"/alerts/{alert.pk}"),
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
    return rules.SweepReport(raised=raised, notified=notified)


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


def rotation_sweep(*, at: datetime) -> rules.SweepReport:
    """Ask for a rotation review at the review point of time in post, and escalate at the
    tenure point; a decision to stay sets the date of the next review."""
    today = at.astimezone(clock.local_zone()).date()
    policies = {p.unit_kind: p for p in RotationPolicy.objects.all()}
    if not policies:
        return rules.SweepReport()
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
    return rules.SweepReport(raised=raised)
