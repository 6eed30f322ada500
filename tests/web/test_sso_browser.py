"""Single sign-on end to end in Chromium, against a real OpenID provider in its own process
(tests/oidc_provider): the button on the log-in page, the directory's sign-in and consent,
the service's own code where the role needs it, and the role's page. The pages met on the
way are checked by axe like every other page. Skipped, with the reason, without Chromium."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import Cast
from tests.oidc_provider.fixtures import (  # noqa: F401 - fixtures
    DIRECTORY_PASSWORD,
    Provider,
    oidc_provider_fixture,
    sso_on_fixture,
)
from tests.web.test_accessibility import assert_none, audit, axe  # noqa: F401
from tests.web.test_browser import chromium, page, totp  # noqa: F401
from welfare.accounts.models import User
from welfare.accounts.services import SSO_NOT_LINKED
from welfare.audit.models import AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)


def _link(user: User, directory_id: str) -> None:
    User.objects.filter(pk=user.pk).update(directory_id=directory_id)


def _through_the_directory(page, base: str, username: str) -> None:  # noqa: F811
    page.goto(f"{base}/login")
    with page.expect_navigation():
        page.get_by_role("link", name="Sign in with Test directory").click()
    page.get_by_label("Directory user name").fill(username)
    page.get_by_label("Directory password").fill(DIRECTORY_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in to the directory").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Authorize").click()
    page.wait_for_load_state()


def test_a_supervisor_signs_in_through_the_directory_and_enters_the_code(
    page,  # noqa: F811
    axe,  # noqa: F811
    live_server,
    cast: Cast,
    clock,
    sso_on: Provider,
) -> None:
    clock.set(datetime.now(UTC))  # the provider's tokens carry the real time
    _link(cast.supervisor_a, "oid-0001-supervisor")
    code = totp(cast.supervisor_a)  # gives the supervisor a confirmed device
    page.goto(f"{live_server.url}/login")
    found = audit(page, axe, "/login (with single sign-on)")

    _through_the_directory(page, live_server.url, "dir.supervisor")

    assert page.url == f"{live_server.url}/login/code"
    found += audit(page, axe, "/login/code")
    page.get_by_label("Code from your authenticator app").fill(code)
    with page.expect_navigation():
        page.get_by_role("button", name="Continue").click()
    assert page.url == f"{live_server.url}/unit/"
    assert_none(found)
    login = AuditEvent.objects.get(action="auth.sso_login")
    assert login.detail == {"channel": "web", "otp_verified": True, "second_factor": "code"}
    assert login.target_id == str(cast.supervisor_a.pk)


def test_an_officer_without_a_device_lands_on_their_page(
    page,  # noqa: F811
    live_server,
    cast: Cast,
    clock,
    sso_on: Provider,
) -> None:
    clock.set(datetime.now(UTC))
    _link(cast.officer_a1.user, "oid-0002-officer")
    _through_the_directory(page, live_server.url, "dir.officer")
    assert page.url == f"{live_server.url}/me/"
    assert AuditEvent.objects.filter(action="auth.sso_login").count() == 1


def test_a_person_the_service_does_not_know_is_told_so_and_not_signed_in(
    page,  # noqa: F811
    live_server,
    cast: Cast,
    clock,
    sso_on: Provider,
) -> None:
    clock.set(datetime.now(UTC))
    _through_the_directory(page, live_server.url, "dir.stranger")
    assert page.url == f"{live_server.url}/login"
    assert SSO_NOT_LINKED in page.locator(".messages").inner_text()
    page.goto(f"{live_server.url}/me/")
    assert page.url.startswith(f"{live_server.url}/login")
    refused = AuditEvent.objects.get(action="auth.sso_refused")
    assert refused.detail == {"reason": "unknown_subject", "channel": "web"}


def test_the_directorys_mfa_stands_for_the_code_only_while_trusted(
    page,  # noqa: F811
    live_server,
    cast: Cast,
    clock,
    sso_on: Provider,
    settings,
) -> None:
    clock.set(datetime.now(UTC))
    settings.OIDC_TRUST_IDP_MFA = True
    _link(cast.supervisor_b, "oid-0003-mfa")  # the directory says amr: pwd, mfa
    totp(cast.supervisor_b)  # a device of this service too: not asked for

    _through_the_directory(page, live_server.url, "dir.mfa")

    assert page.url == f"{live_server.url}/unit/"
    login = AuditEvent.objects.get(action="auth.sso_login")
    assert login.detail["second_factor"] == "directory"
    # Trust withdrawn: the open session no longer counts as verified.
    settings.OIDC_TRUST_IDP_MFA = False
    page.goto(f"{live_server.url}/unit/")
    assert page.url.startswith(f"{live_server.url}/login")
