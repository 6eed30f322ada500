"""Every endpoint x every role -> expected status, from one table.

A new endpoint without a row here fails `test_every_endpoint_has_a_row`.
Columns: anonymous, officer, supervisor, oh, hr, admin, and `unverified`
(an admin whose token was issued without a verified second factor).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from drf_spectacular.generators import EndpointEnumerator

from tests.conftest import T0, Cast, client_for, make_user
from welfare.accounts.models import GrantKind
from welfare.accounts.services import role_grant_propose
from welfare.alerts.models import Notification
from welfare.alerts.services import alert_raise, webhook_create
from welfare.audit.models import AuditEvent
from welfare.casework.services import report_act, report_draft
from welfare.checkins.services import checkin_trigger, incident_record
from welfare.core.roles import Role
from welfare.exposure.services import exposure_log, force_policy, restriction_create
from welfare.people.services import rotation_review_record
from welfare.records.services import legal_hold_place

ROLES = ("anonymous", "officer", "supervisor", "oh", "hr", "admin", "unverified")

# (method, path template) -> (body, {role: status}); path placeholders are filled from the cast.
MATRIX: dict[tuple[str, str], tuple[Any, dict[str, int]]] = {
    ("POST", "/api/v1/auth/login"): (
        {},
        dict(anonymous=400, officer=400, supervisor=400, oh=400, hr=400, admin=400, unverified=400),
    ),
    # Not configured in these tests: not there for anyone (tests/accounts/test_sso.py).
    ("POST", "/api/v1/auth/sso"): (
        {},
        dict(anonymous=404, officer=404, supervisor=404, oh=404, hr=404, admin=404, unverified=404),
    ),
    ("POST", "/api/v1/auth/logout"): (
        None,
        dict(anonymous=401, officer=204, supervisor=204, oh=204, hr=204, admin=204, unverified=204),
    ),
    ("POST", "/api/v1/auth/password"): (
        {},
        dict(anonymous=401, officer=400, supervisor=400, oh=400, hr=400, admin=400, unverified=403),
    ),
    ("GET", "/api/v1/auth/otp/devices"): (
        None,
        dict(anonymous=401, officer=200, supervisor=200, oh=200, hr=200, admin=200, unverified=200),
    ),
    ("POST", "/api/v1/auth/otp/devices"): (
        {},
        dict(anonymous=401, officer=201, supervisor=201, oh=201, hr=201, admin=201, unverified=201),
    ),
    ("POST", "/api/v1/auth/otp/devices/{device_id}/confirm"): (
        {"otp": "123456"},
        dict(anonymous=401, officer=404, supervisor=404, oh=404, hr=404, admin=404, unverified=404),
    ),
    ("GET", "/api/v1/me"): (
        None,
        dict(anonymous=401, officer=200, supervisor=200, oh=200, hr=200, admin=200, unverified=200),
    ),
    ("PATCH", "/api/v1/me"): (
        {"notify_by": "immediate"},
        dict(anonymous=401, officer=403, supervisor=200, oh=200, hr=403, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/users/"): (
        None,
        dict(anonymous=401, officer=403, supervisor=403, oh=403, hr=403, admin=200, unverified=403),
    ),
    ("POST", "/api/v1/users/"): (
        {},
        dict(anonymous=401, officer=403, supervisor=403, oh=403, hr=403, admin=400, unverified=403),
    ),
    ("GET", "/api/v1/users/{pk}/"): (
        None,
        dict(anonymous=401, officer=403, supervisor=403, oh=403, hr=403, admin=200, unverified=403),
    ),
    ("PATCH", "/api/v1/users/{pk}/"): (
        {"email": "changed@example.invalid"},
        dict(anonymous=401, officer=403, supervisor=403, oh=403, hr=403, admin=200, unverified=403),
    ),
    ("DELETE", "/api/v1/users/{pk}/"): (
        None,
        dict(anonymous=401, officer=403, supervisor=403, oh=403, hr=403, admin=204, unverified=403),
    ),
    ("POST", "/api/v1/users/{pk}/otp-reset"): (
        None,
        dict(anonymous=401, officer=403, supervisor=403, oh=403, hr=403, admin=204, unverified=403),
    ),
    ("GET", "/api/v1/units/"): (
        None,
        dict(anonymous=401, officer=200, supervisor=200, oh=200, hr=403, admin=200, unverified=403),
    ),
    ("POST", "/api/v1/units/"): (
        {},
        dict(anonymous=401, officer=403, supervisor=403, oh=403, hr=403, admin=400, unverified=403),
    ),
    ("GET", "/api/v1/units/{pk}/"): (
        None,
        dict(anonymous=401, officer=200, supervisor=200, oh=200, hr=403, admin=200, unverified=403),
    ),
    ("PATCH", "/api/v1/units/{pk}/"): (
        {"name": "Unit A renamed"},
        dict(anonymous=401, officer=403, supervisor=403, oh=403, hr=403, admin=200, unverified=403),
    ),
    ("GET", "/api/v1/officers/"): (
        None,
        dict(anonymous=401, officer=200, supervisor=200, oh=200, hr=403, admin=200, unverified=403),
    ),
    ("POST", "/api/v1/officers/"): (
        {},
        dict(anonymous=401, officer=403, supervisor=403, oh=403, hr=403, admin=400, unverified=403),
    ),
    ("GET", "/api/v1/officers/{pk}/"): (
        None,
        dict(anonymous=401, officer=200, supervisor=200, oh=200, hr=403, admin=200, unverified=403),
    ),
    ("PATCH", "/api/v1/officers/{pk}/"): (
        {"display_name": "Renamed"},
        dict(anonymous=401, officer=403, supervisor=403, oh=403, hr=403, admin=200, unverified=403),
    ),
    ("GET", "/api/v1/officers/{officer_id}/postings/"): (
        None,
        dict(anonymous=401, officer=200, supervisor=200, oh=200, hr=403, admin=200, unverified=403),
    ),
    ("POST", "/api/v1/officers/{officer_id}/postings/"): (
        {},
        dict(anonymous=401, officer=403, supervisor=403, oh=403, hr=403, admin=400, unverified=403),
    ),
    ("GET", "/api/v1/officers/{officer_id}/postings/{pk}/"): (
        None,
        dict(anonymous=401, officer=200, supervisor=200, oh=200, hr=403, admin=200, unverified=403),
    ),
    ("POST", "/api/v1/officers/{officer_id}/postings/{pk}/end"): (
        {},
        dict(anonymous=401, officer=403, supervisor=403, oh=403, hr=403, admin=400, unverified=403),
    ),
    ("GET", "/api/v1/audit/"): (
        None,
        dict(anonymous=401, officer=403, supervisor=403, oh=200, hr=403, admin=200, unverified=403),
    ),
    ("GET", "/api/v1/audit/{pk}/"): (
        None,
        # The event was caused by the admin: an OH user sees only the events they caused.
        dict(anonymous=401, officer=403, supervisor=403, oh=404, hr=403, admin=200, unverified=403),
    ),
    ("GET", "/api/v1/exposures/"): (
        None,
        dict(anonymous=401, officer=200, supervisor=200, oh=200, hr=403, admin=403, unverified=403),
    ),
    ("POST", "/api/v1/exposures/"): (
        {},
        dict(anonymous=401, officer=400, supervisor=403, oh=403, hr=403, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/exposures/{pk}/"): (
        None,
        dict(anonymous=401, officer=200, supervisor=200, oh=200, hr=403, admin=403, unverified=403),
    ),
    ("POST", "/api/v1/exposures/{pk}/amend"): (
        {},
        dict(anonymous=401, officer=400, supervisor=400, oh=403, hr=403, admin=403, unverified=403),
    ),
    ("POST", "/api/v1/exposures/{pk}/void"): (
        {},
        dict(anonymous=401, officer=400, supervisor=400, oh=403, hr=403, admin=403, unverified=403),
    ),
    ("POST", "/api/v1/exposures/import"): (
        {},
        dict(anonymous=401, officer=403, supervisor=400, oh=403, hr=403, admin=400, unverified=403),
    ),
    # Bulk import: admins only; JSON is not a file (415 past the permission check).
    ("POST", "/api/v1/imports/preview"): (
        {},
        dict(anonymous=401, officer=403, supervisor=403, oh=403, hr=403, admin=415, unverified=403),
    ),
    ("POST", "/api/v1/imports/apply"): (
        {},
        dict(anonymous=401, officer=403, supervisor=403, oh=403, hr=403, admin=415, unverified=403),
    ),
    ("GET", "/api/v1/officers/{officer_id}/exposure-summary"): (
        None,
        dict(anonymous=401, officer=200, supervisor=200, oh=200, hr=403, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/units/{unit_id}/summary"): (
        None,
        dict(anonymous=401, officer=403, supervisor=200, oh=200, hr=403, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/policies/"): (
        None,
        dict(anonymous=401, officer=403, supervisor=403, oh=200, hr=403, admin=200, unverified=403),
    ),
    ("POST", "/api/v1/policies/"): (
        {},
        dict(anonymous=401, officer=403, supervisor=403, oh=400, hr=403, admin=400, unverified=403),
    ),
    ("GET", "/api/v1/policies/{pk}/"): (
        None,
        dict(anonymous=401, officer=403, supervisor=403, oh=200, hr=403, admin=200, unverified=403),
    ),
    ("PATCH", "/api/v1/policies/{pk}/"): (
        {"warning_ratio": 0.75},
        dict(anonymous=401, officer=403, supervisor=403, oh=200, hr=403, admin=200, unverified=403),
    ),
    ("GET", "/api/v1/restrictions/"): (
        None,
        dict(anonymous=401, officer=200, supervisor=200, oh=200, hr=403, admin=403, unverified=403),
    ),
    ("POST", "/api/v1/restrictions/"): (
        {},
        dict(anonymous=401, officer=403, supervisor=403, oh=400, hr=403, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/restrictions/{pk}/"): (
        None,
        dict(anonymous=401, officer=200, supervisor=200, oh=200, hr=403, admin=403, unverified=403),
    ),
    ("POST", "/api/v1/restrictions/{pk}/lift"): (
        None,
        dict(anonymous=401, officer=403, supervisor=403, oh=200, hr=403, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/checkins/"): (
        None,
        dict(anonymous=401, officer=200, supervisor=200, oh=200, hr=403, admin=403, unverified=403),
    ),
    ("POST", "/api/v1/checkins/"): (
        {},
        dict(anonymous=401, officer=400, supervisor=403, oh=403, hr=403, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/checkins/{pk}/"): (
        None,
        dict(anonymous=401, officer=200, supervisor=200, oh=200, hr=403, admin=403, unverified=403),
    ),
    ("POST", "/api/v1/checkins/{pk}/book"): (
        {},
        dict(anonymous=401, officer=403, supervisor=403, oh=400, hr=403, admin=403, unverified=403),
    ),
    ("POST", "/api/v1/checkins/{pk}/complete"): (
        {},
        dict(anonymous=401, officer=403, supervisor=403, oh=400, hr=403, admin=403, unverified=403),
    ),
    ("POST", "/api/v1/checkins/{pk}/cancel"): (
        {},
        dict(anonymous=401, officer=403, supervisor=403, oh=400, hr=403, admin=403, unverified=403),
    ),
    ("POST", "/api/v1/checkins/{pk}/release"): (
        None,
        # Not a check-in that is OH's alone: nothing to release.
        dict(anonymous=401, officer=403, supervisor=403, oh=409, hr=403, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/incidents/"): (
        None,
        dict(anonymous=401, officer=200, supervisor=200, oh=200, hr=403, admin=403, unverified=403),
    ),
    ("POST", "/api/v1/incidents/"): (
        {},
        dict(anonymous=401, officer=400, supervisor=400, oh=400, hr=403, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/incidents/{pk}/"): (
        None,
        dict(anonymous=401, officer=200, supervisor=200, oh=200, hr=403, admin=403, unverified=403),
    ),
    ("POST", "/api/v1/incidents/{pk}/withdraw"): (
        {},
        dict(anonymous=401, officer=400, supervisor=400, oh=400, hr=403, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/me/checkins.ics"): (
        None,
        dict(anonymous=401, officer=200, supervisor=200, oh=200, hr=200, admin=200, unverified=403),
    ),
    ("POST", "/api/v1/me/calendar-key"): (
        None,
        dict(anonymous=401, officer=201, supervisor=201, oh=201, hr=201, admin=201, unverified=403),
    ),
    ("GET", "/api/v1/calendar/{key}.ics"): (
        None,
        dict(anonymous=404, officer=404, supervisor=404, oh=404, hr=404, admin=404, unverified=404),
    ),
    ("GET", "/api/v1/alerts/"): (
        None,
        dict(anonymous=401, officer=200, supervisor=200, oh=200, hr=403, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/alerts/{pk}/"): (
        None,
        dict(anonymous=401, officer=200, supervisor=200, oh=200, hr=403, admin=403, unverified=403),
    ),
    ("POST", "/api/v1/alerts/{pk}/acknowledge"): (
        None,
        dict(anonymous=401, officer=403, supervisor=200, oh=200, hr=403, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/alerts/by-officer"): (
        None,
        dict(anonymous=401, officer=403, supervisor=200, oh=200, hr=403, admin=403, unverified=403),
    ),
    ("POST", "/api/v1/alerts/acknowledge"): (
        {},
        dict(anonymous=401, officer=403, supervisor=400, oh=400, hr=403, admin=403, unverified=403),
    ),
    ("POST", "/api/v1/alerts/{pk}/resolve"): (
        {},
        dict(anonymous=401, officer=403, supervisor=400, oh=400, hr=403, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/notifications/"): (
        None,
        dict(anonymous=401, officer=200, supervisor=200, oh=200, hr=200, admin=200, unverified=403),
    ),
    ("GET", "/api/v1/notifications/{pk}/"): (
        None,
        # Officer A1's own notification: nobody else's to read.
        dict(anonymous=401, officer=200, supervisor=404, oh=404, hr=404, admin=404, unverified=403),
    ),
    ("POST", "/api/v1/notifications/{pk}/read"): (
        None,
        dict(anonymous=401, officer=200, supervisor=404, oh=404, hr=404, admin=404, unverified=403),
    ),
    ("POST", "/api/v1/notifications/read-all"): (
        None,
        dict(anonymous=401, officer=200, supervisor=200, oh=200, hr=200, admin=200, unverified=403),
    ),
    ("GET", "/api/v1/rotation-reviews/"): (
        None,
        dict(anonymous=401, officer=403, supervisor=200, oh=200, hr=403, admin=403, unverified=403),
    ),
    ("POST", "/api/v1/rotation-reviews/"): (
        {},
        dict(anonymous=401, officer=403, supervisor=400, oh=400, hr=403, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/rotation-reviews/{pk}/"): (
        None,
        dict(anonymous=401, officer=403, supervisor=200, oh=200, hr=403, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/webhooks/"): (
        None,
        dict(anonymous=401, officer=403, supervisor=403, oh=403, hr=403, admin=200, unverified=403),
    ),
    ("POST", "/api/v1/webhooks/"): (
        {},
        dict(anonymous=401, officer=403, supervisor=403, oh=403, hr=403, admin=400, unverified=403),
    ),
    ("GET", "/api/v1/webhooks/{pk}/"): (
        None,
        dict(anonymous=401, officer=403, supervisor=403, oh=403, hr=403, admin=200, unverified=403),
    ),
    ("PATCH", "/api/v1/webhooks/{pk}/"): (
        {"active": False},
        dict(anonymous=401, officer=403, supervisor=403, oh=403, hr=403, admin=200, unverified=403),
    ),
    ("GET", "/api/v1/legal-holds/"): (
        None,
        dict(anonymous=401, officer=403, supervisor=403, oh=403, hr=403, admin=200, unverified=403),
    ),
    ("POST", "/api/v1/legal-holds/"): (
        {},
        dict(anonymous=401, officer=403, supervisor=403, oh=403, hr=403, admin=400, unverified=403),
    ),
    ("GET", "/api/v1/legal-holds/{pk}/"): (
        None,
        dict(anonymous=401, officer=403, supervisor=403, oh=403, hr=403, admin=200, unverified=403),
    ),
    ("POST", "/api/v1/legal-holds/{pk}/lift"): (
        None,
        dict(anonymous=401, officer=403, supervisor=403, oh=403, hr=403, admin=200, unverified=403),
    ),
    ("GET", "/api/v1/screenings/instruments"): (
        None,
        dict(anonymous=401, officer=200, supervisor=403, oh=200, hr=403, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/screenings/"): (
        None,
        dict(anonymous=401, officer=200, supervisor=403, oh=403, hr=403, admin=403, unverified=403),
    ),
    ("POST", "/api/v1/screenings/"): (
        {},
        dict(anonymous=401, officer=400, supervisor=403, oh=403, hr=403, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/support"): (
        None,
        # Help is never behind a log-in.
        dict(anonymous=200, officer=200, supervisor=200, oh=200, hr=200, admin=200, unverified=200),
    ),
    ("GET", "/api/v1/oh/queue/"): (
        None,
        dict(anonymous=401, officer=403, supervisor=403, oh=200, hr=403, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/oh/clinicians/"): (
        None,
        dict(anonymous=401, officer=403, supervisor=403, oh=200, hr=403, admin=403, unverified=403),
    ),
    ("POST", "/api/v1/oh/clinicians/{user_id}/lead"): (
        {"lead": True},
        # Only an OH lead decides who is a lead: the cast's clinician is not one.
        dict(anonymous=401, officer=403, supervisor=403, oh=403, hr=403, admin=403, unverified=403),
    ),
    ("POST", "/api/v1/oh/clinicians/{user_id}/recover"): (
        None,
        # Only an OH lead recovers a clinician (the cast's clinician is not one); never an admin.
        dict(anonymous=401, officer=403, supervisor=403, oh=403, hr=403, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/oh/role-grants/"): (
        None,
        # A lead sees every proposal, an admin their own, a clinician who is not a lead none.
        dict(anonymous=401, officer=403, supervisor=403, oh=200, hr=403, admin=200, unverified=403),
    ),
    ("GET", "/api/v1/oh/role-grants/{pk}/"): (
        None,
        dict(anonymous=401, officer=403, supervisor=403, oh=404, hr=403, admin=200, unverified=403),
    ),
    ("POST", "/api/v1/oh/role-grants/{pk}/approve"): (
        None,
        # The proposing admin may not approve; a clinician who is not a lead sees none.
        dict(anonymous=401, officer=403, supervisor=403, oh=404, hr=403, admin=403, unverified=403),
    ),
    ("POST", "/api/v1/oh/role-grants/{pk}/decline"): (
        None,
        # The proposing admin declining their own proposal withdraws it.
        dict(anonymous=401, officer=403, supervisor=403, oh=404, hr=403, admin=200, unverified=403),
    ),
    ("POST", "/api/v1/users/{user_id}/propose-oh-lead"): (
        None,
        dict(anonymous=401, officer=403, supervisor=403, oh=403, hr=403, admin=201, unverified=403),
    ),
    ("POST", "/api/v1/oh/cases/{officer_id}/assign"): (
        {"clinician": None},
        dict(anonymous=401, officer=403, supervisor=403, oh=200, hr=403, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/checkins/{checkin_id}/screenings"): (
        None,
        dict(anonymous=401, officer=200, supervisor=403, oh=200, hr=403, admin=403, unverified=403),
    ),
    ("POST", "/api/v1/checkins/{checkin_id}/screenings"): (
        {},
        dict(anonymous=401, officer=400, supervisor=403, oh=400, hr=403, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/oh/cases/"): (
        None,
        dict(anonymous=401, officer=403, supervisor=403, oh=200, hr=403, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/oh/cases/{officer_id}"): (
        None,
        dict(anonymous=401, officer=403, supervisor=403, oh=200, hr=403, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/oh/cases/{officer_id}/notes"): (
        None,
        dict(anonymous=401, officer=403, supervisor=403, oh=200, hr=403, admin=403, unverified=403),
    ),
    ("POST", "/api/v1/oh/cases/{officer_id}/notes"): (
        {},
        dict(anonymous=401, officer=403, supervisor=403, oh=400, hr=403, admin=403, unverified=403),
    ),
    ("POST", "/api/v1/oh/cases/{officer_id}/reports"): (
        {},
        dict(anonymous=401, officer=403, supervisor=403, oh=400, hr=403, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/me/access-log"): (
        None,
        dict(anonymous=401, officer=200, supervisor=403, oh=403, hr=403, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/reports/"): (
        None,
        dict(anonymous=401, officer=200, supervisor=200, oh=200, hr=403, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/reports/{pk}/"): (
        None,
        # An offered report: the officer's to read and decide on; not yet management's.
        dict(anonymous=401, officer=200, supervisor=404, oh=200, hr=403, admin=403, unverified=403),
    ),
    ("POST", "/api/v1/reports/{pk}/offer"): (
        None,
        dict(anonymous=401, officer=403, supervisor=403, oh=409, hr=403, admin=403, unverified=403),
    ),
    ("POST", "/api/v1/reports/{pk}/consent"): (
        None,
        dict(anonymous=401, officer=200, supervisor=403, oh=403, hr=403, admin=403, unverified=403),
    ),
    ("POST", "/api/v1/reports/{pk}/decline"): (
        None,
        dict(anonymous=401, officer=200, supervisor=403, oh=403, hr=403, admin=403, unverified=403),
    ),
    ("POST", "/api/v1/reports/{pk}/withdraw"): (
        None,
        dict(anonymous=401, officer=409, supervisor=403, oh=403, hr=403, admin=403, unverified=403),
    ),
    ("POST", "/api/v1/reports/{pk}/disclose"): (
        {},
        dict(anonymous=401, officer=403, supervisor=403, oh=400, hr=403, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/stats/exposure"): (
        None,
        dict(anonymous=401, officer=403, supervisor=403, oh=403, hr=200, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/stats/checkins"): (
        None,
        dict(anonymous=401, officer=403, supervisor=403, oh=403, hr=200, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/stats/alerts"): (
        None,
        dict(anonymous=401, officer=403, supervisor=403, oh=403, hr=200, admin=403, unverified=403),
    ),
    ("GET", "/api/v1/stats/rotation"): (
        None,
        dict(anonymous=401, officer=403, supervisor=403, oh=403, hr=200, admin=403, unverified=403),
    ),
    ("GET", "/api/schema/"): (
        None,
        dict(anonymous=200, officer=200, supervisor=200, oh=200, hr=200, admin=200, unverified=200),
    ),
    ("GET", "/api/docs/"): (
        None,
        dict(anonymous=200, officer=200, supervisor=200, oh=200, hr=200, admin=200, unverified=200),
    ),
}


def _endpoints() -> set[tuple[str, str]]:
    return {
        (method, path) for path, _regex, method, _view in EndpointEnumerator().get_api_endpoints()
    }


def test_every_endpoint_has_a_row() -> None:
    missing = _endpoints() - set(MATRIX)
    stale = set(MATRIX) - _endpoints()
    assert not missing, f"endpoints without an access row: {sorted(missing)}"
    assert not stale, f"rows for endpoints that do not exist: {sorted(stale)}"


def _path(template: str, cast: Cast) -> str:
    """Fill a template with a record that the cast's officer A1 owns (or is about them)."""
    officer = cast.officer_a1
    makers: dict[str, Callable[[], int]] = {
        "/api/v1/users/": lambda: make_user("spare.user", Role.OFFICER).pk,
        "/api/v1/units/": lambda: cast.unit_a.pk,
        "/api/v1/audit/": lambda: (
            AuditEvent.objects.filter(actor=cast.admin).order_by("id").first().pk
        ),
        "/api/v1/exposures/": lambda: (
            exposure_log(
                officer=officer,
                recorded_by=officer.user,
                started_at=T0 - timedelta(hours=3),
                ended_at=T0 - timedelta(hours=2),
                material="image",
                category="C",
                client_ref=uuid.uuid4(),
            ).session.pk
        ),
        "/api/v1/policies/": lambda: force_policy().pk,
        "/api/v1/oh/role-grants/": lambda: (
            role_grant_propose(actor=cast.admin, user=cast.hr, kind=GrantKind.OH)[0].pk
        ),
        "/api/v1/restrictions/": lambda: (
            restriction_create(
                actor=cast.oh1,
                officer=officer,
                starts_on=date(2027, 3, 1),
                ends_on=None,
                daily_minutes=120,
            ).pk
        ),
        "/api/v1/officers/{officer_id}/postings/": lambda: officer.postings.get().pk,
        "/api/v1/checkins/": lambda: (
            checkin_trigger(officer_id=officer.pk, due_on=date(2027, 3, 17), key="matrix").pk
        ),
        "/api/v1/incidents/": lambda: (
            incident_record(
                actor=cast.oh1, officer=officer, occurred_on=date(2027, 3, 9), category="other"
            ).incident.pk
        ),
        "/api/v1/alerts/": lambda: (
            alert_raise(
                officer_id=officer.pk,
                kind="exposure_limit",
                severity="warning",
                dedupe_key="matrix",
            )[0].pk
        ),
        "/api/v1/notifications/": lambda: (
            Notification.objects.create(
                recipient=officer.user, dedupe_key="matrix", subject="s", body="b", created_at=T0
            ).pk
        ),
        "/api/v1/rotation-reviews/": lambda: (
            rotation_review_record(
                actor=cast.supervisor_a,
                posting=officer.postings.get(),
                decision="stay",
                next_review_on=date(2027, 9, 1),
            ).pk
        ),
        "/api/v1/reports/": lambda: (
            report_act(
                actor=cast.oh1,
                report=report_draft(actor=cast.oh1, officer=officer, fitness="fit"),
                action="offer",
            ).pk
        ),
        "/api/v1/legal-holds/": lambda: (
            legal_hold_place(actor=cast.admin, officer=officer, reason="Claim MATRIX-1").pk
        ),
        "/api/v1/webhooks/": lambda: (
            webhook_create(
                actor=cast.admin, unit=cast.unit_a, url="https://chat.example.invalid/hook"
            ).pk
        ),
    }
    prefix = next((p for p in makers if template.startswith(p) and "{pk}" in template), None)
    pk = makers[prefix]() if prefix else officer.pk
    checkin_id = makers["/api/v1/checkins/"]() if "{checkin_id}" in template else None
    return template.format(
        pk=pk,
        officer_id=officer.pk,
        unit_id=cast.unit_a.pk,
        device_id=999999,
        key="no-such-key",
        checkin_id=checkin_id,
        user_id=cast.oh2.pk,
    )


def _client(role: str, cast: Cast):
    if role == "anonymous":
        return client_for(None)
    if role == "unverified":
        return client_for(cast.admin, verified=False)
    return client_for(cast.user(role))


@pytest.mark.parametrize(("method", "template"), sorted(MATRIX))
@pytest.mark.parametrize("role", ROLES)
def test_access(method: str, template: str, role: str, cast: Cast) -> None:
    body, expected = MATRIX[(method, template)]
    client = _client(role, cast)
    response = client.generic(
        method,
        _path(template, cast),
        data=None if body is None else json.dumps(body),
        content_type="application/json",
    )
    assert response.status_code == expected[role], (role, method, template, response.content[:300])
    if response.status_code == 403 and role == "unverified" and template.startswith("/api/v1/"):
        assert response.json()["code"] == "two_factor_required"
        assert "Two-factor" in response.json()["detail"]
