"""Daily totals, kept in PostgreSQL by one set-based statement.

The statement splits every current session overlapping the affected local days at
local midnight (the force's time zone, so 23- and 25-hour days come out right) and
upserts one row per officer and day, and the week and month totals of the weeks and months
those days fall in (new days plus the period's other days as stored). Used after every log,
amendment, void and import (a handful of days), and to rebuild everything when weights
change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date
from functools import lru_cache
from typing import Any

from django.db import connection

from welfare.core import clock
from welfare.core.db import prepared_cursor
from welfare.exposure.models import (
    CATEGORY_COLUMNS,
    MEDIUM_COLUMNS,
    MONTHLY_COLUMNS,
    SessionState,
)
from welfare.exposure.rules import DEFAULT_WEIGHTS, Weights

# The defaults as JSON text, cast to jsonb by the statement: written once, not on every call.
_DEFAULT_WEIGHTS_JSON = json.dumps(DEFAULT_WEIGHTS.to_json(), sort_keys=True)


def _weight_sql(weights: Weights | None) -> tuple[str, dict[str, Any]]:
    """The weight of a session part as SQL, with its values as named parameters. Without
    weights, those stored on the force policy are read by the statement itself (the
    defaults when it has none), which saves a round trip on every logged session."""
    if weights is None:
        sql = (
            "COALESCE((w.j->'medium'->>p.material)::float8, 1.0)"
            " * COALESCE((w.j->'category'->>p.category)::float8, 1.0)"
            " * (CASE WHEN p.violent THEN COALESCE((w.j->>'violent')::float8, 1.0) ELSE 1.0 END)"
        )
        return sql, {"default_weights": _DEFAULT_WEIGHTS_JSON}
    params: dict[str, Any] = {}
    medium_cases = []
    for n, (name, value) in enumerate(weights.medium.items()):
        params[f"wm_name{n}"], params[f"wm{n}"] = name, value
        medium_cases.append(f"WHEN %(wm_name{n})s THEN %(wm{n})s::float8")
    category_cases = []
    for n, (name, value) in enumerate(weights.category.items()):
        params[f"wc_name{n}"], params[f"wc{n}"] = name, value
        category_cases.append(f"WHEN %(wc_name{n})s THEN %(wc{n})s::float8")
    params["wv"] = weights.violent
    sql = (
        f"(CASE p.material {' '.join(medium_cases)} ELSE 1.0 END)"
        f" * (CASE p.category {' '.join(category_cases)} ELSE 1.0 END)"
        " * (CASE WHEN p.violent THEN %(wv)s::float8 ELSE 1.0 END)"
    )
    return sql, params


# The force policy's weights, or the defaults when it has none (as `current_weights()`).
_STORED_WEIGHTS = """
    w AS (
        SELECT COALESCE(
            (SELECT NULLIF(weights, '{}'::jsonb) FROM exposure_exposurepolicy
             WHERE unit_id IS NULL),
            %(default_weights)s::jsonb) AS j
    ),"""


# The Monday of a local day's week, the first day of its month (no time zone involved: days
# are already local).
WEEK_OF_DAY = "date_trunc('week', day::timestamp)::date"
MONTH_OF_DAY = "date_trunc('month', day::timestamp)::date"

_COLUMNS = ["sessions", *MONTHLY_COLUMNS, "first_start", "last_end", "spans", "updated_at"]


def _period_totals(
    periods: str, table: str, key: str, of_day: str, end: str, columns: Sequence[str]
) -> str:
    """Two CTEs after `upserted`: the (officer, `key`) periods of the days just written, and
    the upsert of their totals in `table`, summed from those days as written and the
    periods' other days as stored (an index range each, by the unique (officer, day) index).
    `end`: the day after a period `p`."""
    names = ", ".join(columns)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns)
    return f"""
        {periods} AS (SELECT DISTINCT officer_id, {of_day} AS {key} FROM upserted),
        {periods}_written AS (
            INSERT INTO {table} (officer_id, {key}, {names})
            SELECT officer_id, {of_day}, {", ".join(f"SUM({c})" for c in columns)} FROM (
                SELECT officer_id, day, {names} FROM upserted
                UNION ALL
                SELECT t.officer_id, t.day, {", ".join(f"t.{c}" for c in columns)}
                FROM {periods} p
                JOIN exposure_dailytotal t ON t.officer_id = p.officer_id
                 AND t.day >= p.{key} AND t.day < {end}
                WHERE NOT EXISTS (
                    SELECT 1 FROM upserted u WHERE u.officer_id = t.officer_id AND u.day = t.day
                )
            ) period_days
            GROUP BY 1, 2
            ON CONFLICT (officer_id, {key}) DO UPDATE SET {updates}
        )"""  # noqa: S608 - names of tables and columns only


def _upsert_sql(affected_sql: str, weights: Weights | None) -> tuple[str, dict[str, Any]]:
    weight, weight_params = _weight_sql(weights)
    return _upsert_text(affected_sql, weight, weights is None), weight_params


@lru_cache(maxsize=32)
def _upsert_text(affected_sql: str, weight: str, stored_weights: bool) -> str:
    """The statement's text, built once per shape (every logged session runs the same)."""
    secs = "p.secs"  # each part's seconds, computed once in `parts`
    medium_sums = ",\n".join(
        f"COALESCE(SUM({secs}) FILTER (WHERE p.material = '{m}'), 0)::bigint AS {col}"
        for m, col in MEDIUM_COLUMNS.items()
    )
    category_sums = ",\n".join(
        f"COALESCE(SUM({secs}) FILTER (WHERE p.category = '{c}'), 0)::bigint AS {col}"
        for c, col in CATEGORY_COLUMNS.items()
    )
    columns = ", ".join(_COLUMNS)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS)
    month_end = "(p.month + interval '1 month')::date"
    periods = ",".join(
        [
            _period_totals(
                "weeks", "exposure_weeklytotal", "week", WEEK_OF_DAY, "p.week + 7", ["seconds"]
            ),
            _period_totals(
                "months", "exposure_monthlytotal", "month", MONTH_OF_DAY, month_end, MONTHLY_COLUMNS
            ),
        ]
    )
    # Built from constants and column names only; every value travels as a parameter.
    sql = f"""
        WITH affected AS ({affected_sql}),{_STORED_WEIGHTS if stored_weights else ""}
        bounds AS (
            SELECT officer_id, day,
                   (day::timestamp AT TIME ZONE %(tz)s) AS lo,
                   ((day + 1)::timestamp AT TIME ZONE %(tz)s) AS hi
            FROM affected
        ),
        parts AS (
            SELECT b.officer_id, b.day, s.material, s.category, s.violent,
                   GREATEST(s.started_at, b.lo) AS p_start, LEAST(s.ended_at, b.hi) AS p_end,
                   EXTRACT(EPOCH FROM LEAST(s.ended_at, b.hi) - GREATEST(s.started_at, b.lo))
                       AS secs
            FROM bounds b
            JOIN exposure_exposuresession s
              ON s.officer_id = b.officer_id AND s.state = '{SessionState.CURRENT}'
             AND s.started_at < b.hi AND s.ended_at > b.lo
             -- No session lasts more than 24 hours (a constraint), so this bounds the
             -- index scan to the day's sessions, not the officer's whole history.
             AND s.started_at > b.lo - interval '24 hours'
        ),
        sums AS (
            SELECT b.officer_id, b.day,
                   COUNT(p.p_start) AS sessions,
                   COALESCE(SUM({secs}), 0)::bigint AS seconds,
                   COALESCE(SUM({secs} * {weight}), 0)::float8 AS weighted_seconds,
                   COALESCE(SUM({secs}) FILTER (WHERE p.violent), 0)::bigint AS violent_seconds,
                   {medium_sums},
                   {category_sums},
                   MIN(p.p_start) AS first_start,
                   MAX(p.p_end) AS last_end,
                   COALESCE(array_agg(ARRAY[
                       EXTRACT(EPOCH FROM p.p_start - b.lo)::float8,
                       EXTRACT(EPOCH FROM p.p_end - b.lo)::float8
                   ] ORDER BY p.p_start, p.p_end) FILTER (WHERE p.p_start IS NOT NULL),
                   '{{}}'::float8[]) AS spans,
                   %(now)s::timestamptz AS updated_at
            FROM bounds b
            LEFT JOIN parts p ON p.officer_id = b.officer_id AND p.day = b.day
            {"CROSS JOIN w" if stored_weights else ""}
            GROUP BY b.officer_id, b.day, b.lo
        ),
        -- The days as written, their sums only (the spans and times stay in the pass above).
        upserted AS (
            INSERT INTO exposure_dailytotal (officer_id, day, {columns})
            SELECT officer_id, day, {columns} FROM sums
            ON CONFLICT (officer_id, day) DO UPDATE SET {updates}
            RETURNING officer_id, day, {", ".join(MONTHLY_COLUMNS)}
        ),
        -- Their weeks and months: the days just written, and the periods' other days as stored.
        {periods}
        SELECT COUNT(*) FROM upserted
    """  # noqa: S608
    return sql


