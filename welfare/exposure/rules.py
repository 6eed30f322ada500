"""Exposure rules as pure functions: values in, values out, no ORM.

Days are local days in the force's time zone; a session across midnight counts on
each day for its part, and 23- and 25-hour days are whatever the clock says they are.
Dose limits (day, week, 28 days, weighted index) are `warning` from `warning_ratio x limit`
and `breach` once the amount exceeds the limit: exactly at the limit is a warning, not a
breach. Pattern rules (break, consecutive days, cut-off, forbidden media) have no warning:
meeting the rule exactly is compliance; only going past it is a breach.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

OK = "ok"
WARNING = "warning"
BREACH = "breach"

END_NOT_AFTER_START = "The end must be after the start."
TOO_LONG = "A session cannot be longer than {hours} hours."
START_IN_FUTURE = "The start cannot be in the future."
END_IN_FUTURE = "The end cannot be in the future."
WEIGHTS_FORCE_ONLY = "Weights are set on the force policy only."
TOO_EARLY = "Sessions before the year 2000 cannot be recorded."
# The overlap constraint counts seconds from here (see people/0005: welfare_officer_span).
EARLIEST_SESSION = datetime(2000, 1, 1, tzinfo=UTC)
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
    if started_at < EARLIEST_SESSION:
        problems["started_at"] = TOO_EARLY
    elif started_at > now + skew:
        problems["started_at"] = START_IN_FUTURE
    elif ended_at > now + skew and "ended_at" not in problems:
        problems["ended_at"] = END_IN_FUTURE
    return problems


# The force policy as shipped (the migration creates it with these; DOMAIN.md gives their
# sources): what the limits are when a force has set nothing else.
FORCE_DEFAULTS: dict[str, Any] = {
    "daily_minutes": 300,
    "week_minutes": 1500,
    "rolling_28d_minutes": 6000,
    "daily_index": None,
    "week_index": None,
    "rolling_28d_index": None,
    "break_after_minutes": 60,
    "break_minutes": 10,
    "latest_end": time(16, 0),
    "max_consecutive_days": 5,
    "warning_ratio": 0.8,
}


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


# The force policy's weights until an administrator sets others (DOMAIN.md).
DEFAULT_WEIGHTS = Weights(
    medium={
        "image": 1.0,
        "text": 0.5,
        "audio": 1.5,
        "video": 1.5,
        "video_with_audio": 2.0,
        "live": 2.5,
    },
    category={"A": 1.5, "B": 1.2, "C": 1.0, "none": 1.0, "unknown": 1.0},
    violent=1.5,
)


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


def restriction_active(*, starts_on: date, ends_on: date | None, lifted: bool, today: date) -> bool:
    """A restriction is in force from its first day to its last (open-ended: until lifted)."""
    return not lifted and starts_on <= today and (ends_on is None or ends_on >= today)


# Who reads a session's free-text note: the officer who wrote it and occupational health
# (core.roles.Role values); supervisors see the session without it.
NOTE_READERS = frozenset({"officer", "oh"})

FORCE_POLICY_NEEDS_WEIGHTS = "The force policy needs weights."


def policy_change_problems(*, is_force: bool, changes: Mapping[str, object]) -> dict[str, str]:
    """Field problems with a change of a policy layer: weights are the force's, and it
    must keep them."""
    if is_force and "weights" in changes and changes["weights"] is None:
        return {"weights": FORCE_POLICY_NEEDS_WEIGHTS}
    if not is_force and changes.get("weights") is not None:
        return {"weights": WEIGHTS_FORCE_ONLY}
    return {}


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
            if tighter is not None and (current is None or tighter < current):
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


# Float products like 126 x 0.85 = 107.10000000000001 must not put usage at the warning
# point shown (107.1) below it.
_TOLERANCE = 1e-9


def warning_point(limit: float, warning_ratio: float) -> float:
    """Where a dose limit's warning starts (less a float tolerance)."""
    return limit * warning_ratio - _TOLERANCE


def classify(used: float, limit: float, warning_ratio: float) -> str:
    """A dose limit's state: warning from the ratio, breach above the limit."""
    if used > limit:
        return BREACH
    if used >= warning_point(limit, warning_ratio):
        return WARNING
    return OK


def classify_pattern(used: float, limit: float) -> str:
    """A pattern rule's state (break, consecutive days): reaching the limit exactly is
    compliance (60 minutes then a break; the fifth day in a row), going past it a breach."""
    return BREACH if used > limit else OK


# The rules that measure a dose; a triggered check-in follows their breaches when they
# repeat. Pattern rules (break, cut-off, consecutive days, forbidden media) never warn and
# are the supervisor's to handle.
DOSE_RULES = frozenset(
    {
        "daily_minutes",
        "week_minutes",
        "rolling_28d_minutes",
        "daily_index",
        "week_index",
        "rolling_28d_index",
    }
)
PATTERN_RULES = frozenset({"break_after_minutes", "max_consecutive_days"})


