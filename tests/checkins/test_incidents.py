"""Incidents (TRiM-style): who may record one, what it schedules, who sees its category
(never a supervisor), retries, withdrawal, and its follow-ups going through the ordinary
check-in sweeps."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from tests.conftest import Cast, client_for, field_errors, owner_session, run_together
from welfare.alerts.models import Alert, AlertKind, Notification
from welfare.alerts.services import case_assign, checkin_escalation_sweep
from welfare.alerts.services.notifications import INCIDENT_OFFICER_SUBJECT, INCIDENT_OH_SUBJECT
from welfare.audit.models import AuditEvent
from welfare.checkins import rules
from welfare.checkins.api import OFFICER_REQUIRED
from welfare.checkins.models import CheckIn, Incident, IncidentCategory, Kind, Status
from welfare.checkins.services import (
    FOLLOW_UP_CANCEL_REASON,
    MAY_NOT_RECORD,
    MAY_NOT_WITHDRAW,
    WITHDRAWN_ALREADY,
    checkin_status_sweep,
    incident_record,
)
from welfare.core.errors import Forbidden
from welfare.records.subject_access import person_export

URL = "/api/v1/incidents/"
TODAY = date(2027, 3, 10)  # the cast's day (T0)
CATEGORY = IncidentCategory.VICTIM_CONTACT


def body(**changes: Any) -> dict[str, Any]:
    return {
        "occurred_on": TODAY.isoformat(),
        "category": CATEGORY.value,
        "client_ref": str(uuid.uuid4()),
        **changes,
    }


def leaks_category(text: str) -> bool:
    """Any trace of the incident's category: its value or its label, in any case."""
    lowered = text.lower()
    return CATEGORY.value in lowered or CATEGORY.label.lower() in lowered or "category" in lowered


def expected_follow_ups(occurred_on: date, recorded_on: date = TODAY) -> list[date]:
    return [
        p.due_on
        for p in rules.incident_follow_ups(
            incident_id=0, occurred_on=occurred_on, recorded_on=recorded_on, days=(3, 28)
        )
    ]


# --- Recording, by role -------------------------------------------------------------------


def test_officer_records_their_own_and_follow_ups_are_scheduled(cast: Cast) -> None:
    response = client_for(cast.officer_a1.user).post(URL, body(), format="json")

    assert response.status_code == 201, response.content
    row = response.json()
    incident = Incident.objects.get()
    assert (incident.officer, incident.category, incident.reported_by) == (
        cast.officer_a1,
        CATEGORY,
        cast.officer_a1.user,
    )
    assert row["category"] == CATEGORY.value
    assert row["reported_by"] == cast.officer_a1.user.pk
    follow_ups = list(CheckIn.objects.filter(incident=incident).order_by("due_on"))
    assert [c.due_on for c in follow_ups] == [date(2027, 3, 13), date(2027, 4, 7)]
    assert [c.due_on for c in follow_ups] == expected_follow_ups(TODAY)
    assert {(c.kind, c.status, c.confidential) for c in follow_ups} == {
        (Kind.INCIDENT_FOLLOW_UP, Status.DUE, False)
    }
    assert {(c.officer_id, c.key) for c in follow_ups} == {
        (cast.officer_a1.pk, f"incident:{incident.pk}:3"),
        (cast.officer_a1.pk, f"incident:{incident.pk}:28"),
    }
    assert row["follow_ups"] == [
        {"id": c.pk, "due_on": c.due_on.isoformat(), "status": "due"} for c in follow_ups
    ]


def test_recording_is_audited_without_the_category(cast: Cast) -> None:
    client_for(cast.officer_a1.user).post(URL, body(), format="json")

    incident = Incident.objects.get()
    event = AuditEvent.objects.get(action="incident.recorded")
    assert (event.actor, event.target_type, event.target_id) == (
        cast.officer_a1.user,
        "incident",
        str(incident.pk),
    )
    assert event.detail["officer"] == cast.officer_a1.pk
    assert sorted(event.detail["follow_ups"]) == sorted(
        str(pk) for pk in incident.follow_ups.values_list("pk", flat=True)
    )
    assert not leaks_category(json.dumps(event.detail))


