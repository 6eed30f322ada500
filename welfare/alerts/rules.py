"""Alert keys, severities, message texts and webhook signing, as pure functions.

Message texts never carry health data, exposure details or names: a reminder says when,
an alert says that something needs attention, and a link says where.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date, timedelta

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
