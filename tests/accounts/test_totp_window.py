"""TOTP codes: the current step and one either side, each code once, no drift (RFC 6238).

django-otp's own check kept one mark (the last step used) and let the accepted window
drift after a code a step ahead: a code two steps ahead was then accepted, and the
user's current code refused as if replayed. The clock is the service's, set by the test.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django_otp.oath import hotp
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from tests.conftest import PASSWORD, Cast
from welfare.accounts import rules
from welfare.accounts.models import SealedTOTPDevice, TOTPStepUsed
from welfare.accounts.services import otp_device_new
from welfare.core import clock as clock_module

# The device's back-off after a wrong code runs on real time (django-otp's): off here, where
# refused codes are the point; tests/accounts/test_api_login.py covers the throttle.
pytestmark = pytest.mark.usefixtures("no_otp_backoff")

# The start of a time step (a multiple of 30 s), so that +/- 10 s stays inside it.
STEP_START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def code(device: SealedTOTPDevice, step: int) -> str:
    return f"{hotp(device.bin_key, step, device.digits):06d}"


def login(otp: str) -> int:
    body = {"username": "oh.one", "password": PASSWORD, "otp": otp}
    return int(APIClient().post("/api/v1/auth/login", body, format="json").status_code)


@pytest.fixture
def no_otp_backoff(settings) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


@pytest.fixture
def device(cast: Cast) -> SealedTOTPDevice:
    return otp_device_new(user=cast.oh1, name="phone", confirmed=True)


@pytest.fixture
def at_step(device: SealedTOTPDevice):
    """Sets the service's clock 10 s into a step; returns the step."""
    now_step = int(STEP_START.timestamp()) // device.step

    def set_to(step: int) -> int:
        clock_module.freeze(datetime.fromtimestamp(step * device.step + 10, tz=UTC))
        return step

    set_to(now_step)
    yield set_to
    clock_module.unfreeze()


def test_the_current_step_and_one_either_side_are_accepted(device, at_step) -> None:
    now = at_step(int(STEP_START.timestamp()) // 30)
    assert login(code(device, now - 1)) == 200
    assert login(code(device, now)) == 200
    assert login(code(device, now + 1)) == 200
    assert login(code(device, now + 2)) == 401
    assert login(code(device, now - 2)) == 401


def test_a_code_a_step_ahead_moves_nothing(device, at_step) -> None:
    now = at_step(int(STEP_START.timestamp()) // 30)
    assert login(code(device, now + 1)) == 200
    # No drift: two ahead is still refused, and the user's current code is still accepted.
    assert login(code(device, now + 2)) == 401
    assert login(code(device, now)) == 200
    # A minute later the window has moved on with the clock, not with the codes.
    at_step(now + 2)
    assert login(code(device, now + 3)) == 200
    assert login(code(device, now + 4)) == 401
    device.refresh_from_db()
    assert device.drift == 0


def test_each_code_is_accepted_once_and_old_steps_are_forgotten(device, at_step) -> None:
    now = at_step(int(STEP_START.timestamp()) // 30)
    assert login(code(device, now)) == 200
    assert login(code(device, now)) == 401  # a replay
    assert set(TOTPStepUsed.objects.filter(device_id=device.pk).values_list("step", flat=True)) == {
        now
    }
    at_step(now + 1)
    assert login(code(device, now)) == 401  # still a replay while it is in the window
    at_step(now + 5)
    assert login(code(device, now + 5)) == 200
    # Only the steps still in the window are kept.
    assert set(TOTPStepUsed.objects.filter(device_id=device.pk).values_list("step", flat=True)) == {
        now + 5
    }


def test_a_replay_is_said_as_such(device, at_step) -> None:
    now = at_step(int(STEP_START.timestamp()) // 30)
    assert login(code(device, now)) == 200
    body = {"username": "oh.one", "password": PASSWORD, "otp": code(device, now)}
    replay = APIClient().post("/api/v1/auth/login", body, format="json")
    assert replay.json()["code"] == "otp_reused"
    at_step(now + 3)  # out of the window: just a wrong code now, said as any refusal is
    replay = APIClient().post("/api/v1/auth/login", body, format="json")
    assert replay.json()["code"] == "invalid_credentials"


@given(
    now=st.integers(min_value=10, max_value=10**8),
    offset=st.integers(min_value=-4, max_value=4),
    used=st.sets(st.integers(min_value=-3, max_value=3), max_size=4),
)
def test_the_window_rule(now: int, offset: int, used: set[int]) -> None:
    def code_at(step: int) -> int:
        return (step * 7919) % 1_000_000  # distinct codes for nearby steps

    used_steps = {now + u for u in used}
    token = f"{code_at(now + offset):06d}"
    accepted = rules.totp_accepted_step(token, now_step=now, code_at=code_at, used=used_steps)
    in_window = abs(offset) <= rules.TOTP_STEPS_EITHER_SIDE
    assert accepted == (now + offset if in_window and now + offset not in used_steps else None)
    reused = rules.totp_reused_step(token, now_step=now, code_at=code_at, used=used_steps)
    assert reused == (now + offset if in_window and now + offset in used_steps else None)
    assert rules.totp_accepted_step("12a456", now_step=now, code_at=code_at, used=set()) is None


def test_removing_a_device_removes_its_used_steps(device, at_step) -> None:
    now = at_step(int(STEP_START.timestamp()) // 30)
    assert login(code(device, now)) == 200
    device.delete()  # as an admin's otp-reset removes it
    assert not TOTPStepUsed.objects.filter(device_id=device.pk).exists()


def test_retention_removes_a_leavers_device_and_its_used_steps(cast: Cast) -> None:
    from tests.records.test_retention import _leaver
    from welfare.records.retention import retention_sweep

    officer = _leaver(cast)
    device = otp_device_new(user=officer.user, name="phone", confirmed=True)
    TOTPStepUsed.objects.create(device_id=device.pk, step=1)
    report = retention_sweep(at=datetime(2067, 3, 11, tzinfo=UTC))
    assert report.officers_anonymised == 1
    assert not SealedTOTPDevice.objects.filter(pk=device.pk).exists()
    assert not TOTPStepUsed.objects.filter(device_id=device.pk).exists()