def test_oh_is_told_and_an_officer_recording_for_themself_is_not(cast: Cast) -> None:
    client_for(cast.officer_a1.user).post(URL, body(), format="json")

    told = Notification.objects.filter(subject=INCIDENT_OH_SUBJECT)
    assert {n.recipient for n in told} == {cast.oh1, cast.oh2}  # no case owner: every clinician
    assert not Notification.objects.filter(recipient=cast.officer_a1.user).exists()
    assert not Notification.objects.filter(recipient=cast.supervisor_a).exists()
    for notification in told:
        assert "13 March 2027 and 7 April 2027" in notification.body
        assert not leaks_category(notification.subject + notification.body)


def test_the_case_owner_alone_is_told_when_the_case_has_one(cast: Cast) -> None:
    case_assign(actor=cast.oh2, officer=cast.officer_a1, clinician=cast.oh2)

    client_for(cast.officer_a1.user).post(URL, body(), format="json")

    told = Notification.objects.filter(subject=INCIDENT_OH_SUBJECT)
    assert [n.recipient for n in told] == [cast.oh2]


def test_supervisor_records_for_an_officer_of_their_unit_and_never_sees_the_category(
    cast: Cast,
) -> None:
    supervisor = client_for(cast.supervisor_a)
    response = supervisor.post(URL, body(officer=cast.officer_a2.pk), format="json")

    assert response.status_code == 201, response.content
    incident = Incident.objects.get()
    assert (incident.officer, incident.reported_by) == (cast.officer_a2, cast.supervisor_a)
    assert incident.category == CATEGORY
    seen = [
        response,
        supervisor.get(URL),
        supervisor.get(f"{URL}{incident.pk}/"),
        supervisor.get(f"{URL}?officer={cast.officer_a2.pk}"),
        supervisor.get("/api/v1/checkins/?kind=incident_follow_up"),
    ]
    seen += [supervisor.get(f"/api/v1/checkins/{c.pk}/") for c in incident.follow_ups.all()]
    for answer in seen:
        assert answer.status_code in (200, 201)
        assert not leaks_category(answer.content.decode()), answer.content
    assert set(response.json()) == {
        "id",
        "officer",
        "occurred_on",
        "follow_ups",
        "created_at",
        "withdrawn_at",
    }
    # What a supervisor does see: that follow-ups are due, and when.
    follow_ups = supervisor.get("/api/v1/checkins/?kind=incident_follow_up").json()["results"]
    assert [(r["kind"], r["due_on"]) for r in follow_ups] == [
        ("incident_follow_up", "2027-03-13"),
        ("incident_follow_up", "2027-04-07"),
    ]


def test_an_officer_recorded_for_by_someone_else_is_told_in_confidence(cast: Cast) -> None:
    client_for(cast.supervisor_a).post(URL, body(officer=cast.officer_a2.pk), format="json")

    [told] = Notification.objects.filter(recipient=cast.officer_a2.user)
    assert told.subject == INCIDENT_OFFICER_SUBJECT
    assert told.confidential  # e-mailed as "you have a message" only
    assert "10 March 2027" in told.body
    assert "13 March 2027 and 7 April 2027" in told.body
    assert not leaks_category(told.body)
    oh_told = Notification.objects.filter(subject=INCIDENT_OH_SUBJECT, recipient__role="oh")
    assert {n.recipient for n in oh_told} == {cast.oh1, cast.oh2}


def test_the_officer_sees_the_category_of_one_recorded_by_their_supervisor(cast: Cast) -> None:
    client_for(cast.supervisor_a).post(URL, body(officer=cast.officer_a1.pk), format="json")

    [row] = client_for(cast.officer_a1.user).get(URL).json()["results"]
    assert (row["category"], row["reported_by"]) == (CATEGORY.value, cast.supervisor_a.pk)


def test_supervisor_of_another_unit_can_neither_record_nor_see(cast: Cast) -> None:
    other = client_for(cast.supervisor_b)

    refused = other.post(URL, body(officer=cast.officer_a1.pk), format="json")

    assert refused.status_code == 404
    assert not Incident.objects.exists()
    assert not CheckIn.objects.filter(kind=Kind.INCIDENT_FOLLOW_UP).exists()
    client_for(cast.officer_a1.user).post(URL, body(), format="json")
    incident = Incident.objects.get()
    assert other.get(URL).json()["count"] == 0
    assert other.get(f"{URL}{incident.pk}/").status_code == 404
    withdraw = other.post(f"{URL}{incident.pk}/withdraw", {"reason": "x"}, format="json")
    assert withdraw.status_code == 404


def test_an_officer_may_record_only_for_themself(cast: Cast) -> None:
    officer = client_for(cast.officer_a1.user)

    assert officer.post(URL, body(officer=cast.officer_a2.pk), format="json").status_code == 404
    assert officer.post(URL, body(officer=cast.officer_a1.pk), format="json").status_code == 201
    assert Incident.objects.get().officer == cast.officer_a1