def consecutive_days(days: Mapping[date, DayTotal], on: date) -> int:
    """How many days in a row, ending on `on`, had any viewing."""
    count = 0
    day = on
    while day in days and days[day].seconds > 0:
        count += 1
        day -= timedelta(days=1)
    return count


def streak_from_mask(mask: int) -> int:
    """Days in a row with viewing, ending on day 0, from a mask whose bit n says whether
    there was viewing n days earlier: the number of trailing one bits."""
    return (~mask & (mask + 1)).bit_length() - 1


@dataclass(frozen=True)
class Usage:
    """What the limits of one day look at: windows of daily totals ending on that day."""

    day_seconds: float = 0.0
    week_seconds: float = 0.0
    rolling_28d_seconds: float = 0.0
    day_weighted: float = 0.0
    week_weighted: float = 0.0
    rolling_28d_weighted: float = 0.0
    consecutive_days: int = 0
    last_end: datetime | None = None
    medium_seconds: Mapping[str, float] = field(default_factory=dict)


def longest_run_seconds(spans: Iterable[Sequence[float]], gap_seconds: float) -> float:
    """The longest stretch of viewing a pause shorter than `gap_seconds` did not break, for
    spans given as (start, end) seconds on one clock."""
    longest = 0.0
    block_start = block_end = None
    for start, end in sorted(spans):  # type: ignore[type-var]
        if block_end is not None and start - block_end < gap_seconds:
            block_end = max(block_end, end)
        else:
            block_start, block_end = start, end
        assert block_start is not None
        longest = max(longest, block_end - block_start)
    return longest


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
    seconds = ((span.started_at.timestamp(), span.ended_at.timestamp()) for span in spans)
    return longest_run_seconds(seconds, gap.total_seconds()) / 60


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


_WINDOWS = (
    # rule, period, unit, the Usage field it reads
    ("daily_minutes", "day", "minutes", "day_seconds"),
    ("week_minutes", "7d", "minutes", "week_seconds"),
    ("rolling_28d_minutes", "28d", "minutes", "rolling_28d_seconds"),
    ("daily_index", "day", "index", "day_weighted"),
    ("week_index", "7d", "index", "week_weighted"),
    ("rolling_28d_index", "28d", "index", "rolling_28d_weighted"),
)


WINDOW_FIELDS = tuple(attr for *_, attr in _WINDOWS)


def latest_end_minutes(usage: Usage, on: date, tz: ZoneInfo) -> float:
    """When the day's viewing ended, in wall-clock minutes after its midnight."""
    if usage.last_end is None or not usage.day_seconds:
        return 0.0
    return minutes_after_midnight(usage.last_end, on, tz)


def forbidden_seconds(usage: Usage, policy: Policy) -> float:
    return sum(usage.medium_seconds.get(medium, 0) for medium in policy.forbidden_media)


def evaluate(
    *,
    on: date,
    usage: Usage,
    longest_block_minutes: float,
    policy: Policy,
    tz: ZoneInfo,
    skip_ok: bool = False,
) -> list[LimitState]:
    """Every limit of the policy on day `on`, with what was used and its state (with
    `skip_ok`, only the limits at warning or breach).

    `longest_block_minutes` is the day's longest viewing without a proper break (see
    `longest_block_minutes()`; it depends on the policy's break length).
    """
    ratio = policy.warning_ratio
    results: list[LimitState] = []

    def add(rule: str, period: str, unit: str, used: float, limit: float | None) -> None:
        if limit is None:
            return
        pattern = rule in PATTERN_RULES
        state = classify_pattern(used, limit) if pattern else classify(used, limit, ratio)
        if skip_ok and state == OK:
            return
        results.append(
            LimitState(
                rule=rule,
                period=period,
                unit=unit,
                used=round(used, 2),
                limit=float(limit),
                # A pattern rule has no warning level: its warning point is the limit.
                warning_at=float(limit) if pattern else round(limit * ratio, 2),
                state=state,
                source=policy.sources.get(rule, "force"),
            )
        )

    for rule, period, unit, attr in _WINDOWS:
        add(rule, period, unit, getattr(usage, attr) / 60, getattr(policy, rule))
    add(
        "break_after_minutes",
        "day",
        "minutes",
        longest_block_minutes,
        policy.break_after_minutes,
    )
    add(
        "max_consecutive_days",
        "day",
        "days",
        usage.consecutive_days,
        policy.max_consecutive_days,
    )
    if policy.latest_end is not None:
        cutoff = policy.latest_end.hour * 60 + policy.latest_end.minute
        last = latest_end_minutes(usage, on, tz)
    if policy.latest_end is not None and not (skip_ok and last <= cutoff):
        results.append(
            LimitState(
                "latest_end",
                "day",
                "minutes_after_midnight",
                round(last, 2),
                float(cutoff),
                float(cutoff),
                BREACH if last > cutoff else OK,
                policy.sources.get("latest_end", "force"),
            )
        )
    seconds = forbidden_seconds(usage, policy) if policy.forbidden_media else 0.0
    if policy.forbidden_media and not (skip_ok and seconds <= 0):
        results.append(
            LimitState(
                "forbidden_media",
                "day",
                "minutes",
                round(seconds / 60, 2),
                0.0,
                0.0,
                BREACH if seconds > 0 else OK,
                "restriction",
            )
        )
    return results


