"""The supervisor's first screen: who needs attention, in counts and in words, with the
team's load week by week, restrictions and released reports, and staff numbers."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.alerts.test_sweeps_in_bulk import log_minutes
from tests.conftest import Cast, web_client_for
from welfare.casework.services import report_act, report_draft
from welfare.checkins.services import checkin_status_sweep, checkin_trigger
from welfare.exposure.selectors import weekly_minutes
from welfare.exposure.services import restriction_create


@pytest.fixture
def unit_page(cast: Cast, clock):
    """Officer A1 over today's limit; A2 with a check-in gone overdue; a restriction and a
    released report for A1; Unit B's officer, whom this supervisor never sees."""
    clock.set(clock.now().replace(hour=18, minute=0, second=0, microsecond=0))
    morning = clock.now().replace(hour=6)
    for n in range(3):  # three two-hour stretches: over the daily limit
        log_minutes(cast.officer_a1, morning + timedelta(hours=2 * n, minutes=5 * n), 120)
    log_minutes(cast.officer_b1, morning, 300)
    log_minutes(cast.officer_a2, morning - timedelta(days=10), 90)
    checkin_trigger(
        officer_id=cast.officer_a2.pk, due_on=clock.today() - timedelta(days=3), key="dash"
    )
    checkin_status_sweep(at=clock.now())
    restriction_create(
        actor=cast.oh1,
        officer=cast.officer_a1,
        starts_on=clock.today(),
        week_minutes=600,
        forbidden_media=["video"],
        reason="RESTRICTION-REASON-MARKER",
    )
    report = report_draft(actor=cast.oh1, officer=cast.officer_a1, fitness="fit_with_adjustments")
    report_act(actor=cast.oh1, report=report, action="offer")
    report_act(actor=cast.officer_a1.user, report=report, action="consent")
    return web_client_for(cast.supervisor_a).get("/unit/").content.decode()


def _count(page: str, words: str) -> int:
    found = re.search(r'<span class="tile-n">(\d+)</span> <span class="tile-t">' + words, page)
    assert found, words
    return int(found.group(1))


def test_counts_come_first_and_agree_with_the_team(cast: Cast, unit_page: str) -> None:
    assert unit_page.index('id="counts"') < unit_page.index('id="unit-load"')
    assert _count(unit_page, "over a limit today") == 1
    assert _count(unit_page, "check-in(s)? overdue") == 1


def test_who_needs_attention_in_order_with_reasons_in_words(cast: Cast, unit_page: str) -> None:
    listed = unit_page.split('id="attention-list"')[1].split("</ol>")[0]
    a1, a2 = cast.officer_a1.display_name, cast.officer_a2.display_name
    assert listed.index(a1) < listed.index(a2)  # over a limit before an overdue check-in
    assert "Over: Today: " in listed
    assert "Check-in overdue since" in listed
    assert cast.officer_b1.display_name not in unit_page
    assert "_minutes" not in listed
    assert "Week Minutes" not in unit_page


def test_staff_numbers_restrictions_and_released_reports(cast: Cast, unit_page: str) -> None:
    assert cast.officer_a1.staff_number in unit_page
    restrictions = unit_page.split('id="unit-restrictions"')[1].split("</ul>")[0]
    assert "at most 600 minutes in 7 days" in restrictions
    assert "no video" in restrictions
    assert "RESTRICTION-REASON-MARKER" not in unit_page  # the reason is OH's alone
    reports = unit_page.split('id="unit-reports"')[1].split("</ul>")[0]
    assert cast.officer_a1.display_name in reports
    assert "released with consent" in reports


def test_the_heat_map_shows_each_week_of_minutes(cast: Cast, clock, unit_page: str) -> None:
    weeks = weekly_minutes([cast.officer_a1.pk, cast.officer_a2.pk], last=clock.today(), weeks=4)
    assert weeks[cast.officer_a1.pk][-1] == 360
    assert weeks[cast.officer_a2.pk][-2] == 90  # ten days ago: the week before this one
    heat = unit_page.split('id="unit-heat"')[1].split("</table>")[0]
    row = heat.split(cast.officer_a1.display_name)[1].split("</tr>")[0]
    assert re.findall(r'<td class="heat-\d">(\d+)</td>', row) == ["0", "0", "0", "360"]
