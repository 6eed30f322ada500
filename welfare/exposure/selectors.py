from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import Q, QuerySet

from welfare.core import clock
from welfare.core.db import fetch_frame, get_or_404, grouping_sets, id_array, prepared_cursor
from welfare.core.roles import Role
from welfare.exposure import rules
from welfare.exposure.models import (
    CATEGORY_COLUMNS,
    MEDIUM_COLUMNS,
    DailyTotal,
    ExposurePolicy,
    ExposureSession,
    Restriction,
    SessionState,
)
from welfare.people.models import Officer
from welfare.people.selectors import officers_visible_to

EXPOSURE_READERS = {Role.OFFICER, Role.SUPERVISOR, Role.OH}
# The media and categories as the daily totals' columns name them (`<medium>_seconds`,
# `category_<c>_seconds`), for readers of the totals such as the statistics.
TOTALS_MEDIA: tuple[str, ...] = tuple(MEDIUM_COLUMNS)
TOTALS_CATEGORIES: tuple[str, ...] = tuple(c.lower() for c in CATEGORY_COLUMNS)


def exposures_visible_to(user: Any, *, include: Iterable[str] = ()) -> QuerySet[ExposureSession]:
    """Sessions of the officers the caller may see; current, non-void versions unless asked.

    `include`: "void" adds voided sessions, "superseded" adds every earlier version too.
    HR and admin never see a person's sessions.
    """
    if user.role not in EXPOSURE_READERS:
        return ExposureSession.objects.none()
    sessions = ExposureSession.objects.filter(officer__in=officers_visible_to(user).values("pk"))
    wanted = set(include)
    if "superseded" in wanted:
        return sessions
    states = [SessionState.CURRENT] + ([SessionState.VOID] if "void" in wanted else [])
    return sessions.filter(state__in=states)


def exposure_get_for_user(user: Any, session_id: object) -> ExposureSession:
    visible = exposures_visible_to(user, include=("superseded",)).select_related("officer")
    return get_or_404(visible, session_id)


def histories_of(sessions: Iterable[ExposureSession]) -> dict[Any, list[ExposureSession]]:
    """Every version of each session's lineage, oldest first, in one query."""
    lineages = {session.lineage for session in sessions}
    grouped: dict[Any, list[ExposureSession]] = defaultdict(list)
    if lineages:
        for version in ExposureSession.objects.filter(lineage__in=lineages).order_by(
            "lineage", "version"
        ):
            grouped[version.lineage].append(version)
    return grouped


def _layer(policy: ExposurePolicy | None) -> rules.PolicyLayer | None:
    if policy is None:
        return None
    return rules.PolicyLayer(**{name: getattr(policy, name) for name in rules.LIMIT_FIELDS})


def force_layer() -> rules.PolicyLayer:
    """The force policy's limits; the shipped defaults where a database has none (the
    migration creates it; a read never writes it)."""
    stored = _layer(ExposurePolicy.objects.filter(unit__isnull=True).first())
    return stored or rules.PolicyLayer(
        **{name: rules.FORCE_DEFAULTS[name] for name in rules.LIMIT_FIELDS}
    )


@dataclass(frozen=True)
class LimitInput:
    """What the limit rules need for one officer on one day."""

    usage: rules.Usage
    viewing_mask: int  # bit n: viewing n days before the day
    spans: Sequence[Sequence[float]]  # the day's viewing: [start, end] seconds after midnight
    policy: rules.Policy

    def longest_block_minutes(self) -> float:
        gap = self.policy.break_minutes * 60
        return rules.longest_run_seconds(self.spans, gap) / 60


