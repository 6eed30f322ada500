"""Legal holds through the API: admins place and lift them, audited, one active per officer."""

from __future__ import annotations

from tests.conftest import Cast, client_for, field_errors
from welfare.audit.models import AuditEvent
from welfare.records.models import LegalHold
from welfare.records.services import HOLD_EXISTS, HOLD_LIFTED


def test_admin_places_and_lifts_a_hold(cast: Cast) -> None:
    admin = client_for(cast.admin)
    officer = cast.officer_b1.pk

    placed = admin.post(
        "/api/v1/legal-holds/", {"officer": officer, "reason": "Claim 2027/7"}, format="json"
    )
    assert placed.status_code == 201, placed.content
    assert placed.json()["active"] is True
    again = admin.post("/api/v1/legal-holds/", {"officer": officer, "reason": "x"}, format="json")
    assert again.status_code == 400
    assert field_errors(again, code="unique") == {"officer": [HOLD_EXISTS]}
    assert admin.get("/api/v1/legal-holds/?active=true").json()["count"] == 1

    lifted = admin.post(f"/api/v1/legal-holds/{placed.json()['id']}/lift")
    assert lifted.status_code == 200
    assert lifted.json()["active"] is False
    twice = admin.post(f"/api/v1/legal-holds/{placed.json()['id']}/lift")
    assert twice.status_code == 409
    assert twice.json()["detail"] == HOLD_LIFTED
    assert LegalHold.objects.count() == 1
    assert list(
        AuditEvent.objects.filter(action__startswith="legal_hold.")
        .order_by("id")
        .values_list("action", "target_id")
    ) == [("legal_hold.placed", str(officer)), ("legal_hold.lifted", str(officer))]


def test_a_hold_needs_a_reason_and_a_real_officer(cast: Cast) -> None:
    response = client_for(cast.admin).post(
        "/api/v1/legal-holds/", {"officer": 999999, "reason": ""}, format="json"
    )
    assert response.status_code == 400
    assert set(field_errors(response)) == {"officer", "reason"}
    assert not LegalHold.objects.exists()
