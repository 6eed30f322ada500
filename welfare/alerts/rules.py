"""Alert keys, severities, message texts and webhook signing, as pure functions.

Message texts never carry health data, exposure details or names: a reminder says when,
an alert says that something needs attention, and a link says where.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from urllib.parse import urlsplit

from welfare.checkins.rules import add_months, months_between

WEEK_RULES = frozenset({"week_minutes", "week_index", "max_consecutive_days"})
MONTH_RULES = frozenset({"rolling_28d_minutes", "rolling_28d_index"})

REMINDER_SUBJECT = "Welfare check-in reminder"
REMINDER_BODY = "You have a welfare check-in due on {date}."
OVERDUE_SUBJECT = "Welfare check-in overdue"
OVERDUE_BODY = (
    "Your welfare check-in due on {date} has not happened yet. Occupational health will "
    "contact you, or you can contact them."
)
ALERT_SUBJECT = "Welfare alert"
ALERT_BODY = "An alert needs your attention."
ESCALATED_SUBJECT = "Welfare check-in escalated"
ESCALATED_BODY = "A welfare check-in is {days} days overdue and needs occupational health to act."
OFFICER_LIMIT_SUBJECT = "A welfare alert about you"
OFFICER_LIMIT_BODY = {
    "warning": "Your recent viewing is close to a level set for your welfare. Your supervisor "
    "can see this too. Open the link to see the details.",
    "breach": "Your recent viewing has gone past a level set for your welfare. Your "
    "supervisor has been told. Open the link to see the details.",
}
UNACKNOWLEDGED_SUBJECT = "Urgent welfare alert not acknowledged"
UNACKNOWLEDGED_BODY = (
    "An urgent alert for occupational health has not been acknowledged within {hours} "
    "working hours of becoming urgent. Open it and make sure someone acts on it now."
)
OUT_OF_HOURS_SUBJECT = "Urgent welfare alert outside working hours"
OUT_OF_HOURS_BODY = (
    "Occupational health has an urgent alert that was raised outside working hours. Sign in "
    "to the welfare service to see it: {link}"
)
SELF_REFERRAL_SUBJECT = "A request for a confidential check-in"
SELF_REFERRAL_BODY = "An officer has asked occupational health for a confidential check-in."
CASE_ASSIGNED_SUBJECT = "A case is assigned to you"
CASE_ASSIGNED_BODY = "An occupational health case has been assigned to you."


# What each limit is, in words people use (DOMAIN.md).
LIMIT_WORDS = {
    "daily_minutes": "Viewing over the daily limit",
    "week_minutes": "Viewing over the 7-day limit",
    "rolling_28d_minutes": "Viewing over the 28-day limit",
    "daily_index": "Weighted viewing over the daily limit",
    "week_index": "Weighted viewing over the 7-day limit",
    "rolling_28d_index": "Weighted viewing over the 28-day limit",
    "break_after_minutes": "Viewing past an hour without a break",
    "latest_end": "Viewing after the cut-off time",
    "max_consecutive_days": "Viewing on too many days in a row",
    "forbidden_media": "Viewing material a restriction rules out",
}
KIND_WORDS = {
    "exposure_limit": "Exposure limit",
    "rotation_due": "Rotation review due",
    "checkin_overdue": "Check-in overdue",
    "screening_risk": "Screening result to review",
}


def short_date(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def days_text(first: date | None, last: date | None, times: int) -> str:
    """The day(s) an alert is about: "on 3 Dec 2026", "3 times, 1 Dec 2026 to 9 Dec 2026"."""
    if first is None:
        return ""
    if last is None or last == first:
        return f"on {short_date(first)}" if times <= 1 else f"{times} times, on {short_date(first)}"
    return f"{times} times, {short_date(first)} to {short_date(last)}"


def alert_headline(kind: str, detail: Mapping[str, Any]) -> str:
    """What an alert is about, in words, without health data (a screening alert says only
    that there is a result to review)."""
    if kind == "exposure_limit":
        return LIMIT_WORDS.get(str(detail.get("rule", "")), KIND_WORDS[kind])
    if kind == "rotation_due":
        level = detail.get("level")
        if level == "tenure":
            return "Rotation overdue: time in post at the limit"
        if level and str(level).startswith("rotate_by"):
            return "Rotation date passed, still in post"
        return KIND_WORDS[kind]
    return KIND_WORDS.get(kind, kind.replace("_", " ").capitalize())


def friendly_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def limit_period_key(rule: str, on: date) -> str:
    """The period an exposure-limit alert belongs to: a day, an ISO week or a month, so a
    rolling window over its limit raises one alert per week or month, not one a day."""
    if rule in WEEK_RULES:
        year, week, _ = on.isocalendar()
        return f"{year}-W{week:02d}"
    if rule in MONTH_RULES:
        return f"{on:%Y-%m}"
    return on.isoformat()


def limit_alert_key(officer_id: int, rule: str, on: date, state: str) -> str:
    return f"exposure_limit:{officer_id}:{rule}:{limit_period_key(rule, on)}:{state}"


def limit_severity(state: str) -> str:
    return "high" if state == "breach" else "warning"


# --- One alert per problem, and when repeated breaches call for a check-in ----------------

Occurrence = tuple[int, str, date, str]  # officer, rule, day, the occurrence's key


def group_occurrences(
    found: Sequence[Occurrence],
    open_spans: Mapping[tuple[int, str], tuple[date, date]],
    within_days: int,
) -> list[str | None]:
    """Which alert each new occurrence of a limit belongs to. An occurrence joins the
    officer's unresolved alert for the same rule (`open_spans`: its first and latest days)
    when it falls less than `within_days` after the latest day or before the first (a
    late-logged day): None. Otherwise it starts an alert, under its own key, which later
    occurrences of the rule join on the same terms: that key, for the starting occurrence
    and for those joining it. So a problem that keeps coming back stays one alert; one that
    stopped for `within_days` and came back is a new one. Occurrences are taken in day
    order."""
    groups: dict[tuple[int, str], tuple[date, date, str | None]] = {
        group: (first, last, None) for group, (first, last) in open_spans.items()
    }
    assigned: dict[str, str | None] = {}
    for officer_id, rule, day, key in sorted(found, key=lambda o: (o[0], o[1], o[2], o[3])):
        current = groups.get((officer_id, rule))
        if (
            current is not None
            and (current[0] - day).days < within_days
            and (day - current[1]).days < within_days
        ):
            first, last, group = current
            groups[(officer_id, rule)] = (min(first, day), max(last, day), group)
            assigned[key] = group
        else:
            groups[(officer_id, rule)] = (day, day, key)
            assigned[key] = key
    return [assigned[key] for *_, key in found]


@dataclass(frozen=True)
class TriggerPolicy:
    """When dose-limit breaches call for a triggered check-in (DOMAIN.md): `repeat` breaches
    on different days within `within_days`, or one breach of a rule in `at_once` (a 28-day
    limit: the excess is sustained by definition)."""

    repeat: int = 2
    within_days: int = 28
    at_once: frozenset[str] = frozenset({"rolling_28d_minutes", "rolling_28d_index"})


def checkin_trigger_day(
    breaches: Iterable[tuple[str, date]],
    *,
    after: date | None,
    dose_rules: frozenset[str],
    policy: TriggerPolicy = TriggerPolicy(),
) -> date | None:
    """The first day on which an officer's dose-limit breaches (rule, day) call for a
    triggered check-in, or None. Only breaches of `dose_rules` after `after` (the day of the
    last check-in exposure triggered) count, so each breach counts towards one check-in at
    most; breaches of pattern rules (break, cut-off, consecutive days) never count."""
    counted = sorted(
        (day, rule)
        for rule, day in breaches
        if rule in dose_rules and (after is None or day > after)
    )
    for index, (day, rule) in enumerate(counted):
        if rule in policy.at_once:
            return day
        days = {d for d, _ in counted[: index + 1] if (day - d).days < policy.within_days}
        if len(days) >= policy.repeat:
            return day
    return None


def exposure_trigger_key(officer_id: int, day: date) -> str:
    return f"{EXPOSURE_TRIGGER_PREFIX}{officer_id}:{day.isoformat()}"


# Triggered check-ins that exposure asked for: today's keys, and before Part 10 the limit
# alert's key ("triggered:exposure_limit:...").
EXPOSURE_TRIGGER_PREFIX = "triggered:exposure:"
LEGACY_EXPOSURE_TRIGGER_PREFIX = "triggered:exposure_limit:"


def exposure_trigger_day(key: str, created_on: date) -> date:
    """The day a triggered check-in's exposure trigger fell on: in its key, or for one made
    before Part 10, the day it was created."""
    if key.startswith(EXPOSURE_TRIGGER_PREFIX):
        try:
            return date.fromisoformat(key.rsplit(":", 1)[1])
        except ValueError:
            return created_on
    return created_on


def triggered_due_on(breach_day: date, today: date, within_days: int) -> date:
    """Within `within_days` of the breach; never in the past for a breach found late."""
    return max(breach_day + timedelta(days=within_days), today)


# --- Working hours and the deadline to acknowledge urgent work --------------------------------


@dataclass(frozen=True)
class WorkingCalendar:
    """Occupational health's working hours: the same span on each working day, in one zone."""

    opens: time
    closes: time
    days: frozenset[int]  # Monday is 0
    holidays: frozenset[date] = frozenset()
    zone: tzinfo = UTC

    def works_on(self, day: date) -> bool:
        return day.weekday() in self.days and day not in self.holidays

    def span(self, day: date) -> tuple[datetime, datetime]:
        """The day's working span as instants (a clock change moves the hours, not the span)."""
        return (
            datetime.combine(day, self.opens, tzinfo=self.zone).astimezone(UTC),
            datetime.combine(day, self.closes, tzinfo=self.zone).astimezone(UTC),
        )