# Each officer's windows ending on one day, in one statement: the same reads as the bare
# "every officer's day, 7 and 28 days" query (a range of days across officers), plus what
# the other rules need and the unit the officer was posted to. With an attention floor,
# only officers who could need attention come back (see rules.attention_floor).
_MEDIA = list(MEDIUM_COLUMNS.items())
PREPARED_WINDOW_MAX = 200  # officers; see limit_inputs
# The unit an officer was posted to on the day (postings never overlap: a constraint). For
# many officers, one pass over the postings; for a few, an index lookup each.
_POSTING_MANY = """
    LEFT JOIN people_posting p
      ON p.officer_id = o.officer_id AND p.started_on <= %(on)s
     AND (p.ended_on IS NULL OR p.ended_on >= %(on)s)
"""
_POSTING_FEW = """
    LEFT JOIN LATERAL (
        SELECT unit_id FROM people_posting
        WHERE officer_id = o.officer_id AND started_on <= %(on)s
          AND (ended_on IS NULL OR ended_on >= %(on)s)
        LIMIT 1
    ) p ON true
"""
_DAY_TIMES = ("first_start", "last_end")  # packed as epoch seconds (see _window)
_DAY_FLOATS = ("seconds", "weighted_seconds")  # read as float8 anyway
_DAY_COLUMNS = ["seconds", "weighted_seconds", "first_start", "last_end", "spans"] + [
    c for _, c in _MEDIA
]
_WINDOW_SQL = f"""
    SELECT %(on)s::date, o.officer_id, p.unit_id,
           COALESCE(<d>seconds, 0)::float8, COALESCE(t.week_seconds, 0),
           COALESCE(t.rolling_28d_seconds, 0), COALESCE(<d>weighted_seconds, 0),
           COALESCE(t.week_weighted, 0), COALESCE(t.rolling_28d_weighted, 0),
           COALESCE(t.mask, 0), EXTRACT(EPOCH FROM <d>last_end)::float8, <d>spans,
           {", ".join(f"<d>{c}" for _, c in _MEDIA)}
    FROM unnest(%(officers)s::bigint[]) AS o(officer_id)
    LEFT JOIN (
        SELECT officer_id,
               SUM(seconds) FILTER (WHERE day > %(on)s - 7)::float8 AS week_seconds,
               SUM(seconds) FILTER (WHERE day > %(on)s - 28)::float8 AS rolling_28d_seconds,
               SUM(weighted_seconds) FILTER (WHERE day > %(on)s - 7) AS week_weighted,
               SUM(weighted_seconds) FILTER (WHERE day > %(on)s - 28) AS rolling_28d_weighted,
               bit_or(1::bigint << (%(on)s - day)) FILTER (WHERE seconds > 0) AS mask
               <day_columns>
        FROM exposure_dailytotal
        WHERE officer_id = ANY(%(officers)s::bigint[]) AND day BETWEEN %(on)s - 28 AND %(on)s
        GROUP BY officer_id
    ) t ON t.officer_id = o.officer_id
    <day_join>
    <posting>
    WHERE %(everyone)s OR o.officer_id = ANY(%(restricted)s::bigint[])
       OR <d>seconds >= %(floor_day_seconds)s OR <d>weighted_seconds >= %(floor_day_weighted)s
       OR t.week_seconds >= %(floor_week_seconds)s
       OR t.rolling_28d_seconds >= %(floor_rolling_28d_seconds)s
       OR t.week_weighted >= %(floor_week_weighted)s
       OR t.rolling_28d_weighted >= %(floor_rolling_28d_weighted)s
       OR (<d>last_end - <d>first_start >= %(floor_span)s * interval '1 second'
           AND welfare_longest_run(<d>spans, %(floor_gap)s) >= %(floor_span)s)
       OR (t.mask & %(floor_streak)s) = %(floor_streak)s
       OR <d>last_end AT TIME ZONE %(tz)s > %(on)s::timestamp + %(floor_end)s * interval '1 minute'
"""  # noqa: S608 - names from constants; values are parameters


def _window(*, few: bool) -> str:
    """The window read for a few officers or for many. The day's own row (viewing only):
    for a few, an index lookup each; for many, taken from the 29 days the window reads
    anyway (at most one row per officer and day, so `max` is that row's value), as the
    lookups touched a heap page per officer. Its numbers travel packed in one array under
    one filter: an aggregate per column evaluated the filter for each of the 29 rows, a
    sixth of the statement. The posting, as _POSTING_FEW / _POSTING_MANY."""
    if few:
        parts = {
            "<day_columns>": "",
            "<day_join>": "LEFT JOIN exposure_dailytotal d ON d.officer_id = o.officer_id"
            " AND d.day = %(on)s AND d.seconds > 0",
            "<posting>": _POSTING_FEW,
        }
        day_column = {c: f"d.{c}" for c in _DAY_COLUMNS}
    else:
        today = "FILTER (WHERE day = %(on)s AND seconds > 0)"
        numbers = [c for c in _DAY_COLUMNS if c != "spans"]
        packed = ", ".join(
            f"EXTRACT(EPOCH FROM {c})::float8" if c in _DAY_TIMES else f"{c}::float8"
            for c in numbers
        )
        parts = {
            "<day_columns>": f", max(ARRAY[{packed}]) {today} AS day_values,"
            f" max(spans) {today} AS day_spans",
            "<day_join>": "",
            "<posting>": _POSTING_MANY,
        }
        day_column = {"spans": "t.day_spans"}
        for n, c in enumerate(numbers, start=1):
            value = f"t.day_values[{n}]"
            day_column[c] = (
                f"to_timestamp({value})"
                if c in _DAY_TIMES
                else value
                if c in _DAY_FLOATS
                else f"{value}::bigint"
            )
    sql = _WINDOW_SQL
    for placeholder, text in parts.items():
        sql = sql.replace(placeholder, text)
    sql = re.sub(r"<d>(\w+)", lambda m: day_column[m.group(1)], sql)
    return sql


_WINDOW_MANY = _window(few=False)
_WINDOW_FEW = _window(few=True)


