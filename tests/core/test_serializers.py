"""The ModelSerializer that builds its fields once per class gives what DRF builds."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from rest_framework import serializers

from welfare.core.serializers import ModelSerializer


def every_subclass() -> list[type[ModelSerializer]]:
    for config in apps.get_app_configs():
        if config.name.startswith("welfare."):
            try:
                importlib.import_module(f"{config.name}.api")
            except ModuleNotFoundError:
                continue
    found, todo = [], list(ModelSerializer.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def describe(fields: dict) -> dict:
    return {
        name: (type(field).__name__, field.read_only, field.required, field.allow_null)
        for name, field in fields.items()
    }


@pytest.mark.parametrize("cls", every_subclass(), ids=lambda cls: cls.__name__)
def test_fields_match_drfs_own_build_and_are_not_shared(cls) -> None:
    drf_built = serializers.ModelSerializer.get_fields(cls())
    first, second = cls().fields, cls().fields
    assert describe(dict(first)) == describe(drf_built)
    assert describe(dict(second)) == describe(drf_built)
    assert all(first[name] is not second[name] for name in first)
    assert all(first[name].parent is not second[name].parent for name in first)


def test_every_output_serializer_is_found() -> None:
    names = {cls.__name__ for cls in every_subclass()}
    assert {"ExposureOutput", "AlertOutput", "CheckinOutput", "OfficerOutput"} <= names
