from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncWeek

from welfare.alerts.models import Alert, AlertKind, AlertStatus, CaseOwner
from welfare.alerts.services import case_owners
from welfare.audit.models import AuditEvent
from welfare.casework import rules
from welfare.casework.models import MANAGEMENT_VISIBLE, CaseNote, ManagementReport, ReportState
from welfare.casework.services import READ_ACTIONS
from welfare.checkins.models import CheckIn, Kind, Screening, Status
from welfare.core import clock
from welfare.core.db import get_or_404
from welfare.core.roles import Role
from welfare.exposure.models import DailyTotal, Restriction
from welfare.people.models import Officer
from welfare.people.selectors import not_own, officers_visible_to

OPEN = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)
SELF_REFERRAL_WAITING = (Status.DUE, Status.BOOKED, Status.MISSED)

# The case list's order: each officer's most pressing open item (the tiers of rules.OpenItem,
# each open item counted once: an overdue check-in is its overdue alert; a self-referral counts
# until it is overdue and has an alert of its own), oldest first within a tier, then by name;
# then everyone with nothing open, by name. Two statements, so that a page costs what the open
# work costs, not what the force's size does: the first ranks only the officers with an open
# item, the second walks the officers by name (people_officer's name index) past those (and a
# third counts the open work, only for a page wholly past it). The tiers here and in
# rules.OpenItem.tier must agree (a test holds them).
_ITEMS = f"""
    WITH items AS (
        SELECT officer_id,
               CASE WHEN ack_due_at IS NOT NULL AND status = 'open'
                        THEN {rules.URGENT_UNACKNOWLEDGED}
                    WHEN ack_due_at IS NOT NULL THEN {rules.URGENT_ACKNOWLEDGED}
                    WHEN kind IN ('screening_risk', 'checkin_overdue') THEN {rules.ATTENTION}
                    ELSE {rules.OTHER} END AS tier,
               CASE WHEN ack_due_at IS NOT NULL THEN COALESCE(escalated_at, raised_at)
                    ELSE raised_at END AS since
        FROM alerts_alert WHERE status = ANY(%(open)s)
        UNION ALL
        SELECT officer_id, {rules.ATTENTION}, created_at FROM checkins_checkin
        WHERE kind = 'self_referral' AND status = ANY(%(waiting)s)
    ),
    best AS (
        SELECT DISTINCT ON (officer_id) officer_id, tier, since
        FROM items ORDER BY officer_id, tier, since
    )
"""  # noqa: S608 - tiers are constants
_RANKED = f"""{_ITEMS}
    SELECT b.officer_id, b.tier, b.since
    FROM best b JOIN people_officer o ON o.id = b.officer_id
    ORDER BY b.tier, b.since, o.display_name, o.id
    LIMIT %(limit)s OFFSET %(offset)s
"""  # noqa: S608 - constants only
_WITH_ITEMS = f"{_ITEMS} SELECT COUNT(*) FROM best"  # noqa: S608 - constants only
_NOTHING_OPEN = f"""
    SELECT o.id, {rules.NOTHING_OPEN}, NULL::timestamptz FROM people_officer o
    WHERE NOT EXISTS (
        SELECT 1 FROM alerts_alert a WHERE a.officer_id = o.id AND a.status = ANY(%(open)s)
    ) AND NOT EXISTS (
        SELECT 1 FROM checkins_checkin c
        WHERE c.officer_id = o.id AND c.kind = 'self_referral' AND c.status = ANY(%(waiting)s)
    )
    ORDER BY o.display_name, o.id
    LIMIT %(limit)s OFFSET %(offset)s
"""  # noqa: S608 - tiers are constants


def ranked_page(limit: int, offset: int) -> list[tuple[int, int, Any]]:
    """Officers `offset` to `offset + limit` in the case list's order, each as (id, tier,
    since): at most three statements, none of which sorts the whole force."""
    params: dict[str, Any] = {
        "open": list(OPEN),
        "waiting": list(SELF_REFERRAL_WAITING),
        "limit": limit,
        "offset": offset,
    }
    with connection.cursor() as cursor:
        cursor.execute(_RANKED, params)
        ranked: list[tuple[int, int, Any]] = [(r[0], r[1], r[2]) for r in cursor.fetchall()]
        if len(ranked) == limit:
            return ranked
        with_items = offset + len(ranked)  # this page holds the last of the open work ...
        if not ranked and offset:  # ... or it ended on an earlier page
            cursor.execute(_WITH_ITEMS, params)
            with_items = cursor.fetchone()[0]
        params.update(limit=limit - len(ranked), offset=max(offset - with_items, 0))
        cursor.execute(_NOTHING_OPEN, params)
        # Read committed: an item resolved between the two statements must not list its
        # officer twice on the page.
        seen = {row[0] for row in ranked}
        ranked += [(r[0], r[1], r[2]) for r in cursor.fetchall() if r[0] not in seen]
    return ranked