# A calendar with a working day in every week finds one within a few days; more than a year
# without one is a mistake in the configuration, refused rather than looped over.
_IDLE_DAYS = 400


def working_deadline(start: datetime, hours: float, calendar: WorkingCalendar) -> datetime:
    """The instant `hours` working hours after `start`: time outside working hours, weekends
    and holidays does not count. Started outside working hours, the clock starts at the next
    opening; a deadline that ends exactly at closing time is that closing time."""
    remaining = timedelta(hours=hours)
    cursor = start.astimezone(UTC)
    day = start.astimezone(calendar.zone).date()
    idle = 0
    while idle < _IDLE_DAYS:
        idle += 1
        if calendar.works_on(day):
            opens, closes = calendar.span(day)
            begin = max(cursor, opens)
            if begin < closes:
                idle = 0
                if begin + remaining <= closes:
                    return begin + remaining
                remaining -= closes - begin
        day += timedelta(days=1)
    raise ValueError("The working calendar has no working hours in the year ahead.")


def in_working_hours(at: datetime, calendar: WorkingCalendar) -> bool:
    day = at.astimezone(calendar.zone).date()
    if not calendar.works_on(day):
        return False
    opens, closes = calendar.span(day)
    return opens <= at.astimezone(UTC) < closes


def deadline_words(deadline: datetime, now: datetime, zone: tzinfo) -> str:
    """When, as a person says it: "14:00 today", "09:30 tomorrow", "11:00 on Monday 8 March"."""
    local, today = deadline.astimezone(zone), now.astimezone(zone).date()
    clock_time = f"{local:%H:%M}"
    if local.date() == today:
        return f"{clock_time} today"
    if local.date() == today + timedelta(days=1):
        return f"{clock_time} tomorrow"
    return f"{clock_time} on {local:%A} {local.day} {local:%B}"


