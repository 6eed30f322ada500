"""Exposure rules as pure functions: values in, values out, no ORM.

Days are local days in the force's time zone; a session across midnight counts on
each day for its part, and 23- and 25-hour days are whatever the clock says they are.
A limit is `warning` from `warning_ratio x limit` and `breach` once the amount
exceeds the limit: exactly at the limit is a warning, not a breach.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

OK = "ok"
WARNING = "warning"
BREACH = "breach"

END_NOT_AFTER_START = "The end must be after the start."
TOO_LONG = "A session cannot be longer than {hours} hours."
START_IN_FUTURE = "The start cannot be in the future."
END_IN_FUTURE = "The end cannot be in the future."
OVERLAP = "This session overlaps another session of yours ({started} to {ended})."


# --- Days -----------------------------------------------------------------------------------


def utc(instant: datetime) -> datetime:
    """Python subtracts two datetimes sharing a tzinfo as wall-clock times, which is wrong
    across a clock change; all arithmetic here happens in UTC."""
    return instant.astimezone(UTC)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The instant (in UTC) at which local `day` begins."""
    return utc(datetime.combine(day, time.min, tzinfo=tz))


def split_by_local_day(start: datetime, end: datetime, tz: ZoneInfo) -> list[tuple[date, float]]:
    """Seconds of [start, end) falling on each local day, in order."""
    start, end = utc(start), utc(end)
    if end <= start:
        return []
    parts: list[tuple[date, float]] = []
    day = start.astimezone(tz).date()
    while True:
        day_start = local_midnight(day, tz)
        day_end = local_midnight(day + timedelta(days=1), tz)
        lo = max(start, day_start)
        hi = min(end, day_end)
        if hi > lo:
            parts.append((day, (hi - lo).total_seconds()))
        if end <= day_end:
            return parts
        day += timedelta(days=1)


def local_days(start: datetime, end: datetime, tz: ZoneInfo) -> list[date]:
    return [day for day, _ in split_by_local_day(start, end, tz)]


def session_problems(
    *, started_at: datetime, ended_at: datetime, now: datetime, max_hours: int, skew: timedelta
) -> dict[str, str]:
    """Field problems with a session's times (overlap is the database's to decide)."""
    problems: dict[str, str] = {}
    started_at, ended_at, now = utc(started_at), utc(ended_at), utc(now)
    if ended_at <= started_at:
        problems["ended_at"] = END_NOT_AFTER_START
    elif ended_at - started_at > timedelta(hours=max_hours):
        problems["ended_at"] = TOO_LONG.format(hours=max_hours)
    if started_at > now + skew:
        problems["started_at"] = START_IN_FUTURE
    elif ended_at > now + skew and "ended_at" not in problems:
        problems["ended_at"] = END_IN_FUTURE
    return problems


# --- Weights ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Weights:
    medium: Mapping[str, float]
    category: Mapping[str, float]
    violent: float

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Weights:
        medium = data.get("medium") or {}
        category = data.get("category") or {}
        if not isinstance(medium, Mapping) or not isinstance(category, Mapping):
            raise TypeError("weights need medium and category tables")
        return cls(
            medium={str(k): float(v) for k, v in medium.items()},
            category={str(k): float(v) for k, v in category.items()},
            violent=float(data.get("violent", 1.0)),  # type: ignore[arg-type]
        )

    def to_json(self) -> dict[str, object]:
        return {
            "medium": dict(self.medium),
            "category": dict(self.category),
            "violent": self.violent,
        }


def session_weight(material: str, category: str, violent: bool, weights: Weights) -> float:
    """Minutes x this = the weighted index: medium x category x (violent content)."""
    factor = weights.medium.get(material, 1.0) * weights.category.get(category, 1.0)
    return factor * (weights.violent if violent else 1.0)


# --- Policy -----------------------------------------------------------------------------------

LIMIT_FIELDS = (
    "daily_minutes",
    "week_minutes",
    "rolling_28d_minutes",
    "daily_index",
    "week_index",
    "rolling_28d_index",
    "break_after_minutes",
    "break_minutes",
    "latest_end",
    "max_consecutive_days",
    "warning_ratio",
)


