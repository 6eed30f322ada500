"""The password policy (ASVS 5.0 V6.2): at least 12 characters, not a common or breached
password (nor one with digits or symbols around it, nor a few characters repeated), no
composition rules. Checked on every password a person chooses."""

from __future__ import annotations

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from backend.demo import DEMO_PASSWORD
from tests.conftest import PASSWORD, Cast, client_for, field_errors
from welfare.accounts.models import User
from welfare.accounts.passwords import PASSWORD_PREDICTABLE, common_passwords
from welfare.accounts.rules import common_core, is_predictable, repeats_a_short_unit

PASSWORD_URL = "/api/v1/auth/password"
USERS = "/api/v1/users/"
WEAK = ["aaaaaaaaaaaa", "Password123!", "password1234", "abcdefghijk", "abababababab"]
GOOD = ["correct horse battery staple", "tin kettle on a wet tuesday", "Hove-lighthouse-1987"]


@pytest.mark.parametrize("weak", WEAK)
def test_password_change_refuses_weak_passwords_with_a_field_message(cast: Cast, weak: str) -> None:
    user = cast.officer_a1.user
    response = client_for(user).post(
        PASSWORD_URL, {"current_password": PASSWORD, "new_password": weak}, format="json"
    )
    assert response.status_code == 400
    body = field_errors(response)
    assert list(body) == ["new_password"]
    assert body["new_password"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_eleven_characters_are_too_short(cast: Cast) -> None:
    response = client_for(cast.officer_a1.user).post(
        PASSWORD_URL, {"current_password": PASSWORD, "new_password": "kettle-moon"}, format="json"
    )
    assert response.status_code == 400
    assert any("at least 12 characters" in m for m in response.json()["new_password"])


def test_common_password_with_digits_added_gets_the_predictable_message(cast: Cast) -> None:
    response = client_for(cast.officer_a1.user).post(
        PASSWORD_URL,
        {"current_password": PASSWORD, "new_password": "Password123!"},
        format="json",
    )
    assert response.json()["new_password"] == [PASSWORD_PREDICTABLE]


@pytest.mark.parametrize("good", GOOD)
def test_a_passphrase_is_accepted(cast: Cast, good: str) -> None:
    user = cast.officer_a1.user
    response = client_for(user).post(
        PASSWORD_URL, {"current_password": PASSWORD, "new_password": good}, format="json"
    )
    assert response.status_code == 204, response.content
    user.refresh_from_db()
    assert user.check_password(good)


def test_admin_cannot_give_a_new_user_a_weak_password(cast: Cast) -> None:
    response = client_for(cast.admin).post(
        USERS,
        {"username": "new.officer", "role": "officer", "password": "aaaaaaaaaaaa"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["password"]
    assert not User.objects.filter(username="new.officer").exists()


def test_fixture_and_demo_passwords_meet_the_policy() -> None:
    # The cast is created without the validators (they run in services on what a person
    # chooses); both passwords pass them all the same.
    for password in (PASSWORD, DEMO_PASSWORD):
        validate_password(password, User(username="someone.new"))


def test_no_composition_rules() -> None:
    # All lower case, no digit, no symbol: long and uncommon is enough.
    validate_password("plain lower case words only", User(username="x"))
    with pytest.raises(ValidationError):
        validate_password("Aa1!Aa1!Aa1!", User(username="x"))  # every class, still weak


@pytest.mark.parametrize(
    ("password", "repeats"),
    [
        ("aaaaaaaaaaaa", True),
        ("abababababab", True),
        ("abcdabcdabcd", True),
        ("kettlekettlekettle", True),
        ("kettlekettle", False),
        ("correct horse", False),
        ("", False),
    ],
)
def test_repeats_a_short_unit(password: str, repeats: bool) -> None:
    assert repeats_a_short_unit(password) is repeats


def test_common_core_strips_only_the_ends() -> None:
    assert common_core("Password123!") == "password"
    assert common_core("  ##monkey2027") == "monkey"
    assert common_core("pass word 12") == "pass word"


def test_predictable_uses_the_bundled_list() -> None:
    common = common_passwords()
    assert len(common) > 19_000
    assert is_predictable("Dragon2027!!", common)
    assert not is_predictable("Dragon-fruit-2027", common)