def test_the_service_refuses_whoever_may_not_record_for_that_officer(cast: Cast) -> None:
    for actor, officer in [
        (cast.officer_a1.user, cast.officer_a2),
        (cast.supervisor_b, cast.officer_a1),
        (cast.hr, cast.officer_a1),
        (cast.admin, cast.officer_a1),
    ]:
        with pytest.raises(Forbidden) as refused:
            incident_record(actor=actor, officer=officer, occurred_on=TODAY, category=CATEGORY)
        assert refused.value.message == MAY_NOT_RECORD
    assert not Incident.objects.exists()


def test_oh_records_for_anyone_and_sees_every_category(cast: Cast) -> None:
    oh = client_for(cast.oh1)

    made = oh.post(URL, body(officer=cast.officer_b1.pk, category="death_or_injury"), format="json")
    client_for(cast.officer_a1.user).post(URL, body(), format="json")

    assert made.status_code == 201
    rows = oh.get(URL).json()["results"]
    assert {(r["officer"], r["category"]) for r in rows} == {
        (cast.officer_b1.pk, "death_or_injury"),
        (cast.officer_a1.pk, CATEGORY.value),
    }
    # The recording clinician is not told of their own; the other is.
    told_of_b1 = Notification.objects.filter(
        subject=INCIDENT_OH_SUBJECT, link__endswith=f"/oh/cases/{cast.officer_b1.pk}"
    )
    assert [n.recipient for n in told_of_b1] == [cast.oh2]
    assert Notification.objects.filter(recipient=cast.officer_b1.user).count() == 1


@pytest.mark.parametrize("role", ["hr", "admin"])
def test_hr_and_admin_are_refused(cast: Cast, role: str) -> None:
    client_for(cast.officer_a1.user).post(URL, body(), format="json")
    incident = Incident.objects.get()
    client = client_for(cast.user(role))

    assert client.get(URL).status_code == 403
    assert client.get(f"{URL}{incident.pk}/").status_code == 403
    posted = client.post(URL, body(officer=cast.officer_a1.pk), format="json")
    assert posted.status_code == 403
    assert Incident.objects.count() == 1


@pytest.mark.parametrize("role", ["supervisor", "oh"])
def test_supervisors_and_oh_must_say_which_officer(cast: Cast, role: str) -> None:
    response = client_for(cast.user(role)).post(URL, body(), format="json")

    assert response.status_code == 400
    assert field_errors(response) == {"officer": [OFFICER_REQUIRED]}
    assert not Incident.objects.exists()


# --- Validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"occurred_on": (TODAY + timedelta(days=1)).isoformat()},
            {"occurred_on": [rules.INCIDENT_IN_FUTURE]},
        ),
        (
            {"occurred_on": (TODAY - timedelta(days=91)).isoformat()},
            {"occurred_on": [rules.INCIDENT_TOO_OLD.format(days=90)]},
        ),
        (
            {"occurred_on": (TODAY + timedelta(days=3)).isoformat(), "category": "other"},
            {"occurred_on": [rules.INCIDENT_IN_FUTURE]},
        ),
    ],
)
def test_dates_out_of_range_are_refused_with_field_messages(
    cast: Cast, changes: dict[str, str], expected: dict[str, list[str]]
) -> None:
    response = client_for(cast.officer_a1.user).post(URL, body(**changes), format="json")

    assert response.status_code == 400
    assert field_errors(response) == expected
    assert not Incident.objects.exists()
    assert not CheckIn.objects.filter(kind=Kind.INCIDENT_FOLLOW_UP).exists()
    assert not AuditEvent.objects.filter(action__startswith="incident.").exists()
    assert not Notification.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"category": "something I saw"}, "category"),
        ({"category": ""}, "category"),
        ({"occurred_on": "10/03/2027"}, "occurred_on"),
        ({"client_ref": "not-a-uuid"}, "client_ref"),
        ({"officer": "me"}, "officer"),
    ],
)
def test_malformed_input_is_refused_with_field_messages(
    cast: Cast, changes: dict[str, str], field: str
) -> None:
    response = client_for(cast.officer_a1.user).post(URL, body(**changes), format="json")

    assert response.status_code == 400
    assert list(field_errors(response)) == [field]
    assert response.json()[field]
    assert not Incident.objects.exists()