def _floor_params(floor: rules.AttentionFloor | None) -> dict[str, Any]:
    windows = {f"floor_{attr}": 0.0 for attr in rules.WINDOW_FIELDS}
    if floor is None:
        return {
            "everyone": True,
            "floor_span": 0.0,
            "floor_gap": 0.0,
            "floor_streak": 0,
            "floor_end": 0.0,
            **windows,
        }
    return {
        "everyone": False,
        # "Never" as amounts an interval can hold: a century of seconds, of minutes.
        # The day's span bounds its longest run: the function runs only past that test.
        "floor_span": min(floor.block_seconds, 3.2e9),
        "floor_gap": floor.break_gap_seconds,
        "floor_end": min(floor.latest_end_minutes, 5.3e7),
        # Bits 0..k-1 all set: k days in a row. Beyond the 29 days read, nothing matches.
        "floor_streak": (1 << min(floor.streak, 62)) - 1,
        **{f"floor_{attr}": floor.windows[attr] for attr in rules.WINDOW_FIELDS},
    }


@dataclass(frozen=True)
class _InForce:
    """A restriction as the limit rules see it (no reason: that is for OH only)."""

    id: int
    officer_id: int
    starts_on: date
    ends_on: date | None
    daily_minutes: int | None
    week_minutes: int | None
    forbidden_media: list[str]


_IN_FORCE_FIELDS = [f.name for f in dataclasses.fields(_InForce)]
_POLICIES_SQL = f"""
    SELECT unit_id, {", ".join(rules.LIMIT_FIELDS)} FROM {ExposurePolicy._meta.db_table}
"""  # noqa: S608 - names from the model and the rules
_IN_FORCE_SQL = f"""
    SELECT {", ".join(_IN_FORCE_FIELDS)} FROM {Restriction._meta.db_table}
    WHERE starts_on <= %(last)s AND (ends_on IS NULL OR ends_on >= %(first)s)
      AND lifted_at IS NULL
"""  # noqa: S608 - names from the model and the dataclass


class Policies:
    """Effective policies for many officers: the layers are read once, and each result is
    shared by every officer with the same unit and restrictions (no model instances: the
    sweep runs this every few minutes). Loaded for a period covering every day it is asked
    about."""

    @classmethod
    def load(cls, first: date, last: date) -> Policies:
        """Every policy layer, and the restrictions in force in [first, last]: two prepared
        statements (an incremental sweep runs this every few minutes for a few officers)."""
        with prepared_cursor() as cursor:
            cursor.execute(_POLICIES_SQL)
            layers = {
                row[0]: rules.PolicyLayer(**dict(zip(rules.LIMIT_FIELDS, row[1:], strict=True)))
                for row in cursor.fetchall()
            }
            cursor.execute(_IN_FORCE_SQL, {"first": first, "last": last})
            in_period = [_InForce(*row) for row in cursor.fetchall()]
        return cls(layers, in_period)

    def __init__(
        self, layers: dict[int | None, rules.PolicyLayer], in_period: Sequence[_InForce]
    ) -> None:
        force = layers.get(None)
        self.force = force if force is not None else force_layer()
        self.units = {unit: layer for unit, layer in layers.items() if unit is not None}
        # Restrictions are few: every one in force in the period, whoever it is for.
        self.restrictions: dict[int, list[_InForce]] = defaultdict(list)
        for restriction in in_period:
            self.restrictions[restriction.officer_id].append(restriction)
        self.cache: dict[tuple[int | None, tuple[int, ...]], rules.Policy] = {}

    def floor(self) -> rules.AttentionFloor:
        """The attention floor of every unit's policy and the force's (officers under a
        restriction are let through by id)."""
        unit_policies = [rules.effective_policy(self.force, layer) for layer in self.units.values()]
        return rules.attention_floor([rules.effective_policy(self.force), *unit_policies])

    def of(self, officer_id: int, unit_id: int | None, day: date) -> rules.Policy:
        # Units without a policy of their own share the force's: one cache entry for all.
        layer_key = unit_id if unit_id in self.units else None
        in_force = [
            r
            for r in self.restrictions.get(officer_id, ())
            if r.starts_on <= day and (r.ends_on is None or r.ends_on >= day)
        ]
        key = (layer_key, tuple(r.id for r in in_force))
        policy = self.cache.get(key)
        if policy is None:
            layers = [
                rules.RestrictionLayer(
                    id=r.id,
                    daily_minutes=r.daily_minutes,
                    week_minutes=r.week_minutes,
                    forbidden_media=frozenset(r.forbidden_media),
                )
                for r in in_force
            ]
            unit = self.units.get(layer_key) if layer_key is not None else None
            policy = rules.effective_policy(self.force, unit, layers)
            self.cache[key] = policy
        return policy


