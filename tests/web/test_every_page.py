"""Every page of every role, in Chromium: axe-core finds no WCAG 2.2 A/AA violation at a
desktop width or a phone's, and no page scrolls sideways on a phone. Each role's main page
is saved as a screenshot, desktop and phone, under test-output/screenshots/."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tests.alerts.test_sweeps_in_bulk import log_minutes
from tests.conftest import PASSWORD, Cast
from tests.web.test_accessibility import DESKTOP, PHONE, assert_none, audit, axe, check  # noqa: F401
from tests.web.test_browser import SHOTS, chromium, sign_in  # noqa: F401
from welfare.casework.services import note_write, report_act, report_draft, screening_submit
from welfare.checkins.services import checkin_book, checkin_status_sweep, checkin_trigger
from welfare.exposure.services import restriction_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lived_in(cast: Cast, clock) -> Cast:
    """Some of everything each page shows: weeks of viewing, an overdue and a booked
    check-in, questionnaires, a note, a restriction, a released report."""
    clock.set(datetime(2027, 3, 10, 18, tzinfo=UTC))
    for days_ago in range(0, 26, 2):
        day = clock.now() - timedelta(days=days_ago)
        log_minutes(cast.officer_a1, day.replace(hour=7), 100 + 5 * days_ago)
        log_minutes(cast.officer_a2, day.replace(hour=9), 60)
    log_minutes(cast.officer_a1, clock.now().replace(hour=10), 240)  # over today
    overdue = checkin_trigger(
        officer_id=cast.officer_a2.pk, due_on=clock.today() - timedelta(days=4), key="late"
    )
    booked = checkin_trigger(
        officer_id=cast.officer_a1.pk, due_on=clock.today() + timedelta(days=6), key="soon"
    )
    assert overdue is not None
    assert booked is not None
    checkin_book(actor=cast.oh1, checkin=booked, booked_for=clock.now() + timedelta(days=3))
    checkin_status_sweep(at=clock.now())
    screening_submit(
        actor=cast.officer_a1.user, checkin=None, instrument_key="gad7", answers=[1] * 7
    )
    note_write(actor=cast.oh1, officer=cast.officer_a1, body="Talked about sleep.")
    restriction_create(
        actor=cast.oh1, officer=cast.officer_a1, starts_on=date(2027, 3, 1), week_minutes=900
    )
    report = report_draft(actor=cast.oh1, officer=cast.officer_a1, fitness="fit")
    report_act(actor=cast.oh1, report=report, action="offer")
    report_act(actor=cast.officer_a1.user, report=report, action="consent")
    return cast


PAGES = {
    "officer": ["/me/", "/me/records", "/me/self-check", "/me/self-check/phq9", "/inbox"],
    "supervisor": ["/unit/", "/unit/import", "/inbox", "/passkeys"],
    "oh": ["/oh/", "/oh/cases/", "/oh/clinicians", "/inbox", "/passkeys"],
    "hr": [
        "/hr/?table=exposure&group_by=unit,month",
        "/hr/?table=checkins&group_by=unit,quarter",
        "/hr/?table=alerts&group_by=kind,month",
        "/hr/?table=rotation&group_by=unit",
        "/inbox",
        "/passkeys",
    ],
    "admin": [
        "/admin/",
        "/admin/people/unit/",
        "/admin/people/officer/",
        "/admin/people/posting/",
        "/admin/accounts/user/",
        "/admin/audit/auditevent/",
        "/admin/exposure/exposurepolicy/",
        "/admin/checkins/checkinpolicy/",
        "/admin/casework/supportcontact/",
        "/admin/people/unit/add/",
        "/admin/people/import/",
        "/passkeys",
    ],
}


def _user(cast: Cast, role: str):
    return {
        "officer": cast.officer_a1.user,
        "supervisor": cast.supervisor_a,
        "oh": cast.oh1,
        "hr": cast.hr,
        "admin": cast.admin,
    }[role]


def _screens(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


@pytest.mark.parametrize("role", list(PAGES))
def test_every_page_of_the_role(chromium, axe, live_server, lived_in: Cast, role: str) -> None:  # noqa: F811
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    user = _user(lived_in, role)
    if role == "admin":
        from tests.web.test_browser import totp

        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.fill("#id_otp_token", totp(user))
        with page.expect_navigation():
            page.locator("input[type=submit]").click()
        assert page.url == f"{live_server.url}/admin/", page.url
    else:
        sign_in(page, live_server.url, user, otp=role != "officer")
    pages = PAGES[role] + ([f"/oh/cases/{lived_in.officer_a1.pk}"] if role == "oh" else [])
    found = []
    for path in pages:
        found += check(page, axe, live_server.url, path)
        assert "/login" not in page.url, f"{path}: signed out"
    page.goto(live_server.url + pages[0])
    _screens(page, f"{role}-main")
    context.close()
    assert_none(found)


def test_signed_out_and_enrolment_pages(chromium, axe, live_server, cast: Cast) -> None:  # noqa: F811
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    found = check(page, axe, live_server.url, "/login")
    found += check(page, axe, live_server.url, "/help")
    sign_in(page, live_server.url, cast.oh1, otp=False)
    page.get_by_role("button", name="Show my set-up code").click()
    page.wait_for_load_state()
    found += audit(page, axe, "/enrol (with a set-up code)")
    _screens(page, "enrolment")
    context.close()
    assert_none(found)


def test_the_officers_pages_in_welsh(chromium, axe, live_server, lived_in: Cast) -> None:  # noqa: F811
    user = lived_in.officer_a1.user
    user.language = "cy"
    user.save(update_fields=["language"])
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    sign_in(page, live_server.url, user, otp=False)
    found = []
    for path in PAGES["officer"]:
        found += check(page, axe, live_server.url, path)
    page.goto(live_server.url + "/me/")
    assert page.locator("html").get_attribute("lang") == "cy"
    assert page.locator("h1").inner_text() == "Fy wythnos"
    _screens(page, "officer-main-cy")
    context.close()
    assert_none(found)
