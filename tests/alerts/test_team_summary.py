"""A unit's team at a glance: what a supervisor may see, in a fixed number of queries."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import Cast, client_for, make_user
from welfare.alerts.models import AlertKind
from welfare.alerts.selectors import alerts_visible_to
from welfare.alerts.services import alert_raise
from welfare.checkins.selectors import checkins_visible_to
from welfare.checkins.services import checkin_trigger, self_refer
from welfare.core.roles import Role
from welfare.exposure.services import exposure_log
from welfare.people.selectors import visible_officers
from welfare.people.services import officer_create

ON = date(2027, 3, 10)


def log(officer, hour: int, minutes: int) -> None:
    start = datetime(2027, 3, 10, hour, tzinfo=UTC)
    exposure_log(
        officer=officer,
        recorded_by=officer.user,
        started_at=start,
        ended_at=start + timedelta(minutes=minutes),
        material="video",
        category="A",
        client_ref=uuid.uuid4(),
    )


def summary(user, unit_id: int, **params):
    return client_for(user).get(f"/api/v1/units/{unit_id}/summary", params)


def test_a_supervisor_sees_the_team_against_limits(cast: Cast, clock) -> None:
    clock.set(datetime(2027, 3, 10, 18, tzinfo=UTC))
    log(cast.officer_a1, 9, 70)  # past the hour without a break
    log(cast.officer_a2, 9, 30)
    checkin_trigger(officer_id=cast.officer_a2.pk, due_on=ON + timedelta(days=5), key="t1")
    response = summary(cast.supervisor_a, cast.unit_a.pk, on="2027-03-10")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["unit"], body["on"]) == (cast.unit_a.pk, "2027-03-10")
    rows = {row["officer"]: row for row in body["officers"]}
    assert set(rows) == {cast.officer_a1.pk, cast.officer_a2.pk}
    a1, a2 = rows[cast.officer_a1.pk], rows[cast.officer_a2.pk]
    assert (a1["day_minutes"], a1["week_minutes"]) == (70, 70)
    assert "break_after_minutes" in a1["breaches"]
    assert (a2["day_minutes"], a2["breaches"]) == (30, [])
    assert a2["next_checkin"]["due_on"] == "2027-03-15"
    assert set(a2["next_checkin"]) == {"id", "kind", "due_on", "status", "booked_for"}
    assert a1["next_checkin"] is None


def test_self_referrals_and_clinical_alerts_stay_with_oh(cast: Cast, clock) -> None:
    self_refer(user=cast.officer_a1.user, note="")
    alert_raise(
        officer_id=cast.officer_a1.pk,
        kind=AlertKind.SCREENING_RISK,
        severity="high",
        dedupe_key="clinical-1",
        clinical=True,
    )
    supervisor = summary(cast.supervisor_a, cast.unit_a.pk).json()["officers"]
    oh = summary(cast.oh1, cast.unit_a.pk).json()["officers"]
    by_officer = {row["officer"]: row for row in supervisor}
    assert by_officer[cast.officer_a1.pk]["next_checkin"] is None
    assert by_officer[cast.officer_a1.pk]["open_alerts"] == 0
    oh_row = next(row for row in oh if row["officer"] == cast.officer_a1.pk)
    assert oh_row["next_checkin"]["kind"] == "self_referral"
    assert oh_row["open_alerts"] == 1


def test_another_units_team_is_not_found_and_bad_dates_are_refused(cast: Cast) -> None:
    assert summary(cast.supervisor_a, cast.unit_b.pk).status_code == 404
    bad = summary(cast.supervisor_a, cast.unit_a.pk, on="10/03/2027")
    assert bad.status_code == 400
    assert "on" in bad.json()


def test_query_count_does_not_grow_with_the_team(cast: Cast, clock) -> None:
    def count_queries() -> int:
        client = client_for(cast.supervisor_a)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/api/v1/units/{cast.unit_a.pk}/summary").status_code == 200
        return len(queries)

    clock.set(datetime(2027, 3, 10, 18, tzinfo=UTC))
    log(cast.officer_a1, 9, 20)
    small = count_queries()
    for n in range(8):
        officer = officer_create(
            actor=cast.admin,
            user=make_user(f"extra{n}", Role.OFFICER),
            staff_number=f"X{n:04d}",
            display_name=f"Extra {n}",
            unit=cast.unit_a,
            posted_since=date(2026, 1, 1),
        )
        log(officer, 10 + n % 4, 15)
        checkin_trigger(officer_id=officer.pk, due_on=ON + timedelta(days=n), key=f"extra{n}")
    assert count_queries() == small


def test_filtering_by_visible_officers_gives_what_the_visibility_subquery_gives(
    cast: Cast, clock
) -> None:
    """`within=visible_officers(user, ids)` is the same as the full visibility rules
    narrowed to those ids, for every role, and refuses another user's ids."""
    self_refer(user=cast.officer_a1.user, note="")
    for n, officer in enumerate([cast.officer_a1, cast.officer_a2, cast.officer_b1]):
        checkin_trigger(officer_id=officer.pk, due_on=ON + timedelta(days=n), key=f"v{n}")
        for kind, clinical in [(AlertKind.EXPOSURE_LIMIT, False), (AlertKind.SCREENING_RISK, True)]:
            alert_raise(
                officer_id=officer.pk,
                kind=kind,
                severity="high",
                dedupe_key=f"v{n}{kind}",
                clinical=clinical,
            )
    ids = [cast.officer_a1.pk, cast.officer_a2.pk, cast.officer_b1.pk]
    users = [cast.supervisor_a, cast.supervisor_b, cast.oh1, cast.officer_a1.user, cast.admin]
    for user in users:
        within = visible_officers(user, ids)
        for selector in (checkins_visible_to, alerts_visible_to):
            expected = set(selector(user).filter(officer_id__any=ids).values_list("pk", flat=True))
            got = set(selector(user, within=within).values_list("pk", flat=True))
            assert got == expected, (user.username, selector.__name__)
    assert set(visible_officers(cast.supervisor_a, ids).ids) == {
        cast.officer_a1.pk,
        cast.officer_a2.pk,
    }
    with pytest.raises(ValueError, match="another user"):
        checkins_visible_to(cast.supervisor_b, within=visible_officers(cast.supervisor_a, ids))
    with pytest.raises(ValueError, match="another user"):
        alerts_visible_to(cast.supervisor_b, within=visible_officers(cast.supervisor_a, ids))