def limit_inputs(
    wanted: Mapping[int, Iterable[date]],
    *,
    only_attention: bool = False,
    policies: Policies | None = None,
) -> dict[tuple[int, date], LimitInput]:
    """Usage, the day's spans and the effective policy for many (officer, day) pairs: one
    query per distinct day, and a fixed few for policies, whatever the number of officers.
    With `only_attention`, pairs that cannot have a limit at warning or breach under any
    policy are left out by the database. `policies`, when given, must cover every day
    asked about (else they are read for the days' period)."""
    by_day: dict[date, set[int]] = defaultdict(set)
    for officer_id, days in wanted.items():
        for day in days:
            by_day[day].add(officer_id)
    if not by_day:
        return {}
    policies = policies or Policies.load(min(by_day), max(by_day))
    params = {
        "tz": str(clock.local_zone()),
        "restricted": id_array(sorted(policies.restrictions)),
        **_floor_params(policies.floor() if only_attention else None),
    }
    result: dict[tuple[int, date], LimitInput] = {}
    # A few officers (a summary, an incremental sweep): one plan, prepared once. Many (a
    # full sweep): planned for the lists in hand, which read a range of days.
    few = sum(len(officers) for officers in by_day.values()) <= PREPARED_WINDOW_MAX
    window = _WINDOW_FEW if few else _WINDOW_MANY
    # Every day in one statement (a block per day, glued with UNION ALL): an incremental
    # sweep usually asks about two days, and each round trip counts at that size.
    blocks: list[str] = []
    day_params: dict[str, Any] = {}
    for n, (day, officers) in enumerate(sorted(by_day.items())):
        blocks.append(
            window.replace("%(on)s", f"%(on{n})s").replace("%(officers)s", f"%(officers{n})s")
        )
        day_params[f"on{n}"] = day
        day_params[f"officers{n}"] = id_array(sorted(officers))
    with prepared_cursor() if few else connection.cursor() as cursor:
        cursor.execute(
            " UNION ALL ".join(f"({block})" for block in blocks), {**params, **day_params}
        )
        rows = cursor.fetchall()
    for row in rows:
        day, officer_id, unit_id, sec, week, d28, wday, wweek, w28, mask = row[:10]
        last_end, spans, media = row[10], row[11], row[12:]
        usage = rules.Usage(
            sec,
            week,
            d28,
            wday,
            wweek,
            w28,
            rules.streak_from_mask(mask),
            datetime.fromtimestamp(last_end, UTC) if last_end is not None else None,
            {m: v for (m, _), v in zip(_MEDIA, media, strict=True) if v} if sec else {},
        )
        result[(officer_id, day)] = LimitInput(
            usage=usage,
            viewing_mask=mask,
            spans=spans or (),
            policy=policies.of(officer_id, unit_id, day),
        )
    return result


def limit_states(
    wanted: Mapping[int, Iterable[date]],
    *,
    only_attention: bool = False,
    policies: Policies | None = None,
) -> dict[tuple[int, date], list[rules.LimitState]]:
    """Every limit's state for many officers and days. With `only_attention`, only the
    limits at warning or breach (what the sweep acts on), and only pairs that have one."""
    zone = clock.local_zone()
    states: dict[tuple[int, date], list[rules.LimitState]] = {}
    inputs = limit_inputs(wanted, only_attention=only_attention, policies=policies)
    for key, data in inputs.items():
        block = data.longest_block_minutes()
        if only_attention and not rules.needs_attention(
            on=key[1], usage=data.usage, longest_block_minutes=block, policy=data.policy, tz=zone
        ):
            continue
        states[key] = rules.evaluate(
            on=key[1],
            usage=data.usage,
            longest_block_minutes=block,
            policy=data.policy,
            tz=zone,
            skip_ok=only_attention,
        )
    return states


@dataclass(frozen=True)
class ExposureSummary:
    officer: int
    on: date
    day_minutes: float
    week_minutes: float
    rolling_28d_minutes: float
    weighted_index: float
    week_index: float
    rolling_28d_index: float
    limits: list[rules.LimitState]
    breaches: list[rules.LimitState]
    next_break_due_at: datetime | None
    break_minutes: float = 10.0  # how long a pause must be to count as a break


