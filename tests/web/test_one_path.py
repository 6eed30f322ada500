"""The pages hold no second copy of any use case: every write goes through the service the
API calls (which validates, audits and runs it in one transaction). Checked on the source:
no view writes through a model or its manager."""

from __future__ import annotations

import ast
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.urls import reverse

import welfare.web
from tests.conftest import Cast, client_for, web_client_for
from welfare.audit.models import AuditEvent
from welfare.checkins.models import CalendarFeed
from welfare.exposure.api import IMPORT_TOO_LARGE, MAX_IMPORT_ROWS
from welfare.exposure.models import ExposureSession
from welfare.people.models import RotationReview

WRITES = {"save", "delete", "create", "get_or_create", "update_or_create", "bulk_create",
          "bulk_update", "update"}  # fmt: skip


def _receiver_is_a_query(node: ast.expr) -> bool:
    """`X.objects...` or a queryset method chain (`.filter(...)`, `.all()`, ...)."""
    while isinstance(node, ast.Call | ast.Attribute):
        if isinstance(node, ast.Attribute) and node.attr in {"objects", "filter", "all", "exclude"}:
            return True
        node = node.func if isinstance(node, ast.Call) else node.value
    return False


def writes_in(source: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name, receiver = node.func.attr, node.func.value
        if name == "update" and not _receiver_is_a_query(receiver):
            continue  # a dict's update
        if name in WRITES:
            found.append((node.lineno, ast.unparse(node.func)))
    return found


def test_the_check_finds_a_write_through_a_model() -> None:
    sample = "Alert.objects.filter(pk=1).update(status='x')\nuser.save()\ncontext.update(a=1)\n"
    assert [text for _, text in writes_in(sample)] == [
        "Alert.objects.filter(pk=1).update",
        "user.save",
    ]


def test_no_page_writes_except_through_a_service() -> None:
    folder = Path(welfare.web.__file__).parent
    found = {
        f"{path.name}:{line}": text
        for path in sorted(folder.glob("*.py"))
        for line, text in writes_in(path.read_text())
    }
    assert found == {}


# --- The copies that had drifted, now one path ---------------------------------------------


@pytest.mark.django_db
def test_a_calendar_key_from_the_page_is_audited_as_from_the_api(cast: Cast) -> None:
    client = web_client_for(cast.officer_a1.user)
    client.post(reverse("web:calendar-key"))
    assert (
        AuditEvent.objects.filter(action="calendar.key_issued", actor=cast.officer_a1.user).count()
        == 1
    )
    assert CalendarFeed.objects.filter(user=cast.officer_a1.user).count() == 1


@pytest.mark.django_db
def test_an_import_too_large_is_refused_on_the_page_as_by_the_api(cast: Cast) -> None:
    rows = [
        {"staff_number": "T0001", "started_at": f"2027-03-0{1 + n % 5}T09:00:00Z",
         "ended_at": f"2027-03-0{1 + n % 5}T09:10:00Z", "material": "image", "category": "C",
         "client_ref": f"r{n}"}
        for n in range(MAX_IMPORT_ROWS + 1)
    ]  # fmt: skip
    upload = io.BytesIO(json.dumps(rows).encode())
    upload.name = "export.json"
    page = web_client_for(cast.supervisor_a).post("/unit/import", {"file": upload}, follow=True)
    assert IMPORT_TOO_LARGE.encode() in page.content
    assert not ExposureSession.objects.exists()  # nothing silently cut to the first rows


@pytest.mark.django_db
def test_a_rotation_note_too_long_is_refused_on_the_page_not_cut(cast: Cast) -> None:
    posting = cast.officer_a1.postings.get()
    page = web_client_for(cast.supervisor_a).post(
        f"/rotation/{posting.pk}",
        {"decision": "stay", "next_review_on": "2027-09-01", "note": "x" * 501},
        follow=True,
    )
    assert b"no more than 500 characters" in page.content
    assert not RotationReview.objects.exists()


@pytest.mark.django_db
def test_the_hr_page_audits_a_read_as_the_api_does(cast: Cast, clock) -> None:
    clock.set(datetime(2027, 4, 10, 9, tzinfo=UTC))  # 2027Q1 has ended
    page = web_client_for(cast.hr).get("/hr/?table=exposure&period=2027Q1&audience=board")
    assert page.status_code == 200
    api = client_for(cast.hr).get("/api/v1/stats/exposure?period=2027Q1&audience=board")
    assert api.status_code == 200
    web_read, api_read = AuditEvent.objects.filter(action="stats.exposure").order_by("id")
    shared = ("group_by", "from", "to", "audience")
    assert {k: web_read.detail[k] for k in shared} == {k: api_read.detail[k] for k in shared}
    assert (web_read.detail["from"], web_read.detail["audience"]) == ("2027-01-01", "board")
    assert (web_read.detail["via"], api_read.detail["via"]) == ("web", "api")
