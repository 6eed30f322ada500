"""The web app's flows through Django's test client: log-in rules shared with the API, CSRF,
and each role's job, all through the same services."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.test import Client
from django_otp.oath import TOTP

from tests.conftest import PASSWORD, Cast, web_client_for
from welfare.accounts.models import SealedTOTPDevice
from welfare.accounts.services import otp_device_new
from welfare.alerts.services import alert_raise
from welfare.audit.models import AuditEvent
from welfare.casework.models import CaseNote
from welfare.checkins.models import CheckIn, Screening
from welfare.checkins.services import checkin_trigger
from welfare.core.clock import now as service_now
from welfare.exposure.models import ExposureSession, Restriction


def code(device: SealedTOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = service_now().timestamp()  # the service's clock
    return f"{totp.token():06d}"


def browser() -> Client:
    return Client(enforce_csrf_checks=True)


def csrf(client: Client, path: str = "/login") -> str:
    client.get(path)
    return client.cookies["csrftoken"].value


def sign_in(client: Client, username: str, otp: str | None = None):
    token = csrf(client)
    data = {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token}
    if otp:
        data["otp"] = otp
    return client.post("/login", data)


def test_officer_signs_in_and_the_session_key_rotates(cast: Cast) -> None:
    client = browser()
    client.get("/login")
    before = client.cookies.get("sessionid")
    response = sign_in(client, "off.a1")
    assert response.status_code == 302
    assert response["Location"] == "/me/"
    assert client.cookies["sessionid"].value != (before.value if before else None)
    assert client.get("/me/").status_code == 200


def test_a_post_without_the_csrf_token_is_refused(cast: Cast) -> None:
    client = browser()
    assert client.post("/login", {"username": "off.a1", "password": PASSWORD}).status_code == 403


def test_wrong_details_count_toward_the_same_lockout_as_the_api(cast: Cast) -> None:
    client = browser()
    for _ in range(settings.LOGIN_MAX_FAILURES):
        token = csrf(client)
        refused = client.post(
            "/login", {"username": "off.a1", "password": "wrong", "csrfmiddlewaretoken": token}
        )
        assert refused.status_code == 401
        assert b"did not work" in refused.content
    locked = sign_in(client, "off.a1")
    assert b"Too many failed" in locked.content
    from rest_framework.test import APIClient

    api = APIClient().post(
        "/api/v1/auth/login", {"username": "off.a1", "password": PASSWORD}, format="json"
    )
    assert api.status_code == 429


def test_privileged_user_without_a_device_must_enrol_first(cast: Cast) -> None:
    client = browser()
    response = sign_in(client, "oh.one")
    assert response["Location"] == "/enrol"
    assert client.get("/oh/")["Location"] == "/enrol"
    assert b"<svg" not in client.get("/enrol").content  # opening the page makes no secret
    assert not SealedTOTPDevice.objects.filter(user=cast.oh1).exists()
    token = client.cookies["csrftoken"].value
    assert client.post("/enrol", {"start": "1", "csrfmiddlewaretoken": token}).status_code == 302
    page = client.get("/enrol")
    assert b"<svg" in page.content
    device = SealedTOTPDevice.objects.get(user=cast.oh1, confirmed=False)
    confirmed = client.post(
        "/enrol", {"device": device.pk, "otp": code(device), "csrfmiddlewaretoken": token}
    )
    assert confirmed["Location"] == "/oh/"
    assert client.get("/oh/").status_code == 200


def test_privileged_user_with_a_device_signs_in_with_a_code(cast: Cast) -> None:
    device = otp_device_new(user=cast.hr, name="phone", confirmed=True)
    client = browser()
    assert sign_in(client, "hr.one").status_code == 401  # no code: refused like a wrong one
    device.refresh_from_db()
    response = sign_in(client, "hr.one", otp=code(device))
    assert response["Location"] == "/hr/"
    assert client.get("/hr/").status_code == 200


def test_idle_and_absolute_expiry(cast: Cast, clock) -> None:
    client = web_client_for(cast.officer_a1.user)
    assert client.get("/me/").status_code == 200
    clock.advance(seconds=settings.TOKEN_ABSOLUTE_SECONDS)
    assert client.get("/me/")["Location"].startswith("/login")
    assert settings.SESSION_COOKIE_AGE == settings.TOKEN_IDLE_SECONDS
    assert settings.SESSION_SAVE_EVERY_REQUEST is True


def test_timer_form_logs_each_stretch_once_however_often_it_is_sent(cast: Cast, clock) -> None:
    clock.set(datetime(2027, 3, 10, 18, tzinfo=UTC))
    client = web_client_for(cast.officer_a1.user)
    segments = [
        ["2027-03-10T09:00:00Z", "2027-03-10T09:50:00Z"],
        ["2027-03-10T10:05:00Z", "2027-03-10T10:35:00Z"],
    ]
    form = {
        "client_ref": str(uuid.uuid4()),
        "segments": json.dumps(segments),
        "material": "video",
        "category": "C",
        "violent": "on",
    }
    first = client.post("/me/sessions", form)
    assert first.status_code == 302
    assert client.post("/me/sessions", form).status_code == 302  # a double click, a resend
    sessions = ExposureSession.objects.filter(officer=cast.officer_a1).order_by("started_at")
    assert [(s.started_at.hour, s.started_at.minute, s.violent) for s in sessions] == [
        (9, 0, True),
        (10, 5, True),
    ]
    page = client.get("/me/").content.decode()
    assert "80 of 300 minutes" in page


def test_bad_timer_form_stores_nothing_and_says_why(cast: Cast, clock) -> None:
    client = web_client_for(cast.officer_a1.user)
    response = client.post(
        "/me/sessions",
        {
            "client_ref": str(uuid.uuid4()),
            "started_at": "2027-03-10T08:00",
            "ended_at": "2027-03-10T07:00",
            "material": "video",
            "category": "C",
        },
        follow=True,
    )
    assert b"End: " in response.content
    assert not ExposureSession.objects.exists()


def test_officer_answers_a_questionnaire_and_self_refers(cast: Cast, clock) -> None:
    checkin = checkin_trigger(
        officer_id=cast.officer_a1.pk, due_on=clock.today() + timedelta(days=5), key="web"
    )
    client = web_client_for(cast.officer_a1.user)
    page = client.get(f"/me/checkins/{checkin.pk}/gad7")
    assert b"Feeling nervous, anxious, or on edge" in page.content
    answers = {f"item{n}": "1" for n in range(1, 8)}
    result = client.post(f"/me/checkins/{checkin.pk}/gad7", answers)
    assert b"Your total is <strong>7</strong>" in result.content
    assert Screening.objects.get().total == 7
    client.post("/me/self-referral", {"note": "please call"})
    assert CheckIn.objects.filter(kind="self_referral", officer=cast.officer_a1).exists()


def test_supervisor_acknowledges_resolves_and_decides_rotation(cast: Cast) -> None:
    alert, _ = alert_raise(
        officer_id=cast.officer_a1.pk, kind="exposure_limit", severity="warning", dedupe_key="w"
    )
    client = web_client_for(cast.supervisor_a)
    assert b"Acknowledge" in client.get("/unit/").content
    client.post(f"/alerts/{alert.pk}/acknowledge")
    alert.refresh_from_db()
    assert alert.status == "acknowledged"
    client.post(f"/alerts/{alert.pk}/resolve", {"note": "Lighter queue this week."})
    alert.refresh_from_db()
    assert alert.status == "resolved"
    posting = cast.officer_a1.postings.get()
    client.post(
        f"/rotation/{posting.pk}",
        {"decision": "stay", "next_review_on": "2027-09-01", "note": "fine"},
    )
    assert AuditEvent.objects.filter(action="rotation.reviewed").exists()


def test_supervisor_imports_a_csv(cast: Cast) -> None:
    content = b"staff_number,started_at,ended_at,material,category,client_ref\nT0001,2027-03-08T09:00:00Z,2027-03-08T10:00:00Z,image,C,r1\nT0003,2027-03-08T09:00:00Z,2027-03-08T10:00:00Z,image,C,r2\n"
    upload = io.BytesIO(content)
    upload.name = "export.csv"
    page = web_client_for(cast.supervisor_a).post("/unit/import", {"file": upload})
    assert page.status_code == 200
    assert b"created" in page.content
    assert b"rejected" in page.content  # T0003 is not in supervisor A's units
    assert ExposureSession.objects.count() == 1


def test_oh_writes_a_note_and_completes_a_checkin_with_a_restriction(cast: Cast, clock) -> None:
    checkin = checkin_trigger(officer_id=cast.officer_a1.pk, due_on=clock.today(), key="oh")
    client = web_client_for(cast.oh1)
    assert client.get(f"/oh/cases/{cast.officer_a1.pk}").status_code == 200
    client.post(f"/oh/cases/{cast.officer_a1.pk}/notes", {"body": "Seen today."})
    assert CaseNote.objects.count() == 1
    client.post(
        f"/oh/checkins/{checkin.pk}/complete",
        {
            "outcome": "fit_with_adjustments",
            "adjustments": "A lighter queue.",
            "restrict_from": "2027-03-10",
            "restrict_until": "2027-04-07",
            "restrict_media": ["live"],
            "restrict_reason": "sleep",
        },
    )
    checkin.refresh_from_db()
    assert (checkin.status, checkin.outcome) == ("completed", "fit_with_adjustments")
    assert Restriction.objects.get().forbidden_media == ["live"]
    assert AuditEvent.objects.filter(action="case.read", actor=cast.oh1).exists()


def test_hr_sees_a_withheld_cell(cast: Cast, clock) -> None:
    clock.set(datetime(2027, 4, 10, 18, tzinfo=UTC))  # 2027Q1 has ended
    from welfare.exposure.services import exposure_log

    exposure_log(
        officer=cast.officer_a1,
        recorded_by=cast.officer_a1.user,
        started_at=datetime(2027, 2, 3, 9, tzinfo=UTC),
        ended_at=datetime(2027, 2, 3, 10, tzinfo=UTC),
        material="image",
        category="C",
        client_ref=uuid.uuid4(),
    )
    page = web_client_for(cast.hr).get("/hr/?table=exposure&group_by=unit,month&period=2027Q1")
    assert b"withheld" in page.content
    assert b"Test off.a1" not in page.content


@pytest.mark.parametrize("path", ["/me/", "/unit/", "/oh/", "/hr/"])
def test_pages_carry_a_strict_policy(cast: Cast, path: str) -> None:
    who = {
        "/me/": cast.officer_a1.user,
        "/unit/": cast.supervisor_a,
        "/oh/": cast.oh1,
        "/hr/": cast.hr,
    }[path]
    response = web_client_for(who).get(path)
    assert response.status_code == 200
    assert b"<script>" not in response.content
    assert b" style=" not in response.content
    assert "default-src 'self'" in response["Content-Security-Policy"]


def test_hr_page_offers_ended_quarters_and_audiences_not_k(cast: Cast, clock) -> None:
    clock.set(datetime(2027, 2, 14, 12, tzinfo=UTC))
    page = web_client_for(cast.hr).get("/hr/?table=exposure&group_by=unit")
    assert b'value="2026Q4"' in page.content
    assert b'value="2027Q1"' not in page.content  # in progress
    assert b'name="audience"' in page.content
    assert b'name="k"' not in page.content
    refused = web_client_for(cast.hr).get("/hr/?table=exposure&k=6")
    assert b"k is set by configuration" in refused.content
    assert b'id="stats-table"' not in refused.content