@dataclass(frozen=True)
class PolicyLayer:
    """One layer (force, unit); None inherits from the layer below."""

    daily_minutes: float | None = None
    week_minutes: float | None = None
    rolling_28d_minutes: float | None = None
    daily_index: float | None = None
    week_index: float | None = None
    rolling_28d_index: float | None = None
    break_after_minutes: float | None = None
    break_minutes: float | None = None
    latest_end: time | None = None
    max_consecutive_days: int | None = None
    warning_ratio: float | None = None


@dataclass(frozen=True)
class RestrictionLayer:
    """An officer restriction: tightens limits and forbids media; never loosens."""

    id: int
    daily_minutes: float | None = None
    week_minutes: float | None = None
    forbidden_media: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Policy:
    daily_minutes: float | None
    week_minutes: float | None
    rolling_28d_minutes: float | None
    daily_index: float | None
    week_index: float | None
    rolling_28d_index: float | None
    break_after_minutes: float | None
    break_minutes: float
    latest_end: time | None
    max_consecutive_days: int | None
    warning_ratio: float
    forbidden_media: frozenset[str] = frozenset()
    sources: Mapping[str, str] = field(default_factory=dict)


def effective_policy(
    force: PolicyLayer,
    unit: PolicyLayer | None = None,
    restrictions: Sequence[RestrictionLayer] = (),
) -> Policy:
    """Force values, overridden by the unit's, tightened by any restriction in force."""
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    for name in LIMIT_FIELDS:
        unit_value = getattr(unit, name) if unit is not None else None
        values[name] = unit_value if unit_value is not None else getattr(force, name)
        sources[name] = "unit" if unit_value is not None else "force"
    forbidden: set[str] = set()
    for restriction in restrictions:
        for name in ("daily_minutes", "week_minutes"):
            tighter = getattr(restriction, name)
            current = values[name]
            if tighter is not None and (current is None or tighter < current):  # type: ignore[operator]
                values[name] = tighter
                sources[name] = "restriction"
        forbidden |= restriction.forbidden_media
    if forbidden:
        sources["forbidden_media"] = "restriction"
    values["break_minutes"] = values["break_minutes"] if values["break_minutes"] is not None else 10
    values["warning_ratio"] = (
        values["warning_ratio"] if values["warning_ratio"] is not None else 0.8
    )
    return Policy(forbidden_media=frozenset(forbidden), sources=sources, **values)  # type: ignore[arg-type]


# --- Evaluation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayTotal:
    day: date
    seconds: float
    weighted_seconds: float
    first_start: datetime | None = None
    last_end: datetime | None = None
    medium_seconds: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Span:
    """A session's part on one day (or a session in progress); instants held in UTC."""

    started_at: datetime
    ended_at: datetime
    material: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "started_at", utc(self.started_at))
        object.__setattr__(self, "ended_at", utc(self.ended_at))


@dataclass(frozen=True)
class LimitState:
    rule: str
    period: str
    unit: str
    used: float
    limit: float
    warning_at: float
    state: str
    source: str


def classify(used: float, limit: float, warning_ratio: float) -> str:
    if used > limit:
        return BREACH
    if used >= limit * warning_ratio:
        return WARNING
    return OK


def window_sum(days: Mapping[date, DayTotal], on: date, length: int, attr: str) -> float:
    return sum(
        getattr(days[day], attr)
        for day in (on - timedelta(days=n) for n in range(length))
        if day in days
    )


def consecutive_days(days: Mapping[date, DayTotal], on: date) -> int:
    """How many days in a row, ending on `on`, had any viewing."""
    count = 0
    day = on
    while day in days and days[day].seconds > 0:
        count += 1
        day -= timedelta(days=1)
    return count


def continuous_blocks(spans: Iterable[Span], gap: timedelta) -> list[tuple[datetime, datetime]]:
    """Viewing merged into blocks: a pause shorter than `gap` does not end a block."""
    blocks: list[tuple[datetime, datetime]] = []
    for span in sorted(spans, key=lambda s: s.started_at):
        if blocks and span.started_at - blocks[-1][1] < gap:
            blocks[-1] = (blocks[-1][0], max(blocks[-1][1], span.ended_at))
        else:
            blocks.append((span.started_at, span.ended_at))
    return blocks


