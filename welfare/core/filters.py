"""Shared query filters: dates given as `YYYY-MM-DD` (a local day) or an ISO 8601 instant."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils.dateparse import parse_date, parse_datetime

from welfare.core.clock import local_zone, today
from welfare.core.errors import DomainError

DATE_OR_INSTANT_INVALID = "Enter a date (YYYY-MM-DD) or an ISO 8601 timestamp with an offset."
# Well inside what Python and PostgreSQL represent, so a day's or a window's arithmetic on a
# value given cannot overflow (a 500 otherwise).
EARLIEST, LATEST = date(1000, 1, 1), date(8999, 12, 31)


def parse_date_or_instant(raw: str) -> date | datetime:
    """A calendar date, or a timezone-aware instant; anything else is a ValueError."""
    value = raw.strip()
    try:
        parsed_date = parse_date(value)
    except ValueError:
        parsed_date = None
    if parsed_date is not None:
        if not EARLIEST <= parsed_date <= LATEST:
            raise ValueError(DATE_OR_INSTANT_INVALID)
        return parsed_date
    try:
        parsed = parse_datetime(value.replace(" ", "+"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None or not EARLIEST <= parsed.date() <= LATEST:
        raise ValueError(DATE_OR_INSTANT_INVALID)
    # In UTC: Python takes offsets up to 23:59, PostgreSQL only up to 15:59.
    return parsed.astimezone(UTC)


ON_INVALID = "Give a date as YYYY-MM-DD."


def local_day_param(params: Any, name: str = "on") -> date:
    """A query parameter naming a local day (a date, or an instant on that day); today when
    it is absent. A bad value is a 400 on that field."""
    raw = params.get(name)
    if not raw:
        return today()
    try:
        parsed = parse_date_or_instant(raw)
    except ValueError as exc:
        raise DomainError(ON_INVALID, field=name) from exc
    return parsed.astimezone(local_zone()).date() if isinstance(parsed, datetime) else parsed


def start_of_local_day(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=local_zone())


class DateOrInstantField(forms.CharField):
    def to_python(self, value: Any) -> date | datetime | None:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return None
        try:
            return parse_date_or_instant(text)
        except ValueError as exc:
            raise forms.ValidationError(DATE_OR_INSTANT_INVALID) from exc


class DateOrInstantFilter(django_filters.Filter):
    """`from`: at or after the instant or the start of the day. `to` (end_of_day): before the
    instant, or before the end of the given day, so `to=2027-03-01` includes that whole day."""

    field_class = DateOrInstantField

    def __init__(self, *args: Any, end_of_day: bool = False, **kwargs: Any) -> None:
        self.end_of_day = end_of_day
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet[Any], value: date | datetime | None) -> QuerySet[Any]:
        if value is None:
            return qs
        if not isinstance(value, datetime):
            value = start_of_local_day(value + timedelta(days=1) if self.end_of_day else value)
        filtered: QuerySet[Any] = super().filter(qs, value)
        return filtered


def rename_filter(filterset: type[django_filters.FilterSet], old: str, new: str) -> None:
    """Expose a filter under a name Python cannot declare (such as `from`)."""
    filterset.base_filters[new] = filterset.base_filters.pop(old)
