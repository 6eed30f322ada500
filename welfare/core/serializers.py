"""A ModelSerializer that introspects its model once per class, not once per instance."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import models
from rest_framework import relations, serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject

from welfare.core.fields import DateTimeField

# Per readable field: (name, bound field, method, attribute, foreign key column). The
# method is set for a SerializerMethodField; the attribute for a field that reads one
# attribute the plain way (read directly: DRF's generic walk costs more than the value);
# the column for a primary key of a foreign key (its value is the rendering).
Plan = list[tuple[str, Any, Callable[[Any, Any], Any] | None, str | None, str | None]]
_GENERIC = object()  # an attribute to read DRF's way (missing, callable)


# DRF builds a ModelSerializer's fields from the model's meta for every instance (a few
# milliseconds for a wide model, on every response, and again for each nested serializer).
# Here they are built once per class and copied for each instance; the fields come out the
# same. DRF deep-copies declared fields, which re-runs every field's constructor (a third
# of a logged session's response time): a field is only bound (its name and parent set on
# it) and read while rendering, so a shallow copy of an unbound field is enough; nested
# serializers and fields holding a bound child (lists, dicts, many-related) are still
# deep-copied, so that a child's parent, and through it the context, is this instance's.
#
# Rendering needs no copies at all: the fields are bound once per class to a template
# instance, and `to_representation` walks them as DRF does, calling the instance's own
# method for a SerializerMethodField (which is what reads the context). A class whose
# fields need the instance (nested serializers, hyperlinks) renders the DRF way.
# (A comment, not a docstring: drf-spectacular would publish a docstring as every output's
# description.)
class ModelSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: DateTimeField,
    }

    def get_fields(self) -> dict[str, Any]:
        built: dict[str, Any] | None = type(self).__dict__.get("_built_fields")
        if built is None:
            built = super().get_fields()
            type(self)._built_fields = built  # type: ignore[attr-defined]
        return {name: _copy(field) for name, field in built.items()}

    def to_representation(self, instance: Any) -> dict[str, Any]:
        cls = type(self)
        plan: Plan | None = cls.__dict__.get("_render_plan")
        if plan is None:
            plan = _render_plan(cls)
            cls._render_plan = plan  # type: ignore[attr-defined]
        if not plan:
            return super().to_representation(instance)  # type: ignore[no-any-return]
        out: dict[str, Any] = {}
        direct = not isinstance(instance, Mapping)
        for name, field, method, attr, column in plan:
            if method is not None:
                out[name] = method(self, instance)
                continue
            if direct and column is not None:
                out[name] = getattr(instance, column)
                continue
            if direct and attr is not None:
                value = _read(instance, attr)
                if value is not _GENERIC:
                    out[name] = None if value is None else field.to_representation(value)
                    continue
            try:
                attribute = field.get_attribute(instance)
            except SkipField:
                continue
            check = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
            out[name] = None if check is None else field.to_representation(attribute)
        return out


def _read(instance: Any, attr: str) -> Any:
    """An attribute as DRF's get_attribute reads it, or _GENERIC where only DRF's own
    handling (defaults, skipping, calling) gives the same."""
    try:
        value = getattr(instance, attr)
    except ObjectDoesNotExist:
        return None
    except AttributeError:
        return _GENERIC
    return _GENERIC if callable(value) else value


class Serializer(serializers.Serializer):  # type: ignore[type-arg]
    # DRF deep-copies a plain serializer's declared fields for every instance; a shallow
    # copy of each (as above) gives the same fields for a fraction of the cost, which
    # counts for the input of every logged session.
    def get_fields(self) -> dict[str, Any]:
        return {name: _copy(field) for name, field in self._declared_fields.items()}


_COMPOSITE = {"child", "child_relation"}


def _copy(field: Any) -> Any:
    if isinstance(field, serializers.BaseSerializer) or _COMPOSITE & vars(field).keys():
        return copy.deepcopy(field)
    # What copy.copy makes of a field (no __copy__, no slots: a new instance with the same
    # attributes), without its reduce-and-reconstruct round: a third of an input's time.
    clone = object.__new__(type(field))
    clone.__dict__.update(field.__dict__)
    return clone


def _needs_instance(field: Any) -> bool:
    """Fields whose rendering reads the serializer instance (its context or its parent)."""
    inner = getattr(field, "child_relation", None) or getattr(field, "child", None)
    return isinstance(field, serializers.BaseSerializer | relations.HyperlinkedRelatedField) or (
        inner is not None and _needs_instance(inner)
    )


def _render_plan(cls: type[ModelSerializer]) -> Plan:
    """The readable fields bound to a template instance of the class, in DRF's order; empty
    when some field needs the instance itself."""
    template = cls()
    plan: Plan = []
    for field in template._readable_fields:
        if _needs_instance(field):
            return []
        method = attr = column = None
        if isinstance(field, serializers.SerializerMethodField):
            method = getattr(cls, field.method_name)
        elif len(field.source_attrs) == 1:
            source = field.source_attrs[0]
            if type(field).get_attribute is serializers.Field.get_attribute:
                attr = source
            elif isinstance(field, relations.PrimaryKeyRelatedField) and field.pk_field is None:
                column = _foreign_key_column(cls.Meta.model, source)
        plan.append((str(field.field_name), field, method, attr, column))
    return plan


def _foreign_key_column(model: Any, name: str) -> str | None:
    """The column holding a forward foreign key's primary key (what DRF's pk-only
    rendering of the relation reads), if `name` is one."""
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    forward = field.concrete and (field.many_to_one or field.one_to_one)
    return field.attname if forward else None