def _execute(
    affected_sql: str,
    affected_params: dict[str, Any],
    weights: Weights | None,
    *,
    prepared: bool = False,
) -> int:
    """Run the upsert. `prepared` for the few days of one officer (every logged session):
    planned once per connection. A rebuild is planned for what it is asked."""
    sql, weight_params = _upsert_sql(affected_sql, weights)
    params = {
        **affected_params,
        **weight_params,
        "tz": str(clock.local_zone()),
        "now": clock.now(),
    }
    with prepared_cursor() if prepared else connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
        return int(row[0]) if row else 0


OFFICER_LOCK_SPACE = 0x4558  # "EX": one space of advisory locks for exposure writes


def lock_officer(officer_id: int) -> None:
    """Serialise one officer's exposure writes until the transaction ends.

    Without it, two transactions logging for the same officer could each upsert a daily
    total computed from a snapshot that misses the other's session (a lost update), or
    deadlock in the overlap check. Different officers never wait for each other.
    """
    with prepared_cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [OFFICER_LOCK_SPACE, officer_id])


_DAYS_OF_ONE_OFFICER = (
    "SELECT %(officer)s::bigint AS officer_id, d::date AS day FROM unnest(%(days)s::date[]) AS d"
)


def recompute_days(*, officer_id: int, days: Iterable[date], weights: Weights | None) -> int:
    """Recompute one officer's totals for the given local days (weights None: the force
    policy's, read by the statement)."""
    day_list = sorted(set(days))
    if not day_list:
        return 0
    params = {"officer": officer_id, "days": day_list}
    return _execute(_DAYS_OF_ONE_OFFICER, params, weights, prepared=True)


def rebuild(*, weights: Weights, officer_ids: Sequence[int] | None = None) -> int:
    """Recompute every day that has (or had) viewing, for some officers or all."""
    where = "AND s.officer_id = ANY(%(officers)s)" if officer_ids is not None else ""
    known = "WHERE officer_id = ANY(%(officers)s)" if officer_ids is not None else ""
    affected = f"""
        SELECT DISTINCT s.officer_id, d::date AS day
        FROM exposure_exposuresession s,
             generate_series(
                 (s.started_at AT TIME ZONE %(tz)s)::date,
                 ((s.ended_at - interval '1 microsecond') AT TIME ZONE %(tz)s)::date,
                 interval '1 day') AS d
        WHERE s.state = '{SessionState.CURRENT}' {where}
        UNION
        SELECT officer_id, day FROM exposure_dailytotal {known}
    """  # noqa: S608
    params: dict[str, Any] = {"officers": list(officer_ids)} if officer_ids is not None else {}
    return _execute(affected, params, weights)
