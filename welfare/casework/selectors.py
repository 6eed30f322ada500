from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import TruncWeek

from welfare.alerts.models import Alert, AlertStatus
from welfare.audit.models import AuditEvent
from welfare.casework import rules
from welfare.casework.models import MANAGEMENT_VISIBLE, CaseNote, ManagementReport, ReportState
from welfare.casework.services import READ_ACTIONS
from welfare.checkins.models import CheckIn, Screening, Status
from welfare.core import clock
from welfare.core.db import get_or_404
from welfare.core.roles import Role
from welfare.exposure.models import DailyTotal, Restriction
from welfare.people.models import Officer
from welfare.people.selectors import officers_visible_to

CONCERNING = ("self_harm_thoughts", "over_cutoff", "dsm5_pattern", "rose_by_10")
OPEN = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)


# The case list's order in one pass over each signal's table (grouped, hash-joined), instead
# of counting every signal for every officer row by row.
_COUNTS = tuple(rules.NEED_WEIGHTS)  # each signal, as the ranking query names it
_RANKED = f"""
    SELECT o.id, {", ".join(f"COALESCE({name}, 0)" for name in _COUNTS)}
    FROM people_officer o
    LEFT JOIN (
        SELECT officer_id, COUNT(*) AS open_alerts,
               COUNT(*) FILTER (WHERE severity IN ('urgent', 'high')) AS urgent_alerts
        FROM alerts_alert WHERE status = ANY(%(open)s) GROUP BY officer_id
    ) a ON a.officer_id = o.id
    LEFT JOIN (
        SELECT officer_id, COUNT(*) AS overdue_checkins
        FROM checkins_checkin WHERE status = %(overdue)s GROUP BY officer_id
    ) c ON c.officer_id = o.id
    LEFT JOIN (
        SELECT officer_id, COUNT(*) AS rising_scores
        FROM checkins_screening WHERE submitted_at >= %(since)s AND flags ?| %(flags)s
        GROUP BY officer_id
    ) s ON s.officer_id = o.id
    ORDER BY {" + ".join(f"{w} * COALESCE({n}, 0)" for n, w in rules.NEED_WEIGHTS.items())} DESC,
             o.display_name, o.id
    LIMIT %(limit)s OFFSET %(offset)s
"""  # noqa: S608 - weights and names are constants


class CaseList:
    """OH's case list, the officers most in need first (urgent alerts, rising or concerning
    scores in the last six months, overdue check-ins, then other open alerts), as a sequence
    a paginator can slice: the order comes from one ranking query; the signals shown are
    counted only for the rows of the page."""

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
        params = {
            "open": list(OPEN),
            "overdue": Status.OVERDUE,
            "since": clock.now() - timedelta(days=182),
            "flags": list(CONCERNING),
            "limit": max(stop - start, 0),
            "offset": start,
        }
        with connection.cursor() as cursor:
            cursor.execute(_RANKED, params)
            ranked = {row[0]: dict(zip(_COUNTS, row[1:], strict=True)) for row in cursor.fetchall()}
        last_screening = Subquery(
            Screening.objects.filter(officer=OuterRef("pk"))
            .order_by("-submitted_at")
            .values("submitted_at")[:1]
        )
        rows = {  # the row shows the user's id only: no join for the user itself
            o.pk: o
            for o in self.officers.filter(pk__in=list(ranked))
            .select_related(None)
            .annotate(last_screening_at=last_screening)
        }
        page: list[Officer] = []
        for pk, counts in ranked.items():
            if pk in rows:
                officer = rows[pk]
                for name, value in counts.items():
                    setattr(officer, name, value)
                officer.need = sum(  # type: ignore[attr-defined]
                    weight * counts[name] for name, weight in rules.NEED_WEIGHTS.items()
                )
                page.append(officer)
        return page


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
        "alerts": Alert.objects.filter(officer=officer).order_by("-raised_at", "-id")[:200],
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
        return reports
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