def exposure_summary(
    officer: Officer, *, on: date, running_since: datetime | None = None
) -> ExposureSummary:
    """Totals for the day, rolling 7 and 28 days, and every limit's state, read from daily
    totals (never the whole session history). `running_since` is a session in progress:
    it counts (at weight 1 until it is logged) and gives the time the next break is due."""
    data = limit_inputs({officer.pk: [on]})[(officer.pk, on)]
    usage, policy = data.usage, data.policy
    now = clock.now()
    zone = clock.local_zone()
    midnight = rules.local_midnight(on, zone)
    logged_spans = [
        rules.Span(midnight + timedelta(seconds=start), midnight + timedelta(seconds=end))
        for start, end in data.spans
    ]
    spans = logged_spans
    if running_since is not None and running_since < now and now.astimezone(zone).date() == on:
        spans = rules.with_running(spans, running_since, now)
        extra = (now - max(running_since, midnight)).total_seconds()
        usage = replace(
            usage,
            day_seconds=usage.day_seconds + extra,
            week_seconds=usage.week_seconds + extra,
            rolling_28d_seconds=usage.rolling_28d_seconds + extra,
            day_weighted=usage.day_weighted + extra,
            week_weighted=usage.week_weighted + extra,
            rolling_28d_weighted=usage.rolling_28d_weighted + extra,
            consecutive_days=rules.streak_from_mask(data.viewing_mask | 1),
            last_end=now,
        )
    states = rules.evaluate(
        on=on,
        usage=usage,
        longest_block_minutes=rules.longest_block_minutes(
            spans, timedelta(minutes=policy.break_minutes)
        ),
        policy=policy,
        tz=zone,
    )
    return ExposureSummary(
        officer=officer.pk,
        on=on,
        day_minutes=round(usage.day_seconds / 60, 2),
        week_minutes=round(usage.week_seconds / 60, 2),
        rolling_28d_minutes=round(usage.rolling_28d_seconds / 60, 2),
        weighted_index=round(usage.day_weighted / 60, 2),
        week_index=round(usage.week_weighted / 60, 2),
        rolling_28d_index=round(usage.rolling_28d_weighted / 60, 2),
        limits=states,
        breaches=rules.breaches(states),
        next_break_due_at=(
            rules.next_break_due_at(logged_spans, running_since, policy)
            if running_since is not None
            else None
        ),
        break_minutes=float(policy.break_minutes),
    )


_CHANGED_SQL = f"""
    SELECT officer_id, day FROM {DailyTotal._meta.db_table}
    WHERE updated_at <= %(until)s AND updated_at > %(since)s AND day BETWEEN %(first)s AND %(last)s
"""  # noqa: S608 - the model's table


def totals_changed(
    *, since: datetime | None, until: datetime, first: date, last: date
) -> dict[int, set[date]]:
    """Officer -> the days between `first` and `last` whose daily totals were written after
    `since` (any time, when None) and up to `until`: what an incremental sweep looks at
    (every few minutes: one prepared statement)."""
    changed: dict[int, set[date]] = defaultdict(set)
    since = since if since is not None else datetime.min.replace(tzinfo=UTC)
    with prepared_cursor() as cursor:
        cursor.execute(_CHANGED_SQL, {"until": until, "since": since, "first": first, "last": last})
        for officer_id, day in cursor.fetchall():
            changed[officer_id].add(day)
    return changed


def policies_visible_to(user: Any) -> QuerySet[ExposurePolicy]:
    if user.role in (Role.ADMIN, Role.OH):
        return ExposurePolicy.objects.select_related("unit").order_by("unit_id")
    return ExposurePolicy.objects.none()


