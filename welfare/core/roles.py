"""Roles: a user has exactly one."""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    OFFICER = "officer", "Officer"
    SUPERVISOR = "supervisor", "Supervisor"
    OH = "oh", "Occupational health clinician"
    HR = "hr", "HR analyst"
    ADMIN = "admin", "Administrator"


ALL_ROLES: frozenset[str] = frozenset(Role.values)
# Roles whose calls (beyond log-in, /me and enrolment) need a verified second factor.
TWO_FACTOR_ROLES: frozenset[str] = frozenset({Role.SUPERVISOR, Role.OH, Role.HR, Role.ADMIN})
# Roles who choose how non-urgent notifications reach them by e-mail: at once, or in one
# daily digest. Everyone else (an officer's own reminders and notices) is e-mailed at once.
DIGEST_ROLES: frozenset[str] = frozenset({Role.SUPERVISOR, Role.OH})


# An API client asks for the officer hat on a view that serves both hats (a list) with this
# header (see welfare.core.rules.serving_hat).
ACTING_AS_HEADER = "Acting-As"