def test_missing_fields_are_each_named(cast: Cast) -> None:
    response = client_for(cast.officer_a1.user).post(URL, {}, format="json")

    assert response.status_code == 400
    assert set(field_errors(response)) == {"occurred_on", "category", "client_ref"}
    assert not Incident.objects.exists()


def test_the_oldest_date_accepted_is_the_maximum_age(cast: Cast, clock) -> None:
    oldest = TODAY - timedelta(days=90)

    response = client_for(cast.officer_a1.user).post(
        URL, body(occurred_on=oldest.isoformat()), format="json"
    )

    assert response.status_code == 201
    # Recorded long after the 72 hours: counted from the day it is recorded.
    assert [f["due_on"] for f in response.json()["follow_ups"]] == ["2027-03-13", "2027-04-07"]


def test_the_days_are_configurable(cast: Cast, settings) -> None:
    settings.INCIDENT_FOLLOW_UP_DAYS = (2, 14, 42)

    result = incident_record(
        actor=cast.oh1, officer=cast.officer_a1, occurred_on=TODAY, category=CATEGORY
    )

    assert [c.due_on for c in result.follow_ups] == [
        date(2027, 3, 12),
        date(2027, 3, 24),
        date(2027, 4, 21),
    ]


# --- Retries --------------------------------------------------------------------------------


def test_a_retry_returns_the_stored_incident_and_creates_nothing(cast: Cast) -> None:
    officer = client_for(cast.officer_a1.user)
    sent = body()

    first = officer.post(URL, sent, format="json")
    again = officer.post(URL, sent, format="json")
    changed = officer.post(URL, {**sent, "category": "other"}, format="json")

    assert (first.status_code, again.status_code, changed.status_code) == (201, 200, 200)
    assert first.json() == again.json() == changed.json()
    assert Incident.objects.count() == 1
    assert Incident.objects.get().category == CATEGORY
    assert CheckIn.objects.filter(kind=Kind.INCIDENT_FOLLOW_UP).count() == 2
    assert AuditEvent.objects.filter(action="incident.recorded").count() == 1
    assert Notification.objects.filter(subject=INCIDENT_OH_SUBJECT).count() == 2


def test_a_supervisors_retry_is_rendered_without_the_category(cast: Cast) -> None:
    sent = body(officer=cast.officer_a2.pk)
    supervisor = client_for(cast.supervisor_a)
    supervisor.post(URL, sent, format="json")

    again = supervisor.post(URL, sent, format="json")

    assert again.status_code == 200
    assert not leaks_category(again.content.decode())


def test_the_same_client_ref_for_another_officer_is_another_incident(cast: Cast) -> None:
    ref = str(uuid.uuid4())
    oh = client_for(cast.oh1)

    one = oh.post(URL, body(officer=cast.officer_a1.pk, client_ref=ref), format="json")
    two = oh.post(URL, body(officer=cast.officer_a2.pk, client_ref=ref), format="json")

    assert (one.status_code, two.status_code) == (201, 201)
    assert Incident.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_retries_at_once_record_one_incident(cast: Cast, clock) -> None:
    ref = uuid.uuid4()

    def record() -> bool:
        with transaction.atomic():
            return incident_record(
                actor=cast.officer_a1.user,
                officer=cast.officer_a1,
                occurred_on=TODAY,
                category=CATEGORY,
                client_ref=ref,
                at=clock.now(),
            ).created

    results = run_together(record, record)

    assert sorted(results) == [False, True], results  # type: ignore[type-var]
    assert Incident.objects.count() == 1
    assert CheckIn.objects.filter(kind=Kind.INCIDENT_FOLLOW_UP).count() == 2


# --- Withdrawal -----------------------------------------------------------------------------