def needs_attention(
    *, on: date, usage: Usage, longest_block_minutes: float, policy: Policy, tz: ZoneInfo
) -> bool:
    """Whether any limit of `evaluate()` would be at warning or breach: the same thresholds,
    without building every state, so a sweep over thousands of officers stays cheap."""
    ratio = policy.warning_ratio
    for rule, _, _, attr in _WINDOWS:
        limit = getattr(policy, rule)
        if limit is not None and getattr(usage, attr) / 60 >= warning_point(limit, ratio):
            return True
    if (
        policy.break_after_minutes is not None
        and longest_block_minutes > policy.break_after_minutes
    ):
        return True
    if (
        policy.max_consecutive_days is not None
        and usage.consecutive_days > policy.max_consecutive_days
    ):
        return True
    if policy.latest_end is not None and usage.last_end is not None:
        cutoff = policy.latest_end.hour * 60 + policy.latest_end.minute
        if latest_end_minutes(usage, on, tz) > cutoff:
            return True
    return bool(policy.forbidden_media) and forbidden_seconds(usage, policy) > 0


@dataclass(frozen=True)
class AttentionFloor:
    """The least usage at which any of some policies could put a limit at warning or
    breach: a cheap, conservative test the database applies before the rules look at
    anything (officers under a restriction always pass it). Amounts are in seconds."""

    windows: Mapping[str, float]  # Usage field -> least amount needing attention
    block_seconds: float  # least longest run (breaks of break_gap_seconds) needing attention
    streak: int  # days in a row
    latest_end_minutes: float  # viewing ending after this (wall clock) needs attention
    # The longest break any policy asks for: runs measured with it are at least as long as
    # with any policy's own (a longer required break merges more viewing into one run).
    break_gap_seconds: float = 0.0


_SLACK = 1e-6  # the floor errs low: float rounding must never make it skip a real case


def attention_floor(policies: Iterable[Policy]) -> AttentionFloor:
    inf = float("inf")
    windows = {attr: inf for *_, attr in _WINDOWS}
    span, streak, cutoff, gap = inf, 1 << 30, inf, 0.0
    for policy in policies:
        ratio = policy.warning_ratio
        for rule, _, _, attr in _WINDOWS:
            limit = getattr(policy, rule)
            if limit is not None:
                windows[attr] = min(windows[attr], limit * ratio * 60 - _SLACK)
        if policy.break_after_minutes is not None:  # pattern rules: past the limit only
            span = min(span, policy.break_after_minutes * 60 - _SLACK)
            gap = max(gap, policy.break_minutes * 60)
        if policy.max_consecutive_days is not None:
            streak = min(streak, policy.max_consecutive_days + 1)
        if policy.latest_end is not None:
            cutoff = min(cutoff, policy.latest_end.hour * 60 + policy.latest_end.minute - _SLACK)
    return AttentionFloor(windows, span, streak, cutoff, gap)


def breaches(states: Iterable[LimitState]) -> list[LimitState]:
    return [s for s in states if s.state == BREACH]


def with_running(
    spans: Sequence[Span], running_since: datetime | None, now: datetime
) -> list[Span]:
    if running_since is None or running_since >= now:
        return list(spans)
    return [*spans, Span(running_since, now)]


def timer_sessions(
    segments: Sequence[tuple[datetime, datetime]],
    break_minutes: float,
    *,
    longest: timedelta | None = None,
) -> list[tuple[datetime, datetime]]:
    """A timer's viewing segments as the sessions to log: a pause shorter than a break is
    part of the stretch (it does not rest the officer), so the segments either side of it
    are one session; a pause of a break or longer starts a new one, and so does a segment
    that would make a session longer than `longest` (the longest a session may be).
    Segments in any order; each session spans its first start to its last end."""
    gap = timedelta(minutes=break_minutes)
    sessions: list[tuple[datetime, datetime]] = []
    for start, end in sorted(segments):
        fits = longest is None or (
            sessions and max(sessions[-1][1], end) - sessions[-1][0] <= longest
        )
        if sessions and start - sessions[-1][1] < gap and fits:
            sessions[-1] = (sessions[-1][0], max(sessions[-1][1], end))
        else:
            sessions.append((start, end))
    return sessions


