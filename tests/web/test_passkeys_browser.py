"""Passkeys in a real browser: Chromium's virtual authenticator (DevTools' WebAuthn domain)
stands in for a security key or a phone, against the live server. The relying party is
`localhost`, the host the browser uses (a secure context over plain http)."""

from __future__ import annotations

import re

import pytest
from django_otp_webauthn.models import WebAuthnCredential

from tests.accounts.test_separation_of_duties import first_lead
from tests.conftest import PASSWORD, Cast
from tests.web.passkeys import passkey_for
from tests.web.test_accessibility import assert_none, audit, axe  # noqa: F401
from tests.web.test_browser import chromium, sign_in  # noqa: F401
from tests.web.test_enrolment import code
from welfare.accounts.models import SealedTOTPDevice
from welfare.accounts.rules import PASSKEY_REQUIRED_FOR_ROLE
from welfare.accounts.services import otp_device_new
from welfare.audit.models import AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def relying_party(settings, live_server) -> str:
    base = live_server.url.replace("127.0.0.1", "localhost")
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [base]
    return base


def tab_with_authenticator(chromium):  # noqa: F811
    """A tab with a virtual authenticator (a platform passkey that verifies its user)."""
    context = chromium.new_context(viewport={"width": 1100, "height": 900})
    tab = context.new_page()
    cdp = context.new_cdp_session(tab)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    return context, tab


@pytest.fixture
def key_page(chromium):  # noqa: F811
    context, tab = tab_with_authenticator(chromium)
    yield tab
    context.close()


def add_passkey(page, base: str) -> None:
    page.goto(f"{base}/passkeys")
    with page.expect_navigation():
        page.get_by_role("button", name="Add a passkey").click()
    assert "Your passkey is added" in page.locator(".messages").inner_text()


def sign_out(page) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()


def sign_in_with_passkey(page, base: str, user) -> None:
    sign_in(page, base, user, otp=False)
    assert page.url == f"{base}/login/passkey", page.url
    with page.expect_navigation():
        page.get_by_role("button", name="Use my passkey").click()


def test_a_supervisor_adds_a_passkey_and_signs_in_with_it(
    key_page, relying_party: str, cast: Cast
) -> None:
    page, base, user = key_page, relying_party, cast.supervisor_a
    sign_in(page, base, user)
    add_passkey(page, base)
    [passkey] = WebAuthnCredential.objects.filter(user=user)
    assert page.locator("table").inner_text().count(passkey.name) >= 1
    added = AuditEvent.objects.get(action="otp.passkey_added")
    assert (added.actor_id, added.target_id) == (user.pk, str(passkey.pk))
    assert added.detail == {"verified_with": "totp"}

    sign_out(page)
    sign_in_with_passkey(page, base, user)
    assert page.url == f"{base}/unit/"
    passkey.refresh_from_db()
    assert passkey.last_used_at is not None
    logins = AuditEvent.objects.filter(action="auth.login.succeeded", actor_id=user.pk)
    signed_in = logins.order_by("pk").last()
    assert signed_in is not None
    assert signed_in.detail == {"otp_verified": True, "factor": "passkey"}


def test_a_wrong_password_never_reaches_the_passkey(
    key_page, relying_party: str, cast: Cast
) -> None:
    page, base, user = key_page, relying_party, cast.hr
    sign_in(page, base, user)
    add_passkey(page, base)
    sign_out(page)
    page.goto(f"{base}/login")
    page.get_by_label("User name").fill(user.username)
    page.get_by_label("Password").fill("not the password")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert page.url == f"{base}/login"
    page.goto(f"{base}/login/passkey")
    assert page.url == f"{base}/login"  # no second step without the first
    assert page.goto(f"{base}/hr/") is not None
    assert "/login" in page.url


