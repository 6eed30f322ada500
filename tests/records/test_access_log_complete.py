"""The officer's "who opened my record" lists every read of their clinical data."""

from __future__ import annotations

from datetime import date

from tests.conftest import Cast, client_for, web_client_for
from welfare.audit.models import AuditEvent
from welfare.casework.services import report_draft
from welfare.checkins.models import CheckIn
from welfare.exposure.services import restriction_create
from welfare.records.subject_access import person_export


def _log(cast: Cast) -> list[dict[str, object]]:
    response = client_for(cast.officer_a1.user).get("/api/v1/me/access-log")
    assert response.status_code == 200
    return list(response.json())


def _self_refer(cast: Cast) -> CheckIn:
    response = client_for(cast.officer_a1.user).post(
        "/api/v1/checkins/", {"kind": "self_referral", "note": "struggling"}, format="json"
    )
    assert response.status_code == 201
    return CheckIn.objects.get(pk=response.json()["id"])


def test_oh_reading_a_checkin_with_a_referral_note_is_listed(cast: Cast) -> None:
    checkin = _self_refer(cast)
    assert _log(cast) == []
    detail = client_for(cast.oh1).get(f"/api/v1/checkins/{checkin.pk}/")
    assert detail.json()["referral_note"] == "struggling"
    listed = client_for(cast.oh1).get("/api/v1/checkins/")
    assert listed.status_code == 200
    assert web_client_for(cast.oh2).get(f"/checkins/{checkin.pk}").status_code == 200
    rows = _log(cast)
    assert [(row["action"], row["role"]) for row in rows] == [("checkin.read", "oh")] * 3
    event = AuditEvent.objects.filter(action="checkin.read").order_by("id").first()
    assert event is not None
    assert event.detail == {"checkins": [str(checkin.pk)]}


def test_reading_restriction_reasons_is_listed_but_limits_alone_are_not(cast: Cast) -> None:
    officer = cast.officer_a1
    with_reason = restriction_create(
        actor=cast.oh1, officer=officer, starts_on=date(2027, 3, 1), daily_minutes=60, reason="r"
    )
    client_for(cast.supervisor_a).get("/api/v1/restrictions/")  # limits only: no reason
    assert _log(cast) == []
    client_for(cast.oh2).get(f"/api/v1/restrictions/{with_reason.pk}/")
    client_for(cast.oh2).get("/api/v1/restrictions/")
    assert [row["action"] for row in _log(cast)] == ["restriction.read"] * 2


def test_oh_reading_a_report_is_listed(cast: Cast) -> None:
    report = report_draft(actor=cast.oh1, officer=cast.officer_a1, fitness="fit")
    assert client_for(cast.oh2).get(f"/api/v1/reports/{report.pk}/").status_code == 200
    assert [(row["action"], row["role"]) for row in _log(cast)] == [("report.read", "oh")]


def test_subject_access_export_is_listed(cast: Cast) -> None:
    person_export(officer=cast.officer_a1, reference="SAR-1")
    person_export(officer=cast.officer_a2, reference="SAR-2")
    assert [(row["action"], row["role"]) for row in _log(cast)] == [
        ("subject_access.exported", "system")
    ]


def test_the_records_page_lists_the_export(cast: Cast) -> None:
    person_export(officer=cast.officer_a1, reference="SAR-1")
    page = web_client_for(cast.officer_a1.user).get("/me/records").content.decode()
    log = page.split('id="access-log"')[1].split("</table>")[0]
    assert "The service" in log
    assert "A copy of everything held about you (subject access)" in log
    assert "subject_access.exported" not in page  # in words, never the code
