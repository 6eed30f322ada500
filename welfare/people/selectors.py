from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower

from welfare.accounts.models import User
from welfare.core import clock
from welfare.core.db import Rows, fetch_rows, get_or_404, grouping_sets
from welfare.core.roles import Role
from welfare.people.import_rules import AccountState, ImportState, PostingState, Row, UnitState
from welfare.people.models import Officer, Posting, Unit
from welfare.people.rules import Continuity, PostingFact, spells


def current_posting_q(today: date, prefix: str = "") -> Q:
    """Postings running on `today` (prefix e.g. 'postings__' when filtering officers)."""
    return Q(**{f"{prefix}started_on__lte": today}) & (
        Q(**{f"{prefix}ended_on__isnull": True}) | Q(**{f"{prefix}ended_on__gte": today})
    )


def _with_current_posting(officers: QuerySet[Officer], today: date) -> QuerySet[Officer]:
    current = Posting.objects.filter(current_posting_q(today), officer=OuterRef("pk")).order_by(
        "-started_on"
    )
    return officers.annotate(
        current_unit_id=Subquery(current.values("unit_id")[:1]),
        posted_since=Subquery(current.values("started_on")[:1]),
    )


def supervised_unit_ids(user: Any) -> list[int]:
    return list(Unit.objects.filter(supervisors=user).values_list("id", flat=True))


_SUPERVISION = Unit.supervisors.through._meta.db_table  # type: ignore[attr-defined]
# The officers a supervisor sees: those whose posting running on the day is in a unit they
# supervise. An officer's postings never overlap (a constraint), so that posting is the
# current one `officers_visible_to` annotates. Plain SQL, compiled at once: built from the
# annotated queryset, the same subquery cost the ORM milliseconds on every list.
# Never the supervisor's own officer record: nobody supervises themselves.
_SUPERVISED_OFFICERS = f"""
    SELECT p.officer_id FROM {Posting._meta.db_table} p
    JOIN {_SUPERVISION} s ON s.unit_id = p.unit_id
    WHERE s.user_id = %s AND p.started_on <= %s AND (p.ended_on IS NULL OR p.ended_on >= %s)
      AND NOT EXISTS (
        SELECT 1 FROM {Officer._meta.db_table} o WHERE o.id = p.officer_id AND o.user_id = %s
      )
"""  # noqa: S608 - table names from the models; values are parameters


def supervised_officer_ids(user: Any, *, today: date | None = None) -> RawSQL:
    """A subquery of the ids of the officers a supervisor sees (see officers_visible_to),
    for `officer_id__in=`."""
    today = today or clock.today()
    return RawSQL(_SUPERVISED_OFFICERS, [user.pk, today, today, user.pk])  # noqa: S611


def not_own(records: QuerySet[Any], user: Any, *, field: str = "officer") -> QuerySet[Any]:
    """`records` without those about the user's own officer record, if they hold one: in
    their role nobody sees or acts on themselves (a clinician is not their own clinician);
    they see their own records in their officer hat."""
    return records.exclude(**{f"{field}__user_id": user.pk})


def officers_visible_to(user: Any, *, today: date | None = None) -> QuerySet[Officer]:
    """Officers the caller may see: self; own units' (current postings), never themselves;
    OH all but themselves; admin all."""
    today = today or clock.today()
    officers = _with_current_posting(Officer.objects.select_related("user"), today)
    if user.role == Role.ADMIN:
        return officers
    if user.role == Role.OH:
        return officers.exclude(user_id=user.pk)
    if user.role == Role.SUPERVISOR:
        return officers.filter(pk__in=supervised_officer_ids(user, today=today))
    if user.role == Role.OFFICER:
        return officers.filter(user=user)
    return officers.none()


@dataclass(frozen=True)
class VisibleOfficers:
    """Officer ids that `officers_visible_to(user)` gave, of those asked about: made only
    by `visible_officers`, so selectors can filter by the ids instead of repeating the
    visibility subquery (PostgreSQL evaluates it for every officer in the force)."""

    user_id: int
    ids: tuple[int, ...]

    def ids_for(self, user: Any) -> tuple[int, ...]:
        """The ids, for the user they were found for only."""
        if self.user_id != user.pk:
            raise ValueError("visible officers of another user")
        return self.ids