def retry_after(attempts: int) -> timedelta:
    """Back-off for a failed webhook: 1, 2, 4 ... minutes, at most six hours."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), timedelta(hours=6))


def signature(secret: str, body: bytes, timestamp: str) -> str:
    """HMAC-SHA256 over `timestamp.body`, hex; sent as `X-Welfare-Signature: sha256=<hex>`."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


# --- Where a webhook may go (no server-side request forgery) ---------------------------------

WEBHOOK_SCHEME_REFUSED = (
    "Use an https:// address (http:// only to a host on the configured allow-list)."
)
WEBHOOK_NO_HOST = "The address needs a host name."
WEBHOOK_CREDENTIALS_REFUSED = "The address must not carry a user name or password."
WEBHOOK_BAD_PORT = "The address has an invalid port."
WEBHOOK_UNRESOLVED = "The host name does not resolve."
# The address itself is not echoed: an admin should not learn the force's internal DNS.
WEBHOOK_ADDRESS_REFUSED = "The host resolves to a {kind} address, which webhooks may not reach."
WEBHOOK_REDIRECT_REFUSED = "HTTP {status}: redirects are not followed"


class WebhookRefused(ValueError):
    """A webhook address the policy refuses; the message is one of the constants above."""


@dataclass(frozen=True)
class WebhookTarget:
    scheme: str
    host: str  # lower case, no brackets or trailing dot
    port: int
    path: str  # path and query, at least "/"
    trusted: bool  # on the operator's allow-list: http and internal addresses allowed

    @property
    def host_header(self) -> str:
        name = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return name if self.port == default else f"{name}:{self.port}"