def test_whoever_recorded_it_may_withdraw_it_and_its_open_follow_ups_are_cancelled(
    cast: Cast,
) -> None:
    supervisor = client_for(cast.supervisor_a)
    made = supervisor.post(URL, body(officer=cast.officer_a2.pk), format="json").json()

    response = supervisor.post(
        f"{URL}{made['id']}/withdraw", {"reason": "Wrong officer"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["withdrawn_at"] is not None
    assert not leaks_category(response.content.decode())
    incident = Incident.objects.get()  # kept on record
    assert (incident.withdrawn_by, incident.withdraw_reason) == (cast.supervisor_a, "Wrong officer")
    follow_ups = list(incident.follow_ups.all())
    assert {c.status for c in follow_ups} == {Status.CANCELLED}
    assert {c.cancel_reason for c in follow_ups} == {
        FOLLOW_UP_CANCEL_REASON.format(reason="Wrong officer")
    }
    event = AuditEvent.objects.get(action="incident.withdrawn")
    assert event.target_id == str(incident.pk)
    assert AuditEvent.objects.filter(action="checkin.cancelled").count() == 2
    again = supervisor.post(f"{URL}{made['id']}/withdraw", {"reason": "Again"}, format="json")
    assert again.status_code == 409
    assert again.json()["detail"] == WITHDRAWN_ALREADY


def test_a_completed_follow_up_stays_completed_when_its_incident_is_withdrawn(
    cast: Cast,
) -> None:
    made = client_for(cast.officer_a1.user).post(URL, body(), format="json").json()
    first = CheckIn.objects.get(pk=made["follow_ups"][0]["id"])
    oh = client_for(cast.oh1)
    completed = oh.post(f"/api/v1/checkins/{first.pk}/complete", {"outcome": "fit"}, format="json")
    assert completed.status_code == 200

    withdrawn = oh.post(f"{URL}{made['id']}/withdraw", {"reason": "Recorded twice"}, format="json")

    assert withdrawn.status_code == 200

    statuses = dict(CheckIn.objects.filter(incident_id=made["id"]).values_list("pk", "status"))
    assert statuses == {first.pk: Status.COMPLETED, made["follow_ups"][1]["id"]: Status.CANCELLED}


def test_only_the_recorder_or_oh_may_withdraw_and_a_reason_is_needed(cast: Cast) -> None:
    made = client_for(cast.supervisor_a).post(URL, body(officer=cast.officer_a1.pk), format="json")
    path = f"{URL}{made.json()['id']}/withdraw"
    officer = client_for(cast.officer_a1.user)

    refused = officer.post(path, {"reason": "I would rather not"}, format="json")
    no_reason = client_for(cast.oh1).post(path, {"reason": "  "}, format="json")

    assert refused.status_code == 403
    assert refused.json()["detail"] == MAY_NOT_WITHDRAW
    assert no_reason.status_code == 400
    assert set(field_errors(no_reason)) == {"reason"}
    assert Incident.objects.get().withdrawn_at is None
    assert not CheckIn.objects.filter(status=Status.CANCELLED).exists()


# --- Follow-ups go through the ordinary check-in sweeps ------------------------------------


def morning(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 7, tzinfo=UTC)


def test_a_follow_up_not_done_goes_overdue_alerts_the_supervisor_and_escalates_to_oh_leads(
    cast: Cast, clock
) -> None:
    cast.oh1.is_oh_lead = True
    cast.oh1.save()
    client_for(cast.supervisor_a).post(URL, body(officer=cast.officer_a1.pk), format="json")
    incident = Incident.objects.get()
    first = incident.follow_ups.order_by("due_on").first()
    assert first is not None
    assert first.due_on == date(2027, 3, 13)

    # Reminded 3 days before, like any check-in.
    checkin_escalation_sweep(at=clock.now())
    reminder = Notification.objects.get(dedupe_key=f"checkin:{first.pk}:reminder:3")
    assert reminder.recipient == cast.officer_a1.user

    # Overdue on the due date: an overdue alert the supervisor sees, without the category.
    clock.set(morning(date(2027, 3, 13)))
    checkin_status_sweep(at=clock.now())
    checkin_escalation_sweep(at=clock.now())
    first.refresh_from_db()
    assert first.status == Status.OVERDUE
    alert = Alert.objects.get(kind=AlertKind.CHECKIN_OVERDUE, checkin=first)
    assert not alert.clinical
    assert alert.escalated_at is None
    told = Notification.objects.filter(alert=alert)
    assert cast.supervisor_a in {n.recipient for n in told}
    supervisor = client_for(cast.supervisor_a)
    for answer in (
        supervisor.get("/api/v1/alerts/"),
        supervisor.get(f"/api/v1/alerts/{alert.pk}/"),
    ):
        assert answer.status_code == 200
        assert str(alert.pk) in answer.content.decode()
        assert not leaks_category(answer.content.decode())
    for notification in told:
        assert not leaks_category(notification.subject + notification.body)

    # Not yet at 13 days overdue; escalated to the OH leads at 14.
    clock.set(morning(date(2027, 3, 26)))
    checkin_status_sweep(at=clock.now())
    checkin_escalation_sweep(at=clock.now())
    alert.refresh_from_db()
    assert alert.escalated_at is None
    clock.set(morning(date(2027, 3, 27)))
    checkin_status_sweep(at=clock.now())
    checkin_escalation_sweep(at=clock.now())
    alert.refresh_from_db()
    assert alert.escalated_at == clock.now()
    escalated = Notification.objects.filter(dedupe_key=f"checkin:{first.pk}:escalated")
    assert [n.recipient for n in escalated] == [cast.oh1]


def test_a_follow_up_done_in_time_raises_no_alert(cast: Cast, clock) -> None:
    made = client_for(cast.officer_a1.user).post(URL, body(), format="json").json()
    oh = client_for(cast.oh1)
    for row in made["follow_ups"]:
        completed = oh.post(
            f"/api/v1/checkins/{row['id']}/complete", {"outcome": "fit"}, format="json"
        )
        assert completed.status_code == 200

    clock.set(morning(date(2027, 5, 1)))
    checkin_status_sweep(at=clock.now())
    checkin_escalation_sweep(at=clock.now())

    assert not Alert.objects.exists()
    assert set(CheckIn.objects.filter(incident_id=made["id"]).values_list("status", flat=True)) == {
        Status.COMPLETED
    }


# --- Reading ------------------------------------------------------------------------------


def test_list_queries_do_not_grow_with_incidents(cast: Cast, django_assert_max_num_queries) -> None:
    for n in range(6):
        incident_record(
            actor=cast.oh1,
            officer=[cast.officer_a1, cast.officer_a2][n % 2],
            occurred_on=TODAY - timedelta(days=n),
            category=CATEGORY,
        )
    client = client_for(cast.supervisor_a)
    with django_assert_max_num_queries(8):
        response = client.get(URL)
    assert response.json()["count"] == 6
    assert all(len(row["follow_ups"]) == 2 for row in response.json()["results"])


def test_list_filters_by_officer_and_date(cast: Cast) -> None:
    for officer, back in [(cast.officer_a1, 0), (cast.officer_a1, 20), (cast.officer_a2, 5)]:
        incident_record(
            actor=cast.oh1,
            officer=officer,
            occurred_on=TODAY - timedelta(days=back),
            category=CATEGORY,
        )
    oh = client_for(cast.oh1)

    mine = oh.get(URL, {"officer": cast.officer_a1.pk}).json()["results"]
    recent = oh.get(URL, {"from": (TODAY - timedelta(days=6)).isoformat()}).json()["results"]

    assert [r["occurred_on"] for r in mine] == ["2027-03-10", "2027-02-18"]
    assert sorted(r["occurred_on"] for r in recent) == ["2027-03-05", "2027-03-10"]
    # Never a filter by category: a supervisor could learn it by filtering.
    everything = oh.get(URL).json()["count"]
    assert oh.get(URL, {"category": "other"}).json()["count"] == everything


def test_the_schema_offers_the_categories_as_an_enum(cast: Cast) -> None:
    schema = client_for(None).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    components = json.loads(schema.content)["components"]["schemas"]
    assert components["IncidentCategoryEnum"]["enum"] == IncidentCategory.values
    assert "category" not in components["IncidentOutput"]["properties"]
    assert components["IncidentInputRequest"]["properties"]["category"] == {
        "$ref": "#/components/schemas/IncidentCategoryEnum"
    }


def test_the_subject_access_export_holds_the_officers_incidents(cast: Cast) -> None:
    incident_record(
        actor=cast.officer_a1.user, officer=cast.officer_a1, occurred_on=TODAY, category=CATEGORY
    )
    incident_record(actor=cast.oh1, officer=cast.officer_a2, occurred_on=TODAY, category="other")

    data = person_export(officer=cast.officer_a1)

    assert [(i["occurred_on"], i["category"]) for i in data["incidents"]] == [
        ("2027-03-10", CATEGORY.value)
    ]
    follow_ups = [c for c in data["checkins"] if c["kind"] == Kind.INCIDENT_FOLLOW_UP]
    assert {c["incident_id"] for c in follow_ups} == {data["incidents"][0]["id"]}


def test_an_incident_is_never_deleted_outside_the_retention_job(cast: Cast) -> None:
    recorded = incident_record(
        actor=cast.oh1, officer=cast.officer_a1, occurred_on=TODAY, category=CATEGORY
    )

    refused = pytest.raises(DatabaseError, match="kept until their retention is over")
    with refused, owner_session(), connection.cursor() as cursor:  # even the owner
        cursor.execute("DELETE FROM checkins_incident WHERE id = %s", [recorded.incident.pk])

    assert Incident.objects.filter(pk=recorded.incident.pk).exists()
