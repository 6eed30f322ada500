"""Admins see that a clinical event happened (time, actor role), never its kind or officer."""

from __future__ import annotations

from datetime import date

import pytest

from tests.conftest import Cast, client_for
from welfare.audit.models import AuditEvent
from welfare.audit.rules import CLINICAL, admin_view, is_clinical
from welfare.audit.services import audit_record
from welfare.casework.services import note_write, report_draft
from welfare.exposure.services import restriction_create

CLINICAL_ACTIONS = [
    "checkin.self_referred",
    "screening.submitted",
    "case.note.written",
    "report.drafted",
    "alert.acknowledged",
    "restriction.created",
    "incident.recorded",
    "case.read",
]


@pytest.mark.parametrize("action", CLINICAL_ACTIONS)
def test_rule_classes_clinical_actions(action: str) -> None:
    assert is_clinical(action)
    shown = admin_view({"id": 7, "at": "t", "actor": 3, "actor_role": "oh", "action": action,
                        "target": {"type": "officer", "id": "9"}, "ip": "10.0.0.1",
                        "detail": {"note": 1}, "prev_hash": "a", "hash": "b"})  # fmt: skip
    assert shown == {"id": 7, "at": "t", "actor_role": "oh", "class": CLINICAL, "actor": None,
                     "action": None, "target": None, "ip": None, "detail": None,
                     "prev_hash": None, "hash": None}  # fmt: skip


@pytest.mark.parametrize("action", ["user.created", "checkin_policy.updated", "auth.login.failed"])
def test_rule_keeps_other_events_but_their_link(action: str) -> None:
    assert not is_clinical(action)
    shown = admin_view({"action": action, "actor": 3, "prev_hash": "a", "hash": "b"})
    assert shown["action"] == action
    assert shown["actor"] == 3
    assert shown["hash"] == "b"
    assert shown["prev_hash"] is None


def _real_clinical_events(cast: Cast) -> list[AuditEvent]:
    officer = cast.officer_a1
    before = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    self_ref = client_for(officer.user).post(
        "/api/v1/checkins/", {"kind": "self_referral", "note": "SECRET-NOTE"}, format="json"
    )
    assert self_ref.status_code == 201
    note_write(actor=cast.oh1, officer=officer, body="a note")
    report_draft(actor=cast.oh1, officer=officer, fitness="fit")
    restriction_create(
        actor=cast.oh1, officer=officer, starts_on=date(2027, 3, 1), daily_minutes=60, reason="why"
    )
    events = list(AuditEvent.objects.filter(id__gt=before).order_by("id"))
    assert {e.action for e in events} >= {
        "checkin.self_referred", "case.note.written", "report.drafted", "restriction.created"
    }  # fmt: skip
    return events


def test_admin_sees_class_time_and_role_only(cast: Cast) -> None:
    events = _real_clinical_events(cast)
    client = client_for(cast.admin)
    rows = {row["id"]: row for row in client.get("/api/v1/audit/?page_size=200").json()["results"]}
    officer = cast.officer_a1
    for event in events:
        row = rows[event.pk]
        assert row["class"] == CLINICAL
        assert row["actor_role"] == event.actor_role
        assert row["at"] is not None
        for withheld in ("actor", "action", "target", "ip", "detail", "hash", "prev_hash"):
            assert row[withheld] is None, withheld
        single = client.get(f"/api/v1/audit/{event.pk}/").json()
        assert single["action"] is None
        assert single["target"] is None
        text = str(single)
        assert str(officer.user.pk) not in {str(single["actor"])}
        assert event.action not in text


def test_admin_filters_never_match_a_clinical_event(cast: Cast) -> None:
    events = _real_clinical_events(cast)
    officer = cast.officer_a1
    client = client_for(cast.admin)
    probes = [f"action={e.action}" for e in events] + [
        "action_prefix=checkin.", "action_prefix=case", "action_prefix=c", "action_prefix=report.",
        "target_type=officer", f"target_type=officer&target_id={officer.pk}",
        f"target_id={officer.pk}", f"actor={officer.user.pk}", f"actor={cast.oh1.pk}",
        "target_type=report",
    ]  # fmt: skip
    clinical_ids = {e.pk for e in events}
    for probe in probes:
        body = client.get(f"/api/v1/audit/?{probe}&page_size=200").json()
        ids = {row["id"] for row in body["results"]}
        assert not ids & clinical_ids, probe
        assert all(row["class"] != CLINICAL for row in body["results"]), probe
        assert body["count"] == len(body["results"]), probe  # no hidden rows in the count


def test_oh_sees_their_clinical_events_in_full(cast: Cast) -> None:
    note = audit_record(
        actor=cast.oh1, action="case.note.written", target_type="officer",
        target_id=cast.officer_a1.pk, detail={"note": 1},
    )  # fmt: skip
    row = client_for(cast.oh1).get(f"/api/v1/audit/{note.pk}/").json()
    assert row["action"] == "case.note.written"
    assert row["class"] == CLINICAL
    assert row["actor"] == cast.oh1.pk
    assert row["target"] == {"type": "officer", "id": str(cast.officer_a1.pk)}
    assert row["hash"] == note.hash
    assert row["prev_hash"] == note.prev_hash
    found = client_for(cast.oh1).get("/api/v1/audit/?action=case.note.written").json()
    assert [r["id"] for r in found["results"]] == [note.pk]
