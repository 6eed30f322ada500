"""Alerts and notifications through the API; webhooks signed and retried."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from schedules.runner import run_all
from tests import oracles
from tests.conftest import Cast, client_for
from welfare.accounts.services import oh_lead_set
from welfare.alerts import rules
from welfare.alerts.models import Alert, Notification, WebhookDelivery
from welfare.alerts.services import (
    ALREADY_RESOLVED,
    alert_raise,
    case_assign,
    webhook_delivery_sweep,
)
from welfare.audit.models import AuditEvent
from welfare.checkins.services import self_refer
from welfare.exposure.services import exposure_log

URL = "/api/v1/alerts/"


def breach(cast: Cast, clock, officer=None) -> None:
    officer = officer or cast.officer_a1
    clock.set(datetime(2027, 3, 10, 18, tzinfo=UTC))
    for n in range(4):
        start = datetime(2027, 3, 10, 8, tzinfo=UTC) + timedelta(minutes=90 * n)
        exposure_log(
            officer=officer,
            recorded_by=officer.user,
            started_at=start,
            ended_at=start + timedelta(minutes=85),
            material="video",
            category="A",
            client_ref=uuid.uuid4(),
        )
    run_all(clock.now())


def test_alert_visibility_by_role(cast: Cast, clock) -> None:
    breach(cast, clock)
    self_refer(user=cast.officer_a2.user)
    clock.advance(days=8)
    run_all(clock.now())  # the self-referral is now overdue: a clinical alert
    clinical = Alert.objects.get(clinical=True)
    assert clinical.kind == "checkin_overdue"

    def seen(user) -> set[int]:
        return {row["id"] for row in client_for(user).get(f"{URL}?page_size=500").json()["results"]}

    everything = set(Alert.objects.values_list("id", flat=True))
    assert seen(cast.oh1) == everything
    supervisor_a = seen(cast.supervisor_a)
    assert clinical.pk not in supervisor_a
    assert supervisor_a == set(
        Alert.objects.filter(
            clinical=False, officer__in=[cast.officer_a1, cast.officer_a2]
        ).values_list("id", flat=True)
    )
    assert seen(cast.supervisor_b) == set(
        Alert.objects.filter(officer=cast.officer_b1, clinical=False).values_list("id", flat=True)
    )
    # Clinical alerts are OH's work items: the officer does not see them in a list.
    assert seen(cast.officer_a2.user) == set(
        Alert.objects.filter(officer=cast.officer_a2, clinical=False).values_list("id", flat=True)
    )
    assert client_for(cast.officer_a2.user).get(f"{URL}{clinical.pk}/").status_code == 404
    for user in (cast.hr, cast.admin):
        assert client_for(user).get(URL).status_code == 403
    assert client_for(cast.supervisor_a).get(f"{URL}{clinical.pk}/").status_code == 404
    assert client_for(cast.supervisor_a).post(f"{URL}{clinical.pk}/acknowledge").status_code == 404


def test_acknowledge_and_resolve(cast: Cast, clock) -> None:
    breach(cast, clock)
    alert = Alert.objects.filter(officer=cast.officer_a1, kind="exposure_limit").first()
    supervisor = client_for(cast.supervisor_a)
    acked = supervisor.post(f"{URL}{alert.pk}/acknowledge")
    assert acked.status_code == 200
    assert acked.json()["status"] == "acknowledged"
    assert acked.json()["acknowledged_by"] == cast.supervisor_a.pk
    no_note = supervisor.post(f"{URL}{alert.pk}/resolve", {}, format="json")
    assert no_note.status_code == 400
    assert "note" in no_note.json()
    done = supervisor.post(
        f"{URL}{alert.pk}/resolve",
        {"note": "Spoke to the officer; lighter queue this week."},
        format="json",
    )
    assert done.json()["status"] == "resolved"
    again = supervisor.post(f"{URL}{alert.pk}/resolve", {"note": "again"}, format="json")
    assert again.status_code == 409
    assert again.json()["detail"] == ALREADY_RESOLVED
    assert client_for(cast.officer_a1.user).post(f"{URL}{alert.pk}/acknowledge").status_code == 403
    assert (
        AuditEvent.objects.filter(action__in=["alert.acknowledged", "alert.resolved"]).count() == 2
    )


def test_alert_filters(cast: Cast, clock) -> None:
    breach(cast, clock)
    oh = client_for(cast.oh1)
    assert oh.get(f"{URL}?kind=exposure_limit").json()["count"] >= 1
    assert oh.get(f"{URL}?kind=screening_risk").json()["count"] == 0
    assert oh.get(f"{URL}?status=resolved").json()["count"] == 0
    assert oh.get(f"{URL}?kind=nonsense").status_code == 400


def test_notification_texts_carry_no_health_data(cast: Cast, clock) -> None:
    breach(cast, clock)
    clock.advance(days=30)
    run_all(clock.now())
    assert Notification.objects.exists()
    forbidden = [
        "video",
        "category",
        "minutes",
        "340",
        "breach",
        "Test off",
        "off.a1",
        "T0001",
        "limit",
    ]
    for notification in Notification.objects.all():
        text = f"{notification.subject} {notification.body} {notification.link}"
        for word in forbidden:
            assert word.lower() not in text.lower(), (word, text)


def test_own_notifications_and_mark_read(cast: Cast, clock) -> None:
    breach(cast, clock)
    supervisor = client_for(cast.supervisor_a)
    rows = supervisor.get("/api/v1/notifications/").json()["results"]
    assert rows
    assert all(
        set(row) == {"id", "subject", "body", "link", "alert", "checkin", "created_at", "read_at"}
        for row in rows
    )
    first = rows[0]["id"]
    assert client_for(cast.supervisor_b).get(f"/api/v1/notifications/{first}/").status_code == 404
    read = supervisor.post(f"/api/v1/notifications/{first}/read")
    assert read.json()["read_at"] is not None
    assert (
        supervisor.get("/api/v1/notifications/?read_at__isnull=true").json()["count"]
        == len(rows) - 1
    )


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []
    fail_first = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        if type(self).fail_first > 0:
            type(self).fail_first -= 1
            self.send_response(503)
        else:
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver():
    _Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_webhook_is_signed_and_retried_with_back_off(cast: Cast, clock, receiver, settings) -> None:
    settings.WEBHOOK_HTTP_ALLOWED_HOSTS = ["127.0.0.1"]  # loopback and http: allow-listed only
    created = client_for(cast.admin).post(
        "/api/v1/webhooks/",
        {"unit": cast.unit_a.pk, "url": f"http://127.0.0.1:{receiver.server_port}/hook"},
        format="json",
    )
    assert created.status_code == 201
    secret = created.json()["secret"]
    assert (
        "secret"
        not in client_for(cast.admin).get(f"/api/v1/webhooks/{created.json()['id']}/").json()
    )
    _Receiver.fail_first = 1
    breach(cast, clock)  # run_all raises alerts and tries the first delivery, which fails
    delivery = WebhookDelivery.objects.order_by("id").first()
    assert delivery.status == "pending"
    assert delivery.attempts == 1
    assert delivery.last_error == "HTTP 503"
    assert delivery.next_attempt_at == clock.now() + timedelta(minutes=1)
    webhook_delivery_sweep(at=clock.now())  # not due yet
    assert WebhookDelivery.objects.get(pk=delivery.pk).attempts == 1
    clock.advance(minutes=1)
    webhook_delivery_sweep(at=clock.now())
    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    headers, body = _Receiver.received[-1]
    assert oracles.verify_signature(
        secret, body, headers["X-Welfare-Timestamp"], headers["X-Welfare-Signature"]
    )
    assert not oracles.verify_signature(
        "wrong", body, headers["X-Welfare-Timestamp"], headers["X-Welfare-Signature"]
    )
    payload = json.loads(body)
    assert payload["message"] == rules.ALERT_BODY
    assert set(payload) == {
        "event",
        "alert",
        "kind",
        "severity",
        "unit",
        "message",
        "link",
        "raised_at",
    }
    assert "Test off" not in body.decode()


def test_webhook_gives_up_after_the_last_attempt(cast: Cast, clock, settings) -> None:
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    settings.WEBHOOK_HTTP_ALLOWED_HOSTS = ["127.0.0.1"]
    client_for(cast.admin).post(
        "/api/v1/webhooks/",
        {"unit": cast.unit_a.pk, "url": "http://127.0.0.1:9/none"},
        format="json",
    )
    breach(cast, clock)
    clock.advance(minutes=5)
    webhook_delivery_sweep(at=clock.now(), timeout=1)
    statuses = set(WebhookDelivery.objects.values_list("status", flat=True))
    assert statuses == {"failed"}


def test_clinical_alerts_never_reach_supervisors_or_webhooks(cast: Cast, clock, settings) -> None:
    settings.WEBHOOK_HTTP_ALLOWED_HOSTS = ["127.0.0.1"]
    created = client_for(cast.admin).post(
        "/api/v1/webhooks/",
        {"unit": cast.unit_a.pk, "url": "http://127.0.0.1:9/none"},
        format="json",
    )
    assert created.status_code == 201
    alert, created = alert_raise(
        officer_id=cast.officer_a1.pk,
        kind="screening_risk",
        severity="urgent",
        dedupe_key="screening:test",
        clinical=True,
    )
    assert created
    recipients = set(
        Notification.objects.filter(alert=alert).values_list("recipient__username", flat=True)
    )
    assert recipients == {"oh.one", "oh.two"}
    assert not WebhookDelivery.objects.exists()


def test_rotation_review_decision(cast: Cast, clock) -> None:
    clock.set(datetime(2027, 3, 2, 7, tzinfo=UTC))  # officer A1 posted 1 June 2025: 21 months
    run_all(clock.now())
    posting = cast.officer_a1.postings.get()
    alert = Alert.objects.get(kind="rotation_due", posting=posting)
    assert alert.detail["months_in_post"] == 21
    bad = client_for(cast.supervisor_a).post(
        "/api/v1/rotation-reviews/", {"posting": posting.pk, "decision": "stay"}, format="json"
    )
    assert bad.status_code == 400
    assert "next_review_on" in bad.json()
    other = client_for(cast.supervisor_b).post(
        "/api/v1/rotation-reviews/",
        {"posting": posting.pk, "decision": "stay", "next_review_on": "2027-09-01"},
        format="json",
    )
    assert other.status_code == 404
    made = client_for(cast.supervisor_a).post(
        "/api/v1/rotation-reviews/",
        {
            "posting": posting.pk,
            "decision": "stay",
            "next_review_on": "2027-09-01",
            "note": "Wants to stay; fine.",
        },
        format="json",
    )
    assert made.status_code == 201
    alert.refresh_from_db()
    assert alert.status == "resolved"
    clock.set(datetime(2027, 6, 2, 7, tzinfo=UTC))  # past 24 months, but a review date was set
    run_all(clock.now())
    assert Alert.objects.filter(kind="rotation_due", posting=posting).count() == 1
    clock.set(datetime(2027, 9, 1, 7, tzinfo=UTC))
    run_all(clock.now())
    second = Alert.objects.filter(kind="rotation_due", posting=posting).order_by("id").last()
    assert second.detail["level"] == "tenure"
    assert second.severity == "high"
    assert AuditEvent.objects.filter(action="rotation.reviewed").count() == 1
    assert date(2027, 9, 1).isoformat() in second.dedupe_key


def test_a_rotation_alert_reaches_supervisors_and_the_case_owner_else_the_leads(
    cast: Cast, clock
) -> None:
    def told(officer, level: str) -> set[str]:
        alert = Alert.objects.get(
            kind="rotation_due", officer=officer, detail__level=level, status="open"
        )
        return set(
            Notification.objects.filter(alert=alert).values_list("recipient__username", flat=True)
        )

    # B1, posted 1 September 2024, reaches 21 months: no lead and no owner, every clinician.
    clock.set(datetime(2026, 6, 2, 7, tzinfo=UTC))
    run_all(clock.now())
    assert told(cast.officer_b1, "review") == {"sup.b", "oh.one", "oh.two"}
    # With a lead, a rotation alert on a case nobody owns goes to the lead, not to everyone.
    oh_lead_set(actor=None, user=cast.oh2, lead=True)
    clock.set(datetime(2026, 9, 2, 7, tzinfo=UTC))  # 24 months
    run_all(clock.now())
    assert told(cast.officer_b1, "tenure") == {"sup.b", "oh.two"}
    # A1's case has an owner: the owner is told, not the lead.
    case_assign(actor=cast.oh2, officer=cast.officer_a1, clinician=cast.oh1)
    clock.set(datetime(2027, 3, 2, 7, tzinfo=UTC))
    run_all(clock.now())
    assert told(cast.officer_a1, "review") == {"sup.a", "oh.one"}