def open_items(officer_ids: list[int]) -> dict[int, list[rules.OpenItem]]:
    """Every open item of these officers, each once (see _RANKED), in two queries."""
    items: dict[int, list[rules.OpenItem]] = {officer_id: [] for officer_id in officer_ids}
    alerts = (
        Alert.objects.filter(officer_id__in=officer_ids, status__in=OPEN)
        .select_related("checkin")
        .only(
            "officer_id", "kind", "status", "raised_at", "escalated_at", "ack_due_at", "detail",
            "checkin__due_on",
        )
    )  # fmt: skip
    for alert in alerts:
        items[alert.officer_id].append(queue_item(alert))
    for officer_id, created_at in CheckIn.objects.filter(
        officer_id__in=officer_ids, kind=Kind.SELF_REFERRAL, status__in=SELF_REFERRAL_WAITING
    ).values_list("officer_id", "created_at"):
        items[officer_id].append(rules.OpenItem(kind="self_referral", since=created_at))
    return items


class CaseList:
    """OH's case list, the officers most in need first, with the reasons in words, as a
    sequence a paginator can slice: the order comes from one ranking query; the open items
    behind the reasons are read only for the rows of the page."""

    def __init__(self, user: Any) -> None:
        self.officers = officers_visible_to(user) if user.role == Role.OH else None

    def count(self) -> int:
        return self.officers.count() if self.officers is not None else 0

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index: slice) -> list[Officer]:
        if self.officers is None:
            return []
        start, stop = index.start or 0, index.stop if index.stop is not None else self.count()
        ranked = [row[0] for row in ranked_page(max(stop - start, 0), start)]
        last_screening = Subquery(
            Screening.objects.filter(officer=OuterRef("pk"))
            .order_by("-submitted_at")
            .values("submitted_at")[:1]
        )
        rows = {  # the row shows the user's id only: no join for the user itself
            o.pk: o
            for o in self.officers.filter(pk__in=ranked)
            .select_related(None)
            .annotate(last_screening_at=last_screening)
        }
        items = open_items([pk for pk in ranked if pk in rows])
        now = clock.now()
        page: list[Officer] = []
        for pk in ranked:
            if pk not in rows:
                continue
            officer: Any = rows[pk]
            officer_items = items[pk]
            need = rules.case_need(officer_items, now)
            officer.tier = need.tier
            officer.waiting_since = need.since
            officer.reasons = list(need.reasons)
            officer.urgent = sum(item.urgent for item in officer_items)
            officer.open_items = len(officer_items)
            page.append(officer)
        return page


# --- OH's work queue -----------------------------------------------------------------------------

QUEUE_SCOPES = ("mine", "unassigned", "all")
QUEUE_KINDS = (AlertKind.SCREENING_RISK, AlertKind.CHECKIN_OVERDUE)


def _owner_subquery() -> Subquery:
    return Subquery(
        CaseOwner.objects.filter(
            officer_id=OuterRef("officer_id"), clinician__is_active=True, clinician__role=Role.OH
        ).values("clinician_id")[:1]
    )


def work_queue(user: Any, *, scope: str = "mine") -> QuerySet[Alert]:
    """Every open alert occupational health must act on (clinical alerts, screening risks,
    overdue check-ins), urgent first: not yet acknowledged, by deadline; then acknowledged;
    then the rest by when they are due (rules.queue_due_at). `scope`: "mine" is the caller's
    cases, unassigned work and every urgent alert whoever owns it (urgent work never waits
    for one person); "unassigned"; "all". Each row carries `owner_id`, `tier`, `due_at`."""
    if user.role != Role.OH:
        return Alert.objects.none()
    escalate = timedelta(days=settings.CHECKIN_ESCALATE_AFTER_DAYS)
    respond = timedelta(days=settings.CHECKIN_TRIGGERED_WITHIN_DAYS)
    alerts = (
        not_own(Alert.objects.filter(status__in=OPEN), user)
        .filter(Q(clinical=True) | Q(kind__in=QUEUE_KINDS))
        .annotate(
            owner_id=_owner_subquery(),
            tier=Case(
                When(
                    ack_due_at__isnull=False,
                    status=AlertStatus.OPEN,
                    then=Value(rules.URGENT_UNACKNOWLEDGED),
                ),
                When(ack_due_at__isnull=False, then=Value(rules.URGENT_ACKNOWLEDGED)),
                default=Value(rules.ATTENTION),
            ),
            due_at=Coalesce(
                "ack_due_at",
                ExpressionWrapper(
                    F("raised_at")
                    + Case(
                        When(kind=AlertKind.CHECKIN_OVERDUE, then=Value(escalate)),
                        default=Value(respond),
                        output_field=DurationField(),
                    ),
                    output_field=DateTimeField(),
                ),
            ),
        )
        .select_related("officer", "checkin")
        .order_by("tier", "due_at", "id")
    )
    if scope == "mine":
        return alerts.filter(
            Q(owner_id=user.pk) | Q(owner_id__isnull=True) | Q(ack_due_at__isnull=False)
        )
    if scope == "unassigned":
        return alerts.filter(owner_id__isnull=True)
    return alerts


