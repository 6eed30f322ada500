"""Reports to management: the officer reads first, consents or declines, may withdraw; a
disclosure without consent needs a legal basis; every step is audited."""

from __future__ import annotations

from datetime import date

import pytest

from tests.conftest import Cast, client_for, field_errors
from welfare.audit.models import AuditEvent
from welfare.casework.rules import not_now
from welfare.casework.services import LEGAL_BASIS_REQUIRED
from welfare.checkins.services import checkin_trigger

URL = "/api/v1/reports/"


@pytest.fixture
def draft(cast: Cast) -> dict:
    response = client_for(cast.oh1).post(
        f"/api/v1/oh/cases/{cast.officer_a1.pk}/reports",
        {
            "fitness": "fit_with_adjustments",
            "adjustments": "No video review for four weeks; a break every 45 minutes.",
        },
        format="json",
    )
    assert response.status_code == 201
    return response.json()


def seen(user) -> list[int]:
    return [row["id"] for row in client_for(user).get(URL).json()["results"]]


def test_a_draft_is_occupational_healths_alone(cast: Cast, draft: dict) -> None:
    assert draft["state"] == "draft"
    assert seen(cast.oh1) == [draft["id"]]
    assert seen(cast.officer_a1.user) == []
    assert seen(cast.supervisor_a) == []


def test_offer_consent_withdraw(cast: Cast, draft: dict) -> None:
    oh, officer, supervisor = (
        client_for(cast.oh1),
        client_for(cast.officer_a1.user),
        client_for(cast.supervisor_a),
    )
    assert oh.post(f"{URL}{draft['id']}/offer").json()["state"] == "offered"
    assert seen(cast.officer_a1.user) == [draft["id"]]
    assert seen(cast.supervisor_a) == []
    consented = officer.post(f"{URL}{draft['id']}/consent")
    assert consented.json()["state"] == "consented"
    released = supervisor.get(f"{URL}{draft['id']}/").json()
    assert released == {
        "id": draft["id"],
        "officer": cast.officer_a1.pk,
        "fitness": "fit_with_adjustments",
        "adjustments": "No video review for four weeks; a break every 45 minutes.",
        "state": "consented",
        "consented_at": released["consented_at"],
        "disclosed_at": None,
    }
    assert seen(cast.supervisor_b) == []
    assert officer.post(f"{URL}{draft['id']}/withdraw").json()["state"] == "withdrawn"
    assert supervisor.get(f"{URL}{draft['id']}/").status_code == 404
    actions = list(
        AuditEvent.objects.filter(target_type="report")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["report.drafted", "report.offered", "report.consented", "report.withdrawn"]
    # The supervisor's read is in the officer's access log.
    log = officer.get("/api/v1/me/access-log").json()
    assert [(row["action"], row["role"]) for row in log] == [("report.read", "supervisor")]


def test_decline_keeps_it_from_management(cast: Cast, draft: dict) -> None:
    client_for(cast.oh1).post(f"{URL}{draft['id']}/offer")
    assert (
        client_for(cast.officer_a1.user).post(f"{URL}{draft['id']}/decline").json()["state"]
        == "declined"
    )
    assert seen(cast.supervisor_a) == []


def test_only_the_officer_decides_and_only_in_order(cast: Cast, draft: dict) -> None:
    early = client_for(cast.officer_a1.user).post(f"{URL}{draft['id']}/consent")
    assert early.status_code == 404  # drafts are not shown to the officer at all
    client_for(cast.oh1).post(f"{URL}{draft['id']}/offer")
    assert client_for(cast.officer_a2.user).post(f"{URL}{draft['id']}/consent").status_code == 404
    assert client_for(cast.oh1).post(f"{URL}{draft['id']}/consent").status_code == 403
    assert client_for(cast.supervisor_a).post(f"{URL}{draft['id']}/consent").status_code == 403
    twice = client_for(cast.oh1).post(f"{URL}{draft['id']}/offer")
    assert twice.status_code == 409
    assert twice.json()["detail"] == not_now("offered", "offer")


def test_disclosure_without_consent_needs_a_legal_basis(cast: Cast, draft: dict) -> None:
    oh = client_for(cast.oh1)
    missing = oh.post(f"{URL}{draft['id']}/disclose", {"legal_basis": ""}, format="json")
    assert missing.status_code == 400
    assert "legal_basis" in missing.json()
    disclosed = oh.post(
        f"{URL}{draft['id']}/disclose",
        {
            "legal_basis": "Serious risk to the officer's safety; GMC confidentiality guidance para 64."
        },
        format="json",
    )
    assert disclosed.json()["state"] == "disclosed"
    row = client_for(cast.supervisor_a).get(f"{URL}{draft['id']}/").json()
    assert row["state"] == "disclosed"
    assert "legal_basis" not in row
    assert AuditEvent.objects.filter(action="report.disclosed", actor=cast.oh1).count() == 1
    refused = client_for(cast.oh2).post(
        f"{URL}{draft['id']}/disclose", {"legal_basis": " "}, format="json"
    )
    assert refused.status_code == 400
    assert field_errors(refused) == {"legal_basis": [LEGAL_BASIS_REQUIRED]}


def test_complete_with_adjustments_and_restrictions(cast: Cast, clock) -> None:
    checkin = checkin_trigger(officer_id=cast.officer_a1.pk, due_on=date(2027, 3, 17), key="t")
    response = client_for(cast.oh1).post(
        f"/api/v1/checkins/{checkin.pk}/complete",
        {
            "outcome": "fit_with_adjustments",
            "adjustments": "ADJUSTMENT-MARKER lighter queue",
            "restrictions": [
                {
                    "starts_on": "2027-03-10",
                    "ends_on": "2027-04-07",
                    "forbidden_media": ["video", "video_with_audio"],
                    "reason": "CLINICAL-REASON",
                }
            ],
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["adjustments"] == "ADJUSTMENT-MARKER lighter queue"
    supervisor_view = client_for(cast.supervisor_a).get(f"/api/v1/checkins/{checkin.pk}/")
    assert supervisor_view.json()["outcome"] == "fit_with_adjustments"
    assert b"ADJUSTMENT-MARKER" not in supervisor_view.content
    summary = (
        client_for(cast.supervisor_a)
        .get(f"/api/v1/officers/{cast.officer_a1.pk}/exposure-summary")
        .json()
    )
    assert summary["limits"]["forbidden_media"]["source"] == "restriction"
    assert (
        b"CLINICAL-REASON" not in client_for(cast.supervisor_a).get("/api/v1/restrictions/").content
    )


def test_bad_restriction_in_a_completion_changes_nothing(cast: Cast, clock) -> None:
    checkin = checkin_trigger(officer_id=cast.officer_a1.pk, due_on=date(2027, 3, 17), key="t")
    response = client_for(cast.oh1).post(
        f"/api/v1/checkins/{checkin.pk}/complete",
        {
            "outcome": "fit",
            "restrictions": [{"starts_on": "2027-03-10", "forbidden_media": ["hologram"]}],
        },
        format="json",
    )
    assert response.status_code == 400
    checkin.refresh_from_db()
    assert checkin.status != "completed"
