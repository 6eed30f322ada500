"""Alert keys, severities, message texts and webhook signing, as pure functions.

Message texts never carry health data, exposure details or names: a reminder says when,
an alert says that something needs attention, and a link says where.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

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


def working_hours_between(start: datetime, end: datetime, calendar: WorkingCalendar) -> timedelta:
    """Working time from `start` to `end` (zero when `end` is not after `start`)."""
    total = timedelta(0)
    if end <= start:
        return total
    day = start.astimezone(calendar.zone).date()
    last = end.astimezone(calendar.zone).date()
    while day <= last:
        if calendar.works_on(day):
            opens, closes = calendar.span(day)
            begin, finish = max(opens, start.astimezone(UTC)), min(closes, end.astimezone(UTC))
            if begin < finish:
                total += finish - begin
        day += timedelta(days=1)
    return total


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


def verify_signature(secret: str, body: bytes, timestamp: str, header: str) -> bool:
    expected = "sha256=" + signature(secret, body, timestamp)
    return hmac.compare_digest(expected, header)


@dataclass(frozen=True)
class SweepReport:
    examined: int = 0
    raised: int = 0
    notified: int = 0
    checkins: int = 0
