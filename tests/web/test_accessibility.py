"""Accessibility of the pages that close the welfare loop, checked by axe-core in Chromium.

axe-core runs in the page from the copy bundled in the `axe-playwright-python` package (no
network at test time), over the WCAG 2.0, 2.1 and 2.2 level A and AA rules. Each page is also
laid out at a phone's width (390 px), where nothing may make the page scroll sideways.
Skipped, with the reason, where Playwright or Chromium is missing (as test_browser.py).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from tests.conftest import Cast
from tests.web.test_browser import chromium, page, sign_in  # noqa: F401
from welfare.accounts.services import oh_lead_set
from welfare.alerts.models import Alert, AlertKind, Notification
from welfare.alerts.services import alert_raise, notifications_mark_read, notify, rotation_sweep
from welfare.casework.services import note_write, report_act, report_draft, screening_submit
from welfare.checkins.services import checkin_trigger
from welfare.exposure.services import exposure_log
from welfare.people.models import RotationPolicy

pytestmark = pytest.mark.django_db(transaction=True)

WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
OPTIONS = {"runOnly": {"type": "tag", "values": WCAG}, "resultTypes": ["violations"]}
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1100, "height": 900}


@pytest.fixture(scope="module")
def axe(chromium):  # noqa: F811
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        pytest.skip("axe-playwright-python is not installed: accessibility tests skipped")
    return Axe()


def check(page, axe, base: str, path: str) -> list[str]:  # noqa: F811
    """Open the page and audit it (see `audit`)."""
    response = page.goto(base + path)
    assert response is not None
    assert response.status == 200, f"{path}: HTTP {response.status}"
    return audit(page, axe, path)


def audit(page, axe, label: str) -> list[str]:  # noqa: F811
    """What is wrong with the page as it stands: each axe violation (rule, impact, target)
    at a desktop width and at a phone's, and anything that makes a phone scroll sideways."""
    found = []
    for name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        for violation in axe.run(page, options=OPTIONS).response["violations"]:
            for node in violation["nodes"]:
                target = " ".join(map(str, node["target"]))
                found.append(
                    f"{label} [{name}]: {violation['id']} ({violation['impact']}) {target}"
                    f" -- {violation['help']}"
                )
    wide = page.evaluate(
        """() => document.documentElement.scrollWidth > window.innerWidth + 1
            ? [...document.querySelectorAll('main *')]
                .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
                .slice(0, 3).map(e => e.outerHTML.slice(0, 100))
            : null"""
    )
    if wide is not None:
        found.append(f"{label} [phone]: wider than {PHONE['width']} px: {wide}")
    page.set_viewport_size(DESKTOP)
    return found


def assert_none(found: list[str]) -> None:
    assert not found, f"{len(found)} accessibility problems:\n" + "\n".join(found)


def _tell(user, subject: str, *, link: str = "", read: bool = False) -> None:
    notify(recipient=user, key=subject, subject=subject, body=f"{subject}: details.", link=link)
    if read:
        notification = Notification.objects.get(recipient=user, dedupe_key=subject)
        notifications_mark_read(user=user, ids=[notification.pk])


def _limit_alert(cast: Cast, clock) -> Alert:
    alert, _ = alert_raise(
        officer_id=cast.officer_a1.pk,
        kind=AlertKind.EXPOSURE_LIMIT,
        severity="high",
        dedupe_key="a11y-limit",
        detail={
            "rule": "daily_minutes",
            "state": "breach",
            "on": clock.today().isoformat(),
            "period": clock.today().isoformat(),
            "used": 250.0,
            "limit": 240.0,
            "unit": "minutes",
            "source": "force",
        },
    )
    return alert


def _offered_report(cast: Cast):
    report = report_draft(
        actor=cast.oh1, officer=cast.officer_a1, fitness="fit", adjustments="Shorter shifts."
    )
    return report_act(actor=cast.oh1, report=report, action="offer")


def test_help_signed_out(page, axe, live_server) -> None:  # noqa: F811
    assert_none(check(page, axe, live_server.url, "/help"))


def test_officer_pages_and_the_support_message(
    page,  # noqa: F811
    axe,
    live_server,
    cast: Cast,
    clock,
) -> None:
    officer = cast.officer_a1
    alert = _limit_alert(cast, clock)
    checkin = checkin_trigger(officer_id=officer.pk, due_on=date(2027, 3, 17), key="a11y")
    report = _offered_report(cast)
    _tell(officer.user, "Check-in booked", link=f"/checkins/{checkin.pk}")
    _tell(officer.user, "A report for you to decide on", link=f"/reports/{report.pk}")
    _tell(officer.user, "Welcome", read=True)
    sign_in(page, live_server.url, officer.user, otp=False)
    found = []
    for path in (
        "/help",
        "/inbox",
        f"/alerts/{alert.pk}",
        f"/checkins/{checkin.pk}",
        f"/reports/{report.pk}",
        f"/me/checkins/{checkin.pk}/phq9",
    ):
        found += check(page, axe, live_server.url, path)
    # PHQ-9 with item 9 above 0, through the form: the result carries the support message.
    for item in range(1, 9):
        page.locator(f"#item{item}-0").check()
    page.locator("#item9-1").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Send to occupational health").click()
    assert "Samaritans" in page.locator("#support").inner_text()
    found += audit(page, axe, "PHQ-9 result with the support message")
    found += check(page, axe, live_server.url, "/me/self-check")  # now with a result listed
    assert_none(found)


