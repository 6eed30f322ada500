"""Serializer fields shared by the apps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import models
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import relations, serializers

from welfare.core.filters import EARLIEST, INSTANT_SCHEMA, LATEST

NAIVE_DATETIME = "Give the time with its offset, e.g. 2027-03-01T09:30:00+00:00."
INSTANT_RANGE = "Give a time in the years 1000 to 8999."
NO_NUL = "^[^\\x00]*$"  # PostgreSQL text cannot hold a NUL: DRF refuses it
NOT_EMPTY = "^[^\\x00]+$"
NOT_BLANK = "^[^\\x00]*[^\\s\\x00][^\\x00]*$"  # and a character that is not white space


@extend_schema_field(INSTANT_SCHEMA)
class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 instant that must carry its offset: a bare local time is ambiguous on
    the days the clocks change. Years 1000 to 8999, so a day's or a window's arithmetic on
    it cannot overflow (a 500 otherwise)."""

    default_error_messages = {"naive": NAIVE_DATETIME, "range": INSTANT_RANGE}

    def to_internal_value(self, value: Any) -> datetime:
        if isinstance(value, str):
            text = value.strip()
            tail = text[10:] if len(text) > 10 else ""
            has_time = "T" in text.upper() or " " in text
            has_offset = tail.endswith(("Z", "z")) or "+" in tail or "-" in tail
            if has_time and not has_offset:
                self.fail("naive")
        instant: datetime = super().to_internal_value(value)
        if not EARLIEST <= instant.date() <= LATEST:
            self.fail("range")
        return instant


class StringField(serializers.CharField):
    """DRF's CharField, but only a JSON string: DRF turns a number into its text (`12` into
    "12"), which the schema's `type: string` does not allow and a client should not rely on."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StringFieldSchema(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    """A StringField never takes a NUL character; one that may not be blank trims first,
    so " " is refused like "": the schema asks for a character that is not white space, not
    only `minLength: 1`."""

    target_class = StringField
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        field = self.target
        if direction == "request" and "pattern" not in schema:
            if field.allow_blank:  # "" is drf-spectacular's separate `oneOf` branch
                schema["pattern"] = NOT_EMPTY  # (its default: welfare.core.schema)
            else:
                schema["pattern"] = NOT_BLANK if field.trim_whitespace else NO_NUL
        return schema


class IdListField(serializers.ManyRelatedField):
    """A list of ids: DRF takes any iterable, so `{}` passed as an empty list."""

    def to_internal_value(self, data: Any) -> Sequence[Any]:
        if isinstance(data, Mapping):
            self.fail("not_a_list", input_type=type(data).__name__)
        return super().to_internal_value(data)


class PrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):  # type: ignore[type-arg]
    """A row's id as a JSON integer: DRF also takes "5" and 5.0, which the schema's
    `type: integer` does not allow. Many of them: a JSON array (IdListField)."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, int) or isinstance(data, bool):
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)

    @classmethod
    def many_init(cls, *args: Any, **kwargs: Any) -> IdListField:
        # As DRF's own, with the list field above (the override its docstring describes).
        shared = {k: v for k, v in kwargs.items() if k in relations.MANY_RELATION_KWARGS}
        return IdListField(child_relation=cls(*args, **kwargs), **shared)


class ModelSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """DRF's ModelSerializer whose text columns take strings only (see StringField) and whose
    relations take integer ids only (see PrimaryKeyRelatedField)."""

    serializer_related_field = PrimaryKeyRelatedField
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StringField,
        models.TextField: StringField,
    }