def test_where_clinicians_need_a_passkey_a_code_is_only_the_bridge_to_one(
    key_page, relying_party: str, cast: Cast, settings
) -> None:
    settings.PASSKEY_REQUIRED_ROLES = frozenset({"oh"})
    page, base, user = key_page, relying_party, cast.oh1
    sign_in(page, base, user)  # with the code: the bridge
    assert page.url == f"{base}/passkeys"
    assert page.locator("#passkey-needed").is_visible()
    page.goto(f"{base}/oh/cases/")
    assert page.url == f"{base}/passkeys"  # nothing clinical with a code alone
    add_passkey(page, base)
    page.goto(f"{base}/oh/cases/")
    assert page.url == f"{base}/oh/cases/"

    sign_out(page)
    page.goto(f"{base}/login")
    page.get_by_label("User name").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    other_phone = otp_device_new(user=user, name="other phone", confirmed=True)
    other_phone.refresh_from_db()
    page.get_by_label("Code from your authenticator app").fill(code(other_phone))  # right
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert page.url == f"{base}/login"
    assert PASSKEY_REQUIRED_FOR_ROLE in page.locator("#login-error").inner_text()
    assert AuditEvent.objects.filter(
        action="auth.login.refused", target_id=str(user.pk), detail__reason="passkey_required"
    ).exists()

    sign_in_with_passkey(page, base, user)
    assert page.url == f"{base}/oh/"


def test_removing_a_passkey_and_the_last_one_of_a_required_role(
    key_page, relying_party: str, cast: Cast, settings
) -> None:
    settings.PASSKEY_REQUIRED_ROLES = frozenset({"oh"})
    page, base, user = key_page, relying_party, cast.oh1
    sign_in(page, base, user)
    add_passkey(page, base)
    [only] = WebAuthnCredential.objects.filter(user=user)
    with page.expect_navigation():
        page.get_by_role("button", name=f"Remove {only.name}").click()
    assert "add another before removing it" in page.locator(".messages").inner_text()
    assert WebAuthnCredential.objects.filter(pk=only.pk).exists()
    assert not AuditEvent.objects.filter(action="otp.passkey_removed").exists()

    page.get_by_label(f"New name for {only.name}").fill("Desk key")
    with page.expect_navigation():
        page.get_by_role("button", name=f"Rename {only.name}").click()
    only.refresh_from_db()
    assert only.name == "Desk key"


def test_the_passkey_pages_pass_axe(
    key_page,
    relying_party: str,
    cast: Cast,
    axe,  # noqa: F811
) -> None:
    page, base, user = key_page, relying_party, cast.supervisor_a
    sign_in(page, base, user)
    add_passkey(page, base)
    page.get_by_role("button", name="Add a passkey").wait_for()
    found = audit(page, axe, "/passkeys (with a passkey)")
    sign_out(page)
    sign_in(page, base, user, otp=False)
    page.get_by_role("button", name="Use my passkey").wait_for()
    found += audit(page, axe, "/login/passkey")
    assert_none(found)


def test_an_oh_lead_recovers_a_clinician_who_lost_their_passkey(
    chromium,  # noqa: F811
    key_page,
    relying_party: str,
    cast: Cast,
    settings,
) -> None:
    settings.PASSKEY_REQUIRED_ROLES = frozenset({"oh"})
    first_lead(cast.oh1)
    lost = passkey_for(cast.oh2, name="Lost key")
    lead, base = key_page, relying_party
    sign_in(lead, base, cast.oh1)  # a code: the bridge to the lead's own first passkey
    add_passkey(lead, base)
    lead.goto(f"{base}/oh/clinicians")
    with lead.expect_navigation():
        lead.get_by_role(
            "button", name=re.compile(f"Recover the account of {cast.oh2.username}")
        ).click()
    temporary = lead.locator("#temporary-password").input_value()
    assert not WebAuthnCredential.objects.filter(pk=lost.pk).exists()
    recovered = AuditEvent.objects.get(action="account.recovered")
    assert recovered.detail == {"devices_removed": 0, "passkeys_removed": 1}

    context, page = tab_with_authenticator(chromium)
    page.goto(f"{base}/login")
    page.get_by_label("User name").fill(cast.oh2.username)
    page.get_by_label("Password").fill(temporary)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert page.url == f"{base}/enrol"
    page.get_by_role("button", name="Show my set-up code").click()
    page.wait_for_load_state()
    device = SealedTOTPDevice.objects.get(user=cast.oh2, confirmed=False)
    page.get_by_label("Code from the app").fill(code(device))
    with page.expect_navigation():
        page.get_by_role("button", name="Confirm").click()
    assert page.url == f"{base}/passkeys"  # a code is only the bridge for a clinician
    add_passkey(page, base)
    page.goto(f"{base}/oh/")
    assert page.url == f"{base}/password"  # then their own password
    assert WebAuthnCredential.objects.filter(user=cast.oh2).count() == 1
    context.close()
