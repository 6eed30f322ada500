"""The audit trail: written with each change, append-only in PostgreSQL, hash-chained."""

from __future__ import annotations

import itertools

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection

from tests.conftest import Cast, client_for, owner_session
from welfare.audit.models import AuditEvent
from welfare.audit.rules import GENESIS_HASH
from welfare.audit.services import audit_record


def test_admin_changes_are_audited_without_personal_content(cast: Cast) -> None:
    admin = client_for(cast.admin)
    created = admin.post(
        "/api/v1/users/",
        {"username": "new.officer", "role": "officer", "password": "a long enough passphrase"},
        format="json",
    )
    assert created.status_code == 201
    user_id = created.json()["id"]
    officer = admin.post(
        "/api/v1/officers/",
        {
            "user": user_id,
            "staff_number": "X123",
            "display_name": "Quintus Marrowby",
            "unit": cast.unit_a.pk,
            "posted_since": "2027-01-04",
        },
        format="json",
    )
    assert officer.status_code == 201
    admin.patch(
        f"/api/v1/officers/{officer.json()['id']}/",
        {"display_name": "Quintus Marrowby-Lake"},
        format="json",
    )
    admin.patch(f"/api/v1/units/{cast.unit_a.pk}/", {"name": "Unit A (north)"}, format="json")

    actions = list(
        AuditEvent.objects.filter(actor=cast.admin).order_by("id").values_list("action", flat=True)
    )
    assert actions[-5:] == [
        "user.created",
        "officer.created",
        "posting.started",
        "officer.updated",
        "unit.updated",
    ]
    updated = AuditEvent.objects.get(action="officer.updated")
    assert updated.detail == {"changed": ["display_name"]}
    everything = str(list(AuditEvent.objects.values()))
    for personal in ("Quintus", "Marrowby", "new.officer", "X123", "passphrase"):
        assert personal not in everything
    assert AuditEvent.objects.filter(action="user.created").get().ip == "127.0.0.1"


def test_events_are_chained(cast: Cast) -> None:
    events = list(AuditEvent.objects.order_by("id"))
    assert len(events) >= 5
    assert events[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash
    call_command("verify_audit")


def settle_deferred_checks() -> None:
    """Run this test's deferred foreign-key checks now; PostgreSQL refuses TRUNCATE and
    ALTER TABLE on a table with pending trigger events."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET action = 'tampered'",
        "DELETE FROM audit_auditevent",
        "TRUNCATE audit_auditevent",
    ],
)
def test_postgres_refuses_to_change_the_trail(cast: Cast, statement: str) -> None:
    before = AuditEvent.objects.count()
    settle_deferred_checks()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        owner_session(),  # the triggers hold even against the owner
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert AuditEvent.objects.count() == before
    assert not AuditEvent.objects.filter(action="tampered").exists()


def _tamper(sql: str, params: list[object]) -> None:
    settle_deferred_checks()
    with owner_session(), connection.cursor() as cursor:  # only the owner could do this
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_no_update_delete")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_no_update_delete")


def test_verify_audit_names_an_altered_row(cast: Cast) -> None:
    victim = AuditEvent.objects.order_by("id")[2]
    _tamper("UPDATE audit_auditevent SET target_id = 'forged' WHERE id = %s", [victim.pk])
    with pytest.raises(CommandError, match=rf"broken at event {victim.pk}: content"):
        call_command("verify_audit")


def test_verify_audit_names_the_row_after_a_deleted_one(cast: Cast) -> None:
    events = list(AuditEvent.objects.order_by("id")[:4])
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[2].pk])
    with pytest.raises(CommandError, match=rf"broken at event {events[3].pk}: previous-hash"):
        call_command("verify_audit")


def test_system_events_have_no_actor(db: None) -> None:
    event = audit_record(actor=None, action="job.ran", target_type="job", target_id="sweep")
    assert event.actor_id is None
    assert event.actor_role == "system"
    call_command("verify_audit")


def test_audit_endpoint_shows_oh_only_their_own_events(cast: Cast) -> None:
    audit_record(
        actor=cast.oh1, action="case.read", target_type="officer", target_id=cast.officer_a1.pk
    )
    audit_record(
        actor=cast.oh2, action="case.read", target_type="officer", target_id=cast.officer_b1.pk
    )
    seen = client_for(cast.oh1).get("/api/v1/audit/").json()
    assert seen["count"] == 1
    assert seen["results"][0]["actor"] == cast.oh1.pk
    assert seen["results"][0]["target"] == {"type": "officer", "id": str(cast.officer_a1.pk)}
    # An admin can no longer pick out clinical events by their kind (Part 11 item 2).
    by_kind = client_for(cast.admin).get("/api/v1/audit/?action=case.read").json()
    assert by_kind["count"] == 0
    everything = client_for(cast.admin).get("/api/v1/audit/?page_size=200").json()
    assert sum(row["class"] == "clinical" for row in everything["results"]) == 2


def test_audit_list_filters_and_query_count(cast: Cast, django_assert_max_num_queries) -> None:
    client = client_for(cast.admin)
    with django_assert_max_num_queries(6):
        response = client.get("/api/v1/audit/?page_size=100")
    assert response.status_code == 200
    assert response.json()["count"] == AuditEvent.objects.count()
    units = client.get(f"/api/v1/audit/?target_type=unit&target_id={cast.unit_a.pk}").json()
    assert {row["action"] for row in units["results"]} == {"unit.created"}
    bad = client.get("/api/v1/audit/?from=yesterday")
    assert bad.status_code == 400
    assert "from" in bad.json()
