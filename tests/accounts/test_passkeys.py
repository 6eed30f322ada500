"""Passkeys as a second factor, without a browser: the rules as a table; PASSKEY_REQUIRED_ROLES
on the API, the web log-in and the admin site; the log-in's passkey step refusing what is
not an assertion (counted, audited, used once, timed out); removal, recovery and reset.
The ceremonies themselves run in Chromium in tests/web/test_passkeys_browser.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django_otp_webauthn.models import WebAuthnAttestation, WebAuthnCredential, WebAuthnUserHandle
from rest_framework.test import APIClient
from webauthn import base64url_to_bytes

from tests.accounts.test_separation_of_duties import first_lead
from tests.conftest import PASSWORD, Cast, client_for, web_client_for
from tests.records.test_retention import _leaver
from tests.web.passkeys import passkey_for
from tests.web.test_enrolment import code
from welfare.accounts.models import LoginThrottle, SealedTOTPDevice
from welfare.accounts.rules import (
    PASSKEY_LAST_FACTOR,
    PASSKEY_LAST_REQUIRED,
    factor_completes,
    passkey_removal_refusal,
    totp_refused,
)
from welfare.accounts.services import (
    CANNOT_RESET_OWN_DEVICES,
    OTP_ENROL_NEEDS_VERIFIED,
    PASSKEY_REQUIRED_ELSEWHERE,
    otp_device_new,
    otp_device_start,
)
from welfare.audit.models import AuditEvent
from welfare.core.errors import PASSKEY_REQUIRED, Forbidden
from welfare.records.retention import retention_sweep


@pytest.fixture
def oh_needs_passkeys(settings) -> None:
    settings.PASSKEY_REQUIRED_ROLES = frozenset({"oh", "admin"})


def fresh_code(user) -> str:
    """A right code never used: from a new device of the user's."""
    device = otp_device_new(user=user, name="another phone", confirmed=True)
    device.refresh_from_db()
    return code(device)


def passkey_session(user, passkey) -> Client:
    """A web session signed in and verified with `passkey`."""
    client = web_client_for(user, verified=False)
    session = client.session
    session["otp_device_id"] = passkey.persistent_id
    session.save()
    return client


# --- The rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "factor", "required", "expected"),
    [
        ("oh", None, set(), False),
        ("oh", "totp", set(), True),
        ("oh", "passkey", set(), True),
        ("oh", "totp", {"oh"}, False),
        ("oh", "passkey", {"oh"}, True),
        ("hr", "totp", {"oh"}, True),
        ("admin", None, {"admin"}, False),
    ],
)
def test_which_factor_completes_the_second_factor(role, factor, required, expected) -> None:
    assert factor_completes(role=role, factor=factor, required_roles=required) is expected


@pytest.mark.parametrize(
    ("role", "required", "has_passkey", "expected"),
    [
        ("oh", {"oh"}, True, True),
        ("oh", {"oh"}, False, False),  # the bridge to a first passkey
        ("oh", set(), True, False),
        ("hr", {"oh"}, True, False),
    ],
)
def test_when_a_right_code_is_refused(role, required, has_passkey, expected) -> None:
    assert totp_refused(role=role, required_roles=required, has_passkey=has_passkey) is expected


@pytest.mark.parametrize(
    ("role", "two_factor", "left", "totp", "required", "expected"),
    [
        ("oh", True, 1, 0, {"oh"}, None),
        ("oh", True, 0, 1, {"oh"}, PASSKEY_LAST_REQUIRED),
        ("hr", True, 0, 0, set(), PASSKEY_LAST_FACTOR),
        ("hr", True, 0, 1, set(), None),
        ("officer", False, 0, 0, set(), None),
    ],
)
def test_which_removals_are_refused(role, two_factor, left, totp, required, expected) -> None:
    refusal = passkey_removal_refusal(
        role=role,
        needs_two_factor=two_factor,
        passkeys_left=left,
        totp_devices=totp,
        required_roles=required,
    )
    assert refusal == expected


