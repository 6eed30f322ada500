"""User administration through the API (admin only)."""

from __future__ import annotations

import pytest

from tests.conftest import Cast, client_for, field_errors
from welfare.accounts.models import AuthToken, SealedTOTPDevice, User
from welfare.accounts.services import CANNOT_DEACTIVATE_SELF, USERNAME_TAKEN, otp_device_new
from welfare.audit.models import AuditEvent
from welfare.core.roles import Role
from welfare.people.services import ROLE_LOCKED_SUPERVISOR

GOOD_PASSWORD = "a long enough passphrase"


def test_admin_creates_user_without_exposing_password(cast: Cast) -> None:
    response = client_for(cast.admin).post(
        "/api/v1/users/",
        {
            "username": "new.analyst",
            "role": "hr",
            "password": GOOD_PASSWORD,
            "email": "n@example.invalid",
        },
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "id",
        "username",
        "role",
        "email",
        "is_active",
        "has_two_factor",
        "awaiting_oh_approval",
        "last_login",
        "date_joined",
    }
    assert body["role"] == "hr"
    assert (body["has_two_factor"], body["awaiting_oh_approval"]) == (False, False)
    assert User.objects.get(username="new.analyst").check_password(GOOD_PASSWORD)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "officer", "password": GOOD_PASSWORD}, "username"),
        ({"username": "x", "password": GOOD_PASSWORD}, "role"),
        ({"username": "x", "role": "janitor", "password": GOOD_PASSWORD}, "role"),
        ({"username": "x", "role": "officer"}, "password"),
        ({"username": "x", "role": "officer", "password": "short"}, "password"),
        ({"username": "has space", "role": "officer", "password": GOOD_PASSWORD}, "username"),
        (
            {"username": "x", "role": "officer", "password": GOOD_PASSWORD, "email": "no-at"},
            "email",
        ),
        ({"username": "OFF.A1", "role": "officer", "password": GOOD_PASSWORD}, "username"),
    ],
)
def test_bad_user_input_is_refused_and_nothing_written(cast: Cast, body: dict, field: str) -> None:
    users, events = User.objects.count(), AuditEvent.objects.count()
    response = client_for(cast.admin).post("/api/v1/users/", body, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert all(
        isinstance(messages, list) and messages
        for messages in field_errors(response, code=None).values()
    )
    assert User.objects.count() == users
    assert AuditEvent.objects.count() == events


def test_duplicate_username_message(cast: Cast) -> None:
    response = client_for(cast.admin).post(
        "/api/v1/users/",
        {"username": "Off.A1", "role": "officer", "password": GOOD_PASSWORD},
        format="json",
    )
    assert field_errors(response, code="unique") == {"username": [USERNAME_TAKEN]}


def test_delete_deactivates_never_deletes(cast: Cast) -> None:
    target = cast.officer_a2.user
    response = client_for(cast.admin).delete(f"/api/v1/users/{target.pk}/")
    assert response.status_code == 204
    target.refresh_from_db()
    assert target.is_active is False
    assert AuditEvent.objects.filter(action="user.deactivated", target_id=str(target.pk)).exists()


def test_admin_cannot_deactivate_self(cast: Cast) -> None:
    response = client_for(cast.admin).delete(f"/api/v1/users/{cast.admin.pk}/")
    assert response.status_code == 400
    assert field_errors(response) == {"is_active": [CANNOT_DEACTIVATE_SELF]}
    cast.admin.refresh_from_db()
    assert cast.admin.is_active


def test_role_change_guards(cast: Cast) -> None:
    client = client_for(cast.admin)
    # An officer made a supervisor keeps their officer record (one person, two hats).
    officer = client.patch(
        f"/api/v1/users/{cast.officer_a1.user.pk}/", {"role": "supervisor"}, format="json"
    )
    assert officer.status_code == 200
    cast.officer_a1.refresh_from_db()
    assert cast.officer_a1.user.role == Role.SUPERVISOR
    supervisor = client.patch(
        f"/api/v1/users/{cast.supervisor_a.pk}/", {"role": "hr"}, format="json"
    )
    assert field_errors(supervisor, code="in_use") == {"role": [ROLE_LOCKED_SUPERVISOR]}
    free = client.patch(f"/api/v1/users/{cast.hr.pk}/", {"role": "supervisor"}, format="json")
    assert free.status_code == 200
    assert free.json()["role"] == "supervisor"


def test_role_change_ends_sessions(cast: Cast) -> None:
    hr_client = client_for(cast.hr)
    assert (
        client_for(cast.admin)
        .patch(f"/api/v1/users/{cast.hr.pk}/", {"role": "supervisor"}, format="json")
        .status_code
        == 200
    )
    assert hr_client.get("/api/v1/me").status_code == 401


def test_otp_reset_removes_devices_and_sessions(cast: Cast) -> None:
    otp_device_new(user=cast.hr, name="lost phone", confirmed=True)
    hr_client = client_for(cast.hr)
    response = client_for(cast.admin).post(f"/api/v1/users/{cast.hr.pk}/otp-reset")
    assert response.status_code == 204
    assert not SealedTOTPDevice.objects.filter(user=cast.hr).exists()
    assert hr_client.get("/api/v1/me").status_code == 401
    assert not AuthToken.objects.filter(user=cast.hr, revoked_at__isnull=True).exists()
    assert AuditEvent.objects.filter(action="user.otp_reset", target_id=str(cast.hr.pk)).exists()


def test_user_list_filters_and_query_count(cast: Cast, django_assert_max_num_queries) -> None:
    client = client_for(cast.admin)
    with django_assert_max_num_queries(5):
        response = client.get("/api/v1/users/?role=officer")
    assert response.status_code == 200
    assert sorted(row["username"] for row in response.json()["results"]) == [
        "off.a1",
        "off.a2",
        "off.b1",
    ]


def test_superuser_is_admin(db: None) -> None:
    user = User.objects.create_superuser("root", "root@example.invalid", "a long enough passphrase")
    assert user.role == "admin"
    assert user.is_staff