def queue_item(alert: Alert) -> rules.OpenItem:
    """A queue row as an open item, for its reason in words."""
    urgent = alert.ack_due_at is not None
    overdue = None
    if alert.kind == AlertKind.CHECKIN_OVERDUE and alert.checkin is not None:
        overdue = (clock.today() - alert.checkin.due_on).days
    return rules.OpenItem(
        kind=alert.kind,
        since=(alert.escalated_at or alert.raised_at) if urgent else alert.raised_at,
        urgent=urgent,
        acknowledged=alert.status == AlertStatus.ACKNOWLEDGED,
        flags=tuple(alert.detail.get("flags", ()))
        if alert.kind == AlertKind.SCREENING_RISK
        else (),
        days_overdue=overdue,
    )


def case_owner_of(officer_id: int) -> Any:
    """The clinician who owns an officer's case (an active one), or None."""
    return case_owners([officer_id]).get(officer_id)


def clinicians() -> QuerySet[Any]:
    from welfare.accounts.models import User

    return User.objects.filter(role=Role.OH, is_active=True).order_by("username")


def cases_for(user: Any) -> CaseList:
    return CaseList(user)


def case_officer(user: Any, officer_id: object) -> Officer:
    if user.role != Role.OH:
        return get_or_404(Officer.objects.none(), officer_id)
    return get_or_404(officers_visible_to(user), officer_id)


def weekly_exposure(officer: Officer, *, weeks: int = 12) -> list[dict[str, Any]]:
    """Minutes and weighted index per ISO week, for the case page's trend."""
    first = clock.today() - timedelta(weeks=weeks)
    rows = (
        DailyTotal.objects.filter(officer=officer, day__gte=first)
        .annotate(week=TruncWeek("day"))
        .values("week")
        .annotate(
            total_seconds=Sum("seconds"),
            total_weighted=Sum("weighted_seconds"),
            viewing_days=Count("id", filter=Q(seconds__gt=0)),
        )
        .order_by("week")
    )
    return [
        {
            "week_starting": row["week"],
            "minutes": round(row["total_seconds"] / 60, 1),
            "weighted_index": round(row["total_weighted"] / 60, 1),
            "viewing_days": row["viewing_days"],
        }
        for row in rows
    ]


def case_parts(officer: Officer) -> dict[str, Any]:
    return {
        "checkins": CheckIn.objects.filter(officer=officer).order_by("-due_on", "-id"),
        "screenings": Screening.objects.filter(officer=officer).order_by("-submitted_at", "-id"),
        "alerts": Alert.objects.filter(officer=officer)
        .select_related("checkin")  # the case page describes overdue check-ins by their date
        .order_by("-raised_at", "-id")[:200],
        "restrictions": Restriction.objects.filter(officer=officer).order_by("-starts_on", "-id"),
        "notes": CaseNote.objects.filter(officer=officer)
        .select_related("superseded_by")
        .order_by("-created_at", "-id"),
        "reports": ManagementReport.objects.filter(officer=officer).order_by("-drafted_at", "-id"),
    }


def reports_visible_to(user: Any) -> QuerySet[ManagementReport]:
    """OH: all. Officers: their own once offered (never drafts). Supervisors: their units'
    reports released with consent (and not withdrawn) or disclosed on a legal basis."""
    reports = ManagementReport.objects.select_related("officer")
    if user.role == Role.OH:
        return not_own(reports, user)
    if user.role == Role.OFFICER:
        return reports.filter(officer__user=user).exclude(state=ReportState.DRAFT)
    if user.role == Role.SUPERVISOR:
        return reports.filter(
            officer__in=officers_visible_to(user).values("pk"), state__in=MANAGEMENT_VISIBLE
        )
    return reports.none()


def access_log_of(user: Any) -> list[dict[str, Any]]:
    """Each time someone read this officer's clinical record or a report about them."""
    officer = Officer.objects.filter(user=user).first()
    if officer is None:
        return []
    events = (
        AuditEvent.objects.filter(
            target_type="officer", target_id=str(officer.pk), action__in=READ_ACTIONS
        )
        .select_related("actor")
        .order_by("-id")[:500]
    )
    rows = []
    for event in events:
        reader = None
        if event.actor is not None and (
            event.actor_role != Role.OH or settings.ACCESS_LOG_SHOWS_OH_NAMES
        ):
            reader = event.actor.get_full_name() or event.actor.username
        rows.append(
            {"at": event.at, "action": event.action, "role": event.actor_role, "reader": reader}
        )
    return rows
