"""Single sign-on against a real OpenID provider (django-oauth-toolkit in its own process):
the API's id_token exchange, every refusal changing nothing, the directory's groups and
second factor, password log-in switched off per role, and the pure rules behind them."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta

import pytest
from django_otp.oath import TOTP
from jwcrypto import jwk

from backend.env import ConfigurationError, parse_group_roles
from tests.conftest import PASSWORD, Cast, field_errors, make_user
from tests.oidc_provider.fixtures import (  # noqa: F401 - fixtures
    CLIENT_ID,
    Provider,
    oidc_provider_fixture,
    sso_on_fixture,
)
from welfare.accounts.models import AuthToken, LoginThrottle, SealedTOTPDevice, SsoTokenUse, User
from welfare.accounts.rules import (
    amr_says_mfa,
    authorized_party_refusal,
    id_token_time_refusal,
    role_from_directory,
    subject_of,
)
from welfare.accounts.services import (
    PASSWORD_LOGIN_OFF,
    SSO_CODE_REQUIRED,
    SSO_INACTIVE,
    SSO_NOT_LINKED,
    SSO_REFUSED,
    SSO_TOKEN_USED,
    otp_device_new,
)
from welfare.audit.models import AuditEvent
from welfare.core.clock import now as service_now
from welfare.core.roles import Role

pytestmark = pytest.mark.django_db(transaction=True)

SSO = "/api/v1/auth/sso"


def _now_is_real(clock) -> None:
    # The provider signs with the real time; the service checks on its own clock.
    clock.set(datetime.now(UTC))


def _code(user: User) -> str:
    device = SealedTOTPDevice.objects.get(user=user, confirmed=True)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = service_now().timestamp()  # the service's clock
    return f"{totp.token():06d}"


def _link(user: User, directory_id: str) -> User:
    User.objects.filter(pk=user.pk).update(directory_id=directory_id)
    user.refresh_from_db()
    return user


def _refusals(reason: str) -> int:
    return AuditEvent.objects.filter(action="auth.sso_refused", detail__reason=reason).count()


# --- The pure rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("groups", "current", "superuser", "expected"),
    [
        (["g-sup"], "officer", False, "supervisor"),
        (["g-sup", "g-x"], "hr", False, "supervisor"),  # unmapped groups are ignored
        (["g-sup", "g-hr"], "officer", False, None),  # two roles: an administrator decides
        (["g-sup"], "supervisor", False, None),  # already so
        (["g-sup"], "oh", False, None),  # a clinician is never changed by the directory
        (["g-oh"], "officer", False, None),  # clinical access is never given
        (["g-hr"], "admin", True, None),  # a superuser stays an administrator
        ([], "officer", False, None),
        ("g-sup", "officer", False, "supervisor"),  # a single group as a string
        ({"g-sup": 1}, "officer", False, None),  # not a list
    ],
)
def test_role_from_directory(groups, current, superuser, expected) -> None:
    mapping = {"g-sup": "supervisor", "g-hr": "hr", "g-oh": "oh"}
    found = role_from_directory(
        groups=groups, mapping=mapping, current_role=current, is_superuser=superuser
    )
    assert found == expected


@pytest.mark.parametrize(
    ("exp", "iat", "nbf", "expected"),
    [
        (1000, 900, None, None),
        (1000 - 61, 900, None, "expired"),  # past the 60 s of leeway
        (1000 - 59, 900, None, None),
        (None, 900, None, "expired"),
        ("2000", 900, None, "expired"),
        (2000, 1000 + 61, None, "not_yet_valid"),
        (2000, 900, 1000 + 61, "not_yet_valid"),
        (True, 900, None, "expired"),
    ],
)
def test_id_token_times(exp, iat, nbf, expected) -> None:
    assert id_token_time_refusal(exp=exp, iat=iat, nbf=nbf, now=1000, leeway=60) == expected


def test_claims_read_for_subject_mfa_and_party() -> None:
    assert subject_of({"oid": "abc", "email": "x@example.org"}, "oid") == "abc"
    assert subject_of({"email": "x@example.org"}, "oid") is None
    assert subject_of({"oid": "  "}, "oid") is None
    assert subject_of({"oid": 7}, "oid") is None
    assert amr_says_mfa(["pwd", "mfa"])
    assert amr_says_mfa("mfa")
    assert not amr_says_mfa(["pwd"])
    assert not amr_says_mfa(None)
    assert not authorized_party_refusal(aud="a", azp=None, audiences={"a"})
    assert authorized_party_refusal(aud=["a", "b"], azp=None, audiences={"a"})
    assert authorized_party_refusal(aud="a", azp="other", audiences={"a"})
    assert not authorized_party_refusal(aud=["a", "b"], azp="a", audiences={"a"})


def test_groups_may_never_map_to_clinical_access() -> None:
    assert parse_group_roles('{"g1": "hr"}', "X") == {"g1": "hr"}
    for refused in ('{"g1": "oh"}', '{"g1": "superuser"}', "[1]", "{not json"):
        with pytest.raises(ConfigurationError):
            parse_group_roles(refused, "X")


# --- The API's exchange with a real provider's id_token ----------------------------------------


def test_an_id_token_from_the_directory_gets_the_same_bearer_token(
    api, cast: Cast, clock, sso_on: Provider
) -> None:
    _now_is_real(clock)
    officer = _link(cast.officer_a1.user, "oid-0002-officer")
    nonce = secrets.token_urlsafe(16)
    id_token = sso_on.id_token_for("dir.officer", nonce=nonce)

    answer = api(None).post(SSO, {"id_token": id_token, "nonce": nonce}, format="json")

    assert answer.status_code == 200, answer.content
    body = answer.json()
    password_login = api(None).post(
        "/api/v1/auth/login", {"username": "off.a1", "password": PASSWORD}, format="json"
    )
    assert set(body) == set(password_login.json())
    assert body["role"] == Role.OFFICER
    assert body["otp_verified"] is False
    me = api(None)
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert me.get("/api/v1/me").json()["username"] == "off.a1"
    event = AuditEvent.objects.get(action="auth.sso_login", target_id=officer.pk)
    assert event.detail["channel"] == "api"
    assert id_token not in str(AuditEvent.objects.values_list("detail", flat=True))
    assert User.objects.get(pk=officer.pk).last_login is not None

    # The same id_token a second time (read from a log, say) is refused.
    again = api(None).post(SSO, {"id_token": id_token, "nonce": nonce}, format="json")
    assert again.status_code == 401
    assert again.json() == {"detail": SSO_TOKEN_USED, "code": "sso_token_used"}
    assert AuthToken.objects.filter(user=officer).count() == 2  # the two log-ins above
    assert SsoTokenUse.objects.count() == 1


def _forged(provider: Provider, sub: str, nonce: str) -> str:
    other = jwk.JWK.generate(kty="RSA", size=2048)
    pem = other.export_to_pem(private_key=True, password=None)
    return provider.mint(provider.claims(sub, nonce=nonce), key_pem=pem)


REFUSALS = {
    # what is wrong -> (how the token is made, reason audited, answer's message)
    "forged": (lambda p, n: _forged(p, "oid-0002-officer", n), "signature", SSO_REFUSED),
    "wrong nonce": (
        lambda p, n: p.mint(p.claims("oid-0002-officer", nonce="another")),
        "nonce",
        SSO_REFUSED,
    ),
    "wrong issuer": (
        lambda p, n: p.mint(p.claims("oid-0002-officer", nonce=n, iss="https://evil.example/o")),
        "issuer",
        SSO_REFUSED,
    ),
    "wrong audience": (
        lambda p, n: p.mint(p.claims("oid-0002-officer", nonce=n, aud="another-client")),
        "audience",
        SSO_REFUSED,
    ),
    "expired": (
        lambda p, n: p.mint(
            p.claims("oid-0002-officer", nonce=n, exp=int(time.time()) - 120, iat=0)
        ),
        "expired",
        SSO_REFUSED,
    ),
    "unknown subject": (
        lambda p, n: p.mint(p.claims("oid-0009-not-linked", nonce=n)),
        "unknown_subject",
        SSO_NOT_LINKED,
    ),
    "deactivated": (
        lambda p, n: p.mint(p.claims("oid-0005-gone", nonce=n)),
        "inactive",
        SSO_INACTIVE,
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_bad_id_token_is_refused_and_changes_nothing(
    case: str, api, cast: Cast, clock, sso_on: Provider
) -> None:
    _now_is_real(clock)
    _link(cast.officer_a1.user, "oid-0002-officer")
    gone = _link(make_user("gone.one", Role.OFFICER), "oid-0005-gone")
    User.objects.filter(pk=gone.pk).update(is_active=False)
    make, reason, message = REFUSALS[case]
    nonce = secrets.token_urlsafe(16)
    before = (
        AuthToken.objects.count(),
        list(User.objects.order_by("pk").values_list("pk", "role", "is_active", "last_login")),
        LoginThrottle.objects.filter(failures__gt=0).count(),
    )

    answer = api(None).post(SSO, {"id_token": make(sso_on, nonce), "nonce": nonce}, format="json")

    assert answer.status_code == 401, answer.content
    assert answer.json()["detail"] == message
    assert _refusals(reason) == 1
    after = (
        AuthToken.objects.count(),
        list(User.objects.order_by("pk").values_list("pk", "role", "is_active", "last_login")),
        LoginThrottle.objects.filter(failures__gt=0).count(),
    )
    assert after == before
    assert not SsoTokenUse.objects.exists()
    assert not AuditEvent.objects.filter(action="auth.sso_login").exists()


def test_a_real_token_for_a_person_not_linked_is_refused(
    api, cast: Cast, clock, sso_on: Provider
) -> None:
    _now_is_real(clock)
    nonce = secrets.token_urlsafe(16)
    id_token = sso_on.id_token_for("dir.stranger", nonce=nonce)
    answer = api(None).post(SSO, {"id_token": id_token, "nonce": nonce}, format="json")
    assert answer.status_code == 401
    assert answer.json() == {"detail": SSO_NOT_LINKED, "code": "sso_not_linked"}
    assert not AuthToken.objects.exists()
    refused = AuditEvent.objects.get(action="auth.sso_refused")
    assert refused.detail["reason"] == "unknown_subject"


def test_the_provider_insists_on_pkce(sso_on: Provider) -> None:
    answer = sso_on.code_flow("dir.officer", nonce="n", pkce=False)
    assert answer.status_code == 302
    assert "error=invalid_request" in answer.headers["Location"]
    assert "code" not in answer.headers["Location"].split("?", 1)[1].split("&")[0]


def test_a_locked_account_is_refused(api, cast: Cast, clock, sso_on: Provider) -> None:
    _now_is_real(clock)
    officer = _link(cast.officer_a1.user, "oid-0002-officer")
    for _ in range(5):
        api(None).post(
            "/api/v1/auth/login", {"username": "off.a1", "password": "wrong"}, format="json"
        )
    nonce = "n-locked"
    token = sso_on.mint(sso_on.claims("oid-0002-officer", nonce=nonce))
    answer = api(None).post(SSO, {"id_token": token, "nonce": nonce}, format="json")
    assert answer.status_code == 429
    assert not AuthToken.objects.filter(user=officer).exists()
    assert _refusals("locked") == 1


def test_a_second_factor_is_still_owed_unless_the_directory_mfa_is_trusted(
    api, cast: Cast, clock, sso_on: Provider, settings
) -> None:
    _now_is_real(clock)
    supervisor = _link(cast.supervisor_a, "oid-0001-supervisor")
    otp_device_new(user=supervisor, name="phone", confirmed=True)

    def exchange(otp: str | None = None, **claims) -> dict:
        nonce = secrets.token_urlsafe(8)
        body = {"id_token": sso_on.mint(sso_on.claims(supervisor.directory_id, nonce=nonce,
                                                      **claims)), "nonce": nonce}  # fmt: skip
        if otp is not None:
            body["otp"] = otp
        answer = api(None).post(SSO, body, format="json")
        return {"status": answer.status_code, **answer.json()}

    assert exchange() == {"status": 401, "detail": SSO_CODE_REQUIRED, "code": "otp_required"}
    assert exchange(amr=["pwd", "mfa"])["code"] == "otp_required"  # not trusted by default
    verified = exchange(_code(supervisor))
    assert verified["status"] == 200
    assert verified["otp_verified"] is True
    # A wrong code counts toward the account's lock-out, as at the password log-in.
    assert exchange("000000")["code"] == "invalid_credentials"
    assert LoginThrottle.objects.get(username="sup.a").failures == 1

    settings.OIDC_TRUST_IDP_MFA = True
    trusted = exchange(amr=["pwd", "mfa"])
    assert trusted["status"] == 200
    assert trusted["otp_verified"] is True
    assert exchange(amr=["pwd"])["code"] == "otp_required"
    login = AuditEvent.objects.filter(action="auth.sso_login").order_by("-pk").first()
    assert login is not None
    assert login.detail["second_factor"] == "directory"


def test_directory_groups_change_a_role_through_the_accounts_service(
    api, cast: Cast, clock, sso_on: Provider, settings
) -> None:
    _now_is_real(clock)
    settings.OIDC_ROLE_CLAIM = "groups"
    settings.OIDC_GROUP_ROLES = {"grp-supervisors": "supervisor", "grp-admins": "admin"}
    hr = _link(cast.hr, "oid-0004-hr")
    nonce = secrets.token_urlsafe(8)
    id_token = sso_on.id_token_for("dir.hr", nonce=nonce)  # groups: grp-supervisors

    answer = api(None).post(SSO, {"id_token": id_token, "nonce": nonce}, format="json")

    assert answer.status_code == 200, answer.content
    assert answer.json()["role"] == Role.SUPERVISOR
    hr.refresh_from_db()
    assert hr.role == Role.SUPERVISOR
    assert not hr.is_superuser
    changed = AuditEvent.objects.get(action="auth.sso_role_changed")
    assert changed.detail == {"from": "hr", "to": "supervisor", "channel": "api"}
    assert AuditEvent.objects.filter(action="user.updated", target_id=hr.pk).exists()


def test_directory_groups_never_touch_a_clinician_and_the_service_may_refuse(
    api, cast: Cast, clock, sso_on: Provider, settings
) -> None:
    _now_is_real(clock)
    settings.OIDC_ROLE_CLAIM = "groups"
    settings.OIDC_GROUP_ROLES = {"grp-hr": "hr"}
    clinician = _link(cast.oh1, "oid-oh")
    supervisor = _link(cast.supervisor_a, "oid-supervisor")
    officer = _link(cast.officer_a1.user, "oid-officer")
    for user in (clinician, supervisor, officer):
        nonce = secrets.token_urlsafe(8)
        claims = sso_on.claims(user.directory_id, nonce=nonce, groups=["grp-hr"])
        body = {"id_token": sso_on.mint(claims), "nonce": nonce}
        if user.role in (Role.OH, Role.SUPERVISOR):
            otp_device_new(user=user, name="phone", confirmed=True)
            body["otp"] = _code(user)
        answer = api(None).post(SSO, body, format="json")
        assert answer.status_code == 200, answer.content
    for user in (clinician, supervisor, officer):
        user.refresh_from_db()
    assert clinician.role == Role.OH  # never taken away by the directory
    assert supervisor.role == Role.SUPERVISOR  # supervises a unit: the service refuses
    kept = AuditEvent.objects.get(action="auth.sso_role_kept")
    assert kept.target_id == str(supervisor.pk)
    assert kept.detail["directory_role"] == "hr"
    # An officer given another role keeps their officer record (one person, two hats).
    assert officer.role == Role.HR
    assert officer.officer == cast.officer_a1
    changed = AuditEvent.objects.get(action="auth.sso_role_changed")
    assert changed.target_id == str(officer.pk)


def test_sso_is_not_there_unless_configured(api, cast: Cast) -> None:
    answer = api(None).post(SSO, {"id_token": "x", "nonce": "y"}, format="json")
    assert answer.status_code == 404
    assert answer.json()["code"] == "sso_not_configured"


def test_a_provider_that_names_another_issuer_is_not_used(
    api, cast: Cast, clock, sso_on: Provider, settings
) -> None:
    _now_is_real(clock)
    settings.OIDC_ISSUER = sso_on.issuer.replace("127.0.0.1", "localhost")
    nonce = "n"
    token = sso_on.mint(sso_on.claims("oid-0002-officer", nonce=nonce))
    answer = api(None).post(SSO, {"id_token": token, "nonce": nonce}, format="json")
    assert answer.status_code == 503
    assert _refusals("provider_unavailable") == 1


def test_bad_input_is_a_field_error(api, cast: Cast, sso_on: Provider) -> None:
    answer = api(None).post(SSO, {"id_token": "", "otp": "12"}, format="json")
    assert answer.status_code == 400
    errors = field_errors(answer, code=None)
    assert set(errors) == {"id_token", "nonce", "otp"}
    assert not AuditEvent.objects.filter(action__startswith="auth.sso").exists()


# --- Password log-in switched off per role ----------------------------------------------------


def test_password_login_can_be_switched_off_for_a_role(api, cast: Cast, settings) -> None:
    settings.PASSWORD_LOGIN_ROLES = frozenset({Role.ADMIN})
    refused = api(None).post(
        "/api/v1/auth/login", {"username": "off.a1", "password": PASSWORD}, format="json"
    )
    assert refused.status_code == 401
    assert refused.json() == {"detail": PASSWORD_LOGIN_OFF, "code": "password_login_off"}
    assert not AuthToken.objects.filter(user=cast.officer_a1.user).exists()
    assert LoginThrottle.objects.get(username="off.a1").failures == 0
    # A wrong password says nothing of the kind, and counts.
    wrong = api(None).post(
        "/api/v1/auth/login", {"username": "off.a1", "password": "nope"}, format="json"
    )
    assert wrong.json()["code"] == "invalid_credentials"
    assert LoginThrottle.objects.get(username="off.a1").failures == 1
    # Break-glass: the administrator still signs in with a password.
    admin = api(None).post(
        "/api/v1/auth/login", {"username": "admin1", "password": PASSWORD}, format="json"
    )
    assert admin.status_code == 200


def test_the_web_log_in_says_to_use_single_sign_on(cast: Cast, settings, sso_on) -> None:
    from django.test import Client

    settings.PASSWORD_LOGIN_ROLES = frozenset({Role.ADMIN})
    client = Client()
    page = client.get("/login")
    assert b"Sign in with Test directory" in page.content
    refused = client.post("/login", {"username": "off.a1", "password": PASSWORD})
    assert refused.status_code == 401
    assert PASSWORD_LOGIN_OFF.encode() in refused.content.replace(b"&quot;", b'"')
    assert "_auth_user_id" not in client.session


def test_the_log_in_page_has_no_sso_button_unless_configured(cast: Cast) -> None:
    from django.test import Client

    assert b"sso-start" not in Client().get("/login").content


def test_the_web_sign_in_starts_with_pkce_and_a_nonce(cast: Cast, sso_on: Provider) -> None:
    from django.test import Client

    answer = Client().get("/login/sso?next=/unit/")
    assert answer.status_code == 302
    location = answer["Location"]
    assert location.startswith(f"{sso_on.issuer}/authorize/")
    for part in ("code_challenge_method=S256", "code_challenge=", "nonce=", "state="):
        assert part in location
    assert f"client_id={CLIENT_ID}" in location


def test_a_forged_callback_opens_no_session(cast: Cast, sso_on: Provider) -> None:
    from django.test import Client

    client = Client()
    answer = client.get("/login/sso/callback?code=stolen&state=never-issued")
    assert answer.status_code == 302
    assert answer["Location"] == "/login"
    assert "_auth_user_id" not in client.session
    assert _refusals("state") == 1


def test_the_code_step_is_only_after_the_directory(cast: Cast) -> None:
    from django.test import Client

    answer = Client().post("/login/code", {"otp": "123456"})
    assert answer.status_code == 302
    assert answer["Location"] == "/login"


def test_signing_in_at_the_directory_then_waiting_too_long(cast: Cast, clock, settings) -> None:
    from django.test import Client

    from welfare.web.sso import SSO_PENDING

    client = Client()
    session = client.session
    session[SSO_PENDING] = {"user": cast.supervisor_a.pk, "at": clock.now().timestamp()}
    session.save()
    clock.advance(seconds=settings.OIDC_CODE_STEP_SECONDS + 1)
    answer = client.post("/login/code", {"otp": "123456"})
    assert answer.status_code == 302
    assert answer["Location"] == "/login"
    assert SSO_PENDING not in client.session
    assert "_auth_user_id" not in client.session


def test_discovery_is_fetched_once(cast: Cast, sso_on: Provider) -> None:
    from welfare.accounts import sso

    first = sso.discovery()
    assert first["issuer"] == sso_on.issuer
    assert sso.discovery() is first
    assert sso.oidc_setting("OIDC_OP_JWKS_ENDPOINT") == first["jwks_uri"]


def test_used_id_tokens_expire_with_the_token(api, cast: Cast, clock, sso_on: Provider) -> None:
    _now_is_real(clock)
    _link(cast.officer_a1.user, "oid-0002-officer")
    nonce = "n"
    claims = sso_on.claims("oid-0002-officer", nonce=nonce)
    answer = api(None).post(SSO, {"id_token": sso_on.mint(claims), "nonce": nonce}, format="json")
    assert answer.status_code == 200
    used = SsoTokenUse.objects.get()
    assert used.expires_at == datetime.fromtimestamp(claims["exp"], tz=UTC)
    assert used.expires_at - used.used_at <= timedelta(seconds=301)
