"""Check-ins through the API: who sees what, self-referral, booking, completion, the calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

from tests.conftest import Cast, client_for
from welfare.alerts.models import Notification
from welfare.alerts.services import case_assign
from welfare.audit.models import AuditEvent
from welfare.checkins.models import CheckIn
from welfare.checkins.services import SELF_REFERRAL_OPEN, checkin_schedule_sweep

URL = "/api/v1/checkins/"


@pytest.fixture
def scheduled(cast: Cast, clock):
    checkin_schedule_sweep(at=clock.now())
    return {c.officer_id: c for c in CheckIn.objects.filter(kind="periodic")}


def test_the_schedule_gives_everyone_a_periodic_checkin(cast: Cast, scheduled) -> None:
    assert set(scheduled) == {cast.officer_a1.pk, cast.officer_a2.pk, cast.officer_b1.pk}
    assert scheduled[cast.officer_a2.pk].due_on == date(2026, 7, 15)  # six months after posting
    assert scheduled[cast.officer_b1.pk].due_on == date(2025, 9, 1)  # forensics: twelve months


def test_visibility_by_role(cast: Cast, scheduled) -> None:
    def seen(user) -> set[int]:
        return {row["officer"] for row in client_for(user).get(URL).json()["results"]}

    assert seen(cast.officer_a1.user) == {cast.officer_a1.pk}
    assert seen(cast.supervisor_a) == {cast.officer_a1.pk, cast.officer_a2.pk}
    assert seen(cast.oh1) == {cast.officer_a1.pk, cast.officer_a2.pk, cast.officer_b1.pk}
    for user in (cast.hr, cast.admin):
        assert client_for(user).get(URL).status_code == 403
    other = scheduled[cast.officer_b1.pk]
    assert client_for(cast.supervisor_a).get(f"{URL}{other.pk}/").status_code == 404


def test_supervisor_sees_dates_status_and_outcome_only(cast: Cast, scheduled) -> None:
    row = client_for(cast.supervisor_a).get(f"{URL}{scheduled[cast.officer_a1.pk].pk}/").json()
    assert set(row) == {
        "id",
        "officer",
        "kind",
        "follow_up",
        "due_on",
        "status",
        "booked_for",
        "outcome",
        "completed_at",
        "cancelled_at",
    }


def test_self_referral_reaches_oh_only(cast: Cast, clock) -> None:
    officer = client_for(cast.officer_a1.user)
    response = officer.post(
        URL, {"kind": "self_referral", "note": "SELF-REFERRAL-MARKER"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["kind"] == "self_referral"
    assert body["due_on"] == (clock.today() + timedelta(days=7)).isoformat()
    assert "referral_note" not in body
    supervisor = client_for(cast.supervisor_a)
    assert supervisor.get(URL).json()["count"] == 0
    assert supervisor.get(f"{URL}{body['id']}/").status_code == 404
    oh_row = client_for(cast.oh1).get(f"{URL}{body['id']}/").json()
    assert oh_row["referral_note"] == "SELF-REFERRAL-MARKER"
    again = officer.post(URL, {"kind": "self_referral"}, format="json")
    assert again.status_code == 409
    assert again.json()["detail"] == SELF_REFERRAL_OPEN
    assert AuditEvent.objects.filter(action="checkin.self_referred").count() == 1


def test_a_self_referral_is_told_to_oh_and_nobody_else(cast: Cast, clock) -> None:
    officer = client_for(cast.officer_a1.user)
    first = officer.post(URL, {"kind": "self_referral", "note": "MARKER-SR"}, format="json")
    told = Notification.objects.filter(checkin_id=first.json()["id"])
    assert sorted(n.recipient_id for n in told) == [cast.oh1.pk, cast.oh2.pk]  # no owner yet
    for notification in told:
        assert notification.link.endswith(f"/checkins/{first.json()['id']}")
        assert "MARKER-SR" not in notification.body
    cancelled = client_for(cast.oh1).post(
        f"/api/v1/checkins/{first.json()['id']}/cancel", {"reason": "Seen."}, format="json"
    )
    assert cancelled.status_code == 200, cancelled.content
    case_assign(actor=cast.oh1, officer=cast.officer_a1, clinician=cast.oh2)
    clock.advance(minutes=1)
    second = officer.post(URL, {"kind": "self_referral"}, format="json")
    assert second.status_code == 201, second.content
    assert [
        n.recipient_id for n in Notification.objects.filter(checkin_id=second.json()["id"])
    ] == [cast.oh2.pk]
    assert not Notification.objects.filter(recipient=cast.supervisor_a).exists()


@pytest.mark.parametrize(
    "body", [{}, {"kind": "periodic"}, {"kind": "self_referral", "note": "x" * 1001}]
)
def test_officers_cannot_schedule_other_kinds(cast: Cast, body: dict) -> None:
    response = client_for(cast.officer_a1.user).post(URL, body, format="json")
    assert response.status_code == 400
    assert not CheckIn.objects.exists()


def test_oh_books_completes_and_cannot_complete_twice(cast: Cast, clock, scheduled) -> None:
    oh = client_for(cast.oh1)
    checkin = scheduled[cast.officer_a1.pk]
    when = (clock.now() + timedelta(days=2)).isoformat()
    booked = oh.post(f"{URL}{checkin.pk}/book", {"booked_for": when}, format="json")
    assert booked.status_code == 200
    assert booked.json()["booked_for"] is not None
    past = oh.post(f"{URL}{checkin.pk}/book", {"booked_for": "2020-01-01T09:00:00Z"}, format="json")
    assert past.status_code == 400
    done = oh.post(
        f"{URL}{checkin.pk}/complete", {"outcome": "fit_with_adjustments"}, format="json"
    )
    assert done.status_code == 200
    assert (done.json()["status"], done.json()["outcome"]) == ("completed", "fit_with_adjustments")
    assert (
        oh.post(f"{URL}{checkin.pk}/complete", {"outcome": "fit"}, format="json").status_code == 409
    )
    assert (
        client_for(cast.supervisor_a).get(f"{URL}{checkin.pk}/").json()["outcome"]
        == "fit_with_adjustments"
    )
    assert (
        AuditEvent.objects.filter(action__in=["checkin.booked", "checkin.completed"]).count() == 2
    )


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("book", {}, "booked_for"),
        ("book", {"booked_for": "tomorrow"}, "booked_for"),
        ("complete", {"outcome": "fine"}, "outcome"),
        ("cancel", {}, "reason"),
    ],
)
def test_bad_input_changes_nothing(
    cast: Cast, scheduled, action: str, body: dict, field: str
) -> None:
    checkin = scheduled[cast.officer_a1.pk]
    response = client_for(cast.oh1).post(f"{URL}{checkin.pk}/{action}", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    checkin.refresh_from_db()
    assert (checkin.status, checkin.booked_for, checkin.outcome) == ("overdue", None, "")


def test_cancel(cast: Cast, scheduled) -> None:
    checkin = scheduled[cast.officer_a2.pk]
    response = client_for(cast.oh1).post(
        f"{URL}{checkin.pk}/cancel", {"reason": "left the force"}, format="json"
    )
    assert response.json()["status"] == "cancelled"
    assert (
        client_for(cast.supervisor_a)
        .post(f"{URL}{checkin.pk}/cancel", {"reason": "x"}, format="json")
        .status_code
        == 403
    )


def test_calendar_feed_with_token_and_with_secret_key(cast: Cast, scheduled) -> None:
    officer = client_for(cast.officer_a1.user)
    feed = officer.get("/api/v1/me/checkins.ics")
    assert feed.status_code == 200
    assert feed["Content-Type"].startswith("text/calendar")
    text = feed.content.decode()
    assert text.startswith("BEGIN:VCALENDAR\r\n")
    assert text.endswith("END:VCALENDAR\r\n")
    assert text.count("BEGIN:VEVENT") == 1
    assert "DTSTART;VALUE=DATE:20251201" in text
    assert "SUMMARY:Welfare check-in" in text
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    url = officer.post("/api/v1/me/calendar-key").json()["url"]
    assert url.startswith(settings.SITE_URL.rstrip("/") + "/api/v1/calendar/")
    path = urlsplit(url).path
    assert APIClient().get(path).content == feed.content
    # A new key retires the old one.
    officer.post("/api/v1/me/calendar-key")
    assert APIClient().get(path).status_code == 404
    assert APIClient().get("/api/v1/calendar/not-a-key.ics").status_code == 404


def test_booked_checkins_appear_at_their_time(cast: Cast, clock, scheduled) -> None:
    checkin = scheduled[cast.officer_a1.pk]
    from welfare.checkins.services import checkin_book

    checkin_book(actor=cast.oh1, checkin=checkin, booked_for=datetime(2027, 3, 12, 10, tzinfo=UTC))
    text = client_for(cast.officer_a1.user).get("/api/v1/me/checkins.ics").content.decode()
    assert "DTSTART:20270312T100000Z" in text
    assert "DTEND:20270312T110000Z" in text


@override_settings(SITE_URL="https://welfare.example.police.uk", ALLOWED_HOSTS=["*"])
def test_event_uids_are_the_same_whatever_host_the_feed_is_read_through(
    cast: Cast, scheduled
) -> None:
    officer = client_for(cast.officer_a1.user)
    feeds = [
        officer.get("/api/v1/me/checkins.ics", HTTP_HOST=host).content.decode()
        for host in ("welfare.example.police.uk", "welfare-internal:8443", "10.0.0.7")
    ]
    uids = [
        sorted(line for line in feed.split("\r\n") if line.startswith("UID:")) for feed in feeds
    ]
    checkin = scheduled[cast.officer_a1.pk]
    assert uids[0] == [f"UID:checkin-{checkin.pk}@welfare.example.police.uk"]
    assert uids[1] == uids[0]
    assert uids[2] == uids[0]
    # The secret feed's address is the configured site's too, not the Host header's.
    url = officer.post("/api/v1/me/calendar-key", HTTP_HOST="attacker.example").json()["url"]
    assert url.startswith("https://welfare.example.police.uk/api/v1/calendar/")
