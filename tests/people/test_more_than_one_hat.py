"""One person, more than one hat: a supervisor or clinician who also reviews material holds an
officer record, logs their exposure and is surveilled like any officer; in their role they
never see or act on themselves; each view answers for the hat it serves."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.conftest import PASSWORD, Cast, client_for, field_errors, web_client_for
from welfare.alerts.models import Alert, AlertKind, Notification
from welfare.alerts.rules import OFFICER_LIMIT_SUBJECT
from welfare.alerts.services.lifecycle import NOT_YOUR_OWN_CLINICIAN
from welfare.alerts.services.sweeps import exposure_limits_sweep
from welfare.audit.models import AuditEvent
from welfare.checkins.models import CheckIn
from welfare.checkins.services import checkin_schedule_sweep
from welfare.core.permissions import wearing
from welfare.core.roles import Role
from welfare.core.rules import serving_hat
from welfare.exposure.models import ExposureSession
from welfare.people.models import Officer
from welfare.people.services import officer_create

EXPOSURES = "/api/v1/exposures/"


@pytest.mark.parametrize(
    ("allowed", "role", "record", "asked", "hat"),
    [
        ({"officer"}, "officer", False, None, "officer"),
        ({"officer"}, "supervisor", True, None, "officer"),
        ({"officer"}, "supervisor", False, None, None),
        ({"officer", "supervisor"}, "supervisor", True, None, "supervisor"),
        ({"officer", "supervisor"}, "supervisor", True, "officer", "officer"),
        ({"officer", "supervisor"}, "supervisor", False, "officer", None),
        ({"officer", "supervisor"}, "supervisor", True, "oh", None),
        ({"supervisor"}, "supervisor", True, "officer", None),
        ({"oh"}, "officer", False, "oh", None),
        ({"hr"}, "hr", True, None, "hr"),
    ],
)
def test_the_hat_a_view_serves(allowed, role, record, asked, hat) -> None:
    assert serving_hat(allowed=allowed, role=role, has_officer_record=record, asked=asked) == hat


def give_officer_record(cast: Cast, user, staff: str = "T0900") -> Officer:
    return officer_create(
        actor=cast.admin,
        user=user,
        staff_number=staff,
        display_name=f"Test {user.username}",
        unit=cast.unit_a,
        posted_since=cast.officer_a1.postings.get().started_on,
    )


def log(client, clock, *, hours: float = 1, hat: str | None = None):
    start = clock.now() - timedelta(hours=hours + 1)
    headers = {"HTTP_ACTING_AS": hat} if hat else {}
    return client.post(
        EXPOSURES,
        {
            "started_at": start.isoformat(),
            "ended_at": (start + timedelta(hours=hours)).isoformat(),
            "material": "image",
            "category": "C",
            "client_ref": str(uuid.uuid4()),
        },
        format="json",
        **headers,
    )


def test_a_supervisor_who_reviews_material_logs_it_as_an_officer(cast: Cast, clock) -> None:
    mine = give_officer_record(cast, cast.supervisor_a)
    client = client_for(cast.supervisor_a)
    logged = log(client, clock)
    assert logged.status_code == 201, logged.json()
    assert ExposureSession.objects.get(pk=logged.json()["id"]).officer == mine
    event = AuditEvent.objects.filter(action="exposure.logged").latest("id")
    assert (event.actor_id, event.actor_role) == (cast.supervisor_a.pk, Role.OFFICER)
    cast.supervisor_a.refresh_from_db()
    assert cast.supervisor_a.role == Role.SUPERVISOR  # the account keeps its role

    # The unit's summary and the list serve the supervisor: their team, never themselves...
    summary = client.get(f"/api/v1/units/{cast.unit_a.pk}/summary").json()
    listed = [row["officer"] for row in summary["officers"]]
    assert cast.officer_a1.pk in listed
    assert mine.pk not in listed
    team = client.get(EXPOSURES).json()["results"]
    assert all(row["officer"] != mine.pk for row in team)
    # ...unless the request asks for the officer hat: then their own only.
    own = client.get(EXPOSURES, HTTP_ACTING_AS="officer").json()["results"]
    assert [row["officer"] for row in own] == [mine.pk]
    me = client.get("/api/v1/me").json()
    assert (me["role"], me["hats"], me["officer"]["id"]) == (
        "supervisor",
        ["supervisor", "officer"],
        mine.pk,
    )


def test_the_officer_hat_needs_the_second_factor_the_account_needs(cast: Cast, clock) -> None:
    give_officer_record(cast, cast.supervisor_a)
    refused = log(client_for(cast.supervisor_a, verified=False), clock)
    assert refused.status_code == 403
    assert refused.json()["code"] == "two_factor_required"
    assert not ExposureSession.objects.exists()


def test_no_officer_record_no_officer_hat(cast: Cast, clock) -> None:
    for user in (cast.supervisor_a, cast.hr):
        assert log(client_for(user), clock).status_code == 403
        assert client_for(user).get(EXPOSURES, HTTP_ACTING_AS="officer").status_code == 403
    assert not ExposureSession.objects.exists()


def test_a_supervisor_over_a_limit_is_surveilled_but_not_by_themselves(cast: Cast, clock) -> None:
    mine = give_officer_record(cast, cast.supervisor_a)
    for _ in range(2):
        assert log(client_for(cast.supervisor_a), clock, hours=4).status_code == 201
        clock.advance(hours=4, minutes=30)
    exposure_limits_sweep(at=clock.now())
    client = client_for(cast.supervisor_a)
    alert = Alert.objects.filter(officer=mine, kind=AlertKind.EXPOSURE_LIMIT).first()
    assert alert is not None
    # Told as the officer it is about, never as their supervisor.
    told = Notification.objects.filter(alert__officer=mine, recipient=cast.supervisor_a)
    assert {n.subject for n in told} == {OFFICER_LIMIT_SUBJECT}
    # Not in their team's alerts, and they cannot acknowledge it.
    listed = client.get("/api/v1/alerts/").json()["results"]
    assert alert.pk not in [row["id"] for row in listed]
    acknowledged = client.post(f"/api/v1/alerts/{alert.pk}/acknowledge")
    assert acknowledged.status_code == 404
    alert.refresh_from_db()
    assert alert.acknowledged_at is None
    # Nor record their own rotation decision.
    decided = client.post(
        "/api/v1/rotation-reviews/",
        {"posting": mine.postings.get().pk, "decision": "stay", "next_review_on": "2027-09-01"},
        format="json",
    )
    assert decided.status_code == 404
    assert not mine.postings.get().rotation_reviews.exists()


def test_a_clinician_is_never_their_own_clinician(cast: Cast, clock) -> None:
    mine = give_officer_record(cast, cast.oh1)
    client = client_for(cast.oh1)
    cases = client.get("/api/v1/oh/cases/").json()["results"]
    assert mine.pk not in [row["id"] for row in cases]
    assert cast.officer_a1.pk in [row["id"] for row in cases]
    assert client.get(f"/api/v1/oh/cases/{mine.pk}").status_code == 404
    assigned = client_for(cast.oh2).post(
        f"/api/v1/oh/cases/{mine.pk}/assign", {"clinician": cast.oh1.pk}, format="json"
    )
    assert field_errors(assigned) == {"clinician": [NOT_YOUR_OWN_CLINICIAN]}
    # Another clinician sees the case.
    other = client_for(cast.oh2).get("/api/v1/oh/cases/").json()["results"]
    assert mine.pk in [row["id"] for row in other]


def test_a_person_in_another_hat_is_never_saved_with_it(cast: Cast) -> None:
    worn = wearing(cast.supervisor_a, Role.OFFICER)
    assert (worn.role, worn.account_role, cast.supervisor_a.role) == (
        Role.OFFICER,
        Role.SUPERVISOR,
        Role.SUPERVISOR,
    )
    worn.language = "cy"
    worn.save()
    assert worn.role == Role.OFFICER  # still served in the hat
    cast.supervisor_a.refresh_from_db()
    assert (cast.supervisor_a.role, cast.supervisor_a.language) == (Role.SUPERVISOR, "cy")
    # A password change sent in the officer hat changes the password, not the role.
    client = client_for(cast.supervisor_a)
    changed = client.post(
        "/api/v1/auth/password",
        {"current_password": PASSWORD, "new_password": "a-new-Synthetic-passphrase-7"},
        format="json",
        HTTP_ACTING_AS="officer",
    )
    assert changed.status_code == 403  # no officer record: not a hat this person holds
    give_officer_record(cast, cast.supervisor_a)
    changed = client.post(
        "/api/v1/auth/password",
        {"current_password": PASSWORD, "new_password": "a-new-Synthetic-passphrase-7"},
        format="json",
        HTTP_ACTING_AS="officer",
    )
    assert changed.status_code in (200, 204), changed.content
    cast.supervisor_a.refresh_from_db()
    assert cast.supervisor_a.role == Role.SUPERVISOR
    assert cast.supervisor_a.check_password("a-new-Synthetic-passphrase-7")


def test_the_web_pages_serve_the_hat_they_are_for(cast: Cast, clock) -> None:
    mine = give_officer_record(cast, cast.supervisor_a)
    web = web_client_for(cast.supervisor_a)
    unit = web.get("/unit/").content.decode()
    assert "My own exposure" in unit
    assert "Test sup.a" not in unit  # not in their own team
    own = web.get("/me/")
    assert own.status_code == 200
    assert "Back to my work as Supervisor" in own.content.decode()
    assert "(Officer)" in own.content.decode()
    logged = web.post(
        "/me/sessions",
        {
            "started_at": (clock.now() - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
            "ended_at": (clock.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "material": "image",
            "category": "C",
            "client_ref": str(uuid.uuid4()),
        },
    )
    assert logged.status_code == 302
    assert ExposureSession.objects.filter(officer=mine).count() == 1
    # HR without an officer record gets no officer pages.
    assert web_client_for(cast.hr).get("/me/").status_code == 403


def test_a_page_serving_both_hats_serves_the_one_last_chosen(cast: Cast, clock) -> None:
    mine = give_officer_record(cast, cast.supervisor_a)
    checkin_schedule_sweep(at=clock.now())
    own = CheckIn.objects.filter(officer=mine).first()
    assert own is not None
    web = web_client_for(cast.supervisor_a)
    web.get("/me/")  # in the officer hat
    assert web.get(f"/checkins/{own.pk}").status_code == 200
    web.get("/unit/")  # back in the supervisor's: their own record is not theirs to see there
    assert web.get(f"/checkins/{own.pk}").status_code == 404
