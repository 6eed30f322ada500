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
