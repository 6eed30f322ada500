"""Statistics: PostgreSQL groups (with GROUPING SETS for the totals), pandas protects.

Every query returns already-aggregated rows, a handful per unit and period, whatever the
size of the history: memory stays bounded. No query returns an identifier, a name or free
text; screening, notes and clinical alerts are never read here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd
from django.db import connection, transaction

from welfare.core import clock
from welfare.exposure.selectors import TOTALS_CATEGORIES, TOTALS_MEDIA
from welfare.stats import rules

ALL = "__all__"

UNIT_AT_DAY = """
    JOIN people_posting p ON p.officer_id = {alias}.officer_id
        AND p.started_on <= {day} AND (p.ended_on IS NULL OR p.ended_on >= {day})
    JOIN people_unit u ON u.id = p.unit_id
"""


def _dim_sql(day: str) -> dict[str, str]:
    return {
        "unit": "u.name",
        "unit_kind": "u.kind",
        "month": f"to_char({day}, 'YYYY-MM')",
        "quarter": f"to_char({day}, 'YYYY\"Q\"Q')",
    }


def grouping_sets(expressions: Sequence[str]) -> str:
    """The cells, each line total and the grand total, in one pass (expressions, not output
    names, so `kind` cannot be mistaken for another table's column)."""
    if len(expressions) == 1:
        return f"GROUPING SETS (({expressions[0]}), ())"
    a, b = expressions
    return f"GROUPING SETS (({a}, {b}), ({a}), ({b}), ())"


def _frame(sql: str, params: dict[str, Any]) -> pd.DataFrame:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = [c.name for c in cursor.description]
        return pd.DataFrame(cursor.fetchall(), columns=columns)


@dataclass
class Table:
    """A protected table and how it was protected."""

    name: str
    dims: list[str]
    columns: list[str]
    frame: pd.DataFrame
    parameters: dict[str, Any] = field(default_factory=dict)

    def cells(self) -> pd.DataFrame:
        return self.frame[self.frame[self.dims].notna().all(axis=1)]

    def totals(self) -> pd.DataFrame:
        return self.frame[self.frame[self.dims].isna().any(axis=1)]


def _parameters(
    name: str, dims: Sequence[str], first: date, end: date, protection: rules.Protection
) -> dict[str, Any]:
    return {
        "table": name,
        "group_by": list(dims),
        "from": first.isoformat(),
        "to": (end.fromordinal(end.toordinal() - 1)).isoformat(),
        "audience": protection.audience,
        "k": protection.k,
        "rounding": (
            f"counts down to a multiple of {protection.rounding}, hours to whole hours, "
            "rates to whole per cent"
        ),
        "suppression": (
            f"cells and totals whose rounded head-count is under {protection.k} withheld; "
            "wherever any output of the period publishes a total, its withheld parts are "
            f"none or at least two, one of {protection.k} or more people, and no withheld "
            f"figure under {protection.k} follows from the published ones"
        ),
        "people": "distinct officers",
        "generated_at": clock.now().isoformat(),
    }


def _kinds() -> dict[Any, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, kind FROM people_unit")
        return dict(cursor.fetchall())


def _quarter_only(first: date, end: date) -> bool:
    start, stop = rules.quarter_of(first)
    return (start, stop) == (first, end)


def _joint(
    raw: Any,
    dims: Sequence[str],
    widest: Sequence[Sequence[str]],
    first: date,
    end: date,
    protection: rules.Protection,
    people: Any = None,
) -> tuple[pd.DataFrame, pd.Series]:
    """The asked grouping's figures and which to withhold, decided over every figure the
    widest groupings of the same period publish (so every grouping agrees with every other,
    and a unit kind's figure is a total over its units'). Only head-counts decide, so the
    other groupings may come from `people`, a cheaper query of head-counts alone."""
    universe = sorted({d for grouping in (*widest, dims) for d in grouping})
    if _quarter_only(first, end):
        universe = [d for d in universe if d != "quarter"]  # one quarter: the period itself
    frame = raw(dims, first, end)
    frames = [(frame, list(dims))]
    for grouping in widest:
        if list(grouping) != list(dims):
            frames.append(((people or raw)(grouping, first, end), list(grouping)))
    kinds = _kinds()
    patterns = rules.joint_withheld(frames, universe=universe, kind_of=kinds, ks=protection.ladder)
    withheld = rules.withheld_rows(
        frame, dims, patterns[protection.k], universe=universe, kind_of=kinds
    )
    return frame, withheld


# --- Exposure --------------------------------------------------------------------------------

MEDIA = TOTALS_MEDIA  # exposure's own lists, not a copy that could drift
CATEGORIES = TOTALS_CATEGORIES


def whole_weeks(first: date, end: date) -> tuple[date, date]:
    """The Mondays of the weeks that lie wholly in [first, end), as a half-open range; the
    days before and after it are the range's cut weeks."""
    start = first + timedelta(days=(7 - first.weekday()) % 7)
    stop = end - timedelta(days=end.weekday())
    return start, max(start, stop)


def _exposure_frame(dims: Sequence[str], first: date, end: date) -> pd.DataFrame:
    """People exposed, total and median hours, weighted index, shares by medium and category,
    and the share of person-weeks over the weekly limit.

    One statement: each person's sums per cell (one parallel pass over the daily totals),
    from which the cells, line totals, people and medians come; and each person-week's
    hours for the share over the weekly limit. A person-week counts in the unit the person
    was posted to on its days and in the period its Monday falls in. Weeks wholly inside
    the range under one posting are read from the weekly totals; the few others (cut by
    the range, or by a posting that starts or ends inside them) are summed from the daily
    totals of those weeks only.
    """
    # Group on cheap keys (ids, first days of periods); names and labels only at the end.
    raw_day = {
        "unit": "p.unit_id",
        "unit_kind": "u.kind",
        "month": "date_trunc('month', t.day::timestamp)::date",
        "quarter": "date_trunc('quarter', t.day::timestamp)::date",
    }
    raw_week = {
        "unit": "pw.unit_id",
        "unit_kind": "u.kind",
        "month": "date_trunc('month', pw.week::timestamp)::date",
        "quarter": "date_trunc('quarter', pw.week::timestamp)::date",
    }
    label = {
        "unit": "un.name",
        "unit_kind": "c.unit_kind",
        "month": "to_char(c.month, 'YYYY-MM')",
        "quarter": "to_char(c.quarter, 'YYYY\"Q\"Q')",
    }
    sums = ["seconds", "weighted_seconds", "violent_seconds"]
    sums += [f"{m}_seconds" for m in MEDIA] + [f"category_{c}_seconds" for c in CATEGORIES]
    shares = ", ".join(
        [f"100.0 * SUM({m}_seconds) / NULLIF(SUM(seconds), 0) AS {m}_pct" for m in MEDIA]
        + [
            f"100.0 * SUM(category_{c}_seconds) / NULLIF(SUM(seconds), 0) AS category_{c}_pct"
            for c in CATEGORIES
        ]
    )
    sets = [list(dims), [dims[0]], [dims[1]], []] if len(dims) == 2 else [list(dims), []]

    def per_person(grouping: list[str]) -> str:
        """People and their median hours in each group of one grouping set: person_cells
        already has one row per person in the finest groups; coarser ones add them up."""
        keys = "".join(f"c_{x}, " for x in grouping)
        source = "person_cells"
        if len(grouping) < len(dims):
            source = f"""(SELECT {keys}officer_id, SUM(seconds) AS seconds FROM person_cells
                GROUP BY {keys}officer_id) per_person"""  # noqa: S608 - fixed dimension names
        return f"""
        SELECT {", ".join(f"c_{x} AS {x}" if x in grouping else f"NULL AS {x}" for x in dims)},
               COUNT(*) AS people,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) / 3600.0 AS median_hours
        FROM {source}
        {"GROUP BY " + ", ".join(f"c_{x}" for x in grouping) if grouping else ""}
        """  # noqa: S608 - dimensions come from a fixed list

    def key(alias: str) -> str:  # "all" is a value here, so the joins can hash
        return ", ".join(f"COALESCE({alias}.{x}::text, '{ALL}') AS k_{x}" for x in dims)

    def joined(alias: str) -> str:
        return " AND ".join(f"{alias}.k_{x} = c.k_{x}" for x in dims)

    def week_cells(person_weeks: str) -> str:
        """Person-weeks and those over the limit per cell, from (unit_id, week, over) rows."""
        return f"""
            SELECT {", ".join(f"{raw_week[x]} AS {x}" for x in dims)},
                   COUNT(*) AS n, COUNT(*) FILTER (WHERE pw.over) AS n_over
            FROM ({person_weeks}) pw {week_kind_join}
            GROUP BY {", ".join(raw_week[x] for x in dims)}
        """  # noqa: S608 - dimensions come from a fixed list

    kind_join = "JOIN people_unit u ON u.id = p.unit_id" if "unit_kind" in dims else ""
    week_kind_join = "JOIN people_unit u ON u.id = pw.unit_id" if "unit_kind" in dims else ""
    unit_join = "LEFT JOIN people_unit un ON un.id = c.unit" if "unit" in dims else ""
    week_of = "date_trunc('week', {}::timestamp)::date"
    # Weeks wholly in the range under one posting: one row each from the weekly totals.
    whole_weeks_sql = """
        SELECT p.unit_id, w.week, w.seconds > p.limit_seconds AS over
        FROM exposure_weeklytotal w
        JOIN limits p ON p.officer_id = w.officer_id
         AND p.started_on <= w.week AND (p.ended_on IS NULL OR p.ended_on >= w.week + 6)
        WHERE w.week >= %(weeks_from)s AND w.week < %(weeks_to)s AND w.seconds > 0
    """
    # Weeks cut by the range or by a posting starting or ending inside them: from their days.
    cut_weeks_sql = f"""
        SELECT p.unit_id, {week_of.format("t.day")} AS week,
               SUM(t.seconds) > MIN(p.limit_seconds) AS over
        FROM (
            SELECT t.officer_id, t.day, t.seconds FROM exposure_dailytotal t
            WHERE (t.day >= %(first)s AND t.day < %(head_end)s)
               OR (t.day >= %(tail_start)s AND t.day < %(end)s)
            UNION ALL
            SELECT t.officer_id, t.day, t.seconds
            FROM cut_weeks c CROSS JOIN LATERAL (
                SELECT t.officer_id, t.day, t.seconds FROM exposure_dailytotal t
                WHERE t.officer_id = c.officer_id
                  AND t.day >= c.week AND t.day < c.week + 7
                OFFSET 0  -- an index range per cut week, never a pass over the table
            ) t
        ) t
        JOIN limits p ON p.officer_id = t.officer_id
         AND p.started_on <= t.day AND (p.ended_on IS NULL OR p.ended_on >= t.day)
        WHERE t.seconds > 0
        GROUP BY t.officer_id, p.unit_id, 2
    """  # noqa: S608 - fixed expressions only
    sql = f"""
        WITH person_cells AS MATERIALIZED (
            SELECT t.officer_id, {", ".join(f"{raw_day[x]} AS c_{x}" for x in dims)},
                   {", ".join(f"SUM(t.{c}::float8) AS {c}" for c in sums)}
            FROM exposure_dailytotal t
            JOIN people_posting p ON p.officer_id = t.officer_id
             AND p.started_on <= t.day AND (p.ended_on IS NULL OR p.ended_on >= t.day)
            {kind_join}
            WHERE t.day >= %(first)s AND t.day < %(end)s AND t.seconds > 0
            GROUP BY t.officer_id, {", ".join(raw_day[x] for x in dims)}
        ),
        totals AS (
            SELECT {", ".join(f"c_{x} AS {x}" for x in dims)},
                   SUM(seconds) / 3600.0 AS hours,
                   SUM(weighted_seconds) / 3600.0 AS weighted_hours,
                   100.0 * SUM(violent_seconds) / NULLIF(SUM(seconds), 0) AS violent_pct, {shares}
            FROM person_cells
            GROUP BY {grouping_sets([f"c_{x}" for x in dims])}
        ),
        people AS (
            SELECT m.people, m.median_hours, {key("m")}
            FROM ({" UNION ALL ".join(per_person(grouping) for grouping in sets)}) m
        ),
        limits AS NOT MATERIALIZED (
            SELECT p.officer_id, p.unit_id, p.started_on, p.ended_on,
                   60 * COALESCE(up.week_minutes, fp.week_minutes) AS limit_seconds
            FROM people_posting p
            LEFT JOIN exposure_exposurepolicy up ON up.unit_id = p.unit_id
            CROSS JOIN (
                SELECT week_minutes FROM exposure_exposurepolicy WHERE unit_id IS NULL
            ) fp
        ),
        cut_weeks AS (
            SELECT DISTINCT x.officer_id, v.week
            FROM people_posting x, LATERAL (VALUES
                (CASE WHEN x.started_on <> {week_of.format("x.started_on")}
                      THEN {week_of.format("x.started_on")} END),
                (CASE WHEN x.ended_on <> {week_of.format("x.ended_on")} + 6
                      THEN {week_of.format("x.ended_on")} END)
            ) v (week)
            WHERE v.week >= %(weeks_from)s AND v.week < %(weeks_to)s
        ),
        week_cells AS (
            {week_cells(whole_weeks_sql)}
            UNION ALL
            {week_cells(cut_weeks_sql)}
        ),
        weeks AS (
            SELECT w.*, {key("w")} FROM (
                SELECT {", ".join(dims)}, SUM(n)::bigint AS person_weeks,
                       100.0 * SUM(n_over) / NULLIF(SUM(n), 0) AS weeks_over_limit_pct
                FROM week_cells
                GROUP BY {grouping_sets(list(dims))}
            ) w
        )
        SELECT {", ".join(f"{label[x]} AS {x}" for x in dims)},
               m.people, c.hours, c.weighted_hours, c.violent_pct,
               {", ".join(f"c.{m}_pct" for m in MEDIA)},
               {", ".join(f"c.category_{c}_pct" for c in CATEGORIES)},
               m.median_hours, w.person_weeks, w.weeks_over_limit_pct
        FROM (SELECT totals.*, {key("totals")} FROM totals) c
        {unit_join}
        LEFT JOIN people m ON {joined("m")}
        LEFT JOIN weeks w ON {joined("w")}
    """  # noqa: S608 - dimensions come from a fixed list, values are parameters
    weeks_from, weeks_to = whole_weeks(first, end)
    params = {
        "first": first,
        "end": end,
        "weeks_from": weeks_from,
        "weeks_to": weeks_to,
        "head_end": min(weeks_from, end),
        "tail_start": weeks_to,
    }
    with transaction.atomic():
        with connection.cursor() as cursor:
            # For this statement only: room for the per-person groups in memory, and parallel
            # workers for the one pass over the daily totals (the groups are few per row).
            cursor.execute(
                "SET LOCAL work_mem = '64MB'; SET LOCAL parallel_setup_cost = 0;"
                " SET LOCAL parallel_tuple_cost = 0"
            )
        return _frame(sql, params)


WIDEST_EXPOSURE = (("unit", "month"), ("unit_kind", "month"))


def _exposure_people(dims: Sequence[str], first: date, end: date) -> pd.DataFrame:
    """Distinct people exposed per group, as `_exposure_frame` counts them (a person in the
    unit of their posting on each day they viewed), and nothing else."""
    d = {**_dim_sql("t.day"), "unit": "u.name"}
    return _frame(
        f"""
        SELECT {", ".join(f"{d[x]} AS {x}" for x in dims)},
               COUNT(DISTINCT t.officer_id) AS people
        FROM exposure_dailytotal t {UNIT_AT_DAY.format(alias="t", day="t.day")}
        WHERE t.day >= %(first)s AND t.day < %(end)s AND t.seconds > 0
        GROUP BY {grouping_sets([d[x] for x in dims])}
        """,  # noqa: S608 - dimensions come from a fixed list
        {"first": first, "end": end},
    )


def exposure_table(
    dims: Sequence[str], first: date, end: date, protection: rules.Protection
) -> Table:
    """The exposure figures of one grouping, protected with every other grouping's."""
    frame, withheld = _joint(
        _exposure_frame, dims, WIDEST_EXPOSURE, first, end, protection, _exposure_people
    )
    rates = [
        "violent_pct",
        *(f"{m}_pct" for m in MEDIA),
        *(f"category_{c}_pct" for c in CATEGORIES),
        "weeks_over_limit_pct",
    ]
    protected = rules.protect(
        frame,
        dims=dims,
        protection=protection,
        counts=["person_weeks"],
        hours=["hours", "weighted_hours", "median_hours"],
        rates=rates,
        withheld=withheld,
    )
    columns = [
        *dims, "people", "hours", "median_hours", "weighted_hours", "person_weeks",
        "weeks_over_limit_pct", "violent_pct", *(f"{m}_pct" for m in MEDIA),
        *(f"category_{c}_pct" for c in CATEGORIES), rules.SUPPRESSED,
    ]  # fmt: skip
    return Table(
        "exposure",
        list(dims),
        columns,
        protected[columns],
        _parameters("exposure", dims, first, end, protection),
    )


WIDEST_CHECKINS = (("unit", "month"), ("unit_kind", "month"))
WIDEST_ALERTS = (
    ("kind", "unit"),
    ("kind", "unit_kind"),
    ("kind", "month"),
    ("unit", "month"),
    ("unit_kind", "month"),
)


# --- Check-ins ------------------------------------------------------------------------------------


def _checkins_frame(dims: Sequence[str], first: date, end: date) -> pd.DataFrame:
    """Check-ins due in each period: completed on time, late, overdue, missed; on-time rate
    over those whose due date has passed. Self-referrals are occupational health's alone."""
    d = _dim_sql("c.due_on")
    params = {"first": first, "end": end, "today": clock.today(), "tz": str(clock.local_zone())}
    on_time = (
        "c.completed_at IS NOT NULL AND (c.completed_at AT TIME ZONE %(tz)s)::date <= c.due_on"
    )
    late = "c.completed_at IS NOT NULL AND (c.completed_at AT TIME ZONE %(tz)s)::date > c.due_on"
    return _frame(
        f"""
        SELECT {", ".join(f"{d[x]} AS {x}" for x in dims)},
               COUNT(DISTINCT c.officer_id) AS people, COUNT(*) AS due,
               COUNT(*) FILTER (WHERE {on_time}) AS completed_on_time,
               COUNT(*) FILTER (WHERE {late}) AS completed_late,
               COUNT(*) FILTER (WHERE c.status = 'overdue') AS overdue,
               COUNT(*) FILTER (WHERE c.status = 'missed') AS missed,
               100.0 * COUNT(*) FILTER (WHERE {on_time})
                   / NULLIF(COUNT(*) FILTER (
                       WHERE c.due_on < %(today)s OR c.completed_at IS NOT NULL), 0)
                   AS on_time_pct
        FROM checkins_checkin c {UNIT_AT_DAY.format(alias="c", day="c.due_on")}
        WHERE c.due_on >= %(first)s AND c.due_on < %(end)s
          AND c.kind <> 'self_referral' AND c.status <> 'cancelled'
        GROUP BY {grouping_sets([d[x] for x in dims])}
        """,  # noqa: S608
        params,
    )


def checkins_table(
    dims: Sequence[str], first: date, end: date, protection: rules.Protection
) -> Table:
    """The check-in figures of one grouping, protected with every other grouping's."""
    frame, withheld = _joint(_checkins_frame, dims, WIDEST_CHECKINS, first, end, protection)
    counts = ["due", "completed_on_time", "completed_late", "overdue", "missed"]
    protected = rules.protect(
        frame,
        dims=dims,
        protection=protection,
        counts=counts,
        rates=["on_time_pct"],
        withheld=withheld,
    )
    columns = [*dims, "people", *counts, "on_time_pct", rules.SUPPRESSED]
    return Table(
        "checkins",
        list(dims),
        columns,
        protected[columns],
        _parameters("checkins", dims, first, end, protection),
    )


# --- Alerts -------------------------------------------------------------------------------------


def _alerts_frame(dims: Sequence[str], first: date, end: date) -> pd.DataFrame:
    """Alerts raised, acknowledged within 48 hours, and resolved. Clinical alerts are left out."""
    day = "(a.raised_at AT TIME ZONE %(tz)s)::date"
    d = {**_dim_sql(day), "kind": "a.kind"}
    params = {"first": first, "end": end, "tz": str(clock.local_zone())}
    return _frame(
        f"""
        SELECT {", ".join(f"{d[x]} AS {x}" for x in dims)},
               COUNT(DISTINCT a.officer_id) AS people, COUNT(*) AS raised,
               COUNT(*) FILTER (WHERE a.acknowledged_at <= a.raised_at + interval '48 hours')
                   AS acknowledged_within_48h,
               COUNT(*) FILTER (WHERE a.status = 'resolved') AS resolved
        FROM alerts_alert a {UNIT_AT_DAY.format(alias="a", day=day)}
        WHERE {day} >= %(first)s AND {day} < %(end)s
          AND NOT a.clinical AND a.kind <> 'screening_risk'
        GROUP BY {grouping_sets([d[x] for x in dims])}
        """,  # noqa: S608
        params,
    )


def alerts_table(
    dims: Sequence[str], first: date, end: date, protection: rules.Protection
) -> Table:
    """The alert figures of one grouping, protected with every other grouping's."""
    frame, withheld = _joint(_alerts_frame, dims, WIDEST_ALERTS, first, end, protection)
    counts = ["raised", "acknowledged_within_48h", "resolved"]
    protected = rules.protect(
        frame, dims=dims, protection=protection, counts=counts, withheld=withheld
    )
    columns = [*dims, "people", *counts, rules.SUPPRESSED]
    return Table(
        "alerts",
        list(dims),
        columns,
        protected[columns],
        _parameters("alerts", dims, first, end, protection),
    )


# --- Rotation -------------------------------------------------------------------------------------

TENURE_BANDS = (
    "CASE WHEN m < 12 THEN '0-12 months' WHEN m < 24 THEN '12-24 months' ELSE '24+ months' END"
)


def _rotation_frame(dims: Sequence[str], first: date, end: date) -> pd.DataFrame:
    """Time in post of everyone posted on the last day of [first, end), in bands."""
    day = end - timedelta(days=1)
    d = _dim_sql("%(today)s::date")
    who = dims[0]
    return _frame(
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
    )


WIDEST_ROTATION = (("unit", "time_in_post"), ("unit_kind", "time_in_post"))


def rotation_table(dims: Sequence[str], protection: rules.Protection, *, day: date) -> Table:
    """Time in post of everyone posted on `day` (the last day of an ended quarter, so the
    figures do not change from one day to the next), in bands."""
    table_dims = [dims[0], "time_in_post"]
    end = day + timedelta(days=1)
    frame, withheld = _joint(_rotation_frame, table_dims, WIDEST_ROTATION, day, end, protection)
    protected = rules.protect(frame, dims=table_dims, protection=protection, withheld=withheld)
    columns = [*table_dims, "people", rules.SUPPRESSED]
    parameters = _parameters("rotation", table_dims, day, end, protection)
    return Table("rotation", table_dims, columns, protected[columns], parameters)