def test_required_roles_are_only_roles_that_need_a_second_factor() -> None:
    from backend import settings as project_settings
    from welfare.core.roles import TWO_FACTOR_ROLES

    assert set(TWO_FACTOR_ROLES) == project_settings._PASSKEY_ROLES


# --- Required roles: API, admin site -----------------------------------------------------------


def test_the_api_refuses_a_code_for_a_role_that_needs_a_passkey(
    cast: Cast, oh_needs_passkeys: None
) -> None:
    body = {"username": cast.oh1.username, "password": PASSWORD, "otp": fresh_code(cast.oh1)}
    response = APIClient().post("/api/v1/auth/login", body, format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": PASSKEY_REQUIRED_ELSEWHERE, "code": "passkey_required"}
    # Password and code were right: refused, audited, not counted toward the lock-out.
    assert not LoginThrottle.objects.filter(username=cast.oh1.username, failures__gt=0).exists()
    assert AuditEvent.objects.filter(
        action="auth.login.refused", target_id=str(cast.oh1.pk), detail__reason="passkey_required"
    ).exists()
    other = {"username": cast.hr.username, "password": PASSWORD, "otp": fresh_code(cast.hr)}
    assert APIClient().post("/api/v1/auth/login", other, format="json").json()["otp_verified"]


def test_a_verified_token_of_a_role_that_needs_a_passkey_reaches_nothing(
    cast: Cast, oh_needs_passkeys: None
) -> None:
    token = client_for(cast.oh1, verified=True)
    refused = token.get("/api/v1/oh/role-grants/")
    assert refused.status_code == 403
    assert refused.json() == {"detail": PASSKEY_REQUIRED, "code": "passkey_required"}
    assert token.get("/api/v1/me").status_code == 200
    assert client_for(cast.hr, verified=True).get("/api/v1/me").json()["otp_verified"]


def test_the_admin_site_takes_no_code_where_administrators_need_a_passkey(
    cast: Cast, oh_needs_passkeys: None
) -> None:
    form = {"username": cast.admin.username, "password": PASSWORD}
    page = Client().post("/admin/login/", {**form, "otp_token": fresh_code(cast.admin)})
    assert page.status_code == 200
    assert PASSKEY_REQUIRED_ELSEWHERE in page.content.decode()
    # A session verified with a code (the bridge) opens no admin page either.
    bridged = web_client_for(cast.admin)
    assert bridged.get("/admin/").status_code == 302
    assert bridged.get("/").url == "/admin/"
    assert bridged.get("/admin/").url.startswith("/admin/login/")
    keyed = passkey_session(cast.admin, passkey_for(cast.admin))
    assert keyed.get("/admin/").status_code == 200


# --- A stolen password alone --------------------------------------------------------------------


def test_a_password_alone_enrols_nothing_for_someone_with_a_passkey(cast: Cast) -> None:
    passkey_for(cast.hr)
    api = APIClient().post(
        "/api/v1/auth/login", {"username": cast.hr.username, "password": PASSWORD}, format="json"
    )
    assert api.status_code == 401  # the API takes no passkey: a code or nothing
    with pytest.raises(Forbidden) as refused:
        otp_device_start(user=cast.hr, verified=False, name="thief's phone")
    assert refused.value.message == OTP_ENROL_NEEDS_VERIFIED
    web = Client()
    step = web.post("/login", {"username": cast.hr.username, "password": PASSWORD})
    assert step.url == "/login/passkey"
    assert web.get("/enrol").url == "/login"  # nobody is signed in yet
    assert web.get("/passkeys").url.startswith("/login")
    assert not SealedTOTPDevice.objects.filter(user=cast.hr).exists()


# --- The log-in's passkey step --------------------------------------------------------------


def test_the_passkey_step_refuses_what_is_not_an_assertion(cast: Cast, settings) -> None:
    passkey = passkey_for(cast.hr)
    settings.LOGIN_MAX_FAILURES = 2
    web = Client()
    web.post("/login", {"username": cast.hr.username, "password": PASSWORD})
    begun = web.post("/login/passkey/begin")
    assert begun.status_code == 200
    options = begun.json()
    assert options["rpId"] == settings.OTP_WEBAUTHN_RP_ID
    [allowed] = options["allowCredentials"]  # the user's own passkey, and only it
    assert base64url_to_bytes(allowed["id"]) == bytes(passkey.credential_id)
    forged = {"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}}
    wrong = web.post("/login/passkey/complete", forged, content_type="application/json")
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "passkey_invalid"
    assert AuditEvent.objects.filter(
        action="auth.login.failed", target_id=str(cast.hr.pk), detail__reason="passkey"
    ).exists()
    # The challenge was used: completing again, without beginning, is refused.
    again = web.post("/login/passkey/complete", forged, content_type="application/json")
    assert again.status_code == 400
    web.post("/login/passkey/begin")
    web.post("/login/passkey/complete", forged, content_type="application/json")
    web.post("/login/passkey/begin")
    locked = web.post("/login/passkey/complete", forged, content_type="application/json")
    assert locked.status_code == 429
    assert web.get("/hr/").status_code == 302  # never signed in


def test_the_passkey_step_times_out(cast: Cast, clock) -> None:
    passkey_for(cast.hr)
    clock.set(datetime(2027, 3, 10, 9, tzinfo=UTC))
    web = Client()
    web.post("/login", {"username": cast.hr.username, "password": PASSWORD})
    assert web.get("/login/passkey").status_code == 200
    clock.advance(seconds=django_settings.OTP_WEBAUTHN_TIMEOUT_SECONDS)
    assert web.get("/login/passkey").url == "/login"
    assert web.post("/login/passkey/begin").status_code == 401


# --- Removal, recovery, reset -------------------------------------------------------------------


def test_removing_ones_own_passkeys(cast: Cast, oh_needs_passkeys: None) -> None:
    first, second = passkey_for(cast.oh1, name="Desk key"), passkey_for(cast.oh1, name="Phone")
    web = passkey_session(cast.oh1, second)
    theirs = passkey_for(cast.oh2)
    assert web.post(f"/passkeys/{theirs.pk}/remove").status_code == 404
    assert web.post(f"/passkeys/{first.pk}/remove").url == "/passkeys"
    assert not WebAuthnCredential.objects.filter(pk=first.pk).exists()
    removed = AuditEvent.objects.get(action="otp.passkey_removed")
    assert (removed.actor_id, removed.target_id) == (cast.oh1.pk, str(first.pk))
    # The last passkey of a role that needs one stays.
    refused = web.post(f"/passkeys/{second.pk}/remove", follow=True)
    assert PASSKEY_LAST_REQUIRED in refused.content.decode()
    assert WebAuthnCredential.objects.filter(pk=second.pk).exists()
    assert WebAuthnCredential.objects.filter(pk=theirs.pk).exists()


def test_the_last_factor_of_a_role_that_needs_one_stays(cast: Cast) -> None:
    passkey = passkey_for(cast.hr)
    refused = passkey_session(cast.hr, passkey).post(f"/passkeys/{passkey.pk}/remove", follow=True)
    assert PASSKEY_LAST_FACTOR in refused.content.decode()
    officer = cast.officer_a1.user
    own = passkey_for(officer)
    passkey_session(officer, own).post(f"/passkeys/{own.pk}/remove")
    assert not WebAuthnCredential.objects.filter(pk=own.pk).exists()  # officers need none


def test_removing_the_passkey_a_session_was_verified_with_ends_that_session(cast: Cast) -> None:
    kept, lost = passkey_for(cast.hr), passkey_for(cast.hr)
    elsewhere = passkey_session(cast.hr, lost)
    passkey_session(cast.hr, kept).post(f"/passkeys/{lost.pk}/remove")
    assert elsewhere.get("/hr/").url == "/enrol"
    assert elsewhere.get("/enrol").url == "/login"  # has a factor, not verified: signed out


def test_an_oh_lead_recovers_a_clinicians_passkeys(cast: Cast, oh_needs_passkeys: None) -> None:
    first_lead(cast.oh1)
    passkey_for(cast.oh2)
    response = client_for(cast.oh1).post(f"/api/v1/oh/clinicians/{cast.oh2.pk}/recover")
    # The lead's own token is a code's at most: where clinicians need passkeys, the lead
    # recovers in the web app.
    assert response.status_code == 403
    page = passkey_session(cast.oh1, passkey_for(cast.oh1)).post(
        f"/oh/clinicians/{cast.oh2.pk}/recover"
    )
    assert page.status_code == 200
    assert not WebAuthnCredential.objects.filter(user=cast.oh2).exists()
    event = AuditEvent.objects.get(action="account.recovered")
    assert event.detail == {"devices_removed": 0, "passkeys_removed": 1}


def test_another_admin_resets_passkeys_never_ones_own(cast: Cast) -> None:
    passkey_for(cast.hr)
    admin = client_for(cast.admin)
    assert admin.get(f"/api/v1/users/{cast.hr.pk}/").json()["has_two_factor"] is True
    assert admin.post(f"/api/v1/users/{cast.hr.pk}/otp-reset").status_code == 204
    assert not WebAuthnCredential.objects.filter(user=cast.hr).exists()
    event = AuditEvent.objects.get(action="user.otp_reset")
    assert event.detail == {"devices": 0, "passkeys": 1}
    own = admin.post(f"/api/v1/users/{cast.admin.pk}/otp-reset")
    assert own.status_code == 403
    assert own.json() == {"detail": CANNOT_RESET_OWN_DEVICES, "code": "own_devices"}
    passkey_for(cast.oh1)
    assert admin.post(f"/api/v1/users/{cast.oh1.pk}/otp-reset").status_code == 403
    assert WebAuthnCredential.objects.filter(user=cast.oh1).exists()


def test_retention_removes_an_anonymised_persons_passkeys(cast: Cast) -> None:
    officer = _leaver(cast)
    passkey = passkey_for(officer.user)
    WebAuthnAttestation.objects.create(
        credential=passkey, fmt="none", data=b"\xa0", client_data_json=b"{}"
    )
    WebAuthnUserHandle.get_handle_for_user(officer.user)
    kept = passkey_for(cast.officer_a2.user)

    retention_sweep(at=datetime(2067, 3, 11, tzinfo=UTC))

    assert not WebAuthnCredential.objects.filter(user=officer.user).exists()
    assert not WebAuthnAttestation.objects.filter(credential_id=passkey.pk).exists()
    assert not WebAuthnUserHandle.objects.filter(user=officer.user).exists()
    assert WebAuthnCredential.objects.filter(pk=kept.pk).exists()


def test_after_single_sign_on_the_passkey_step_follows_where_one_is_the_factor(
    cast: Cast, settings
) -> None:
    from welfare.accounts.services import otp_device_new
    from welfare.web.sso import _passkey_next

    settings.PASSKEY_REQUIRED_ROLES = frozenset({"oh"})
    # A role that requires passkeys: always, even when the directory's "mfa" is trusted.
    assert _passkey_next(cast.oh1, directory_mfa=True)
    # A passkey as the only second factor: the passkey step, unless the directory's
    # trusted multi-factor sign-in stands for it.
    passkey_for(cast.supervisor_a)
    assert _passkey_next(cast.supervisor_a, directory_mfa=False)
    assert not _passkey_next(cast.supervisor_a, directory_mfa=True)
    # With an authenticator app too, the code step (which the password log-in also offers).
    otp_device_new(user=cast.supervisor_a, name="phone", confirmed=True)
    assert not _passkey_next(cast.supervisor_a, directory_mfa=False)
    # No passkey: never.
    assert not _passkey_next(cast.supervisor_b, directory_mfa=False)
