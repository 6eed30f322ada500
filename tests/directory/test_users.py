"""Accounts from the directory: created, updated, deactivated (never deleted), matched by
externalId; the directory is the actor of every change; it never gives clinical or
administrative access and never touches an account made by hand."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Cast
from tests.directory.conftest import Scim, user_body
from welfare.accounts.models import AuthToken, User
from welfare.accounts.services import token_authenticate, token_issue, user_update
from welfare.audit.models import AuditEvent
from welfare.core.roles import Role
from welfare.directory import services
from welfare.directory.rules import ENTERPRISE_SCHEMA, ERROR_SCHEMA
from welfare.people.models import Officer

pytestmark = pytest.mark.usefixtures("clock")


def _last_event() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _error(response: Any, status: int, scim_type: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/scim+json")
    body = response.json()
    assert body["schemas"] == [ERROR_SCHEMA]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type
    assert body["detail"]
    return body


def _counts() -> tuple[int, int, int]:
    return User.objects.count(), Officer.objects.count(), AuditEvent.objects.count()


def test_create_makes_an_officer_with_no_password_and_the_directory_as_actor(scim: Scim) -> None:
    before = _last_event()
    response = scim.post(
        "Users", user_body("oid-1", "jo.bloggs@force.example", staff="D1001", name="Jo Bloggs")
    )
    assert response.status_code == 201, response.content
    body = response.json()
    user = User.objects.get(directory_id="oid-1")
    assert body["id"] == str(user.pk)
    assert response["Location"] == body["meta"]["location"]
    assert body[ENTERPRISE_SCHEMA] == {"employeeNumber": "D1001"}
    assert (user.role, user.is_active, user.has_usable_password()) == (Role.OFFICER, True, False)
    assert (user.officer.staff_number, user.officer.display_name) == ("D1001", "Jo Bloggs")
    events = AuditEvent.objects.filter(id__gt=before).order_by("id")
    assert [e.action for e in events] == ["user.created", "officer.created"]
    assert {(e.actor_id, e.actor_role) for e in events} == {(None, "directory")}


def test_a_retried_create_changes_nothing_and_answers_409_uniqueness(scim: Scim) -> None:
    assert scim.post("Users", user_body("oid-1", "jo.bloggs")).status_code == 201
    counts = _counts()
    _error(scim.post("Users", user_body("oid-1", "jo.bloggs")), 409, "uniqueness")
    _error(scim.post("Users", user_body("oid-1", "someone.else", staff="D9")), 409, "uniqueness")
    assert _counts() == counts


@pytest.mark.parametrize(
    ("change", "scim_type"),
    [
        ({"userName": "off.a1"}, "uniqueness"),  # a hand-made account's name: not taken over
        (
            {
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                    "employeeNumber": "T0001"
                }
            },
            "uniqueness",
        ),
        ({"userName": "has space"}, "invalidValue"),
        ({"externalId": ""}, "invalidValue"),
        ({"active": "sometimes"}, "invalidValue"),
        ({"password": "Secret-123456"}, "invalidValue"),
        ({"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {}}, "invalidValue"),
        ({"emails": [{"value": "not an address"}]}, "invalidValue"),
    ],
)
def test_bad_or_clashing_users_change_nothing(
    scim: Scim, cast: Cast, change: dict[str, Any], scim_type: str
) -> None:
    counts = _counts()
    body = {**user_body("oid-new", "new.person"), **change}
    status = 409 if scim_type == "uniqueness" else 400
    _error(scim.post("Users", body), status, scim_type)
    assert _counts() == counts


def test_the_directory_never_gives_clinical_or_admin_access(scim: Scim, settings: Any) -> None:
    for role in (Role.OH, Role.ADMIN):
        settings.SCIM_USER_ROLE = role
        _error(scim.post("Users", user_body(f"oid-{role}", f"p.{role}")), 403)
    assert not User.objects.filter(directory_id__isnull=False).exists()


def test_accounts_made_by_hand_do_not_exist_for_the_directory(scim: Scim, cast: Cast) -> None:
    scim.post("Users", user_body("oid-1", "jo.bloggs"))
    listed = scim.get("Users").json()
    assert [r["userName"] for r in listed["Resources"]] == ["jo.bloggs"]
    assert listed["totalResults"] == 1
    for user in (cast.officer_a1.user, cast.admin, cast.oh1):
        _error(scim.get(f"Users/{user.pk}"), 404)
        _error(scim.call("delete", f"Users/{user.pk}"), 404)
        assert User.objects.get(pk=user.pk).is_active


def test_filters_by_username_and_external_id_and_pages(scim: Scim) -> None:
    for n in range(5):
        scim.post("Users", user_body(f"oid-{n}", f"person.{n}@force.example", staff=f"D{n}"))
    found = scim.get("Users", filter='userName eq "PERSON.3@force.example"').json()
    assert [r["externalId"] for r in found["Resources"]] == ["oid-3"]
    found = scim.get("Users", filter='externalId eq "oid-2"').json()
    assert (found["totalResults"], found["Resources"][0]["userName"]) == (
        1,
        "person.2@force.example",
    )
    assert scim.get("Users", filter='externalId eq "OID-2"').json()["totalResults"] == 0
    paged = scim.get("Users", startIndex="2", count="2").json()
    assert (paged["totalResults"], paged["startIndex"], paged["itemsPerPage"]) == (5, 2, 2)
    assert [r["externalId"] for r in paged["Resources"]] == ["oid-1", "oid-2"]
    only = scim.get("Users", attributes="userName", count="1").json()["Resources"][0]
    assert set(only) == {"id", "schemas", "meta", "userName"}
    _error(scim.get("Users", filter='userName eq "x" and'), 400, "invalidFilter")
    _error(scim.get("Users", filter='title eq "x"'), 400, "invalidFilter")
    _error(scim.get("Users", count="many"), 400, "invalidValue")


def test_entra_style_patch_updates_through_the_services(scim: Scim) -> None:
    user_id = scim.post("Users", user_body("oid-1", "jo.bloggs", staff="D1")).json()["id"]
    response = scim.patch(
        f"Users/{user_id}",
        {"op": "Replace", "path": "displayName", "value": "Jo Smith"},
        {"op": "Add", "path": 'emails[type eq "work"].value', "value": "jo.smith@force.example"},
        {"op": "Replace", "path": f"{ENTERPRISE_SCHEMA}:employeeNumber", "value": "D2"},
        {"op": "Replace", "value": {"userName": "jo.smith"}},
    )
    assert response.status_code == 200, response.content
    user = User.objects.get(pk=user_id)
    assert (user.username, user.email) == ("jo.smith", "jo.smith@force.example")
    assert (user.officer.display_name, user.officer.staff_number) == ("Jo Smith", "D2")
    updates = AuditEvent.objects.filter(action__in=["user.updated", "officer.updated"])
    assert updates.count() == 2
    assert set(updates.values_list("actor_role", flat=True)) == {"directory"}


def test_external_id_cannot_change(scim: Scim) -> None:
    user_id = scim.post("Users", user_body("oid-1", "jo.bloggs")).json()["id"]
    _error(
        scim.patch(f"Users/{user_id}", {"op": "replace", "path": "externalId", "value": "x"}),
        400,
        "mutability",
    )
    _error(scim.put(f"Users/{user_id}", user_body("oid-other", "jo.bloggs")), 400, "mutability")
    assert User.objects.get(pk=user_id).directory_id == "oid-1"


def test_deactivation_revokes_tokens_and_is_audited_as_the_directory(scim: Scim) -> None:
    user_id = scim.post("Users", user_body("oid-1", "jo.bloggs")).json()["id"]
    user = User.objects.get(pk=user_id)
    raw, _ = token_issue(user=user, otp_verified=False)
    response = scim.patch(f"Users/{user_id}", {"op": "Replace", "path": "active", "value": "False"})
    assert response.status_code == 200, response.content
    assert response.json()["active"] is False
    assert token_authenticate(raw) is None
    assert AuthToken.objects.get(user=user).revoked_reason == "deactivated"
    revoked = AuditEvent.objects.get(action="auth.token.revoked", target_id=str(user.pk))
    assert (revoked.actor_id, revoked.actor_role) == (None, "directory")


def test_delete_deactivates_never_deletes_and_the_same_person_comes_back(scim: Scim) -> None:
    user_id = scim.post("Users", user_body("oid-1", "jo.bloggs")).json()["id"]
    raw, _ = token_issue(user=User.objects.get(pk=user_id), otp_verified=False)
    assert scim.delete(f"Users/{user_id}").status_code == 204
    assert token_authenticate(raw) is None
    user = User.objects.get(pk=user_id)
    assert not user.is_active
    _error(scim.get(f"Users/{user_id}"), 404)
    assert scim.get("Users", filter='externalId eq "oid-1"').json()["totalResults"] == 0
    _error(scim.delete(f"Users/{user_id}"), 404)
    again = scim.post("Users", user_body("oid-1", "jo.bloggs"))
    assert again.status_code == 201, again.content
    assert again.json()["id"] == user_id
    assert User.objects.filter(directory_id="oid-1").count() == 1
    assert User.objects.get(pk=user_id).is_active
    assert AuditEvent.objects.filter(action="directory.user.restored").count() == 1


def test_the_directory_does_not_reopen_an_account_a_person_closed(scim: Scim, cast: Cast) -> None:
    user_id = scim.post("Users", user_body("oid-1", "jo.bloggs")).json()["id"]
    user_update(actor=cast.admin, user=User.objects.get(pk=user_id), changes={"is_active": False})
    _error(scim.patch(f"Users/{user_id}", {"op": "replace", "path": "active", "value": True}), 403)
    assert not User.objects.get(pk=user_id).is_active
    # Closed by the directory: the directory may open it again.
    other = scim.post("Users", user_body("oid-2", "al.jones", staff="D2", active=False)).json()
    reopened = scim.patch(
        f"Users/{other['id']}", {"op": "replace", "path": "active", "value": True}
    )
    assert reopened.status_code == 200, reopened.content
    assert User.objects.get(pk=other["id"]).is_active


def test_a_clinician_known_to_the_directory_may_only_be_deactivated(scim: Scim, cast: Cast) -> None:
    User.objects.filter(pk=cast.oh1.pk).update(directory_id="oid-oh")
    _error(
        scim.patch(f"Users/{cast.oh1.pk}", {"op": "replace", "path": "userName", "value": "x"}),
        403,
    )
    assert User.objects.get(pk=cast.oh1.pk).username == "oh.one"
    response = scim.patch(
        f"Users/{cast.oh1.pk}", {"op": "replace", "path": "active", "value": False}
    )
    assert response.status_code == 200, response.content
    assert not User.objects.get(pk=cast.oh1.pk).is_active
    assert AuditEvent.objects.filter(action="role.revoked", target_id=str(cast.oh1.pk)).exists()
    _error(
        scim.patch(f"Users/{cast.oh1.pk}", {"op": "replace", "path": "active", "value": True}), 403
    )


def test_services_record_the_directory_even_outside_a_request(db: None, settings: Any) -> None:
    from welfare.directory.rules import UserFields

    user = services.directory_user_create(
        fields=UserFields(
            username="sam.lee",
            external_id="oid-9",
            display_name="Sam Lee",
            email="",
            active=False,
            staff_number="D9",
        )
    )
    roles = set(
        AuditEvent.objects.filter(target_id__in=[str(user.pk), str(user.officer.pk)]).values_list(
            "actor_role", flat=True
        )
    )
    assert roles == {"directory"}
    assert AuditEvent.objects.filter(action="user.deactivated", target_id=str(user.pk)).exists()


def test_filters_on_active_emails_and_staff_number(scim: Scim) -> None:
    scim.post("Users", user_body("oid-1", "jo", staff="D1", email="jo@force.example"))
    scim.post("Users", user_body("oid-2", "al", staff="D2", active=False))
    assert [
        r["userName"] for r in scim.get("Users", filter="active eq false").json()["Resources"]
    ] == ["al"]
    found = scim.get("Users", filter='emails.value sw "jo@"').json()["Resources"]
    assert [r["userName"] for r in found] == ["jo"]
    found = scim.get("Users", filter=f'{ENTERPRISE_SCHEMA}:employeeNumber eq "D2"').json()
    assert [r["userName"] for r in found["Resources"]] == ["al"]
    search = scim.post(
        "Users/.search",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'userName eq "jo" or userName eq "al"',
            "attributes": ["userName"],
            "count": 1,
        },
    ).json()
    assert (search["totalResults"], search["itemsPerPage"]) == (2, 1)
    assert set(search["Resources"][0]) == {"id", "schemas", "meta", "userName"}