def restriction_exceeded(
    *,
    daily_minutes: float | None,
    forbidden_media: Iterable[str],
    used_minutes: float,
    media_minutes: Mapping[str, float],
    media_words: Mapping[str, str],
) -> list[str]:
    """What a restriction starting today would find broken already (so it would raise an
    alert at once), in words; empty when nothing is."""
    found = []
    if daily_minutes is not None and used_minutes > daily_minutes:
        found.append(f"{round(used_minutes):,} minutes viewed today, over {daily_minutes:g}")
    for medium in sorted(set(forbidden_media)):
        if media_minutes.get(medium, 0) > 0:
            words = media_words.get(medium, medium).lower()
            found.append(f"{round(media_minutes[medium]):,} minutes of {words} viewed today")
    return found


# --- Limits in words ---------------------------------------------------------------------
#
# Every fixed phrase is marked with gettext_noop (our own, which returns it unchanged: a
# name Django's `makemessages` extracts) and goes through `say` (identity unless the caller
# passes a translation function, as the pages do with Django's gettext): the rules stay
# Django-free.


def gettext_noop(text: str) -> str:
    return text


def _same(text: str) -> str:
    return text


LIMIT_NAMES = {
    "daily_minutes": gettext_noop("Today"),
    "week_minutes": gettext_noop("Last 7 days"),
    "rolling_28d_minutes": gettext_noop("Last 28 days"),
    "daily_index": gettext_noop("Weighted viewing today"),
    "week_index": gettext_noop("Weighted viewing, last 7 days"),
    "rolling_28d_index": gettext_noop("Weighted viewing, last 28 days"),
    "break_after_minutes": gettext_noop("Longest stretch without a break"),
    "latest_end": gettext_noop("Latest viewing today"),
    "max_consecutive_days": gettext_noop("Days viewing in a row"),
    "forbidden_media": gettext_noop("Material a restriction rules out"),
}
STATE_WORDS = {
    OK: gettext_noop("within the limit"),
    WARNING: gettext_noop("near the limit"),
    BREACH: gettext_noop("over the limit"),
}


def clock_time(minutes_after_midnight: float) -> str:
    """735 as "12:15"; 1440 or more (viewing past midnight) as "24:00"."""
    whole = min(int(minutes_after_midnight), 24 * 60)
    return f"{whole // 60:02d}:{whole % 60:02d}"


def limit_in_words(
    state: LimitState, *, with_state: bool = True, say: Callable[[str], str] = _same
) -> str:
    """One limit's state as a person says it, with clock times for a cut-off: "Last 7 days:
    1,332 of 1,500 minutes, near the limit"; "Latest viewing today: 22:15, after the 21:00
    cut-off". Values only: the caller decides who may read it; `say` translates."""
    name = say(LIMIT_NAMES.get(state.rule, state.rule.replace("_", " ").capitalize()))
    said = say(gettext_noop("{text}, {state}")) if with_state else "{text}"
    words = {"name": name, "used": f"{round(state.used):,}", "limit": f"{round(state.limit):,}"}
    if state.rule == "latest_end":
        words |= {"used": clock_time(state.used), "limit": clock_time(state.limit)}
        text = (
            gettext_noop("{name}: {used}, after the {limit} cut-off")
            if state.state == BREACH
            else gettext_noop("{name}: within the {limit} cut-off")
        )
        return say(text).format(**words)
    if state.rule == "forbidden_media":
        text = (
            gettext_noop("{name}: {used} minutes viewed")
            if state.state == BREACH
            else gettext_noop("{name}: none viewed")
        )
        return say(text).format(**words)
    if state.rule == "max_consecutive_days":
        text = gettext_noop("{name}: {used} of at most {limit}")
    elif state.rule == "break_after_minutes":
        text = gettext_noop("{name}: {used} minutes (a break is due after {limit})")
    elif state.unit == "minutes":
        text = gettext_noop("{name}: {used} of {limit} minutes")
    else:
        text = gettext_noop("{name}: {used} of {limit} (index)")
    return said.format(text=say(text).format(**words), state=say(STATE_WORDS[state.state]))


def headline(states: Iterable[LimitState], *, say: Callable[[str], str] = _same) -> str:
    """What an officer reads first: the limits over, by name, else those near; else that
    all are within."""
    states = list(states)
    for wanted, words in (
        (BREACH, gettext_noop("Over the limit")),
        (WARNING, gettext_noop("Near a limit")),
    ):
        chosen = [s for s in states if s.state == wanted]
        if chosen:
            details = "; ".join(limit_in_words(s, with_state=False, say=say) for s in chosen)
            return say(gettext_noop("{what}: {details}.")).format(what=say(words), details=details)
    return say(gettext_noop("All your limits are within bounds today."))
