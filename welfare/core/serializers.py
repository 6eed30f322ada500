"""A ModelSerializer that introspects its model once per class, not once per instance."""

from __future__ import annotations

import copy
from typing import Any

from rest_framework import serializers


# DRF builds a ModelSerializer's fields from the model's meta for every instance (a few
# milliseconds for a wide model, on every response, and again for each nested serializer).
# Here they are built once per class and deep-copied for each instance, which is what DRF
# does with declared fields anyway; the fields come out the same. (A comment, not a
# docstring: drf-spectacular would publish a docstring as every output's description.)
class ModelSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    def get_fields(self) -> dict[str, Any]:
        built: dict[str, Any] | None = type(self).__dict__.get("_built_fields")
        if built is None:
            built = super().get_fields()
            type(self)._built_fields = built  # type: ignore[attr-defined]
        return copy.deepcopy(built)
