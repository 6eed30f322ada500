"""Separation of duties: an administrator cannot make themself, or anyone, a clinician, nor
take over a clinician's account. Each attack below is written as it would be tried, and
fails: clinical access and the OH-lead flag come only with an OH lead's approval (not the
proposer's, not the subject's); a clinician's credentials are reset only by an OH lead."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from tests.accounts.test_api_login import code_for
from tests.conftest import PASSWORD, Cast, client_for, make_user, run_together, web_client_for
from welfare.accounts.models import (
    AuthToken,
    GrantKind,
    GrantState,
    RoleGrant,
    SealedTOTPDevice,
    User,
)
from welfare.accounts.rules import (
    CLINICIAN_CREDENTIALS_BY_LEAD,
    NOT_ABOUT_YOURSELF,
    NOT_YOUR_OWN_PROPOSAL,
    NOT_YOUR_OWN_RECOVERY,
    ONLY_A_LEAD_DECIDES,
    ONLY_A_LEAD_RECOVERS,
)
from welfare.accounts.services import (
    GRANT_CONTRADICTED,
    otp_device_new,
    role_grant_approve,
    role_grant_propose,
    user_update,
)
from welfare.audit.models import AuditEvent
from welfare.core.errors import PASSWORD_CHANGE_REQUIRED, Forbidden
from welfare.core.roles import Role

NEW_PASSWORD = "my own long pass phrase 7"
CASES = "/api/v1/oh/cases/"


def first_lead(user: User) -> None:
    call_command("oh_lead", user.username, stdout=io.StringIO())


def fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)


def pending_oh(user: User) -> RoleGrant:
    return RoleGrant.objects.get(user=user, kind=GrantKind.OH, state=GrantState.PENDING)


def actions_about(user: User) -> list[str]:
    return list(
        AuditEvent.objects.filter(target_type="user", target_id=str(user.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )


def no_event_holds(secret: str) -> bool:
    return not any(
        secret in json.dumps(detail)
        for detail in AuditEvent.objects.values_list("detail", flat=True)
    )


def approve(lead: User, grant: RoleGrant) -> dict:
    response = client_for(lead).post(f"/api/v1/oh/role-grants/{grant.pk}/approve")
    assert response.status_code == 200, response.content
    return response.json()


# --- Attack: an admin creates a clinician account for themself -------------------------------


def test_an_admin_made_clinician_account_opens_only_when_a_lead_approves(cast: Cast) -> None:
    first_lead(cast.oh1)
    admin = client_for(cast.admin)
    refused = admin.post(
        "/api/v1/users/",
        {"username": "new.oh", "role": Role.OH, "password": "a long enough passphrase"},
        format="json",
    )
    assert refused.status_code == 403
    assert refused.json()["detail"] == CLINICIAN_CREDENTIALS_BY_LEAD
    assert not User.objects.filter(username="new.oh").exists()

    response = admin.post("/api/v1/users/", {"username": "new.oh", "role": Role.OH}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["role"], body["is_active"], body["awaiting_oh_approval"]) == (Role.OH, False, True)
    user = User.objects.get(username="new.oh")
    assert not user.has_usable_password()
    assert client_for(user).get(CASES).status_code == 401  # inactive: no token works

    # Reactivating it is another proposal (the pending one), not access.
    again = admin.patch(f"/api/v1/users/{user.pk}/", {"is_active": True}, format="json")
    assert again.status_code == 200
    assert (again.json()["is_active"], again.json()["awaiting_oh_approval"]) == (False, True)
    # Nor can the admin give it a password they would know.
    password = admin.patch(
        f"/api/v1/users/{user.pk}/", {"password": "a long enough passphrase"}, format="json"
    )
    assert password.status_code == 403
    assert not fresh(user).has_usable_password()
    assert RoleGrant.objects.filter(user=user).count() == 1

    decision = approve(cast.oh1, pending_oh(user))
    temporary = decision["temporary_password"]
    assert decision["state"] == GrantState.APPROVED
    user = fresh(user)
    assert (user.role, user.is_active, user.password_must_change) == (Role.OH, True, True)
    assert user.check_password(temporary)
    assert no_event_holds(temporary)
    assert [a for a in actions_about(user) if not a.startswith("auth.")] == [
        "user.created",
        "role.grant_proposed",
        "role.granted",
    ]


def test_the_django_admin_site_cannot_open_a_clinician_account(cast: Cast) -> None:
    first_lead(cast.oh1)
    site = web_client_for(cast.admin)
    response = site.post(
        "/admin/accounts/user/add/",
        {
            "username": "site.oh",
            "role": Role.OH,
            "email": "",
            "is_active": "on",
            "new_password": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(username="site.oh")
    assert (user.is_active, user.has_usable_password()) == (False, False)
    page = site.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()
    assert "Awaiting OH lead approval" in page
    assert 'name="new_password"' not in page


# --- Attack: an admin turns an existing account into a clinician's ------------------------------


def test_changing_someone_to_clinician_changes_nothing_until_a_lead_approves(cast: Cast) -> None:
    first_lead(cast.oh1)
    hr_client = client_for(cast.hr)
    admin = client_for(cast.admin)
    for _ in range(2):  # a retry proposes nothing more
        response = admin.patch(f"/api/v1/users/{cast.hr.pk}/", {"role": Role.OH}, format="json")
        assert response.status_code == 200, response.content
        assert (response.json()["role"], response.json()["awaiting_oh_approval"]) == (Role.HR, True)
    assert fresh(cast.hr).role == Role.HR
    assert hr_client.get(CASES).status_code == 403
    assert actions_about(cast.hr).count("role.grant_proposed") == 1

    approve(cast.oh1, pending_oh(cast.hr))
    assert fresh(cast.hr).role == Role.OH
    assert hr_client.get("/api/v1/me").status_code == 401  # sessions of the old role end
    assert not AuthToken.objects.filter(user=cast.hr, revoked_at__isnull=True).exists()
    # The password the admin may have set for the analyst no longer opens the account.
    assert not fresh(cast.hr).check_password(PASSWORD)


def test_reopening_a_deactivated_clinician_needs_a_lead(cast: Cast) -> None:
    first_lead(cast.oh1)
    user_update(actor=cast.admin, user=cast.oh2, changes={"is_active": False})
    assert "role.revoked" in actions_about(cast.oh2)  # taking access away is at once
    user_update(actor=cast.admin, user=cast.oh2, changes={"is_active": True})
    assert not fresh(cast.oh2).is_active
    assert pending_oh(cast.oh2).proposed_by == cast.admin


def test_a_declined_or_withdrawn_proposal_leaves_the_account_as_it_was(cast: Cast) -> None:
    first_lead(cast.oh1)
    user_update(actor=cast.admin, user=cast.hr, changes={"role": Role.OH})
    grant = pending_oh(cast.hr)
    response = client_for(cast.oh1).post(f"/api/v1/oh/role-grants/{grant.pk}/decline")
    assert response.status_code == 200
    assert response.json()["state"] == GrantState.DECLINED
    assert fresh(cast.hr).role == Role.HR
    # An approval after the decline is refused, not applied.
    late = client_for(cast.oh1).post(f"/api/v1/oh/role-grants/{grant.pk}/approve")
    assert late.status_code == 409
    assert late.json()["detail"] == GRANT_CONTRADICTED

    user_update(actor=cast.admin, user=cast.hr, changes={"role": Role.OH})
    withdrawn = client_for(cast.admin).post(
        f"/api/v1/oh/role-grants/{pending_oh(cast.hr).pk}/decline"
    )
    assert withdrawn.json()["state"] == GrantState.WITHDRAWN
    assert fresh(cast.hr).role == Role.HR


# --- Attack: approving one's own proposal, or a proposal about oneself -----------------------------


def test_an_admin_cannot_approve_a_proposal_even_their_own(cast: Cast) -> None:
    first_lead(cast.oh1)
    user_update(actor=cast.admin, user=cast.hr, changes={"role": Role.OH})
    grant = pending_oh(cast.hr)
    response = client_for(cast.admin).post(f"/api/v1/oh/role-grants/{grant.pk}/approve")
    assert response.status_code == 403
    with pytest.raises(Forbidden, match=ONLY_A_LEAD_DECIDES):
        role_grant_approve(actor=cast.admin, grant=grant)
    # Even written straight to the database, a decision by its proposer is refused.
    with pytest.raises(IntegrityError), transaction.atomic():
        RoleGrant.objects.filter(pk=grant.pk).update(
            state=GrantState.APPROVED, decided_by=cast.admin, decided_at=grant.proposed_at
        )
    assert fresh(cast.hr).role == Role.HR


def test_a_lead_cannot_approve_their_own_proposal_nor_one_about_themself(cast: Cast) -> None:
    first_lead(cast.oh1)
    grant, _ = role_grant_propose(actor=cast.admin, user=cast.oh2, kind=GrantKind.OH_LEAD)
    approve(cast.oh1, grant)
    oh3 = make_user("oh.three", Role.OH)
    own, _ = role_grant_propose(actor=cast.oh1, user=oh3, kind=GrantKind.OH_LEAD)
    response = client_for(cast.oh1).post(f"/api/v1/oh/role-grants/{own.pk}/approve")
    assert response.status_code == 403
    assert response.json()["detail"] == NOT_YOUR_OWN_PROPOSAL
    assert not fresh(oh3).is_oh_lead
    with pytest.raises(IntegrityError), transaction.atomic():
        RoleGrant.objects.filter(pk=own.pk).update(
            state=GrantState.APPROVED, decided_by=oh3, decided_at=own.proposed_at
        )
    # A lead's own proposal about themself is refused before it exists.
    with pytest.raises(Forbidden, match=NOT_ABOUT_YOURSELF):
        role_grant_propose(actor=cast.admin, user=cast.admin, kind=GrantKind.OH)


def test_approving_twice_grants_once(cast: Cast) -> None:
    first_lead(cast.oh1)
    user_update(actor=cast.admin, user=cast.hr, changes={"role": Role.OH})
    grant = pending_oh(cast.hr)
    first = approve(cast.oh1, grant)
    second = approve(cast.oh1, grant)
    assert first["temporary_password"]
    assert second["temporary_password"] is None
    assert fresh(cast.hr).check_password(first["temporary_password"])
    assert actions_about(cast.hr).count("role.granted") == 1


@pytest.mark.django_db(transaction=True)
def test_two_approvals_at_once_grant_once(cast: Cast) -> None:
    first_lead(cast.oh1)
    user_update(actor=cast.admin, user=cast.hr, changes={"role": Role.OH})
    grant = pending_oh(cast.hr)
    lead = fresh(cast.oh1)
    results = run_together(
        lambda: role_grant_approve(actor=lead, grant=grant),
        lambda: role_grant_approve(actor=lead, grant=grant),
    )
    passwords = [r.temporary_password for r in results]  # type: ignore[attr-defined]
    assert sorted(p is None for p in passwords) == [False, True], results
    assert actions_about(cast.hr).count("role.granted") == 1


# --- Attack: an admin takes over a real clinician's account ------------------------------------------


def test_an_admin_cannot_set_a_clinicians_password_or_reset_their_devices(cast: Cast) -> None:
    device = otp_device_new(user=cast.oh1, name="phone", confirmed=True)
    oh_client = client_for(cast.oh1)
    admin = client_for(cast.admin)
    response = admin.patch(
        f"/api/v1/users/{cast.oh1.pk}/",
        {"password": "a long enough passphrase", "email": "admin@example.invalid"},
        format="json",
    )
    assert response.status_code == 403
    assert response.json() == {
        "detail": CLINICIAN_CREDENTIALS_BY_LEAD,
        "code": "clinician_credentials",
    }
    reset = admin.post(f"/api/v1/users/{cast.oh1.pk}/otp-reset")
    assert reset.status_code == 403
    assert reset.json()["detail"] == CLINICIAN_CREDENTIALS_BY_LEAD
    user = fresh(cast.oh1)
    assert user.check_password(PASSWORD)
    assert user.email == ""
    assert SealedTOTPDevice.objects.filter(pk=device.pk).exists()
    assert oh_client.get(CASES).status_code == 200
    # Nor through the Django admin site: the password field is not there for a clinician.
    web_client_for(cast.admin).post(
        f"/admin/accounts/user/{cast.oh1.pk}/change/",
        {
            "role": Role.OH,
            "email": "",
            "is_active": "on",
            "new_password": "a long enough passphrase",
        },
    )
    assert fresh(cast.oh1).check_password(PASSWORD)
    assert not {"user.updated", "user.otp_reset"} & set(actions_about(cast.oh1))


# --- Recovery goes through an OH lead ------------------------------------------------------------


def test_a_lead_recovers_a_clinician_who_must_then_enrol_and_choose_a_password(cast: Cast) -> None:
    first_lead(cast.oh1)
    otp_device_new(user=cast.oh2, name="lost phone", confirmed=True)
    old = client_for(cast.oh2)
    response = client_for(cast.oh1).post(f"/api/v1/oh/clinicians/{cast.oh2.pk}/recover")
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    temporary = response.json()["temporary_password"]
    assert old.get("/api/v1/me").status_code == 401
    assert not SealedTOTPDevice.objects.filter(user=cast.oh2).exists()
    [event] = AuditEvent.objects.filter(action="account.recovered")
    assert (event.actor_id, event.target_id, event.detail) == (
        cast.oh1.pk,
        str(cast.oh2.pk),
        {"devices_removed": 1, "passkeys_removed": 0},
    )
    assert no_event_holds(temporary)

    login = client_for(None).post(
        "/api/v1/auth/login", {"username": cast.oh2.username, "password": temporary}, format="json"
    )
    assert login.status_code == 200
    assert login.json()["password_must_change"] is True
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {login.json()['token']}")
    device_id = client.post("/api/v1/auth/otp/devices", {}, format="json").json()["id"]
    device = SealedTOTPDevice.objects.get(pk=device_id)
    confirmed = client.post(
        f"/api/v1/auth/otp/devices/{device_id}/confirm", {"otp": code_for(device)}, format="json"
    )
    assert confirmed.status_code == 200
    blocked = client.get(CASES)
    assert blocked.status_code == 403
    assert blocked.json() == {
        "detail": PASSWORD_CHANGE_REQUIRED,
        "code": "password_change_required",
    }
    assert client.get("/api/v1/me").json()["password_must_change"] is True
    changed = client.post(
        "/api/v1/auth/password",
        {"current_password": temporary, "new_password": NEW_PASSWORD},
        format="json",
    )
    assert changed.status_code == 204, changed.content
    assert client.get(CASES).status_code == 200
    assert not fresh(cast.oh2).password_must_change


def test_recovery_only_by_another_lead(cast: Cast) -> None:
    first_lead(cast.oh1)
    url = "/api/v1/oh/clinicians/{}/recover"
    own = client_for(cast.oh1).post(url.format(cast.oh1.pk))
    assert (own.status_code, own.json()["detail"]) == (403, NOT_YOUR_OWN_RECOVERY)
    peer = client_for(cast.oh2).post(url.format(cast.oh1.pk))
    assert (peer.status_code, peer.json()["detail"]) == (403, ONLY_A_LEAD_RECOVERS)
    assert client_for(cast.admin).post(url.format(cast.oh2.pk)).status_code == 403
    assert client_for(cast.oh1).post(url.format(cast.hr.pk)).status_code == 404
    assert fresh(cast.oh1).check_password(PASSWORD)
    assert fresh(cast.oh2).check_password(PASSWORD)
    assert not AuditEvent.objects.filter(action="account.recovered").exists()


def test_the_web_app_sends_a_recovered_clinician_to_choose_a_password(cast: Cast) -> None:
    first_lead(cast.oh1)
    page = web_client_for(cast.oh1).post(f"/oh/clinicians/{cast.oh2.pk}/recover")
    assert page.status_code == 200
    assert page["Cache-Control"] == "no-store"
    temporary = page.context["password"]
    assert fresh(cast.oh2).check_password(temporary)
    clinician = web_client_for(fresh(cast.oh2))
    response = clinician.get("/oh/cases/")
    assert (response.status_code, response["Location"]) == (302, "/password")
    done = clinician.post(
        "/password", {"current_password": temporary, "new_password": NEW_PASSWORD}
    )
    assert done.status_code == 302
    assert clinician.get("/oh/cases/").status_code == 200


# --- Every grant and recovery is shown to the OH leads -------------------------------------------


def test_grants_and_recoveries_are_shown_to_leads_and_to_the_proposing_admin(cast: Cast) -> None:
    first_lead(cast.oh1)
    user_update(actor=cast.admin, user=cast.hr, changes={"role": Role.OH})
    approve(cast.oh1, pending_oh(cast.hr))
    client_for(cast.oh1).post(f"/api/v1/oh/clinicians/{cast.oh2.pk}/recover")
    wanted = {"role.grant_proposed", "role.granted", "account.recovered"}

    lead_events = client_for(cast.oh1).get("/api/v1/audit/", {"page_size": 100}).json()["results"]
    assert wanted <= {e["action"] for e in lead_events}
    assert {e["action"] for e in lead_events if e["actor"] == cast.admin.pk} >= {
        "role.grant_proposed"
    }
    peer = make_user("oh.three", Role.OH)  # a clinician who is not a lead
    other = client_for(peer).get("/api/v1/audit/", {"page_size": 100}).json()["results"]
    assert not wanted & {e["action"] for e in other}
    admin_events = (
        client_for(cast.admin).get("/api/v1/audit/", {"page_size": 100}).json()["results"]
    )
    assert {(e["action"], e["class"]) for e in admin_events} >= {("role.granted", "role")}

    grants = client_for(cast.oh1).get("/api/v1/oh/role-grants/").json()["results"]
    assert [(g["kind"], g["state"], g["user"]) for g in grants] == [
        (GrantKind.OH, GrantState.APPROVED, cast.hr.pk)
    ]
    mine = client_for(cast.admin).get("/api/v1/oh/role-grants/", {"state": "approved"}).json()
    assert [g["id"] for g in mine["results"]] == [grants[0]["id"]]
    assert client_for(peer).get("/api/v1/oh/role-grants/").json()["results"] == []


def test_a_lead_approving_a_clinician_on_the_web_is_shown_the_password_once(cast: Cast) -> None:
    first_lead(cast.oh1)
    user_update(actor=cast.admin, user=cast.hr, changes={"role": Role.OH})
    grant = pending_oh(cast.hr)
    lead = web_client_for(cast.oh1)
    assert f"/oh/role-grants/{grant.pk}/approve" in lead.get("/oh/clinicians").content.decode()
    page = lead.post(f"/oh/role-grants/{grant.pk}/approve")
    assert page.status_code == 200
    assert page["Cache-Control"] == "no-store"
    assert fresh(cast.hr).check_password(page.context["password"])
    assert no_event_holds(page.context["password"])
    # Afterwards the page lists it as decided, with who proposed and who approved it.
    html = lead.get("/oh/clinicians").content.decode()
    assert 'id="decided-grants"' in html
    assert cast.admin.username in html
