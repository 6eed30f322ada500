"""Abusive input: deep JSON, huge bodies, huge CSV fields, log-in spraying and password
guessing. Each answers 4xx in the one JSON error shape and stores nothing (or a bounded
amount)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from tests.conftest import PASSWORD, Cast, client_for, field_errors, web_client_for
from welfare.accounts.models import AuthToken, LoginThrottle
from welfare.accounts.rules import (
    SprayPolicy,
    ThrottleState,
    after_address_failure,
    count_in_window,
)
from welfare.accounts.services import (
    ADDRESS_LOCKED,
    INVALID_CREDENTIALS,
    PASSWORD_CHANGE_LOCKED,
    PASSWORD_WRONG,
)
from welfare.audit.models import AuditEvent
from welfare.core.parsers import TOO_DEEP, TOO_LARGE, depth_exceeds
from welfare.exposure.api import CSV_FIELD_TOO_LONG, CSV_UNREADABLE
from welfare.exposure.models import ExposureSession

LOGIN = "/api/v1/auth/login"
PASSWORD_URL = "/api/v1/auth/password"
EXPOSURES = "/api/v1/exposures/"
IMPORT = "/api/v1/exposures/import"
CSV_HEADER = (
    "staff_number,started_at,ended_at,material,category,violent,items_reviewed,activity,"
    "client_ref\n"
)
CSV_ROW = "T0001,2027-03-08T09:00:00+00:00,2027-03-08T10:00:00+00:00,image,A,,,,{ref}\n"


def deep_json(levels: int) -> bytes:
    return ("[" * levels + "]" * levels).encode()


def post_raw(client: APIClient, url: str, body: bytes, content_type: str = "application/json"):
    return client.generic("POST", url, body, content_type=content_type)


# --- Depth ------------------------------------------------------------------------------


@pytest.mark.parametrize("levels", [settings.REQUEST_MAX_DEPTH + 1, 1_000, 100_000])
def test_deep_json_to_login_is_refused_without_a_login_attempt(cast: Cast, levels: int) -> None:
    response = post_raw(APIClient(), LOGIN, deep_json(levels))
    assert response.status_code == 400
    assert response.json() == {
        "detail": TOO_DEEP.format(limit=settings.REQUEST_MAX_DEPTH),
        "code": "too_deep",
    }
    assert not AuthToken.objects.exists()
    assert not LoginThrottle.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="auth.login").exists()


def test_deep_json_inside_an_object_is_refused_on_authenticated_endpoints(cast: Cast) -> None:
    nested = b'{"started_at": ' + deep_json(1_000) + b"}"
    officer = client_for(cast.officer_a1.user)
    for url in (EXPOSURES, PASSWORD_URL):
        response = post_raw(officer, url, nested)
        assert response.status_code == 400, url
        assert response.json()["code"] == "too_deep"
    assert not ExposureSession.objects.exists()
    assert cast.officer_a1.user.check_password(PASSWORD)


def test_deep_json_in_web_forms_is_refused_not_a_server_error(cast: Cast, clock) -> None:
    officer = web_client_for(cast.officer_a1.user)
    form = {"client_ref": str(uuid.uuid4()), "segments": deep_json(100_000).decode()}
    assert officer.post("/me/sessions", form).status_code == 302
    supervisor = web_client_for(cast.supervisor_a)
    upload = SimpleUploadedFile("rows.json", deep_json(100_000), "application/json")
    assert supervisor.post("/unit/import", {"file": upload}).status_code == 200
    huge_field = (CSV_HEADER + CSV_ROW.format(ref="x" * 140 * 1024)).encode()
    upload = SimpleUploadedFile("rows.csv", huge_field, "text/csv")
    assert supervisor.post("/unit/import", {"file": upload}).status_code == 200
    assert not ExposureSession.objects.exists()


def test_json_as_deep_as_the_limit_still_parses(cast: Cast) -> None:
    body = deep_json(settings.REQUEST_MAX_DEPTH)
    response = post_raw(APIClient(), LOGIN, body)
    # Parsed, then refused by the serializer for its shape, not for its depth.
    assert response.status_code == 400
    assert field_errors(response) == {
        "non_field_errors": ["Invalid data. Expected a dictionary, but got list."]
    }


def test_depth_is_measured_on_objects_and_lists_alike() -> None:
    assert not depth_exceeds({"a": [1, {"b": 2}]}, 3)
    assert depth_exceeds({"a": [1, {"b": [2]}]}, 3)
    assert not depth_exceeds("just a string", 1)


# --- Size -------------------------------------------------------------------------------


def test_twenty_megabyte_json_is_refused_as_too_large(cast: Cast) -> None:
    body = b'{"username": "' + b"a" * (20 * 1024 * 1024) + b'", "password": "x"}'
    response = post_raw(APIClient(), LOGIN, body)
    assert response.status_code == 413
    assert response.json() == {
        "detail": TOO_LARGE.format(limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE),
        "code": "too_large",
    }
    assert not LoginThrottle.objects.exists()


def test_twenty_megabyte_csv_import_is_refused_and_nothing_stored(cast: Cast, clock) -> None:
    rows = "".join(CSV_ROW.format(ref=f"r{n}") for n in range(20 * 1024 * 1024 // 70 + 1))
    body = (CSV_HEADER + rows).encode()
    assert len(body) > 20 * 1024 * 1024
    response = post_raw(client_for(cast.supervisor_a), IMPORT, body, "text/csv")
    assert response.status_code == 413
    assert response.json() == {
        "detail": TOO_LARGE.format(limit=settings.IMPORT_MAX_BYTES),
        "code": "too_large",
    }
    assert not ExposureSession.objects.exists()
    assert not AuditEvent.objects.filter(action="exposure.imported").exists()


def test_import_allows_more_than_the_general_limit(cast: Cast, clock, settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = (CSV_HEADER + CSV_ROW.format(ref="x" * 90) * 20).encode()
    assert 1024 < len(body) < settings.IMPORT_MAX_BYTES
    response = post_raw(client_for(cast.supervisor_a), IMPORT, body, "text/csv")
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("size", [settings.IMPORT_MAX_FIELD_CHARS + 1, 140 * 1024])
def test_huge_csv_field_is_refused_with_a_field_message(cast: Cast, clock, size: int) -> None:
    body = (CSV_HEADER + CSV_ROW.format(ref="ok") + CSV_ROW.format(ref="x" * size)).encode()
    response = post_raw(client_for(cast.supervisor_a), IMPORT, body, "text/csv")
    assert response.status_code == 400
    limit = settings.IMPORT_MAX_FIELD_CHARS
    assert response.json()["rows"][0] in (
        CSV_FIELD_TOO_LONG.format(line=3, limit=limit),
        CSV_UNREADABLE.format(line=3, limit=limit),
    )
    assert not ExposureSession.objects.exists()


# --- Password change throttle -------------------------------------------------------------


def test_password_change_is_throttled_after_repeated_wrong_current_passwords(
    cast: Cast, clock
) -> None:
    user = cast.officer_a1.user
    client = client_for(user)
    body = {"current_password": "guess", "new_password": "a brand new passphrase"}
    for _ in range(settings.PASSWORD_CHANGE_MAX_FAILURES):
        response = client.post(PASSWORD_URL, body, format="json")
        assert response.status_code == 400
        assert field_errors(response) == {"current_password": [PASSWORD_WRONG]}
    # Now even the right password is refused, without being looked at.
    right = {"current_password": PASSWORD, "new_password": "a brand new passphrase"}
    locked = client.post(PASSWORD_URL, right, format="json")
    assert locked.status_code == 429
    assert locked.json() == {"detail": PASSWORD_CHANGE_LOCKED, "code": "locked"}
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    events = AuditEvent.objects.filter(target_id=str(user.pk), action__startswith="auth.password")
    assert sorted(events.values_list("action", flat=True)) == sorted(
        ["auth.password.change_failed"] * (settings.PASSWORD_CHANGE_MAX_FAILURES - 1)
        + ["auth.password.change_locked"]
    )
    # Log-in is a different counter: the officer can still sign in.
    assert (
        APIClient()
        .post(LOGIN, {"username": "off.a1", "password": PASSWORD}, format="json")
        .status_code
        == 200
    )
    clock.advance(seconds=settings.LOGIN_LOCKOUT_SECONDS)
    client = client_for(user)  # the old token has gone idle meanwhile
    assert client.post(PASSWORD_URL, right, format="json").status_code == 204
    user.refresh_from_db()
    assert user.check_password("a brand new passphrase")


# --- Log-in spraying ----------------------------------------------------------------------


def test_spraying_many_names_from_one_address_is_throttled(cast: Cast, clock) -> None:
    limit = settings.LOGIN_ADDRESS_MAX_FAILURES
    client = APIClient(REMOTE_ADDR="192.0.2.7")
    for n in range(limit - 1):
        response = client.post(
            LOGIN, {"username": f"made.up.{n}", "password": "Summer2027!"}, format="json"
        )
        assert response.status_code == 401
        assert response.json()["detail"] == INVALID_CREDENTIALS
    last = client.post(LOGIN, {"username": "off.a1", "password": "Summer2027!"}, format="json")
    assert last.status_code == 401
    # The address is now refused, even with a right password; another address is not.
    refused = client.post(LOGIN, {"username": "off.a2", "password": PASSWORD}, format="json")
    assert refused.status_code == 429
    assert refused.json() == {"detail": ADDRESS_LOCKED, "code": "locked"}
    assert not AuthToken.objects.filter(user=cast.officer_a2.user).exists()
    elsewhere = APIClient(REMOTE_ADDR="198.51.100.3")
    assert (
        elsewhere.post(
            LOGIN, {"username": "off.a2", "password": PASSWORD}, format="json"
        ).status_code
        == 200
    )
    # Rows: two per address, shared counters for made-up names, the real user's row.
    rows = set(LoginThrottle.objects.values_list("username", flat=True))
    assert {"#address:192.0.2.7", "#unknown-names-from:192.0.2.7", "off.a1"} <= rows
    assert all(row.startswith("#") for row in rows - {"off.a1", "off.a2"})
    # Audit: one aggregated event for the unknown names, one for the real user's failure,
    # one when the address locked: not one per name.
    failed = AuditEvent.objects.filter(action="auth.login.failed")
    assert failed.count() == 2
    aggregated = failed.get(detail__reason="unknown_user")
    assert aggregated.detail["aggregated"] is True
    locked = AuditEvent.objects.get(action="auth.login.address_locked")
    assert locked.detail["failures"] == limit


def test_rows_and_audit_events_from_unknown_names_are_bounded(cast: Cast, clock, settings) -> None:
    settings.LOGIN_UNKNOWN_NAME_BUCKETS = 4
    settings.LOGIN_ADDRESS_MAX_FAILURES = 1_000
    client = APIClient(REMOTE_ADDR="192.0.2.10")
    answers = {
        client.post(
            LOGIN, {"username": f"made.up.{n}", "password": "Winter2027!"}, format="json"
        ).status_code
        for n in range(60)
    }
    # Made-up names lock their shared counters as real names would: 401 or 429, never 200.
    assert answers <= {401, 429}
    rows = set(LoginThrottle.objects.values_list("username", flat=True))
    assert len(rows) <= 2 + settings.LOGIN_UNKNOWN_NAME_BUCKETS
    assert not any(row.startswith("made.up") for row in rows)
    assert AuditEvent.objects.filter(action__startswith="auth.login").count() == 1
    assert LoginThrottle.objects.get(username="#unknown-names-from:192.0.2.10").failures > 1


def test_unknown_names_are_counted_per_window_and_reported_in_the_next(cast: Cast, clock) -> None:
    client = APIClient(REMOTE_ADDR="192.0.2.8")
    for n in range(4):
        client.post(LOGIN, {"username": f"ghost.{n}", "password": "x"}, format="json")
    clock.advance(seconds=settings.LOGIN_ADDRESS_WINDOW_SECONDS)
    client.post(LOGIN, {"username": "ghost.next", "password": "x"}, format="json")
    events = AuditEvent.objects.filter(action="auth.login.failed").order_by("pk")
    assert [e.detail["previous_window_failures"] for e in events] == [0, 4]
    assert LoginThrottle.objects.get(username="#unknown-names-from:192.0.2.8").failures == 1


def test_made_up_name_still_locks_like_a_real_one(cast: Cast, clock) -> None:
    client = APIClient(REMOTE_ADDR="192.0.2.9")
    answers = [
        client.post(
            LOGIN, {"username": "nobody.at.all", "password": "x"}, format="json"
        ).status_code
        for _ in range(settings.LOGIN_MAX_FAILURES + 1)
    ]
    assert answers == [401] * settings.LOGIN_MAX_FAILURES + [429]


# --- The rules ----------------------------------------------------------------------------


def test_address_count_restarts_after_a_quiet_window_and_after_a_lock() -> None:
    policy = SprayPolicy(max_failures=3, window=timedelta(minutes=15), lockout=timedelta(hours=1))
    t0 = datetime(2027, 3, 10, 9, tzinfo=UTC)
    fresh = ThrottleState(failures=0, locked_until=None)
    state, locked = after_address_failure(fresh, None, t0, policy)
    assert (state.failures, locked) == (1, False)
    state, locked = after_address_failure(state, t0, t0 + timedelta(minutes=14), policy)
    assert (state.failures, locked) == (2, False)
    quiet, _ = after_address_failure(state, t0, t0 + timedelta(minutes=15), policy)
    assert quiet.failures == 1
    state, locked = after_address_failure(state, t0, t0 + timedelta(minutes=14), policy)
    assert locked
    assert state.locked_until == t0 + timedelta(minutes=14, hours=1)
    later = t0 + timedelta(minutes=14, hours=1, seconds=1)
    after, locked = after_address_failure(state, t0, later, policy)
    assert (after.failures, locked) == (1, False)


def test_count_in_window() -> None:
    t0 = datetime(2027, 3, 10, 9, tzinfo=UTC)
    window = timedelta(minutes=15)
    assert count_in_window(0, None, t0, window) == (1, True)
    assert count_in_window(4, t0, t0 + timedelta(minutes=1), window) == (5, False)
    assert count_in_window(4, t0, t0 + window, window) == (1, True)