def test_supervisor_pages(page, axe, live_server, cast: Cast, clock) -> None:  # noqa: F811
    alert = _limit_alert(cast, clock)
    # A transactional test's database starts empty: the default policy (DOMAIN.md) again.
    RotationPolicy.objects.get_or_create(
        unit_kind=cast.unit_a.kind, defaults={"review_months": 21, "tenure_months": 24}
    )
    rotation_sweep(at=clock.now())  # officer A1 is 21 months in post: a rotation review
    rotation = Alert.objects.get(kind=AlertKind.ROTATION_DUE, officer=cast.officer_a1)
    checkin = checkin_trigger(officer_id=cast.officer_a1.pk, due_on=date(2027, 3, 17), key="s")
    _tell(cast.supervisor_a, "Consent withdrawn")
    sign_in(page, live_server.url, cast.supervisor_a)
    found = []
    for path in (
        "/inbox",
        f"/alerts/{alert.pk}",
        f"/alerts/{rotation.pk}",
        f"/checkins/{checkin.pk}",
    ):
        found += check(page, axe, live_server.url, path)
    assert_none(found)


def test_occupational_health_pages(page, axe, live_server, cast: Cast, clock) -> None:  # noqa: F811
    officer = cast.officer_a1
    exposure_log(
        officer=officer,
        recorded_by=officer.user,
        started_at=datetime(2027, 3, 3, 9, tzinfo=UTC),
        ended_at=datetime(2027, 3, 3, 10, 30, tzinfo=UTC),
        material="image",
        category="B",
        client_ref=uuid.uuid4(),
    )
    checkin = checkin_trigger(officer_id=officer.pk, due_on=date(2027, 3, 17), key="oh")
    screening_submit(
        actor=officer.user,
        checkin=checkin,
        instrument_key="phq9",
        answers=[0, 0, 0, 0, 0, 0, 0, 0, 1],
    )
    urgent = Alert.objects.get(kind=AlertKind.SCREENING_RISK, officer=officer)
    other = checkin_trigger(officer_id=cast.officer_a2.pk, due_on=date(2027, 3, 17), key="a2")
    screening_submit(
        actor=cast.officer_a2.user,
        checkin=other,
        instrument_key="gad7",
        answers=[2, 2, 2, 2, 2, 1, 1],
    )
    note_write(actor=cast.oh1, officer=officer, body="Spoke by phone.\nFollow up next week.")
    report = _offered_report(cast)
    oh_lead_set(actor=None, user=cast.oh1, lead=True)
    sign_in(page, live_server.url, cast.oh1)
    assert page.url.endswith("/oh/")
    assert "Urgent" in page.locator("#queue > li").first.inner_text()
    found = audit(page, axe, "/oh/ (work queue)")
    for path in (
        "/oh/cases/",
        "/oh/clinicians",
        f"/oh/cases/{officer.pk}",
        f"/alerts/{urgent.pk}",
        f"/checkins/{checkin.pk}",
        f"/reports/{report.pk}",
        "/inbox",
    ):
        found += check(page, axe, live_server.url, path)
    assert_none(found)


def test_admin_bulk_import_preview_and_apply(page, axe, live_server, cast: Cast) -> None:  # noqa: F811
    """The admin site's import page: empty, with rejected rows, with a preview to apply, and
    after applying it; the same file is chosen again to apply it."""
    from tests.conftest import PASSWORD
    from tests.people.test_api_import import BAD, GOOD, as_csv
    from tests.web.test_browser import totp

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", cast.admin.username)
    page.fill("#id_password", PASSWORD)
    page.fill("#id_otp_token", totp(cast.admin))
    with page.expect_navigation():
        page.locator("input[type=submit]").click()
    found = check(page, axe, live_server.url, "/admin/people/import/")

    def choose(selector: str, rows: list[dict[str, str]]) -> None:
        page.set_input_files(
            selector, files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": as_csv(rows)}]
        )

    choose("#import-file", BAD)
    with page.expect_navigation():
        page.get_by_role("button", name="Preview", exact=True).click()
    assert "5 rejected" in page.locator("#import-counts").inner_text()
    found += audit(page, axe, "import: rejected rows")
    choose("#import-file", GOOD)
    with page.expect_navigation():
        page.get_by_role("button", name="Preview", exact=True).click()
    found += audit(page, axe, "import: preview")
    choose("#apply-file", GOOD)
    with page.expect_navigation():
        page.get_by_role("button", name="Apply", exact=True).click()
    assert page.locator("#report-heading").inner_text() == "Imported"
    found += audit(page, axe, "import: applied")
    assert_none(found)
