"""OH leads: who urgent work escalates to. Proposed by an administrator or a lead and
approved by another lead (never granted by an administrator alone), the first by the
`oh_lead` command; revoked by a lead; the last lead cannot step down; every change audited;
the database holds that only a clinician is a lead."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from tests.conftest import Cast, client_for, make_user, web_client_for
from welfare.accounts.models import GrantKind, GrantState, RoleGrant, User
from welfare.accounts.rules import (
    LEAD_MUST_BE_ACTIVE_CLINICIAN,
    NOT_YOUR_OWN_PROPOSAL,
    ONLY_ADMIN_OR_LEAD_PROPOSES_LEAD,
    SOLE_LEAD_CANNOT_PROPOSE,
)
from welfare.accounts.services import (
    A_LEAD_EXISTS,
    LAST_LEAD,
    LEAD_BY_APPROVAL,
    LEAD_MUST_BE_CLINICIAN,
    ONLY_A_LEAD,
    oh_lead_set,
    role_grant_approve,
    role_grant_propose,
    user_update,
)
from welfare.audit.models import AuditEvent
from welfare.core.errors import Conflict, Forbidden
from welfare.core.roles import Role

GRANTED, REVOKED = "user.oh_lead.granted", "user.oh_lead.revoked"
APPROVED = "role.granted"


def lead_url(user: User) -> str:
    return f"/api/v1/oh/clinicians/{user.pk}/lead"


def is_lead(user: User) -> bool:
    return User.objects.get(pk=user.pk).is_oh_lead


def lead_events() -> list[tuple[str, int | None, str]]:
    return [
        (e.action, e.actor_id, e.target_id)
        for e in AuditEvent.objects.filter(action__in=[GRANTED, REVOKED, APPROVED]).order_by("id")
    ]


def first_lead(user: User) -> None:
    call_command("oh_lead", user.username, stdout=io.StringIO())


def make_lead(user: User, *, proposer: User, approver: User) -> None:
    grant, _ = role_grant_propose(actor=proposer, user=user, kind=GrantKind.OH_LEAD)
    role_grant_approve(actor=approver, grant=grant)


# --- The first lead ---------------------------------------------------------------------------------


def test_the_command_makes_the_first_lead_and_audits_it(cast: Cast) -> None:
    out = io.StringIO()
    call_command("oh_lead", cast.oh1.username, stdout=out)
    assert is_lead(cast.oh1)
    assert not is_lead(cast.oh2)
    assert cast.oh1.username in out.getvalue()
    [event] = AuditEvent.objects.filter(action=GRANTED)
    assert (event.actor_id, event.actor_role, event.target_type, event.target_id) == (
        None,
        "system",
        "user",
        str(cast.oh1.pk),
    )


def test_the_command_refuses_when_a_lead_exists(cast: Cast) -> None:
    first_lead(cast.oh1)
    with pytest.raises(CommandError, match=A_LEAD_EXISTS):
        call_command("oh_lead", cast.oh2.username, stdout=io.StringIO())
    assert not is_lead(cast.oh2)
    assert lead_events() == [(GRANTED, None, str(cast.oh1.pk))]


def test_the_service_without_an_actor_refuses_when_a_lead_exists(cast: Cast) -> None:
    first_lead(cast.oh1)
    with pytest.raises(Conflict):
        oh_lead_set(actor=None, user=cast.oh2, lead=True)
    assert not is_lead(cast.oh2)


@pytest.mark.parametrize("name", ["supervisor", "hr", "admin", "officer"])
def test_the_command_makes_only_a_clinician_a_lead(cast: Cast, name: str) -> None:
    with pytest.raises(CommandError, match=LEAD_MUST_BE_CLINICIAN):
        call_command("oh_lead", cast.user(name).username, stdout=io.StringIO())
    assert not User.objects.filter(is_oh_lead=True).exists()
    assert lead_events() == []


def test_the_command_refuses_an_unknown_user_name(cast: Cast) -> None:
    with pytest.raises(CommandError):
        call_command("oh_lead", "nobody.here", stdout=io.StringIO())
    assert not User.objects.filter(is_oh_lead=True).exists()


def test_a_deactivated_lead_leaves_room_for_a_new_first_lead(cast: Cast) -> None:
    first_lead(cast.oh1)
    user_update(actor=cast.admin, user=cast.oh1, changes={"is_active": False})
    first_lead(cast.oh2)
    assert is_lead(cast.oh2)


# --- A lead grants and revokes ------------------------------------------------------------------------


def test_a_lead_proposes_another_approves_and_a_lead_revokes_through_the_api(cast: Cast) -> None:
    first_lead(cast.oh1)
    make_lead(cast.oh2, proposer=cast.admin, approver=cast.oh1)
    oh3 = make_user("oh.three", Role.OH)
    response = client_for(cast.oh1).post(lead_url(oh3), {"lead": True}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["kind"], body["state"], body["user"], body["proposed_by"]) == (
        GrantKind.OH_LEAD,
        GrantState.PENDING,
        oh3.pk,
        cast.oh1.pk,
    )
    assert not is_lead(oh3)
    # The proposer cannot approve it; the other lead can.
    own = client_for(cast.oh1).post(f"/api/v1/oh/role-grants/{body['id']}/approve")
    assert own.status_code == 403
    assert own.json()["detail"] == NOT_YOUR_OWN_PROPOSAL
    assert not is_lead(oh3)
    other = client_for(cast.oh2).post(f"/api/v1/oh/role-grants/{body['id']}/approve")
    assert other.status_code == 200, other.content
    assert other.json()["temporary_password"] is None
    assert is_lead(oh3)

    # A lead takes the flag away at once.
    response = client_for(cast.oh2).post(lead_url(cast.oh1), {"lead": False}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "id": cast.oh1.pk,
        "username": cast.oh1.username,
        "name": cast.oh1.username,
        "is_oh_lead": False,
    }
    assert not is_lead(cast.oh1)
    assert lead_events() == [
        (GRANTED, None, str(cast.oh1.pk)),
        (APPROVED, cast.oh1.pk, str(cast.oh2.pk)),
        (APPROVED, cast.oh2.pk, str(oh3.pk)),
        (REVOKED, cast.oh2.pk, str(cast.oh1.pk)),
    ]


def test_a_sole_lead_cannot_propose_what_nobody_could_approve(cast: Cast) -> None:
    first_lead(cast.oh1)
    response = client_for(cast.oh1).post(lead_url(cast.oh2), {"lead": True}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"] == SOLE_LEAD_CANNOT_PROPOSE
    assert not RoleGrant.objects.exists()


def test_a_lead_cannot_be_granted_directly(cast: Cast) -> None:
    first_lead(cast.oh1)
    with pytest.raises(Forbidden, match=LEAD_BY_APPROVAL):
        oh_lead_set(actor=cast.oh1, user=cast.oh2, lead=True)
    assert not is_lead(cast.oh2)


def test_a_lead_steps_down_while_another_remains(cast: Cast) -> None:
    first_lead(cast.oh1)
    make_lead(cast.oh2, proposer=cast.admin, approver=cast.oh1)
    response = client_for(cast.oh1).post(lead_url(cast.oh1), {"lead": False}, format="json")
    assert response.status_code == 200, response.content
    assert (is_lead(cast.oh1), is_lead(cast.oh2)) == (False, True)


def test_granting_what_is_already_so_changes_and_audits_nothing(cast: Cast) -> None:
    first_lead(cast.oh1)
    response = client_for(cast.oh1).post(lead_url(cast.oh1), {"lead": True}, format="json")
    assert response.status_code == 200
    response = client_for(cast.oh1).post(lead_url(cast.oh2), {"lead": False}, format="json")
    assert response.status_code == 200
    assert lead_events() == [(GRANTED, None, str(cast.oh1.pk))]


def test_a_clinician_who_is_not_a_lead_cannot_grant_or_revoke(cast: Cast) -> None:
    first_lead(cast.oh1)
    oh2 = client_for(cast.oh2)
    for target, lead, refusal in (
        (cast.oh2, True, ONLY_ADMIN_OR_LEAD_PROPOSES_LEAD),
        (cast.oh1, False, ONLY_A_LEAD),
    ):
        response = oh2.post(lead_url(target), {"lead": lead}, format="json")
        assert response.status_code == 403
        assert response.json()["detail"] == refusal
    assert (is_lead(cast.oh1), is_lead(cast.oh2)) == (True, False)
    assert lead_events() == [(GRANTED, None, str(cast.oh1.pk))]


def test_with_no_lead_no_clinician_can_make_themself_one(cast: Cast) -> None:
    response = client_for(cast.oh1).post(lead_url(cast.oh1), {"lead": True}, format="json")
    assert response.status_code == 403
    assert not is_lead(cast.oh1)
    with pytest.raises(Forbidden):
        oh_lead_set(actor=cast.oh2, user=cast.oh2, lead=True)
    assert lead_events() == []


@pytest.mark.parametrize("name", ["admin", "supervisor", "hr", "officer"])
def test_no_other_role_may_use_the_lead_endpoint(cast: Cast, name: str) -> None:
    first_lead(cast.oh1)
    response = client_for(cast.user(name)).post(lead_url(cast.oh2), {"lead": True}, format="json")
    assert response.status_code == 403
    assert not is_lead(cast.oh2)
    assert client_for(cast.user(name)).get("/api/v1/oh/clinicians/").status_code == 403


@pytest.mark.parametrize("name", ["admin", "supervisor"])
def test_the_service_refuses_an_actor_of_another_role(cast: Cast, name: str) -> None:
    first_lead(cast.oh1)
    with pytest.raises(Forbidden):
        oh_lead_set(actor=cast.user(name), user=cast.oh2, lead=True)
    assert not is_lead(cast.oh2)


def test_only_an_active_clinician_can_be_made_a_lead(cast: Cast) -> None:
    first_lead(cast.oh1)
    gone = make_user("oh.gone", Role.OH)
    gone.is_active = False
    gone.save()
    client = client_for(cast.oh1)
    for user in (cast.supervisor_a, cast.admin, gone):
        assert client.post(lead_url(user), {"lead": True}, format="json").status_code == 404
        assert (
            client_for(cast.admin).post(f"/api/v1/users/{user.pk}/propose-oh-lead").status_code
            == 404
        )
        assert not is_lead(user)
    for user in (cast.supervisor_a, cast.hr, gone):
        with pytest.raises(Forbidden, match=LEAD_MUST_BE_ACTIVE_CLINICIAN):
            role_grant_propose(actor=cast.admin, user=user, kind=GrantKind.OH_LEAD)
    assert not RoleGrant.objects.exists()


def test_the_last_lead_cannot_step_down(cast: Cast) -> None:
    first_lead(cast.oh1)
    response = client_for(cast.oh1).post(lead_url(cast.oh1), {"lead": False}, format="json")
    assert response.status_code == 409
    assert response.json() == {"detail": LAST_LEAD, "code": "last_lead"}
    assert is_lead(cast.oh1)
    with pytest.raises(Conflict, match=LAST_LEAD):
        oh_lead_set(actor=cast.oh1, user=cast.oh1, lead=False)
    assert lead_events() == [(GRANTED, None, str(cast.oh1.pk))]


def test_the_clinician_list_shows_who_leads(cast: Cast) -> None:
    first_lead(cast.oh2)
    response = client_for(cast.oh1).get("/api/v1/oh/clinicians/")
    assert response.status_code == 200
    assert [(row["id"], row["is_oh_lead"]) for row in response.json()] == [
        (cast.oh1.pk, False),
        (cast.oh2.pk, True),
    ]


def test_the_web_page_lets_leads_propose_and_approve_and_refuses_anyone_else(cast: Cast) -> None:
    first_lead(cast.oh1)
    page = web_client_for(cast.oh2).get("/oh/clinicians")
    assert page.status_code == 200
    assert "Propose as lead" not in page.content.decode()
    response = web_client_for(cast.oh2).post(f"/oh/clinicians/{cast.oh2.pk}/lead", {"lead": "yes"})
    assert response.status_code == 302
    assert not RoleGrant.objects.exists()

    grant, _ = role_grant_propose(actor=cast.admin, user=cast.oh2, kind=GrantKind.OH_LEAD)
    lead = web_client_for(cast.oh1)
    html = lead.get("/oh/clinicians").content.decode()
    assert "Propose as lead" in html
    assert 'id="pending-grants"' in html
    assert f"/oh/role-grants/{grant.pk}/approve" in html
    assert lead.post(f"/oh/role-grants/{grant.pk}/approve").status_code == 302
    assert is_lead(cast.oh2)

    oh3 = make_user("oh.three", Role.OH)
    assert lead.post(f"/oh/clinicians/{oh3.pk}/lead", {"lead": "yes"}).status_code == 302
    proposal = RoleGrant.objects.get(user=oh3, state=GrantState.PENDING)
    assert (
        f"/oh/role-grants/{proposal.pk}/approve" not in lead.get("/oh/clinicians").content.decode()
    )
    second = web_client_for(cast.oh2)
    assert second.post(f"/oh/role-grants/{proposal.pk}/decline").status_code == 302
    assert not is_lead(oh3)
    assert RoleGrant.objects.get(pk=proposal.pk).state == GrantState.DECLINED
    assert lead_events()[-1] == (APPROVED, cast.oh1.pk, str(cast.oh2.pk))


# --- Administrators have no say ---------------------------------------------------------------------


def test_the_admin_sites_user_form_has_no_lead_field(cast: Cast) -> None:
    first_lead(cast.oh1)
    admin = web_client_for(cast.admin)
    for user in (cast.oh1, cast.oh2):
        page = admin.get(f"/admin/accounts/user/{user.pk}/change/")
        assert page.status_code == 200
        html = page.content.decode()
        assert 'name="role"' in html  # the form is there
        assert "is_oh_lead" not in html
    add = admin.get("/admin/accounts/user/add/")
    assert add.status_code == 200
    assert "is_oh_lead" not in add.content.decode()


def test_posting_the_lead_flag_to_the_admin_site_changes_nothing(cast: Cast) -> None:
    first_lead(cast.oh1)
    response = web_client_for(cast.admin).post(
        f"/admin/accounts/user/{cast.oh2.pk}/change/",
        {"role": Role.OH, "email": "", "is_active": "on", "is_oh_lead": "on", "new_password": ""},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert not is_lead(cast.oh2)
    assert lead_events() == [(GRANTED, None, str(cast.oh1.pk))]


def test_the_users_api_does_not_take_the_lead_flag(cast: Cast) -> None:
    first_lead(cast.oh1)
    admin = client_for(cast.admin)
    response = admin.patch(f"/api/v1/users/{cast.oh2.pk}/", {"is_oh_lead": True}, format="json")
    # Ignored (200, nothing changed) or refused (400): either way, no lead is made.
    assert response.status_code in (200, 400)
    assert "is_oh_lead" not in response.json() or response.status_code == 400
    assert not is_lead(cast.oh2)
    assert not AuditEvent.objects.filter(target_id=str(cast.oh2.pk), action="user.updated").exists()

    response = admin.post(
        "/api/v1/users/",
        {"username": "oh.three", "role": Role.OH, "is_oh_lead": True},
        format="json",
    )
    assert response.status_code in (201, 400)
    assert "is_oh_lead" not in response.json() or response.status_code == 400
    assert not User.objects.filter(username="oh.three", is_oh_lead=True).exists()
    assert lead_events() == [(GRANTED, None, str(cast.oh1.pk))]


# --- Leaving occupational health ------------------------------------------------------------------------


def test_a_lead_whose_role_changes_away_from_oh_is_no_longer_a_lead(cast: Cast) -> None:
    first_lead(cast.oh1)
    make_lead(cast.oh2, proposer=cast.admin, approver=cast.oh1)
    response = client_for(cast.admin).patch(
        f"/api/v1/users/{cast.oh2.pk}/", {"role": Role.HR}, format="json"
    )
    assert response.status_code == 200, response.content
    changed = User.objects.get(pk=cast.oh2.pk)
    assert (changed.role, changed.is_oh_lead) == (Role.HR, False)
    event = AuditEvent.objects.filter(action="user.updated", target_id=str(cast.oh2.pk)).get()
    assert event.detail["changed"] == ["role"]
    # An administrator cannot grant the flag, and taking it away is recorded as such.
    revoked = AuditEvent.objects.get(action="user.oh_lead.revoked", target_id=str(cast.oh2.pk))
    assert (revoked.actor, revoked.detail) == (cast.admin, {"by": "role change"})


def test_the_database_holds_that_only_a_clinician_is_a_lead(cast: Cast) -> None:
    for user in (cast.hr, cast.admin, cast.supervisor_a):
        with pytest.raises(IntegrityError), transaction.atomic():
            User.objects.filter(pk=user.pk).update(is_oh_lead=True)
    first_lead(cast.oh1)
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=cast.oh1.pk).update(role=Role.HR)
    assert is_lead(cast.oh1)