def webhook_host(name: str) -> str:
    """A host as the allow-list compares it: lower case, no brackets, no trailing dot."""
    return name.strip().strip("[]").rstrip(".").lower()


def webhook_target(url: str, allowed_http_hosts: Iterable[str]) -> WebhookTarget:
    """Where a webhook URL points, or WebhookRefused: https anywhere public, http only to a
    host on the allow-list (which is trusted, so its addresses are not checked)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = webhook_host(parts.hostname or "")
    if not host:
        raise WebhookRefused(WEBHOOK_NO_HOST)
    trusted = host in {webhook_host(h) for h in allowed_http_hosts}
    if scheme != "https" and not (scheme == "http" and trusted):
        raise WebhookRefused(WEBHOOK_SCHEME_REFUSED)
    if parts.username is not None or parts.password is not None:
        raise WebhookRefused(WEBHOOK_CREDENTIALS_REFUSED)
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise WebhookRefused(WEBHOOK_BAD_PORT) from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return WebhookTarget(scheme=scheme, host=host, port=port, path=path, trusted=trusted)


def address_kind(address: str) -> str | None:
    """Why a webhook may not reach this IP address ("loopback", "private", ...), or None when
    it is a public one. An IPv4 address mapped into IPv6 is judged as the IPv4 address."""
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind, refused in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("reserved", not ip.is_global),  # shared (100.64/10), benchmarking, and the like
    ):
        if refused:
            return kind
    return None


def addresses_refusal(addresses: Sequence[str]) -> str | None:
    """The refusal for a host's resolved addresses: none at all, or any one not public (a
    mix of public and private is refused: the connection could go to either)."""
    if not addresses:
        return WEBHOOK_UNRESOLVED
    for address in addresses:
        kind = address_kind(address)
        if kind is not None:
            return WEBHOOK_ADDRESS_REFUSED.format(kind=kind)
    return None


# --- Rotation ---------------------------------------------------------------------------------

ROTATION_REVIEW = "review"
ROTATION_TENURE = "tenure"
ROTATE_BY_PASSED = "rotate_by_passed"
# Told to the OH leads under ALERT_SUBJECT ("Welfare alert"): the body says what it is.
ROTATION_ESCALATED_BODY = (
    "An officer is still in the same work {days} days after the date set for their rotation, "
    "and it needs occupational health to act."
)


@dataclass(frozen=True)
class RotationDecision:
    """The latest rotation review decision of a spell in the work: stay (review again on
    `next_review_on`) or rotate (out of the work by `rotate_by`)."""

    decision: str
    next_review_on: date | None = None
    rotate_by: date | None = None


@dataclass(frozen=True)
class RotationDue:
    """A rotation alert to raise: `key_part` names it within the spell (one alert per
    review round and level, or per rotate-by date); `on` is the day it is about;
    `escalate`: it is due to go to occupational health's leads."""

    level: str
    severity: str
    key_part: str
    months_in_work: int
    on: date
    escalate: bool = False


def rotation_due(
    *,
    started_on: date,
    today: date,
    review_months: int | None,
    tenure_months: int | None,
    decision: RotationDecision | None,
    escalate_after_days: int,
) -> RotationDue | None:
    """What a rotation sweep raises on `today` for a spell in the work that started on
    `started_on` and goes on today, or None.

    Without a decision: a review at `review_months` in the work, the tenure alert (high) at
    `tenure_months` (the months of the unit kind's policy; None: no policy, no review). A
    decision to stay: nothing until its review date, then a review, or the tenure alert
    when past tenure. A decision to rotate: nothing until its date has passed, then a high
    alert, escalated `escalate_after_days` days after the date (decided whatever the
    policy: a decision was made)."""
    months = months_between(started_on, today)
    if decision is not None and decision.decision == "rotate":
        if decision.rotate_by is None or today <= decision.rotate_by:
            return None
        return RotationDue(
            level=ROTATE_BY_PASSED,
            severity="high",
            key_part=f"{decision.rotate_by.isoformat()}:{ROTATE_BY_PASSED}",
            months_in_work=months,
            on=decision.rotate_by,
            escalate=(today - decision.rotate_by).days >= escalate_after_days,
        )
    if review_months is None or tenure_months is None:
        return None
    review_on = decision.next_review_on if decision is not None else None
    if review_on is not None and review_on > today:
        return None
    if months >= tenure_months:
        level, severity, point = ROTATION_TENURE, "high", tenure_months
    elif months >= review_months or review_on is not None:
        level, severity, point = ROTATION_REVIEW, "warning", review_months
    else:
        return None
    round_key = review_on.isoformat() if review_on is not None else "first"
    return RotationDue(
        level=level,
        severity=severity,
        key_part=f"{round_key}:{level}",
        months_in_work=months,
        on=review_on or add_months(started_on, point),
    )


