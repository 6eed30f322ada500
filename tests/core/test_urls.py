"""The API's routes are one flat list: resolving tries patterns, not nested includes."""

from __future__ import annotations

from django.urls import URLPattern, get_resolver, resolve


def test_api_routes_are_flat_and_resolve() -> None:
    api = next(p for p in get_resolver().url_patterns if str(p.pattern) == "api/v1/")
    assert all(isinstance(p, URLPattern) for p in api.url_patterns)  # type: ignore[attr-defined]
    assert resolve("/api/v1/exposures/").url_name == "exposure-list"
    assert resolve("/api/v1/units/3/summary").url_name == "unit-summary"
    assert resolve("/api/v1/legal-holds/").url_name == "legal-hold-list"  # the last app
