"""Shared query filters: dates given as `YYYY-MM-DD` (a local day) or an ISO 8601 instant."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import filters
from rest_framework.exceptions import ValidationError

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


# What the schema declares for such a parameter: a date or a date-time with its offset, in
# the years the server takes (the formats alone would allow years 1 to 9999).
DATE_OR_INSTANT_SCHEMA: dict[str, Any] = {
    "type": "string",
    "anyOf": [{"format": "date"}, {"format": "date-time"}],
    "pattern": "^[1-8][0-9]{3}-",
    "description": "YYYY-MM-DD (a local day) or an ISO 8601 instant with its offset; "
    "years 1000 to 8999.",
}
# An instant, as the schema declares one the server takes (welfare.core.fields too).
INSTANT_SCHEMA: dict[str, Any] = {
    "type": "string",
    "format": "date-time",
    "pattern": "^[1-8][0-9]{3}-",
    "description": "An ISO 8601 instant with its offset; years 1000 to 8999.",
}
# Ids are PostgreSQL integers: larger numbers name nothing and are refused as malformed.
ID_MAX = 2**31 - 1  # also welfare.core.schema.ID_BOUNDS
ID_SCHEMA: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": ID_MAX}

ON_INVALID = "Give a date as YYYY-MM-DD."
ON_DESCRIPTION = "A local day, YYYY-MM-DD, or an instant on it (default: today)."


def local_day_param(params: Any, name: str = "on") -> date:
    """A query parameter naming a local day (a date, or an instant on that day); today when
    it is absent. A bad value is a 400 on that field."""
    raw = params.get(name)
    if raw is None:
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


@extend_schema_field(DATE_OR_INSTANT_SCHEMA)
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


class IdField(forms.IntegerField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=1, max_value=ID_MAX, **kwargs)


@extend_schema_field(ID_SCHEMA)
class IdFilter(django_filters.NumberFilter):
    """A row's id: a whole number from 1 to ID_MAX (django-filter's NumberFilter takes any
    decimal, and the schema called it a `number`)."""

    field_class = IdField


EMPTY_PARAMETER = "Give a value, or leave the parameter out."
BOOLEANS = {"true", "false"}
BOOLEAN_INVALID = "Give true or false."


class FilterSet(django_filters.FilterSet):
    """django-filter's FilterSet, except that `?to=` is a 400 naming the filter: it is
    neither a value nor "no filter", which django-filter would quietly take it for (the
    schema declares every query string non-empty)."""

    def is_valid(self) -> bool:
        valid: bool = super().is_valid()
        for name, declared in self.filters.items():
            given = self.data.getlist(name) if name in self.data else []
            if "" in given:
                self.form.add_error(name, EMPTY_PARAMETER)
                valid = False
            elif isinstance(declared, django_filters.BooleanFilter) and set(given) - BOOLEANS:
                # django-filter reads anything else as "no filter"
                self.form.add_error(name, BOOLEAN_INVALID)
                valid = False
        return valid


ORDERING_INVALID = "Order by {fields} (a leading - reverses), comma-separated."


class OrderingFilter(filters.OrderingFilter):
    """`?ordering=` over the view's `ordering_fields` only, declared as such; anything else
    is a 400 (DRF would drop an unknown field silently, and order views that declare none by
    any field of their serializer). A view without `ordering_fields` takes no `ordering`."""

    def get_ordering(self, request: Any, queryset: QuerySet[Any], view: Any) -> Any:
        fields = getattr(view, "ordering_fields", None)
        raw = request.query_params.get(self.ordering_param)
        if raw is None or not fields:
            return self.get_default_ordering(view)
        terms = raw.split(",")
        if any(term.removeprefix("-") not in fields for term in terms):
            message = ORDERING_INVALID.format(fields=", ".join(fields))
            raise ValidationError({self.ordering_param: [message]})
        return terms

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        fields = getattr(view, "ordering_fields", None)
        if not fields:
            return []
        one = "-?({})".format("|".join(fields))
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": ORDERING_INVALID.format(fields=", ".join(fields)),
                "schema": {"type": "string", "pattern": f"^{one}(,{one})*$"},
            }
        ]


def rename_filter(filterset: type[django_filters.FilterSet], old: str, new: str) -> None:
    """Expose a filter under a name Python cannot declare (such as `from`)."""
    filterset.base_filters[new] = filterset.base_filters.pop(old)
