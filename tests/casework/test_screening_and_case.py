"""Screening submissions, the OH case view, encrypted notes and the access log."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.test import override_settings

from tests.conftest import Cast, client_for, owner_session
from welfare.alerts.models import Alert, Notification
from welfare.audit.models import AuditEvent
from welfare.casework.models import CaseNote
from welfare.casework.services import note_body, rotate_encryption, screening_answers
from welfare.checkins.models import CheckIn, Screening
from welfare.checkins.services import checkin_trigger
from welfare.core import crypto

PHQ9_OK = [1, 1, 0, 0, 1, 0, 0, 0, 0]  # total 3, minimal
PHQ9_CRITICAL = [0, 0, 0, 0, 0, 0, 0, 0, 1]
PHQ9_HIGH = [2, 2, 2, 2, 2, 1, 1, 0, 0]  # total 12, moderate: over the cut-off


@pytest.fixture
def checkin(cast: Cast, clock) -> CheckIn:
    created = checkin_trigger(officer_id=cast.officer_a1.pk, due_on=date(2027, 3, 17), key="test")
    assert created is not None
    return created


def url(checkin: CheckIn) -> str:
    return f"/api/v1/checkins/{checkin.pk}/screenings"


def test_officer_submits_and_sees_the_result_only(cast: Cast, checkin: CheckIn) -> None:
    officer = client_for(cast.officer_a1.user)
    response = officer.post(url(checkin), {"instrument": "phq9", "answers": PHQ9_OK}, format="json")
    assert response.status_code == 201, response.content
    assert response.json() == {
        "id": response.json()["id"],
        "checkin": checkin.pk,
        "instrument": "phq9",
        "total": 3,
        "band": "minimal",
        "flags": [],
        "change": None,
        "submitted_at": response.json()["submitted_at"],
        "support": None,
    }
    listed = officer.get(url(checkin)).json()
    assert "answers" not in listed[0]
    assert not Alert.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"instrument": "phq9", "answers": [0] * 8}, "answers"),
        ({"instrument": "phq9", "answers": [0] * 8 + [7]}, "answers"),
        ({"instrument": "ghq12", "answers": [0] * 12}, "instrument"),
        ({"instrument": "gad7"}, "answers"),
        ({"instrument": "gad7", "answers": [0] * 7, "comment": "mine"}, "comment"),
    ],
)
def test_bad_questionnaires_store_nothing(
    cast: Cast, checkin: CheckIn, body: dict, field: str
) -> None:
    response = client_for(cast.officer_a1.user).post(url(checkin), body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Screening.objects.exists()
    assert not AuditEvent.objects.filter(action="screening.submitted").exists()


def test_critical_answer_alerts_oh_urgently_and_never_the_supervisor(
    cast: Cast, checkin: CheckIn
) -> None:
    response = client_for(cast.officer_a1.user).post(
        url(checkin), {"instrument": "phq9", "answers": PHQ9_CRITICAL}, format="json"
    )
    assert response.json()["flags"] == ["self_harm_thoughts"]
    alert = Alert.objects.get(kind="screening_risk", severity="urgent")
    assert alert.clinical is True
    told = set(
        Notification.objects.filter(alert=alert).values_list("recipient__username", flat=True)
    )
    assert told == {"oh.one", "oh.two"}
    for notification in Notification.objects.filter(alert=alert):
        assert "self" not in notification.body.lower()
        assert "phq" not in notification.body.lower()
    assert client_for(cast.supervisor_a).get("/api/v1/alerts/").json()["count"] == 0
    assert client_for(cast.oh1).get(f"/api/v1/alerts/{alert.pk}/").status_code == 200


def test_over_cutoff_raises_a_normal_alert_and_a_triggered_checkin(cast: Cast, clock) -> None:
    periodic = CheckIn.objects.create(
        officer=cast.officer_a1,
        kind="periodic",
        key="p",
        due_on=date(2027, 3, 20),
        created_at=clock.now(),
        status_changed_at=clock.now(),
    )
    client_for(cast.officer_a1.user).post(
        url(periodic), {"instrument": "phq9", "answers": PHQ9_HIGH}, format="json"
    )
    alert = Alert.objects.get(kind="screening_risk")
    assert (alert.severity, alert.clinical) == ("warning", True)
    triggered = CheckIn.objects.get(kind="triggered", officer=cast.officer_a1)
    assert triggered.due_on == date(2027, 3, 17)


def test_pcl5_change_against_the_previous_one(cast: Cast, checkin: CheckIn) -> None:
    oh = client_for(cast.oh1)
    first = oh.post(url(checkin), {"instrument": "pcl5", "answers": [1] * 20}, format="json").json()
    second = oh.post(
        url(checkin), {"instrument": "pcl5", "answers": [2] * 15 + [1] * 5}, format="json"
    ).json()
    assert (first["total"], second["total"]) == (20, 35)
    assert second["change"] == 15
    assert "rose_by_10" in second["flags"]
    assert "over_cutoff" in second["flags"]


def test_oh_sees_answers_and_the_read_is_audited(cast: Cast, checkin: CheckIn) -> None:
    oh = client_for(cast.oh1)
    oh.post(
        url(checkin),
        {"instrument": "gad7", "answers": [3, 2, 1, 0, 0, 1, 2], "comment": "seen in person"},
        format="json",
    )
    rows = oh.get(url(checkin)).json()
    assert rows[0]["answers"] == [3, 2, 1, 0, 0, 1, 2]
    assert rows[0]["comment"] == "seen in person"
    read = AuditEvent.objects.get(action="screening.read")
    assert (read.actor, read.target_id) == (cast.oh1, str(cast.officer_a1.pk))


def test_screening_access_by_role(cast: Cast, checkin: CheckIn) -> None:
    body = {"instrument": "phq9", "answers": PHQ9_OK}
    assert (
        client_for(cast.officer_a2.user).post(url(checkin), body, format="json").status_code == 404
    )
    for user in (cast.supervisor_a, cast.hr, cast.admin):
        assert client_for(user).post(url(checkin), body, format="json").status_code == 403
        assert client_for(user).get(url(checkin)).status_code == 403
    assert not Screening.objects.exists()


def test_instruments_are_listed_with_their_wording(cast: Cast) -> None:
    rows = client_for(cast.officer_a1.user).get("/api/v1/screenings/instruments").json()
    assert [row["key"] for row in rows] == ["phq9", "gad7", "pcl5"]
    assert rows[0]["options"] == [
        "Not at all",
        "Several days",
        "More than half the days",
        "Nearly every day",
    ]
    assert client_for(cast.supervisor_a).get("/api/v1/screenings/instruments").status_code == 403


def test_notes_are_encrypted_at_rest_and_superseded_not_edited(cast: Cast) -> None:
    oh = client_for(cast.oh1)
    note_url = f"/api/v1/oh/cases/{cast.officer_a1.pk}/notes"
    first = oh.post(note_url, {"body": "PLAINTEXT-MARKER-1 first note"}, format="json").json()
    with connection.cursor() as cursor:
        cursor.execute("SELECT body_encrypted::text FROM casework_casenote")
        raw = " ".join(row[0] for row in cursor.fetchall())
        cursor.execute("SELECT encode(body_encrypted, 'escape') FROM casework_casenote")
        raw += " ".join(row[0] for row in cursor.fetchall())
    assert "PLAINTEXT-MARKER-1" not in raw
    addendum = oh.post(note_url, {"body": "addendum", "supersedes": first["id"]}, format="json")
    assert addendum.status_code == 201
    again = oh.post(note_url, {"body": "second addendum", "supersedes": first["id"]}, format="json")
    assert again.status_code == 409
    notes = oh.get(note_url).json()
    assert [(n["body"], n["superseded_by"]) for n in notes] == [
        ("addendum", None),
        ("PLAINTEXT-MARKER-1 first note", addendum.json()["id"]),
    ]
    assert oh.post(note_url, {"body": "  "}, format="json").status_code == 400
    written = AuditEvent.objects.filter(action="case.note.written")
    assert written.count() == 2
    assert "PLAINTEXT" not in str(list(written.values()))


def test_key_rotation_keeps_every_note_and_answer_readable(
    cast: Cast, checkin: CheckIn, settings
) -> None:
    from cryptography.fernet import Fernet

    client_for(cast.oh1).post(
        f"/api/v1/oh/cases/{cast.officer_a1.pk}/notes", {"body": "before rotation"}, format="json"
    )
    client_for(cast.officer_a1.user).post(
        url(checkin), {"instrument": "phq9", "answers": PHQ9_OK}, format="json"
    )
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    # manage.py rotate_encryption_keys runs as the owner: the application may not rewrite notes.
    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key, old_key]), owner_session():
        assert rotate_encryption().total == 2
    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key]):  # the old key is gone
        assert note_body(CaseNote.objects.get()) == "before rotation"
        assert screening_answers(Screening.objects.get()) == PHQ9_OK
    with override_settings(FIELD_ENCRYPTION_KEYS=[old_key]):
        assert note_body(CaseNote.objects.get()) == crypto.UNREADABLE


def test_case_list_puts_the_most_in_need_first(cast: Cast, checkin: CheckIn) -> None:
    client_for(cast.officer_a1.user).post(
        url(checkin), {"instrument": "phq9", "answers": PHQ9_CRITICAL}, format="json"
    )
    rows = client_for(cast.oh1).get("/api/v1/oh/cases/").json()["results"]
    assert rows[0]["id"] == cast.officer_a1.pk
    assert (rows[0]["tier"], rows[0]["urgent"], rows[0]["open_items"]) == (1, 1, 1)
    assert rows[0]["reasons"] == ["self-harm answer just now, not acknowledged"]
    assert [(row["tier"], row["reasons"]) for row in rows[1:]] == [(5, [])] * (len(rows) - 1)
    assert AuditEvent.objects.filter(action="case.list", actor=cast.oh1).count() == 1


def test_case_detail_is_the_whole_picture_and_audited(cast: Cast, checkin: CheckIn) -> None:
    oh = client_for(cast.oh1)
    client_for(cast.officer_a1.user).post(
        url(checkin), {"instrument": "phq9", "answers": PHQ9_OK}, format="json"
    )
    oh.post(f"/api/v1/oh/cases/{cast.officer_a1.pk}/notes", {"body": "note"}, format="json")
    body = oh.get(f"/api/v1/oh/cases/{cast.officer_a1.pk}").json()
    assert set(body) == {
        "officer",
        "exposure",
        "exposure_by_week",
        "checkins",
        "screenings",
        "alerts",
        "restrictions",
        "notes",
        "reports",
    }
    assert body["officer"]["id"] == cast.officer_a1.pk
    assert body["screenings"][0]["answers"] == PHQ9_OK
    assert body["notes"][0]["body"] == "note"
    assert "limits" in body["exposure"]
    read = AuditEvent.objects.get(action="case.read")
    assert (read.actor, read.target_id, read.detail) == (cast.oh1, str(cast.officer_a1.pk), {})


def test_case_endpoints_are_oh_only(cast: Cast) -> None:
    for user in (cast.officer_a1.user, cast.supervisor_a, cast.hr, cast.admin):
        client = client_for(user)
        assert client.get("/api/v1/oh/cases/").status_code == 403
        assert client.get(f"/api/v1/oh/cases/{cast.officer_a1.pk}").status_code == 403
        assert (
            client.post(
                f"/api/v1/oh/cases/{cast.officer_a1.pk}/notes", {"body": "x"}, format="json"
            ).status_code
            == 403
        )
    assert not CaseNote.objects.exists()
    assert client_for(cast.oh1).get("/api/v1/oh/cases/999999").status_code == 404


def test_who_opened_my_record(cast: Cast, settings) -> None:
    cast.oh1.first_name, cast.oh1.last_name = "Orla", "Hawthorne"
    cast.oh1.save()
    client_for(cast.oh1).get(f"/api/v1/oh/cases/{cast.officer_a1.pk}")
    client_for(cast.oh2).get(f"/api/v1/oh/cases/{cast.officer_a2.pk}")  # someone else's record
    log = client_for(cast.officer_a1.user).get("/api/v1/me/access-log").json()
    assert [(row["action"], row["role"], row["reader"]) for row in log] == [
        ("case.read", "oh", "Orla Hawthorne")
    ]
    settings.ACCESS_LOG_SHOWS_OH_NAMES = False
    assert client_for(cast.officer_a1.user).get("/api/v1/me/access-log").json()[0]["reader"] is None
    for user in (cast.supervisor_a, cast.oh1, cast.hr, cast.admin):
        assert client_for(user).get("/api/v1/me/access-log").status_code == 403


def test_case_list_order_agrees_with_the_need_shown_across_pages(
    cast: Cast, checkin: CheckIn
) -> None:
    client_for(cast.officer_a1.user).post(
        url(checkin), {"instrument": "phq9", "answers": PHQ9_CRITICAL}, format="json"
    )
    oh = client_for(cast.oh1)
    rows = []
    for page in (1, 2, 3):
        rows += oh.get("/api/v1/oh/cases/", {"page_size": 1, "page": page}).json()["results"]
    assert len({r["id"] for r in rows}) == 3
    assert rows[0]["id"] == cast.officer_a1.pk
    assert [r["tier"] for r in rows] == sorted(r["tier"] for r in rows)
    ties = [r for r in rows if r["tier"] == rows[-1]["tier"]]
    assert len(ties) == 2
    assert [r["display_name"] for r in ties] == sorted(r["display_name"] for r in ties)
