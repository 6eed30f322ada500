"""Serializer fields shared by the apps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rest_framework import serializers

NAIVE_DATETIME = "Give the time with its offset, e.g. 2027-03-01T09:30:00+00:00."


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 instant that must carry its offset: a bare local time is ambiguous on
    the days the clocks change."""

    default_error_messages = {"naive": NAIVE_DATETIME}

    def to_internal_value(self, value: Any) -> datetime:
        if isinstance(value, str):
            text = value.strip()
            tail = text[10:] if len(text) > 10 else ""
            has_time = "T" in text.upper() or " " in text
            has_offset = tail.endswith(("Z", "z")) or "+" in tail or "-" in tail
            if has_time and not has_offset:
                self.fail("naive")
        return super().to_internal_value(value)