@dataclass(frozen=True)
class SweepReport:
    examined: int = 0
    raised: int = 0
    notified: int = 0
    checkins: int = 0


# --- Digest instead of pings ------------------------------------------------------------------


def emailed_at_once(*, urgent: bool, may_digest: bool, notify_by: str) -> bool:
    """Whether a notification is e-mailed as soon as it is written: an urgent one always; any
    other unless its recipient chose the daily digest, which only those whose role may
    (`may_digest`: supervisors and clinicians, core.roles.DIGEST_ROLES) choose (an officer's
    own reminders and notices are few and time-bound)."""
    return urgent or not may_digest or notify_by != "digest"


def digest_day(at: datetime, *, hour: int, zone: tzinfo) -> date | None:
    """The local day whose digest may be sent at `at`: that day, once its digest hour has
    come on the local clock (so 08:00 is 08:00 on the days the clocks change), else None."""
    local = at.astimezone(zone)
    return local.date() if local.hour >= hour else None


def digest_subject(count: int) -> str:
    return f"Your welfare service summary: {count} new message{'' if count == 1 else 's'}"


def digest_text(subjects: Sequence[str], *, link: str) -> str:
    """A digest's e-mail: how many messages are new, their subjects (a repeated subject
    once, with how many) and where to read them. Only subjects, which never carry health
    data (a confidential message's is "A message from the welfare service")."""
    counts: dict[str, int] = {}
    for subject in subjects:
        counts[subject] = counts.get(subject, 0) + 1
    lines = [subject if n == 1 else f"{subject} ({n})" for subject, n in counts.items()]
    total = len(subjects)
    return (
        f"You have {total} new message{'' if total == 1 else 's'} in the welfare service:\n\n"
        + "\n".join(f"- {line}" for line in lines)
        + f"\n\nRead {'it' if total == 1 else 'them'} in your inbox: {link}\n\n"
        + DIGEST_FOOTER
    )


DIGEST_FOOTER = (
    "This summary comes once a day. Urgent messages are e-mailed at once. You can choose to "
    "have every message e-mailed as it arrives in your inbox's settings."
)


# --- A team at a glance ---------------------------------------------------------------------


@dataclass(frozen=True)
class MemberState:
    """What a supervisor's page knows of one officer today, as values."""

    officer_id: int
    name: str
    over: Sequence[str]  # limits over today, in words
    near: Sequence[str]  # limits near today, in words
    checkin_overdue_since: date | None
    decision_due: bool
    open_alerts: int


@dataclass(frozen=True)
class Attention:
    officer_id: int
    name: str
    level: str  # "breach" | "overdue" | "decision" | "warning" | "alerts"
    reasons: list[str]


# Most pressing first: over a limit now, then a check-in gone past its date, a rotation
# decision waiting, near a limit, alerts open without any of those.
ATTENTION_LEVELS = ("breach", "overdue", "decision", "warning", "alerts")


def team_attention(members: Iterable[MemberState]) -> list[Attention]:
    """The officers who need the supervisor's attention, most pressing first (then the
    longest-overdue check-in, then by name), each with every reason in words. Officers
    with nothing to act on are left out."""
    found: list[tuple[int, date, str, Attention]] = []
    for m in members:
        reasons = [f"Over: {w}" for w in m.over]
        if m.checkin_overdue_since is not None:
            reasons.append(f"Check-in overdue since {short_date(m.checkin_overdue_since)}")
        if m.decision_due:
            reasons.append("Rotation decision due")
        reasons += [f"Near: {w}" for w in m.near]
        if m.open_alerts:
            reasons.append(f"{m.open_alerts} open alert{'s' if m.open_alerts != 1 else ''}")
        present = [
            bool(m.over),
            m.checkin_overdue_since is not None,
            m.decision_due,
            bool(m.near),
            m.open_alerts > 0,
        ]
        if not any(present):
            continue
        level = present.index(True)
        since = m.checkin_overdue_since or date.max
        found.append(
            (
                level,
                since,
                m.name,
                Attention(m.officer_id, m.name, ATTENTION_LEVELS[level], reasons),
            )
        )
    found.sort(key=lambda item: (item[0], item[1], item[2]))
    return [item[3] for item in found]