def weekly_minutes(
    officer_ids: Sequence[int], *, last: date, weeks: int = 4
) -> dict[int, list[float]]:
    """Minutes viewed in each of the `weeks` seven-day spans ending on `last`, oldest first
    (the last span is the "last 7 days" of the limits). One query, from the daily totals."""
    first = last - timedelta(days=7 * weeks - 1)
    spans: dict[int, list[float]] = {pk: [0.0] * weeks for pk in officer_ids}
    rows = DailyTotal.objects.filter(
        officer_id__any=list(officer_ids), day__gte=first, day__lte=last
    ).values_list("officer_id", "day", "seconds")
    for officer_id, day, seconds in rows:
        spans[officer_id][weeks - 1 - (last - day).days // 7] += seconds / 60
    return {pk: [round(m, 1) for m in minutes] for pk, minutes in spans.items()}


def media_minutes_on(officer_id: int, day: date) -> dict[str, float]:
    """Minutes of each medium an officer viewed on a day, from the daily total."""
    media = list(MEDIUM_COLUMNS)
    row = (
        DailyTotal.objects.filter(officer_id=officer_id, day=day)
        .values_list(*MEDIUM_COLUMNS.values())
        .first()
    )
    return {m: (row[n] / 60 if row else 0.0) for n, m in enumerate(media)}


def restrictions_in_force(user: Any, *, on: date) -> QuerySet[Restriction]:
    """The restrictions of the officers the caller may see that apply on `on` (not lifted)."""
    return restrictions_visible_to(user).filter(
        Q(ends_on__isnull=True) | Q(ends_on__gte=on), starts_on__lte=on, lifted_at__isnull=True
    )


def restrictions_visible_to(user: Any) -> QuerySet[Restriction]:
    """Restrictions of the officers the caller may see (the reason is OH's alone)."""
    if user.role not in EXPOSURE_READERS:
        return Restriction.objects.none()
    return Restriction.objects.filter(officer__in=officers_visible_to(user).values("pk"))


def officer_for_user(user: Any) -> Officer | None:
    """The caller's own officer record (read with the token when it authenticated them)."""
    if user.role != Role.OFFICER:
        return None
    try:
        return user.officer  # type: ignore[no-any-return]
    except Officer.DoesNotExist:
        return None


# --- For statistics: aggregates of the daily and weekly totals -------------------------------

_ALL = "__all__"  # a group key for "every value", so the joins below can hash


def whole_weeks(first: date, end: date) -> tuple[date, date]:
    """The Mondays of the weeks that lie wholly in [first, end), as a half-open range; the
    days before and after it are the range's cut weeks."""
    start = first + timedelta(days=(7 - first.weekday()) % 7)
    stop = end - timedelta(days=end.weekday())
    return start, max(start, stop)


def whole_months(first: date, end: date) -> tuple[date, date]:
    """The first days of the months that lie wholly in [first, end), as a half-open range;
    the days before and after it are the range's cut months."""
    start = first if first.day == 1 else (first.replace(day=1) + timedelta(days=32)).replace(day=1)
    stop = end.replace(day=1)
    return start, max(start, stop)


@dataclass(frozen=True)
class _Period:
    """Weeks or months as the statistics read them: whole ones from their totals, cut ones
    from their days. SQL templates: `of`, the first day of the period of a day `{}`;
    `after`, the day after the period that starts on `{}`."""

    name: str
    of: str
    after: str
    whole: Callable[[date, date], tuple[date, date]]

    def params(self, first: date, end: date) -> dict[str, date]:
        """The statement's parameters for this period over [first, end)."""
        start, stop = self.whole(first, end)
        return {
            f"{self.name}s_from": start,
            f"{self.name}s_to": stop,
            f"{self.name}_head_end": min(start, end),
            f"{self.name}_tail_start": stop,
        }

    def cut(self) -> str:
        """The CTE `cut_<name>s`: the whole periods of the range in which a posting of the
        officer starts or ends (not on the period's first or last day)."""
        of, name = self.of, self.name
        return f"""
        cut_{name}s AS (
            SELECT DISTINCT x.officer_id, v.{name}
            FROM people_posting x, LATERAL (VALUES
                (CASE WHEN x.started_on <> {of.format("x.started_on")}
                      THEN {of.format("x.started_on")} END),
                (CASE WHEN x.ended_on + 1 <> {of.format("(x.ended_on + 1)")}
                      THEN {of.format("x.ended_on")} END)
            ) v ({name})
            WHERE v.{name} >= %({name}s_from)s AND v.{name} < %({name}s_to)s
        )"""  # noqa: S608 - fixed expressions only

    def cut_days(self, columns: Sequence[str]) -> str:
        """(officer_id, day, `columns`) of the days of every cut period: those of the range's
        head and tail (a range of the day index) and those in `cut_<name>s` (a range of the
        unique (officer, day) index each, never a pass over the table)."""
        name, picked = self.name, ", ".join(f"t.{c}" for c in ("officer_id", "day", *columns))
        return f"""
            SELECT {picked} FROM exposure_dailytotal t
            WHERE (t.day >= %(first)s AND t.day < %({name}_head_end)s)
               OR (t.day >= %({name}_tail_start)s AND t.day < %(end)s)
            UNION ALL
            SELECT {picked}
            FROM cut_{name}s c CROSS JOIN LATERAL (
                SELECT {picked} FROM exposure_dailytotal t
                WHERE t.officer_id = c.officer_id
                  AND t.day >= c.{name} AND t.day < {self.after.format(f"c.{name}")}
                OFFSET 0  -- an index range per cut period, never a pass over the table
            ) t"""  # noqa: S608 - fixed expressions only


_WEEK = _Period("week", "date_trunc('week', {}::timestamp)::date", "{} + 7", whole_weeks)
_MONTH = _Period(
    "month",
    "date_trunc('month', {}::timestamp)::date",
    "({} + interval '1 month')::date",
    whole_months,
)


def _person_months(sums: Sequence[str]) -> str:
    """The CTEs of `person_months`: each person's `sums` (float8) per unit and month over
    [first, end), the days of a month in the unit of the posting they fall in. A month wholly
    in the range under one posting is one row of the monthly totals; a month cut by the
    range or by a posting starting or ending inside it is summed from its days."""
    whole = f"""
        SELECT m.officer_id, p.unit_id, m.month, {", ".join(f"m.{c}::float8 AS {c}" for c in sums)}
        FROM exposure_monthlytotal m
        JOIN people_posting p ON p.officer_id = m.officer_id AND p.started_on <= m.month
         AND (p.ended_on IS NULL OR p.ended_on >= {_MONTH.after.format("m.month")} - 1)
        WHERE m.month >= %(months_from)s AND m.month < %(months_to)s AND m.seconds > 0
    """  # noqa: S608 - fixed names only
    cut = f"""
        SELECT t.officer_id, p.unit_id, {_MONTH.of.format("t.day")} AS month,
               {", ".join(f"SUM(t.{c}::float8) AS {c}" for c in sums)}
        FROM ({_MONTH.cut_days(sums)}) t
        JOIN people_posting p ON p.officer_id = t.officer_id
         AND p.started_on <= t.day AND (p.ended_on IS NULL OR p.ended_on >= t.day)
        WHERE t.seconds > 0
        GROUP BY t.officer_id, p.unit_id, 3
    """  # noqa: S608 - fixed names only
    return f"""{_MONTH.cut()},
        person_months AS MATERIALIZED ({whole} UNION ALL {cut})"""


@dataclass(frozen=True)
class ExposureStats:
    """The exposure table of one grouping, and head-counts of other groupings of the same
    period counted as the table counts its people (for disclosure control)."""

    table: pd.DataFrame
    people: dict[tuple[str, ...], pd.DataFrame]


def exposure_stat_rows(dims: Sequence[str], first: date, end: date) -> pd.DataFrame:
    """`exposure_stats` without other groupings' head-counts."""
    return exposure_stats(dims, first, end).table


def exposure_stats(
    dims: Sequence[str],
    first: date,
    end: date,
    people_of: Sequence[Sequence[str]] = (),
    *,
    using: str = DEFAULT_DB_ALIAS,
) -> ExposureStats:
    """People exposed, total and median hours, weighted index, shares by medium and category,
    and the share of person-weeks over the weekly limit.

    One statement over aggregates: each person's sums per unit and month, from which the
    cells, line totals, people and medians come; and each person-week's hours for the share
    over the weekly limit. A person's days count in the unit they were posted to on each
    day; a person-week counts in the period its Monday falls in. Months (weeks) wholly
    inside the range under one posting are read from the monthly (weekly) totals, one row
    each; the few others, cut by the range or by a posting that starts or ends inside them,
    are summed from the daily totals of those months (weeks) only, by index.

    Every grouping (the table's and `people_of`'s) is counted from the person-months, so
    the head-counts of other groupings cost no second pass and agree with the table's by
    construction. `using`: the database alias (the statistics' `reporting_alias()`).
    """
    # Group on cheap keys (ids, first days of periods); names and labels only at the end.
    raw_day = {  # over person_months (b) joined with its unit (u)
        "unit": "b.unit_id",
        "unit_kind": "u.kind",
        "month": "b.month",
        "quarter": "date_trunc('quarter', b.month::timestamp)::date",
    }
    head_label = {  # over a people_in_<n> row (h), grouped
        "unit": "(SELECT name FROM people_unit WHERE id = h.unit)",
        "unit_kind": "h.unit_kind",
        "month": "to_char(h.month, 'YYYY-MM')",
        "quarter": "to_char(h.quarter, 'YYYY\"Q\"Q')",
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
    sums += [f"{m}_seconds" for m in TOTALS_MEDIA] + [
        f"category_{c}_seconds" for c in TOTALS_CATEGORIES
    ]
    shares = ", ".join(
        [f"100.0 * SUM({m}_seconds) / NULLIF(SUM(seconds), 0) AS {m}_pct" for m in TOTALS_MEDIA]
        + [
            f"100.0 * SUM(category_{c}_seconds) / NULLIF(SUM(seconds), 0) AS category_{c}_pct"
            for c in TOTALS_CATEGORIES
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

    every = [*dims, *sorted({x for grouping in people_of for x in grouping} - set(dims))]
    figures = [
        "m.people", "c.hours", "c.weighted_hours", "c.violent_pct",
        *(f"c.{m}_pct" for m in TOTALS_MEDIA), *(f"c.category_{c}_pct" for c in TOTALS_CATEGORIES),
        "m.median_hours", "w.person_weeks", "w.weeks_over_limit_pct",
    ]  # fmt: skip

    if sorted(dims) == ["month", "unit"]:  # the months' own cells
        person_cells = f"""NOT MATERIALIZED (
            SELECT officer_id, unit_id AS c_unit, month AS c_month, {", ".join(sums)}
            FROM person_months
        )"""  # noqa: S608 - fixed names
    else:
        person_cells = f"""MATERIALIZED (
            SELECT b.officer_id, {", ".join(f"{raw_day[x]} AS c_{x}" for x in dims)},
                   {", ".join(f"SUM(b.{c}) AS {c}" for c in sums)}
            FROM person_months b JOIN people_unit u ON u.id = b.unit_id
            GROUP BY b.officer_id, {", ".join(raw_day[x] for x in dims)}
        )"""  # noqa: S608 - dimensions come from a fixed list

    def people_in(n: int, grouping: Sequence[str]) -> str:
        """The distinct (person, group) pairs of another grouping, for `heads`."""
        return f"""
        people_in_{n} AS MATERIALIZED (
            SELECT DISTINCT b.officer_id, {", ".join(f"{raw_day[x]} AS {x}" for x in grouping)}
            FROM person_months b JOIN people_unit u ON u.id = b.unit_id
        ),"""  # noqa: S608 - dimensions come from a fixed list

    def heads(n: int, grouping: Sequence[str]) -> str:
        """Another grouping's head-counts (its cells, line totals and grand total), as the
        table counts people: one per person in each group they have seconds in. Each set
        counts distinct pairs by hashing (COUNT(DISTINCT) over grouping sets sorts)."""
        subsets = [list(grouping), *([[x] for x in grouping] if len(grouping) == 2 else []), []]
        return " UNION ALL ".join(
            f"""
            SELECT {n}, {", ".join(head_label[x] if x in subset else "NULL" for x in every)},
                   COUNT(*){", NULL" * (len(figures) - 1)}
            FROM {
                f"people_in_{n}"
                if subset == list(grouping)
                else f"(SELECT DISTINCT {', '.join(['officer_id', *subset])} FROM people_in_{n})"
            } h
            {"GROUP BY " + ", ".join(f"h.{x}" for x in subset) if subset else ""}
            """  # noqa: S608 - dimensions come from a fixed list
            for subset in subsets
        )

    pairs = "".join(people_in(n, grouping) for n, grouping in enumerate(people_of, 1))

    def key(alias: str) -> str:  # "all" is a value here, so the joins can hash
        return ", ".join(f"COALESCE({alias}.{x}::text, '{_ALL}') AS k_{x}" for x in dims)

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

    week_kind_join = "JOIN people_unit u ON u.id = pw.unit_id" if "unit_kind" in dims else ""
    unit_join = "LEFT JOIN people_unit un ON un.id = c.unit" if "unit" in dims else ""
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
        SELECT p.unit_id, {_WEEK.of.format("t.day")} AS week,
               SUM(t.seconds) > MIN(p.limit_seconds) AS over
        FROM ({_WEEK.cut_days(["seconds"])}) t
        JOIN limits p ON p.officer_id = t.officer_id
         AND p.started_on <= t.day AND (p.ended_on IS NULL OR p.ended_on >= t.day)
        WHERE t.seconds > 0
        GROUP BY t.officer_id, p.unit_id, 2
    """  # noqa: S608 - fixed expressions only
    sql = f"""
        WITH {_person_months(sums)},
        person_cells AS {person_cells},{pairs}
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
        {_WEEK.cut()},
        week_cells AS (
            {week_cells(whole_weeks_sql)}
            UNION ALL
            {week_cells(cut_weeks_sql)}
        ),
        weeks AS (
            SELECT w.*, {key("w")} FROM (
                SELECT {", ".join(dims)}, SUM(n)::bigint AS person_weeks,
                       (100.0 * SUM(n_over) / NULLIF(SUM(n), 0))::float8 AS weeks_over_limit_pct
                FROM week_cells
                GROUP BY {grouping_sets(list(dims))}
            ) w
        )
        SELECT 0 AS part,
               {", ".join(f"{label[x]} AS {x}" if x in dims else f"NULL AS {x}" for x in every)},
               {", ".join(figures)}
        FROM (SELECT totals.*, {key("totals")} FROM totals) c
        {unit_join}
        LEFT JOIN people m ON {joined("m")}
        LEFT JOIN weeks w ON {joined("w")}
        {"".join(f"UNION ALL {heads(n, grouping)}" for n, grouping in enumerate(people_of, 1))}
    """  # noqa: S608 - dimensions come from a fixed list, values are parameters
    params = {"first": first, "end": end, **_WEEK.params(first, end), **_MONTH.params(first, end)}
    # Read as a frame, a batch at a time: at national size the table has tens of thousands
    # of rows, which as Python tuples would cost several times the frame. For this statement
    # only, room for the per-person groups in memory (a cursor's plan runs without parallel
    # workers: measured 1.00x the floor at national size all the same).
    rows = fetch_frame(sql, params, local_settings="SET LOCAL work_mem = '64MB'", using=using)

    def part_of(part: int, columns: Sequence[str]) -> pd.DataFrame:
        picked = rows.loc[rows["part"] == part, list(columns)].reset_index(drop=True)
        return picked.infer_objects()  # a part's own types, not the union's

    metrics = list(rows.columns[1 + len(every) :])
    return ExposureStats(
        table=part_of(0, [*dims, *metrics]),
        people={
            tuple(grouping): part_of(part, [*grouping, "people"])
            for part, grouping in enumerate(people_of, 1)
        },
    )
