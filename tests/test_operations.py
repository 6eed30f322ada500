"""Health probes, the OpenAPI schema, the demo seed and the admin site's two-factor rule."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django_otp.oath import TOTP
from rest_framework.test import APIClient

from backend.demo import DEMO_PASSWORD
from tests.conftest import PASSWORD, Cast
from welfare.accounts.models import SealedTOTPDevice, User
from welfare.accounts.services import otp_device_new
from welfare.alerts.models import Alert
from welfare.audit.models import AuditEvent
from welfare.casework.models import CaseNote, ManagementReport
from welfare.checkins.models import CheckIn, Screening
from welfare.core.clock import now as service_now
from welfare.core.roles import Role
from welfare.exposure.models import DailyTotal, ExposureSession
from welfare.people.models import Officer, Posting, Unit


def test_healthz(db: None) -> None:
    assert APIClient().get("/healthz").json() == {"status": "ok"}


def test_schema_is_served_and_names_the_contract_paths(db: None) -> None:
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in (
        "/api/v1/auth/login",
        "/api/v1/me",
        "/api/v1/users/",
        "/api/v1/units/",
        "/api/v1/officers/",
        "/api/v1/officers/{officer_id}/postings/",
        "/api/v1/audit/",
    ):
        assert path in schema["paths"], path
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_seed_demo_fills_an_empty_database_once(
    db: None, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert Unit.objects.count() == 3
    assert {u.kind for u in Unit.objects.all()} == {
        "abusive_images",
        "online_cse",
        "digital_forensics",
    }
    assert Officer.objects.count() == 30
    assert User.objects.filter(role=Role.SUPERVISOR).count() == 3
    assert User.objects.filter(role=Role.OH).count() == 2
    assert User.objects.filter(role=Role.HR).count() == 1
    assert User.objects.filter(role=Role.ADMIN, is_superuser=True).count() == 1
    assert all(unit.supervisors.count() == 1 for unit in Unit.objects.all())
    assert Posting.objects.filter(ended_on__isnull=False).exists(), (
        "some officers have a posting history"
    )
    for user in User.objects.exclude(role=Role.OFFICER):
        assert SealedTOTPDevice.objects.filter(user=user, confirmed=True).exists()
        assert user.username in out
    assert DEMO_PASSWORD in out
    assert "TOTP secret" in out
    events = AuditEvent.objects.count()

    # Months of synthetic viewing, with daily totals that add up and some heavy days.
    sessions = ExposureSession.objects.all()
    assert sessions.count() > 1000
    assert sessions.filter(source="self").count() == sessions.count()
    logged = sum((s.ended_at - s.started_at).total_seconds() for s in sessions)
    assert DailyTotal.objects.aggregate(total=Sum("seconds"))["total"] == logged
    assert DailyTotal.objects.filter(seconds__gt=240 * 60).exists(), "someone near the daily limit"
    assert DailyTotal.objects.filter(seconds__gt=300 * 60).exists(), "someone over it"
    assert DailyTotal.objects.filter(seconds__lt=120 * 60, seconds__gt=0).exists()

    # A schedule as the jobs leave it: check-ins in every state worth showing, and alerts.
    statuses = set(CheckIn.objects.values_list("status", flat=True))
    assert {"completed", "due", "overdue"} <= statuses
    assert Alert.objects.filter(kind="exposure_limit").exists()
    assert Alert.objects.filter(kind="checkin_overdue").exists()
    assert Alert.objects.filter(kind="rotation_due").exists()
    # Occupational health has something to look at.
    assert Screening.objects.count() >= 30
    assert Alert.objects.filter(kind="screening_risk", severity="urgent").exists()
    assert CaseNote.objects.exists()
    assert ManagementReport.objects.filter(state="consented").exists()

    call_command("seed_demo")
    again = capsys.readouterr().out
    assert "nothing seeded" in again
    assert "admin" in again
    assert Officer.objects.count() == 30
    assert AuditEvent.objects.count() == events
    call_command("verify_audit")


def test_show_logins_prints_the_table_and_seeds_nothing(
    db: None, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("seed_demo", "--show-logins")
    assert "No demo log-ins here." in capsys.readouterr().out
    call_command("seed_demo")
    capsys.readouterr()
    users = User.objects.count()
    call_command("seed_demo", "--show-logins")
    out = capsys.readouterr().out
    assert User.objects.count() == users
    header = next(line for line in out.splitlines() if "lands on" in line)
    assert header.split() == ["user", "name", "role", "lands", "on", "TOTP", "secret"]
    admin = next(line for line in out.splitlines() if line.split()[:1] == ["admin"])
    assert "/admin/" in admin
    assert any(
        line.split()[1:3] == ["supervisor", "/unit/"] for line in out.splitlines() if line.strip()
    )


def test_demo_admin_logs_in_with_the_printed_secret(db: None) -> None:
    call_command("seed_demo")
    device = SealedTOTPDevice.objects.get(user__username="admin")
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = service_now().timestamp()  # the service's clock
    response = APIClient().post(
        "/api/v1/auth/login",
        {"username": "admin", "password": DEMO_PASSWORD, "otp": f"{totp.token():06d}"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["otp_verified"] is True


def test_admin_site_needs_role_admin_and_a_code(cast: Cast) -> None:
    from django.test import Client

    device = otp_device_new(user=cast.admin, name="phone", confirmed=True)
    browser = Client()
    without_code = browser.post(
        "/admin/login/", {"username": "admin1", "password": PASSWORD, "otp_token": ""}
    )
    assert without_code.status_code == 200  # the form again, with an error
    assert browser.get("/admin/").status_code == 302
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = service_now().timestamp()  # the service's clock
    signed_in = browser.post(
        "/admin/login/",
        {"username": "admin1", "password": PASSWORD, "otp_token": f"{totp.token():06d}"},
    )
    assert signed_in.status_code == 302
    assert browser.get("/admin/").status_code == 200
    assert browser.get("/admin/people/unit/").status_code == 200
    assert browser.get("/admin/exposure/exposurepolicy/").status_code == 200
    # Nobody's sessions or restrictions are in the admin site.
    assert browser.get("/admin/exposure/exposuresession/").status_code == 404
    assert browser.get("/admin/exposure/restriction/").status_code == 404


def test_admin_site_refuses_other_roles(cast: Cast) -> None:
    from django.test import Client

    device = otp_device_new(user=cast.oh1, name="phone", confirmed=True)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = service_now().timestamp()  # the service's clock
    browser = Client()
    browser.post(
        "/admin/login/",
        {"username": "oh.one", "password": PASSWORD, "otp_token": f"{totp.token():06d}"},
    )
    assert browser.get("/admin/").status_code == 302
