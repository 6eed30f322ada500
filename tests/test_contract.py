"""The OpenAPI document is a contract clients can be generated from: a validator nobody on
the project wrote accepts it, and the server refuses what it calls invalid."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from openapi_spec_validator import OpenAPIV30SpecValidator
from rest_framework.test import APIClient

from tests.conftest import Cast, client_for
from welfare.people.models import Unit


@pytest.fixture
def document(db: None) -> dict[str, Any]:
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_the_document_passes_openapi_spec_validator(document: dict[str, Any]) -> None:
    errors = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in OpenAPIV30SpecValidator(document).iter_errors()
    ]
    assert errors == []
    assert len(document["paths"]) > 80


def _declared(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    operation: dict[str, Any] = document["paths"][path][method]
    return {p["name"]: p["schema"] for p in operation.get("parameters", [])}


def test_the_document_declares_what_the_server_enforces(document: dict[str, Any]) -> None:
    listed = _declared(document, "/api/v1/exposures/", "get")
    assert listed["officer"] == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
    assert (listed["page_size"]["minimum"], listed["page_size"]["maximum"]) == (1, 500)
    assert listed["ordering"]["pattern"].startswith("^-?(")
    assert listed["include"]["pattern"]
    assert {"format": "date-time"} in listed["to"]["anyOf"]
    officer = document["paths"]["/api/v1/officers/{id}/"]["patch"]["parameters"][0]["schema"]
    assert officer["minimum"] == 1
    audit = _declared(document, "/api/v1/audit/", "get")
    assert audit["action"]["minLength"] == 1  # free text is never empty
    stats = _declared(document, "/api/v1/stats/exposure", "get")
    assert stats["period"]["pattern"] == r"^[0-9]{4}Q[1-4]$"
    assert document["paths"]["/api/v1/exposures/"]["post"]["x-refusals"]
    assert "x-refusals" not in document["paths"]["/api/v1/exposures/"]["get"]


@pytest.mark.parametrize(
    "query",
    ["to=", "officer=", "page_size=null", "page_size=0", "page_size=501", "ordering=note",
     "officer=2147483648", "officer=1.5", "include=everything", "to=0999-12-31"],
)  # fmt: skip
def test_a_query_the_schema_calls_invalid_is_a_400_naming_it(cast: Cast, query: str) -> None:
    response = client_for(cast.officer_a1.user).get(f"/api/v1/exposures/?{query}")
    assert response.status_code == 400, response.content
    assert query.split("=")[0] in response.json()


def test_a_valid_query_is_taken(cast: Cast) -> None:
    query = "page_size=500&ordering=-started_at,id&include=void,superseded&to=2027-03-10"
    response = client_for(cast.officer_a1.user).get(f"/api/v1/exposures/?{query}")
    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_an_empty_stats_parameter_is_refused_not_defaulted(cast: Cast) -> None:
    response = client_for(cast.hr).get("/api/v1/stats/exposure?period=&format=csv")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")  # an error is JSON
    assert response.json()["period"] == ["Give a value, or leave the parameter out."]


def test_numbers_are_not_taken_for_strings_nor_strings_for_ids(cast: Cast) -> None:
    admin = client_for(cast.admin)
    officer = cast.officer_a1
    refused = admin.patch(f"/api/v1/officers/{officer.pk}/", {"display_name": 12}, format="json")
    assert refused.status_code == 400
    assert "display_name" in refused.json()
    blank = admin.patch(f"/api/v1/officers/{officer.pk}/", {"display_name": "  "}, format="json")
    assert blank.status_code == 400
    body = {"name": "Unit C", "kind": "other", "supervisors": {}}
    assert admin.post("/api/v1/units/", body, format="json").status_code == 400
    body["supervisors"] = [str(cast.supervisor_a.pk)]
    assert admin.post("/api/v1/units/", body, format="json").status_code == 400
    officer.refresh_from_db()
    assert officer.display_name != "12"
    assert not Unit.objects.filter(name="Unit C").exists()
    body["supervisors"] = [cast.supervisor_a.pk]
    created = admin.post("/api/v1/units/", body, format="json")
    assert created.status_code == 201
    assert created.json()["supervisors"] == [cast.supervisor_a.pk]


DOCUMENTED_PATH = re.compile(r"`(?:GET|POST|PATCH|PUT|DELETE)?\s?(/api/v1/[^`\s?]+)")


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


@pytest.mark.parametrize("doc", ["README.md", "docs/API.md"])
def test_every_path_the_docs_write_is_served_as_written(document: dict[str, Any], doc: str) -> None:
    served = {_shape(path) for path in document["paths"]}
    text = (Path(settings.BASE_DIR) / doc).read_text()
    written = {
        _shape(path)
        for path in DOCUMENTED_PATH.findall(text)
        if not any(mark in path for mark in ("...", "<", "*", "|"))  # shorthand, patterns
    }
    assert len(written) > 20
    assert sorted(written - served) == []
