"""iCalendar (RFC 5545) rendering of a person's check-ins: dates only, no health data."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from welfare.checkins.models import CheckIn

PRODID = "-//Welfare service//Check-ins//EN"
SUMMARY = "Welfare check-in"
DESCRIPTION = "A welfare check-in with occupational health."


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space (RFC 5545 3.1)."""
    raw = line.encode()
    if len(raw) <= 75:
        return line
    parts, start = [], 0
    while start < len(raw):
        size = 75 if start == 0 else 74
        chunk = raw[start : start + size]
        while True:  # never split a UTF-8 sequence
            try:
                parts.append(chunk.decode())
                break
            except UnicodeDecodeError:
                chunk = chunk[:-1]
        start += len(chunk)
    return "\r\n ".join(parts)


def _stamp(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar(checkins: Iterable[CheckIn], *, now: datetime, host: str) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ]
    for checkin in checkins:
        lines += ["BEGIN:VEVENT", f"UID:checkin-{checkin.pk}@{host}", f"DTSTAMP:{_stamp(now)}"]
        if checkin.booked_for is not None:
            lines += [
                f"DTSTART:{_stamp(checkin.booked_for)}",
                f"DTEND:{_stamp(checkin.booked_for + timedelta(hours=1))}",
            ]
        else:
            lines += [
                f"DTSTART;VALUE=DATE:{checkin.due_on:%Y%m%d}",
                f"DTEND;VALUE=DATE:{checkin.due_on + timedelta(days=1):%Y%m%d}",
            ]
        status = "CANCELLED" if checkin.status == "cancelled" else "CONFIRMED"
        lines += [
            f"SUMMARY:{SUMMARY}",
            f"DESCRIPTION:{DESCRIPTION}",
            f"STATUS:{status}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
