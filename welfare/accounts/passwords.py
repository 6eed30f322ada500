"""The password validator of our own, beside Django's length, similarity, common-list and
all-digits validators (settings.AUTH_PASSWORD_VALIDATORS). They run in the services on a
password a person chooses, never on fixtures."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.contrib.auth.password_validation import CommonPasswordValidator
from django.core.exceptions import ValidationError

from welfare.accounts.rules import is_predictable

PASSWORD_PREDICTABLE = (
    "This password is too easy to guess: it repeats a few characters, or it is a common "  # noqa: S105
    "password with digits or symbols added. A few unrelated words make a good one."
)


@cache
def common_passwords() -> frozenset[str]:
    """Django's bundled list of about 20,000 common and breached passwords."""
    return frozenset(CommonPasswordValidator().passwords)


class PredictablePasswordValidator:
    def validate(self, password: str, user: Any = None) -> None:
        if is_predictable(password, common_passwords()):
            raise ValidationError(PASSWORD_PREDICTABLE, code="password_predictable")

    def get_help_text(self) -> str:
        return (
            "Your password cannot be a few characters repeated, or a common password with "
            "digits or symbols added."
        )