def visible_officers(
    user: Any, among: Iterable[int], *, today: date | None = None
) -> VisibleOfficers:
    wanted = sorted(set(among))
    if user.role == Role.SUPERVISOR:
        ids = Officer.objects.filter(
            pk__any=wanted, pk__in=supervised_officer_ids(user, today=today)
        ).order_by("pk")
    else:
        ids = officers_visible_to(user, today=today).filter(pk__any=wanted)
    return VisibleOfficers(user.pk, tuple(ids.values_list("pk", flat=True)))


def officer_get_for_user(user: Any, officer_id: object) -> Officer:
    """One officer the caller may see; "not found" and "not yours" are the same 404."""
    return get_or_404(officers_visible_to(user), officer_id)


def officer_of_user(user: Any) -> Officer | None:
    """The person's own officer record (whatever their role), with its current posting."""
    return _with_current_posting(Officer.objects.filter(user=user), clock.today()).first()


def units_visible_to(user: Any, *, today: date | None = None) -> QuerySet[Unit]:
    units = Unit.objects.prefetch_related("supervisors")
    if user.role in (Role.ADMIN, Role.OH):
        return units
    if user.role == Role.SUPERVISOR:
        return units.filter(supervisors=user)
    if user.role == Role.OFFICER:
        today = today or clock.today()
        return units.filter(
            Q(postings__officer__user=user) & current_posting_q(today, "postings__")
        ).distinct()
    return units.none()


def postings_of(officer: Officer) -> QuerySet[Posting]:
    return Posting.objects.filter(officer=officer).order_by("-started_on", "-id")


def unit_of_officer_on(officer_id: int, day: date) -> int | None:
    """The unit the officer was posted to on `day`, if any."""
    return (
        Posting.objects.filter(current_posting_q(day), officer_id=officer_id)
        .order_by("-started_on")
        .values_list("unit_id", flat=True)
        .first()
    )


# --- Spells in the work ----------------------------------------------------------------------


def posting_continuity() -> Continuity:
    """Which postings in a row are one spell in the work, as configured (DOMAIN.md)."""
    return Continuity(
        across=settings.POSTING_CONTINUITY, gap_days=settings.POSTING_CONTINUITY_GAP_DAYS
    )


def posting_facts(postings: Iterable[Posting]) -> list[PostingFact]:
    """Postings as the spell rules take them (each with its unit selected)."""
    return [PostingFact(p.pk, p.unit.kind, p.started_on, p.ended_on) for p in postings]


def spell_postings(posting: Posting) -> list[Posting]:
    """The postings of the spell in the work that `posting` is part of, earliest first."""
    mine = Posting.objects.filter(officer_id=posting.officer_id).select_related("unit")
    postings = {p.pk: p for p in mine}
    for spell in spells(posting_facts(postings.values()), posting_continuity()):
        if any(fact.id == posting.pk for fact in spell.postings):
            return [postings[fact.id] for fact in spell.postings]
    return [posting]


# --- For statistics: the unit an officer was posted to on a day, and time in post ----------

# Joins `p` (the posting running on `day`) and `u` (its unit) to rows of `alias`, which has
# an officer_id; `day` is an SQL expression.
UNIT_ON_DAY = """
    JOIN people_posting p ON p.officer_id = {alias}.officer_id
        AND p.started_on <= {day} AND (p.ended_on IS NULL OR p.ended_on >= {day})
    JOIN people_unit u ON u.id = p.unit_id
"""


def stat_dimensions(day: str) -> dict[str, str]:
    """SQL for the statistics' dimensions of a row joined with UNIT_ON_DAY; `day` its date."""
    return {
        "unit": "u.name",
        "unit_kind": "u.kind",
        "month": f"to_char({day}, 'YYYY-MM')",
        "quarter": f"to_char({day}, 'YYYY\"Q\"Q')",
    }


def unit_kinds(*, using: str = DEFAULT_DB_ALIAS) -> dict[str, str]:
    """Unit name -> kind, for every unit."""
    return dict(Unit.objects.using(using).values_list("name", "kind"))