def longest_block_minutes(spans: Iterable[Span], gap: timedelta) -> float:
    blocks = continuous_blocks(spans, gap)
    return max(((end - start).total_seconds() / 60 for start, end in blocks), default=0.0)


def next_break_due_at(
    spans: Sequence[Span], running_since: datetime, policy: Policy
) -> datetime | None:
    """When a session running since `running_since` needs a break, counting viewing just
    before it that a proper break did not separate."""
    if policy.break_after_minutes is None:
        return None
    gap = timedelta(minutes=policy.break_minutes)
    running_since = utc(running_since)
    earlier = [s for s in spans if s.ended_at <= running_since]
    block_start = running_since
    for start, end in reversed(continuous_blocks(earlier, gap)):
        if block_start - end < gap:
            block_start = start
        else:
            break
    return block_start + timedelta(minutes=policy.break_after_minutes)


def minutes_after_midnight(instant: datetime, day: date, tz: ZoneInfo) -> float:
    """Wall-clock minutes of `instant` on local `day` (24:00 and beyond for the next day)."""
    local = instant.astimezone(tz)
    extra_days = (local.date() - day).days
    return extra_days * 1440 + local.hour * 60 + local.minute + local.second / 60


def evaluate(
    *,
    on: date,
    days: Mapping[date, DayTotal],
    spans_on_day: Sequence[Span],
    policy: Policy,
    tz: ZoneInfo,
) -> list[LimitState]:
    """Every limit of the policy on day `on`, with what was used and its state."""
    ratio = policy.warning_ratio
    results: list[LimitState] = []

    def add(rule: str, period: str, unit: str, used: float, limit: float | None) -> None:
        if limit is None:
            return
        results.append(
            LimitState(
                rule=rule,
                period=period,
                unit=unit,
                used=round(used, 2),
                limit=float(limit),
                warning_at=round(limit * ratio, 2),
                state=classify(used, limit, ratio),
                source=policy.sources.get(rule, "force"),
            )
        )

    for rule, length, period in (
        ("daily_minutes", 1, "day"),
        ("week_minutes", 7, "7d"),
        ("rolling_28d_minutes", 28, "28d"),
    ):
        add(
            rule,
            period,
            "minutes",
            window_sum(days, on, length, "seconds") / 60,
            getattr(policy, rule),
        )
    for rule, length, period in (
        ("daily_index", 1, "day"),
        ("week_index", 7, "7d"),
        ("rolling_28d_index", 28, "28d"),
    ):
        used = window_sum(days, on, length, "weighted_seconds") / 60
        add(rule, period, "index", used, getattr(policy, rule))

    gap = timedelta(minutes=policy.break_minutes)
    add(
        "break_after_minutes",
        "day",
        "minutes",
        longest_block_minutes(spans_on_day, gap),
        policy.break_after_minutes,
    )
    add(
        "max_consecutive_days",
        "day",
        "days",
        consecutive_days(days, on),
        policy.max_consecutive_days,
    )

    if policy.latest_end is not None:
        cutoff = policy.latest_end.hour * 60 + policy.latest_end.minute
        today = days.get(on)
        last = (
            minutes_after_midnight(today.last_end, on, tz)
            if today and today.last_end and today.seconds
            else 0.0
        )
        state = BREACH if last > cutoff else OK
        results.append(
            LimitState(
                "latest_end",
                "day",
                "minutes_after_midnight",
                round(last, 2),
                float(cutoff),
                float(cutoff),
                state,
                policy.sources.get("latest_end", "force"),
            )
        )
    if policy.forbidden_media:
        forbidden_seconds = sum(
            (s.ended_at - s.started_at).total_seconds()
            for s in spans_on_day
            if s.material in policy.forbidden_media
        )
        results.append(
            LimitState(
                "forbidden_media",
                "day",
                "minutes",
                round(forbidden_seconds / 60, 2),
                0.0,
                0.0,
                BREACH if forbidden_seconds > 0 else OK,
                "restriction",
            )
        )
    return results


def breaches(states: Iterable[LimitState]) -> list[LimitState]:
    return [s for s in states if s.state == BREACH]


def with_running(
    spans: Sequence[Span], running_since: datetime | None, now: datetime
) -> list[Span]:
    if running_since is None or running_since >= now:
        return list(spans)
    return [*spans, Span(running_since, now)]
