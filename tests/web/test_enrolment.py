"""Enrolment that works with a real phone: the QR code scans (read back from a screenshot
by zxing-cpp into the same otpauth:// address), the key can be typed, and a code used a
moment ago is said to be that, on the page and over the API."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import pytest
from django_otp.oath import TOTP
from rest_framework.test import APIClient

from tests.conftest import PASSWORD, Cast
from tests.web.test_browser import chromium, sign_in  # noqa: F401
from welfare.accounts.models import SealedTOTPDevice
from welfare.accounts.services import OTP_REUSED, otp_device_new
from welfare.core.clock import now as service_now


def code(device: SealedTOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = service_now().timestamp()  # the service's clock
    return f"{totp.token():06d}"


def test_a_code_used_a_moment_ago_is_said_to_be_that(cast: Cast) -> None:
    device = otp_device_new(user=cast.hr, name="phone", confirmed=True)
    device.refresh_from_db()
    used = code(device)
    body = {"username": "hr.one", "password": PASSWORD, "otp": used}
    assert APIClient().post("/api/v1/auth/login", body, format="json").status_code == 200
    again = APIClient().post("/api/v1/auth/login", body, format="json")
    assert again.status_code == 401
    assert again.json()["code"] == "otp_reused"
    assert "just been used" in again.json()["detail"]
    wrong_password = APIClient().post(
        "/api/v1/auth/login", {**body, "password": "not-it"}, format="json"
    )
    assert wrong_password.json()["code"] == "invalid_credentials"  # says nothing more
    from django.test import Client

    page = Client().post("/login", {"username": "hr.one", "password": PASSWORD, "otp": used})
    assert OTP_REUSED.encode() in page.content


@pytest.mark.django_db(transaction=True)
def test_the_qr_code_scans_and_the_key_is_the_secret(
    chromium,  # noqa: F811
    live_server,
    cast: Cast,
    tmp_path,
) -> None:
    zxingcpp = pytest.importorskip("zxingcpp", reason="zxing-cpp reads the QR code back")
    from PIL import Image

    context = chromium.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    sign_in(page, live_server.url, cast.oh1, otp=False)
    assert page.url.endswith("/enrol")
    page.get_by_role("button", name="Show my set-up code").click()
    page.wait_for_load_state()
    device = SealedTOTPDevice.objects.get(user=cast.oh1, confirmed=False)
    qr = page.locator(".qr svg")
    assert qr.get_attribute("viewBox") is not None
    box = qr.bounding_box()
    assert box is not None
    assert box["width"] <= 390  # whole on a phone's screen
    path = tmp_path / "enrol-qr.png"
    qr.screenshot(path=str(path))
    [found] = zxingcpp.read_barcodes(Image.open(path))
    assert found.text == device.config_url
    key = page.locator("#otp-key").input_value()
    secret = parse_qs(urlsplit(device.config_url).query)["secret"][0]
    assert key.replace(" ", "") == secret
    assert base64.b32decode(secret + "=" * (-len(secret) % 8)) == device.bin_key
    assert "otpauth://" not in page.locator("main").inner_text()
    context.close()