TENURE_BANDS = (
    "CASE WHEN m < 12 THEN '0-12 months' WHEN m < 24 THEN '12-24 months' ELSE '24+ months' END"
)


def time_in_post_rows(
    dims: Sequence[str], first: date, end: date, *, using: str = DEFAULT_DB_ALIAS
) -> Rows:
    """Time in post of everyone posted on the last day of [first, end), in bands (`using`: the
    database alias)."""
    day = end - timedelta(days=1)
    d = stat_dimensions("%(today)s::date")
    who = dims[0]
    return fetch_rows(
        f"""
        SELECT {d[who]} AS {who}, {TENURE_BANDS} AS time_in_post,
               COUNT(DISTINCT x.officer_id) AS people
        FROM (
            SELECT p.officer_id, p.unit_id,
                   EXTRACT(YEAR FROM age(%(today)s, p.started_on)) * 12
                   + EXTRACT(MONTH FROM age(%(today)s, p.started_on)) AS m
            FROM people_posting p
            WHERE p.started_on <= %(today)s AND (p.ended_on IS NULL OR p.ended_on >= %(today)s)
        ) x JOIN people_unit u ON u.id = x.unit_id
        GROUP BY {grouping_sets([d[who], TENURE_BANDS])}
        """,  # noqa: S608
        {"today": day},
        using=using,
    )


# --- Bulk import: the state a file's rows could touch, as the planner takes it ---------------


def import_state(
    *, actor: Any, rows: Sequence[Row], unit_kinds: Sequence[str], lock: bool = False
) -> ImportState:
    """Every unit, and the accounts (with their officer records and postings) that the
    file's people and postings name by user name, staff number or directory id. `lock`:
    those rows are locked for the rest of the transaction (apply), so what was planned is
    what is written."""
    usernames = {r.get("username").lower() for r in rows if r.get("username")}
    staff = {r.get("staff_number").lower() for r in rows if r.get("staff_number")}
    directory_ids = {r.get("directory_id") for r in rows if r.get("directory_id")}
    # FOR NO KEY UPDATE: other writers wait, rows that merely refer to these (an exposure
    # naming an officer) do not.
    units = Unit.objects.order_by("pk")
    officers = Officer.objects.annotate(lstaff=Lower("staff_number")).filter(
        lstaff__in=sorted(staff)
    )
    if lock:
        units = units.select_for_update(no_key=True)
        officers = officers.select_for_update(no_key=True)
    by_staff = {o.user_id: o for o in officers}
    users = (
        User.objects.annotate(lname=Lower("username"))
        .filter(
            Q(lname__in=sorted(usernames))
            | Q(directory_id__in=sorted(directory_ids))
            | Q(pk__in=list(by_staff))
        )
        .order_by("pk")
    )
    if lock:
        users = users.select_for_update(no_key=True)
    accounts = list(users)
    others = Officer.objects.filter(user__in=[a.pk for a in accounts]).exclude(
        user__in=list(by_staff)
    )
    if lock:
        others = others.select_for_update(no_key=True)
    records = by_staff | {o.user_id: o for o in others}
    supervising = set(
        Unit.supervisors.through.objects.filter(  # type: ignore[attr-defined]
            user_id__in=[a.pk for a in accounts]
        ).values_list("user_id", flat=True)
    )
    postings = Posting.objects.filter(officer__in=[o.pk for o in records.values()]).order_by(
        "started_on"
    )
    return ImportState(
        actor_id=actor.pk,
        unit_kinds=tuple(unit_kinds),
        units=tuple(UnitState(u.pk, u.name, u.kind) for u in units),
        accounts=tuple(
            AccountState(
                id=a.pk,
                username=a.username,
                email=a.email,
                role=a.role,
                is_active=a.is_active,
                directory_id=a.directory_id,
                is_superuser=a.is_superuser,
                supervises=a.pk in supervising,
                officer_id=records[a.pk].pk if a.pk in records else None,
                staff_number=records[a.pk].staff_number if a.pk in records else None,
                display_name=records[a.pk].display_name if a.pk in records else None,
            )
            for a in accounts
        ),
        postings=tuple(
            PostingState(p.pk, p.officer_id, p.unit_id, p.started_on, p.ended_on) for p in postings
        ),
    )
