"""The whole log-in story: passwords, lock-out, two-factor enrolment, token lifetime."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django_otp.oath import TOTP
from rest_framework.test import APIClient

from tests.conftest import PASSWORD, Cast, client_for, field_errors
from welfare.accounts.models import AuthToken, LoginThrottle, SealedTOTPDevice
from welfare.accounts.services import (
    ACCOUNT_LOCKED,
    INVALID_CREDENTIALS,
    OTP_INVALID,
    OTP_REUSED,
    OTP_THROTTLED,
    otp_device_new,
)
from welfare.audit.models import AuditEvent
from welfare.core.clock import now as service_now
from welfare.core.errors import TWO_FACTOR_REQUIRED

LOGIN = "/api/v1/auth/login"


def code_for(device: SealedTOTPDevice, steps_ahead: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = service_now().timestamp()  # the service's clock + steps_ahead * device.step
    return f"{totp.token():06d}"


def login(username: str, password: str = PASSWORD, otp: str | None = None, **extra: str):
    body = {"username": username, "password": password}
    if otp is not None:
        body["otp"] = otp
    return APIClient().post(LOGIN, body, format="json", **extra)


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def enrol(client: APIClient) -> SealedTOTPDevice:
    response = client.post("/api/v1/auth/otp/devices", {"name": "phone"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["otpauth_url"].startswith("otpauth://totp/")
    assert body["qr_svg"].lstrip().startswith("<svg")
    assert body["confirmed"] is False
    return SealedTOTPDevice.objects.get(pk=body["id"])


def test_officer_logs_in_with_password(cast: Cast) -> None:
    response = login("off.a1")
    assert response.status_code == 200
    body = response.json()
    assert body["role"] == "officer"
    assert body["otp_verified"] is False
    assert body["two_factor_required"] is False
    token = AuthToken.objects.get(user=cast.officer_a1.user)
    assert token.key_hash != body["token"]
    assert len(token.key_hash) == 64
    assert bearer(body["token"]).get("/api/v1/me").json()["username"] == "off.a1"
    assert AuditEvent.objects.filter(
        action="auth.login.succeeded", target_id=str(cast.officer_a1.user.pk)
    ).exists()


def test_wrong_password_and_unknown_user_get_the_same_answer(cast: Cast) -> None:
    wrong_password = login("off.a1", "not the password")
    unknown_user = login("nobody.here", "not the password")
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert (
        wrong_password.json()
        == unknown_user.json()
        == {
            "detail": INVALID_CREDENTIALS,
            "code": "invalid_credentials",
        }
    )
    assert not AuthToken.objects.exists()
    failures = AuditEvent.objects.filter(action="auth.login.failed")
    assert failures.count() == 2


def test_inactive_user_cannot_log_in(cast: Cast) -> None:
    user = cast.officer_a2.user
    user.is_active = False
    user.save()
    response = login("off.a2")
    assert response.status_code == 401
    assert response.json()["detail"] == INVALID_CREDENTIALS


def test_lockout_after_five_failures_and_its_expiry(cast: Cast, clock) -> None:
    for _ in range(settings.LOGIN_MAX_FAILURES - 1):
        assert login("off.a1", "wrong").status_code == 401
    fifth = login("off.a1", "wrong")
    assert fifth.status_code == 401
    assert AuditEvent.objects.filter(action="auth.login.locked").count() == 1

    locked = login("off.a1")  # the right password changes nothing while locked
    assert locked.status_code == 429
    assert locked.json()["detail"] == ACCOUNT_LOCKED
    assert AuditEvent.objects.filter(action="auth.login.refused_locked").count() == 1

    clock.advance(seconds=settings.LOGIN_LOCKOUT_SECONDS - 1)
    assert login("off.a1").status_code == 429
    clock.advance(seconds=1)
    assert login("off.a1").status_code == 200
    assert LoginThrottle.objects.get(username="off.a1").failures == 0


def test_lockout_ignores_addresses_and_forwarded_headers(cast: Cast) -> None:
    for n in range(settings.LOGIN_MAX_FAILURES):
        response = login(
            "off.a1",
            "wrong",
            REMOTE_ADDR=f"10.0.0.{n + 1}",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n + 1}",
        )
        assert response.status_code == 401
    assert (
        login("off.a1", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="198.51.100.1").status_code
        == 429
    )
    # Case changes do not dodge the lock either.
    assert login("OFF.A1", "wrong").status_code == 429


def test_lockout_leaves_other_accounts_alone(cast: Cast) -> None:
    for _ in range(settings.LOGIN_MAX_FAILURES):
        login("off.a1", "wrong")
    assert login("off.a1").status_code == 429
    assert login("off.a2").status_code == 200


def test_unknown_user_names_lock_the_same_way(cast: Cast) -> None:
    for _ in range(settings.LOGIN_MAX_FAILURES):
        assert login("ghost", "wrong").status_code == 401
    assert login("ghost", "wrong").status_code == 429


def test_success_resets_the_failure_count(cast: Cast) -> None:
    for _ in range(settings.LOGIN_MAX_FAILURES - 1):
        login("off.a1", "wrong")
    assert login("off.a1").status_code == 200
    for _ in range(settings.LOGIN_MAX_FAILURES - 1):
        login("off.a1", "wrong")
    assert login("off.a1").status_code == 200


def test_privileged_user_without_device_is_limited_until_enrolled(cast: Cast) -> None:
    response = login("oh.one")
    assert response.status_code == 200
    body = response.json()
    assert body["otp_verified"] is False
    assert body["two_factor_required"] is True
    client = bearer(body["token"])
    me = client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["otp_verified"] is False
    refused = client.get("/api/v1/officers/")
    assert refused.status_code == 403
    assert refused.json() == {"detail": TWO_FACTOR_REQUIRED, "code": "two_factor_required"}

    device = enrol(client)
    confirmed = client.post(
        f"/api/v1/auth/otp/devices/{device.pk}/confirm", {"otp": code_for(device)}, format="json"
    )
    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json()["confirmed"] is True
    # Confirming proves the second factor: this session may now work.
    assert client.get("/api/v1/officers/").status_code == 200
    assert AuditEvent.objects.filter(action="auth.otp.confirmed", actor=cast.oh1).count() == 1


def test_enrolled_user_must_give_a_code(cast: Cast) -> None:
    device = otp_device_new(user=cast.oh1, name="phone", confirmed=True)
    without = login("oh.one")
    assert without.status_code == 401
    assert without.json()["detail"] == INVALID_CREDENTIALS
    wrong = login("oh.one", otp="000000" if code_for(device) != "000000" else "111111")
    assert wrong.status_code == 401
    device.refresh_from_db()
    device.throttling_failure_count = 0
    device.throttling_failure_timestamp = None
    device.save()
    right = login("oh.one", otp=code_for(device))
    assert right.status_code == 200
    assert right.json()["otp_verified"] is True
    assert bearer(right.json()["token"]).get("/api/v1/officers/").status_code == 200


def test_a_code_is_accepted_once(cast: Cast) -> None:
    device = otp_device_new(user=cast.oh1, name="phone", confirmed=True)
    code = code_for(device)
    assert login("oh.one", otp=code).status_code == 200
    replay = login("oh.one", otp=code)
    assert replay.status_code == 401
    # Refused, and said why: the right password with the code just used (signing in twice
    # within 30 seconds), so the person waits for the next code instead of guessing.
    assert replay.json()["detail"] == OTP_REUSED
    assert replay.json()["code"] == "otp_reused"
    assert AuthToken.objects.filter(user=cast.oh1).count() == 1
    assert login("oh.one", password="wrong", otp=code).json()["detail"] == INVALID_CREDENTIALS


def test_confirmation_code_cannot_be_replayed_on_log_in(cast: Cast) -> None:
    client = client_for(cast.oh1, verified=False)
    device = enrol(client)
    code = code_for(device)
    assert (
        client.post(
            f"/api/v1/auth/otp/devices/{device.pk}/confirm", {"otp": code}, format="json"
        ).status_code
        == 200
    )
    assert login("oh.one", otp=code).status_code == 401


def test_wrong_confirmation_codes_are_throttled(cast: Cast) -> None:
    client = client_for(cast.officer_a1.user)
    device = enrol(client)
    right = code_for(device)
    wrong = "000000" if right != "000000" else "111111"
    first = client.post(
        f"/api/v1/auth/otp/devices/{device.pk}/confirm", {"otp": wrong}, format="json"
    )
    assert first.status_code == 400
    assert field_errors(first, code="invalid_otp") == {"otp": [OTP_INVALID]}
    # Straight after a wrong code even the right one is refused for a while.
    second = client.post(
        f"/api/v1/auth/otp/devices/{device.pk}/confirm", {"otp": right}, format="json"
    )
    assert second.status_code == 400
    assert field_errors(second, code="throttled") == {"otp": [OTP_THROTTLED]}
    device.refresh_from_db()
    assert device.confirmed is False
    assert device.throttling_failure_count == 1


def test_second_device_needs_a_verified_session(cast: Cast) -> None:
    otp_device_new(user=cast.officer_a1.user, name="phone", confirmed=True)
    unverified = client_for(cast.officer_a1.user, verified=False)
    refused = unverified.post("/api/v1/auth/otp/devices", {}, format="json")
    assert refused.status_code == 403
    assert SealedTOTPDevice.objects.filter(user=cast.officer_a1.user).count() == 1
    verified = client_for(cast.officer_a1.user, verified=True)
    assert verified.post("/api/v1/auth/otp/devices", {}, format="json").status_code == 201


def test_cannot_confirm_someone_elses_device(cast: Cast) -> None:
    device = enrol(client_for(cast.officer_a1.user))
    other = client_for(cast.officer_a2.user)
    response = other.post(
        f"/api/v1/auth/otp/devices/{device.pk}/confirm", {"otp": code_for(device)}, format="json"
    )
    assert response.status_code == 404
    device.refresh_from_db()
    assert device.confirmed is False


def test_idle_expiry(cast: Cast, clock) -> None:
    token = login("off.a1").json()["token"]
    client = bearer(token)
    clock.advance(seconds=settings.TOKEN_IDLE_SECONDS - 60)
    assert client.get("/api/v1/me").status_code == 200  # activity restarts the idle timer
    clock.advance(seconds=settings.TOKEN_IDLE_SECONDS - 60)
    assert client.get("/api/v1/me").status_code == 200
    clock.advance(seconds=settings.TOKEN_IDLE_SECONDS)
    expired = client.get("/api/v1/me")
    assert expired.status_code == 401
    assert expired["WWW-Authenticate"] == "Bearer"


def test_absolute_expiry_despite_activity(cast: Cast, clock) -> None:
    token = login("off.a1").json()["token"]
    client = bearer(token)
    lifetime = timedelta(seconds=settings.TOKEN_ABSOLUTE_SECONDS)
    step = timedelta(seconds=settings.TOKEN_IDLE_SECONDS // 2)
    elapsed = timedelta(0)
    while elapsed + step < lifetime:
        clock.advance(seconds=step.total_seconds())
        elapsed += step
        assert client.get("/api/v1/me").status_code == 200
    clock.advance(seconds=(lifetime - elapsed).total_seconds())
    assert client.get("/api/v1/me").status_code == 401


def test_logout_revokes_the_token(cast: Cast) -> None:
    token = login("off.a1").json()["token"]
    client = bearer(token)
    assert client.post("/api/v1/auth/logout").status_code == 204
    assert client.get("/api/v1/me").status_code == 401
    assert AuthToken.objects.get(user=cast.officer_a1.user).revoked_reason == "logout"
    assert AuditEvent.objects.filter(action="auth.token.revoked").exists()


def test_deactivation_revokes_every_token(cast: Cast) -> None:
    tokens = [login("off.a1").json()["token"] for _ in range(2)]
    admin = client_for(cast.admin)
    assert admin.delete(f"/api/v1/users/{cast.officer_a1.user.pk}/").status_code == 204
    for token in tokens:
        assert bearer(token).get("/api/v1/me").status_code == 401
    assert AuthToken.objects.filter(user=cast.officer_a1.user, revoked_at__isnull=True).count() == 0
    # Reactivation does not bring the old sessions back.
    assert (
        admin.patch(
            f"/api/v1/users/{cast.officer_a1.user.pk}/", {"is_active": True}, format="json"
        ).status_code
        == 200
    )
    assert bearer(tokens[0]).get("/api/v1/me").status_code == 401


def test_malformed_bearer_headers_are_refused(cast: Cast) -> None:
    for header in ("Bearer", "Bearer a b", "Bearer not-a-token"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=header)
        assert client.get("/api/v1/me").status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "username"),
        ({"username": "off.a1"}, "password"),
        ({"username": "off.a1", "password": PASSWORD, "otp": "12ab56"}, "otp"),
        ({"username": "x" * 151, "password": PASSWORD}, "username"),
    ],
)
def test_login_bad_input(cast: Cast, body: dict, field: str) -> None:
    response = APIClient().post(LOGIN, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not AuthToken.objects.exists()
    assert not LoginThrottle.objects.exists()


def test_password_change_ends_other_sessions(cast: Cast) -> None:
    first = bearer(login("off.a1").json()["token"])
    second = bearer(login("off.a1").json()["token"])
    response = first.post(
        "/api/v1/auth/password",
        {"current_password": PASSWORD, "new_password": "a much longer new passphrase"},
        format="json",
    )
    assert response.status_code == 204
    assert first.get("/api/v1/me").status_code == 200
    assert second.get("/api/v1/me").status_code == 401
    assert login("off.a1", "a much longer new passphrase").status_code == 200


def test_password_change_refuses_wrong_current_and_weak_new(cast: Cast) -> None:
    client = bearer(login("off.a1").json()["token"])
    wrong = client.post(
        "/api/v1/auth/password",
        {"current_password": "nope", "new_password": "a much longer new passphrase"},
        format="json",
    )
    assert wrong.status_code == 400
    assert "current_password" in wrong.json()
    weak = client.post(
        "/api/v1/auth/password",
        {"current_password": PASSWORD, "new_password": "short"},
        format="json",
    )
    assert weak.status_code == 400
    assert "new_password" in weak.json()
    assert login("off.a1").status_code == 200
