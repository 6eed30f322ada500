from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    """`{{ names|get_item:officer_id }}`: a dictionary lookup in a template."""
    try:
        return mapping.get(key, "")
    except AttributeError:
        return ""


@register.filter
def cell(row: dict[str, Any], column: str) -> Any:
    return row.get(column)


@register.filter
def words(name: str) -> str:
    """`median_hours` as "median hours"."""
    return str(name).replace("_", " ")


@register.filter
def isodate(value: Any) -> Any:
    """`2027-03-10` (a date kept as text, as alert details keep it) as a date for `|date`."""
    from datetime import date

    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return value


@register.filter
def stat_words(column: str) -> str:
    """A statistics column in words: `on_time_pct` as "On time (% of due)"."""
    from welfare.web.words import stat_words as words_of

    return words_of(str(column))
