"""The web app in a real browser: Debian's Chromium driven by Playwright.

Skipped, with the reason, where no browser can be started (make test installs Chromium
where it can). Screenshots of each role's main page go to test-output/ for a reviewer.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from django_otp.oath import TOTP

from tests.conftest import PASSWORD, Cast
from welfare.accounts.models import SealedTOTPDevice
from welfare.accounts.services import otp_device_new
from welfare.alerts.models import Alert
from welfare.alerts.services import alert_raise
from welfare.casework.services import screening_submit
from welfare.checkins.services import checkin_trigger
from welfare.core.clock import now as service_now
from welfare.exposure.models import ExposureSession
from welfare.exposure.services import exposure_log

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
    "--disable-background-networking", "--disable-component-update",
]  # fmt: skip

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def chromium():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed: browser tests skipped")
    if not Path(CHROMIUM).exists():
        pytest.skip(
            "No Chromium on this machine (Debian package 'chromium'): browser tests skipped"
        )
    # Playwright's sync API keeps an event loop in this thread; the ORM calls the tests make
    # beside it are ordinary blocking calls, which Django then has to be told to allow.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            yield browser
            browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1100, "height": 900})
    tab = context.new_page()
    yield tab
    context.close()


def totp(user) -> str:
    device = SealedTOTPDevice.objects.filter(user=user, confirmed=True).first() or otp_device_new(
        user=user, name="phone", confirmed=True
    )
    device.refresh_from_db()
    clock = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    clock.time = service_now().timestamp()  # the service's clock
    return f"{clock.token():06d}"


def sign_in(page, base: str, user, *, otp: bool = True) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("User name").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    if otp:
        page.get_by_label("Code from your authenticator app").fill(totp(user))
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_officer_times_a_session_and_sees_it_in_my_week(
    page, live_server, cast: Cast, clock
) -> None:
    now = datetime(2027, 3, 10, 12, tzinfo=UTC)
    clock.set(now)
    page.clock.install(time=now - timedelta(hours=2))
    sign_in(page, live_server.url, cast.officer_a1.user)
    assert page.url.endswith("/me/")
    page.get_by_role("button", name="Start viewing").click()
    page.clock.fast_forward("50:00")
    page.wait_for_timeout(1100)  # the page's own one-second tick, on its fake clock
    assert "A break is due in" in page.locator("#nudge").inner_text()
    page.get_by_role("button", name="Pause for a break").click()
    page.clock.fast_forward("12:00")
    page.get_by_role("button", name="Resume viewing").click()
    page.clock.fast_forward("25:00")
    page.get_by_role("button", name="Stop").click()
    page.locator("#t-material").select_option("video")
    page.locator("#t-category").select_option("B")
    page.locator("#t-violent").check()
    with page.expect_navigation():
        page.locator("#timer-save").dblclick()  # a double click logs once
    page.wait_for_load_state()
    assert "logged" in page.locator(".messages").inner_text()
    sessions = list(ExposureSession.objects.filter(officer=cast.officer_a1).order_by("started_at"))
    assert [round((s.ended_at - s.started_at).total_seconds() / 60) for s in sessions] == [50, 25]
    assert "75 of 300 minutes" in page.locator("#my-week").inner_text()
    shot(page, "officer-my-week")


def test_a_resent_form_logs_nothing_twice(page, live_server, cast: Cast, clock) -> None:
    clock.set(datetime(2027, 3, 10, 12, tzinfo=UTC))
    sign_in(page, live_server.url, cast.officer_a1.user, otp=False)
    page.locator("summary", has_text="Log a session by hand").click()
    page.locator("#m-start").fill("2027-03-10T09:00")
    page.locator("#m-end").fill("2027-03-10T09:40")
    page.locator("#m-material").select_option("image")
    page.locator("#m-category").select_option("C")
    form = page.locator("form", has=page.locator("#m-start"))
    data = page.evaluate("f => Object.fromEntries(new FormData(f))", form.element_handle())
    with page.expect_navigation():
        form.get_by_role("button", name="Log session").click()
    # The same form again, as a lost connection's retry would send it.
    status = page.evaluate(
        """d => fetch('/me/sessions', {method: 'POST', body: new URLSearchParams(d), redirect: 'manual'})
               .then(r => r.type === 'opaqueredirect' ? 302 : r.status)""",
        data,
    )
    assert status == 302
    assert ExposureSession.objects.filter(officer=cast.officer_a1).count() == 1


def test_supervisor_sees_the_overdue_checkin_and_acknowledges_an_alert(
    page, live_server, cast: Cast, clock
) -> None:
    checkin_trigger(officer_id=cast.officer_a1.pk, due_on=date(2027, 3, 1), key="late")
    from welfare.checkins.services import checkin_status_sweep

    checkin_status_sweep(at=clock.now())
    alert, _ = alert_raise(
        officer_id=cast.officer_a1.pk, kind="exposure_limit", severity="warning", dedupe_key="b"
    )
    sign_in(page, live_server.url, cast.supervisor_a)
    assert page.url.endswith("/unit/")
    overdue = page.locator("#unit-checkins").inner_text()
    assert "Test off.a1" in overdue
    assert "Overdue" in overdue
    shot(page, "supervisor-unit")
    group = page.locator("#alerts-heading").locator("xpath=..")
    assert "Test off.a1" in group.inner_text()
    assert "1 open" in group.inner_text()
    page.get_by_label("Select: Exposure limit, Test off.a1").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Acknowledge selected").click()
    assert "1 alert acknowledged" in page.content()
    alert.refresh_from_db()
    assert alert.status == "acknowledged"


def test_hr_sees_a_withheld_cell(page, live_server, cast: Cast, clock) -> None:
    clock.set(datetime(2027, 4, 10, 18, tzinfo=UTC))  # 2027Q1 has ended
    exposure_log(
        officer=cast.officer_a1,
        recorded_by=cast.officer_a1.user,
        started_at=datetime(2027, 2, 3, 9, tzinfo=UTC),
        ended_at=datetime(2027, 2, 3, 10, tzinfo=UTC),
        material="image",
        category="C",
        client_ref=uuid.uuid4(),
    )
    sign_in(page, live_server.url, cast.hr)
    page.goto(f"{live_server.url}/hr/?table=exposure&group_by=unit,month&period=2027Q1")
    table = page.locator("#stats-table")
    assert table.locator("td.withheld").count() > 0
    assert "withheld" in table.inner_text()
    shot(page, "hr-statistics")


def test_an_officer_at_risk_is_helped_at_once_and_oh_closes_the_loop(
    chromium, live_server, cast: Cast, clock
) -> None:
    """Detect -> tell the right person -> they act -> closed, in the browser alone."""
    clock.set(datetime(2027, 3, 10, 9, tzinfo=UTC))  # a Wednesday, 09:00 in London
    checkin = checkin_trigger(officer_id=cast.officer_a1.pk, due_on=date(2027, 3, 17), key="b")
    # Older, less pressing work for OH: officer A2's score over the cut-off, days ago.
    other = checkin_trigger(officer_id=cast.officer_a2.pk, due_on=date(2027, 3, 17), key="a2")
    clock.set(datetime(2027, 3, 8, 9, tzinfo=UTC))
    screening_submit(
        actor=cast.officer_a2.user,
        checkin=other,
        instrument_key="gad7",
        answers=[2, 2, 2, 2, 2, 1, 1],
    )
    clock.set(datetime(2027, 3, 10, 9, tzinfo=UTC))

    officer = chromium.new_context(viewport={"width": 1100, "height": 900})
    tab = officer.new_page()
    sign_in(tab, live_server.url, cast.officer_a1.user, otp=False)
    tab.goto(f"{live_server.url}/checkins/{checkin.pk}")
    with tab.expect_navigation():
        tab.get_by_role("link", name="PHQ-9").click()
    for item in range(1, 9):
        tab.locator(f"#item{item}-0").check()  # "Not at all"
    tab.locator("#item9-1").check()  # item 9, "Several days"
    with tab.expect_navigation():
        tab.get_by_role("button", name="Send to occupational health").click()
    support = tab.locator("#support")
    text = support.inner_text()
    assert "Samaritans" in text
    assert "116 123" in text
    assert "999" in text
    assert "will contact you by 13:00 today" in text  # four working hours
    assert "not told your answers" in text
    assert support.get_by_role("link", name="Call 116 123").get_attribute("href") == "tel:116123"
    next_ones = tab.locator("#next-questionnaires").inner_text()
    assert "GAD-7" in next_ones
    assert "PHQ-9" not in next_ones
    shot(tab, "officer-support")
    officer.close()

    clinician = chromium.new_context(viewport={"width": 1100, "height": 900})
    page = clinician.new_page()
    sign_in(page, live_server.url, cast.oh1)
    assert page.url.endswith("/oh/")
    first = page.locator("#queue > li").first
    assert "Urgent" in first.inner_text()
    assert "Test off.a1: self-harm answer just now, not acknowledged" in first.inner_text()
    assert "Test off.a2" in page.locator("#queue > li").nth(1).inner_text()
    assert "Acknowledge by 13:00" in first.inner_text()
    shot(page, "oh-work-queue")

    page.goto(f"{live_server.url}/oh/cases/")
    row = page.locator("#cases tbody tr").first
    assert "Test off.a1" in row.inner_text()
    assert "self-harm answer just now, not acknowledged" in row.inner_text()
    shot(page, "oh-cases")

    page.goto(f"{live_server.url}/oh/")
    with page.expect_navigation():
        first.get_by_role("button", name=re.compile("^Acknowledge")).click()
    assert "Alert acknowledged" in page.content()
    first = page.locator("#queue > li").first
    first.get_by_label("Assign the case of Test off.a1 to").select_option(label="oh.one (me)")
    with page.expect_navigation():
        first.get_by_role("button", name=re.compile("^Assign")).click()
    assert "assigned to you" in page.content()
    first = page.locator("#queue > li").first
    assert "Owner: oh.one" in first.inner_text()
    assert "self-harm answer just now, acknowledged" in first.inner_text()
    first.get_by_label("What was done about Test off.a1").fill(
        "Called the officer; safety plan agreed; seen this afternoon."
    )
    with page.expect_navigation():
        first.get_by_role("button", name=re.compile("^Resolve")).click()
    assert "Alert resolved" in page.content()
    assert "Test off.a1" not in page.locator("#queue").inner_text()
    alert = Alert.objects.get(kind="screening_risk", officer=cast.officer_a1)
    assert (alert.status, alert.acknowledged_by, alert.resolved_by) == (
        "resolved",
        cast.oh1,
        cast.oh1,
    )
    assert alert.resolution_note.startswith("Called the officer")
    with page.expect_navigation():
        page.get_by_role("link", name="Test off.a2").first.click()
    assert "Confidential" in page.content()
    shot(page, "oh-case")
    clinician.close()


def test_an_officer_cannot_open_another_officers_pages(
    page, live_server, cast: Cast, clock
) -> None:
    theirs = checkin_trigger(officer_id=cast.officer_a2.pk, due_on=date(2027, 3, 17), key="theirs")
    sign_in(page, live_server.url, cast.officer_a1.user, otp=False)
    response = page.goto(f"{live_server.url}/me/checkins/{theirs.pk}/phq9")
    assert response.status == 404
    response = page.goto(f"{live_server.url}/oh/cases/{cast.officer_a2.pk}")
    assert response.status == 403
    response = page.goto(f"{live_server.url}/unit/")
    assert response.status == 403


def test_phone_sized_screen_and_keyboard(chromium, live_server, cast: Cast, clock) -> None:
    context = chromium.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    page.goto(f"{live_server.url}/login")
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    page.get_by_label("User name").fill("off.a1")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/me/")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shot(page, "officer-phone")
    context.close()


def test_timer_focus_title_notification_and_a_short_pause(
    chromium, live_server, cast: Cast, clock
) -> None:
    """Focus moves to the next control after each button; a break due changes the tab's
    title and sends one system notification (permission granted); a three-second pause
    stays part of the session."""
    now = datetime(2027, 3, 10, 12, tzinfo=UTC)
    clock.set(now)
    context = chromium.new_context(viewport={"width": 1100, "height": 900})
    context.grant_permissions(["notifications"], origin=live_server.url)
    page = context.new_page()
    page.add_init_script(
        """window.__notes = [];
        window.Notification = class { constructor(title, options) {
            window.__notes.push([title, options && options.body]); } };
        window.Notification.permission = 'granted';
        window.Notification.requestPermission = () => Promise.resolve('granted');"""
    )
    page.clock.install(time=now - timedelta(hours=2))
    sign_in(page, live_server.url, cast.officer_a1.user)
    focused = "document.activeElement && document.activeElement.id"
    page.get_by_role("button", name="Start viewing").click()
    assert page.evaluate(focused) == "timer-pause"
    page.clock.fast_forward("20:00")
    page.get_by_role("button", name="Pause for a break").click()
    assert page.evaluate(focused) == "timer-resume"
    assert "stays part of this session" in page.locator("#timer-state").inner_text()
    page.clock.fast_forward("00:03")
    page.get_by_role("button", name="Resume viewing").click()
    assert page.evaluate(focused) == "timer-pause"
    page.clock.fast_forward("45:00")  # 65 minutes without a proper break
    page.wait_for_timeout(1100)
    assert page.title().startswith("Break due")
    page.clock.fast_forward("00:05")
    page.wait_for_timeout(1100)
    notes = page.evaluate("window.__notes")
    assert len(notes) == 1  # once per stretch, not every second
    assert "break" in notes[0][1]
    page.get_by_role("button", name="Stop").click()
    assert page.evaluate(focused) == "t-material"
    page.locator("#t-material").select_option("image")
    page.locator("#t-category").select_option("C")
    with page.expect_navigation():
        page.locator("#timer-save").click()
    sessions = list(ExposureSession.objects.filter(officer=cast.officer_a1))
    assert len(sessions) == 1
    assert round((sessions[0].ended_at - sessions[0].started_at).total_seconds() / 60) == 65
    context.close()
