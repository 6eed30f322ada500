"""A check-in a concerning screening triggered is occupational health's alone: a supervisor
never sees it, its overdue alert or a message about it, in the API or on a page, until OH
releases the appointment to them, and then only as a "welfare appointment" (date, booking
and status; never its kind or outcome). Self-referrals are never released."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Q

from tests.conftest import Cast, client_for, web_client_for
from welfare.alerts.models import Alert, Notification
from welfare.alerts.services import checkin_escalation_sweep
from welfare.audit.models import AuditEvent
from welfare.casework import services as casework
from welfare.checkins.models import CheckIn
from welfare.checkins.services import (
    NOT_RELEASABLE,
    checkin_complete,
    checkin_status_sweep,
    checkin_trigger,
    self_refer,
)

API = "/api/v1/checkins/"
PHQ9_HIGH = [2, 2, 2, 2, 2, 1, 1, 0, 0]  # total 12, over the cut-off; no critical answer
APPOINTMENT = "welfare_appointment"


@pytest.fixture
def screened(cast: Cast, clock) -> CheckIn:
    """Officer A1's self-check over the cut-off: OH's alert and a triggered check-in."""
    casework.screening_submit(
        actor=cast.officer_a1.user, checkin=None, instrument_key="phq9", answers=PHQ9_HIGH
    )
    checkin = CheckIn.objects.get(officer=cast.officer_a1, kind="triggered")
    assert checkin.key.startswith("triggered:screening:")
    assert checkin.confidential
    assert checkin.released_at is None
    return checkin


def overdue(clock, checkin: CheckIn) -> Alert:
    """Past the due date, the sweeps as the scheduler runs them: the overdue alert."""
    at = datetime.combine(checkin.due_on + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    clock.set(at + timedelta(hours=7))
    checkin_status_sweep(at=clock.now())
    checkin_escalation_sweep(at=clock.now())
    return Alert.objects.get(checkin=checkin, kind="checkin_overdue")


def api_ids(user, path: str = API) -> set[int]:
    body = client_for(user).get(path).json()
    return {row["id"] for row in body["results"]}


def checkins_table(page: str) -> str:
    """The supervisor page's table of check-ins due or overdue."""
    start = page.index('id="unit-checkins"')
    return page[start : page.index("</table>", start)]


def supervisor_told_of(cast: Cast, checkin: CheckIn) -> list[Notification]:
    """What any supervisor was told about the check-in or an alert about it."""
    return list(
        Notification.objects.filter(recipient__in=[cast.supervisor_a, cast.supervisor_b]).filter(
            Q(checkin=checkin) | Q(alert__checkin=checkin)
        )
    )


def test_a_supervisor_never_sees_a_screening_triggered_checkin(
    cast: Cast, clock, screened: CheckIn
) -> None:
    visible = checkin_trigger(
        officer_id=cast.officer_a2.pk, due_on=screened.due_on, key="a limit's, say"
    )
    assert visible is not None
    supervisor = client_for(cast.supervisor_a)
    assert api_ids(cast.supervisor_a) == {visible.pk}  # the other officer's, not this one
    assert supervisor.get(f"{API}{screened.pk}/").status_code == 404
    assert supervisor.get(f"{API}?officer={cast.officer_a1.pk}").json()["count"] == 0
    team = supervisor.get(f"/api/v1/units/{cast.unit_a.pk}/summary").json()["officers"]
    a1 = next(row for row in team if row["officer"] == cast.officer_a1.pk)
    assert a1["next_checkin"] is None
    assert a1["open_alerts"] == 0  # the screening's alert is OH's too

    web = web_client_for(cast.supervisor_a)
    assert web.get(f"/checkins/{screened.pk}").status_code == 404
    page = web.get("/unit/").content.decode()
    assert f"/checkins/{screened.pk}" not in page
    rows = checkins_table(page)
    assert cast.officer_a2.display_name in rows  # the other officer's check-in is listed
    assert cast.officer_a1.display_name not in rows
    assert "Welfare appointment" not in page

    # Overdue: the alert is clinical, for OH only; the supervisor is told nothing.
    alert = overdue(clock, screened)
    assert alert.clinical
    supervisor, web = client_for(cast.supervisor_a), web_client_for(cast.supervisor_a)  # days on
    # The other officer's check-in is overdue too: its alert is the only one they see.
    other = Alert.objects.get(checkin=visible, kind="checkin_overdue")
    assert not other.clinical
    assert api_ids(cast.supervisor_a, "/api/v1/alerts/") == {other.pk}
    assert supervisor.get(f"/api/v1/alerts/{alert.pk}/").status_code == 404
    assert web.get(f"/alerts/{alert.pk}").status_code == 404
    page = web.get("/unit/").content.decode()
    assert f"/alerts/{other.pk}" in page
    assert f"/alerts/{alert.pk}" not in page
    assert supervisor_told_of(cast, screened) == []
    told = Notification.objects.filter(recipient__in=[cast.supervisor_a, cast.supervisor_b])
    assert {(n.alert_id, n.checkin_id) for n in told} == {(other.pk, None)}
    inbox = web.get("/inbox").content.decode()
    assert f"/alerts/{other.pk}" in inbox or f"/inbox/{told.get().pk}" in inbox
    assert f"/alerts/{alert.pk}" not in inbox
    assert f"/checkins/{screened.pk}" not in inbox
    # OH sees both; the officer their own check-in, with its kind.
    oh = client_for(cast.oh1)
    assert oh.get(f"/api/v1/alerts/{alert.pk}/").status_code == 200
    assert Notification.objects.filter(alert=alert, recipient__role="oh").exists()
    own = client_for(cast.officer_a1.user).get(f"{API}{screened.pk}/").json()
    assert own["kind"] == "triggered"
    page = web_client_for(cast.officer_a1.user).get(f"/checkins/{screened.pk}").content.decode()
    assert "<h1>Triggered check-in</h1>" in page


def test_oh_releases_the_appointment_and_the_supervisor_sees_it_without_its_kind(
    cast: Cast, clock, screened: CheckIn
) -> None:
    oh = client_for(cast.oh1)
    oh_page = web_client_for(cast.oh1).get(f"/checkins/{screened.pk}").content.decode()
    assert f"/oh/checkins/{screened.pk}/release" in oh_page

    response = oh.post(f"{API}{screened.pk}/release")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["kind"], body["confidential"]) == ("triggered", True)
    assert body["released_at"] == clock.now().isoformat().replace("+00:00", "Z")
    released_at = body["released_at"]
    # Releasing again changes nothing: audited once, the first time kept.
    clock.advance(minutes=5)
    again = oh.post(f"{API}{screened.pk}/release")
    assert again.status_code == 200
    assert again.json()["released_at"] == released_at
    events = AuditEvent.objects.filter(action="checkin.released")
    assert [(e.actor_id, e.target_type, e.target_id) for e in events] == [
        (cast.oh1.pk, "checkin", str(screened.pk))
    ]
    oh_page = web_client_for(cast.oh1).get(f"/checkins/{screened.pk}").content.decode()
    assert f"/oh/checkins/{screened.pk}/release" not in oh_page

    checkin_complete(actor=cast.oh1, checkin=screened, outcome="fit_with_adjustments")
    supervisor = client_for(cast.supervisor_a)
    shown = supervisor.get(f"{API}{screened.pk}/").json()
    assert shown["kind"] == APPOINTMENT
    assert shown["outcome"] == ""
    assert shown["follow_up"] is False
    assert (shown["due_on"], shown["status"]) == (screened.due_on.isoformat(), "completed")
    assert not {"confidential", "released_at", "referral_note", "adjustments"} & set(shown)
    [listed] = [row for row in supervisor.get(API).json()["results"] if row["id"] == screened.pk]
    assert listed == shown

    web = web_client_for(cast.supervisor_a)
    page = web.get(f"/checkins/{screened.pk}").content.decode()
    assert "<h1>Welfare appointment</h1>" in page
    assert "Triggered" not in page
    assert "Outcome" not in page
    assert "Fit with adjustments" not in page
    # The officer and OH still see what it is.
    assert client_for(cast.officer_a1.user).get(f"{API}{screened.pk}/").json()["kind"] == (
        "triggered"
    )
    assert oh.get(f"{API}{screened.pk}/").json()["outcome"] == "fit_with_adjustments"


def test_a_released_appointment_is_a_welfare_appointment_on_the_supervisors_pages(
    cast: Cast, clock, screened: CheckIn
) -> None:
    client_for(cast.oh1).post(f"{API}{screened.pk}/release")
    rows = checkins_table(web_client_for(cast.supervisor_a).get("/unit/").content.decode())
    assert cast.officer_a1.display_name in rows
    assert "Welfare appointment" in rows
    assert "Triggered" not in rows
    team = (
        client_for(cast.supervisor_a)
        .get(f"/api/v1/units/{cast.unit_a.pk}/summary")
        .json()["officers"]
    )
    a1 = next(row for row in team if row["officer"] == cast.officer_a1.pk)
    assert a1["next_checkin"]["id"] == screened.pk
    assert a1["next_checkin"]["kind"] == APPOINTMENT  # never "triggered"
    # Its overdue alert stays OH's: it would say what kind of check-in it was.
    alert = overdue(clock, screened)
    assert alert.clinical
    assert client_for(cast.supervisor_a).get("/api/v1/alerts/").json()["count"] == 0
    assert supervisor_told_of(cast, screened) == []


def test_oh_releases_from_the_checkin_page(cast: Cast, clock, screened: CheckIn) -> None:
    web = web_client_for(cast.oh1)
    response = web.post(f"/oh/checkins/{screened.pk}/release", {"next": f"/checkins/{screened.pk}"})
    assert response.status_code == 302
    screened.refresh_from_db()
    assert screened.released_at == clock.now()
    assert AuditEvent.objects.filter(action="checkin.released", target_id=screened.pk).count() == 1


@pytest.mark.parametrize("who", ["officer", "supervisor", "other_supervisor", "hr", "admin"])
def test_only_occupational_health_may_release(
    cast: Cast, clock, screened: CheckIn, who: str
) -> None:
    user = cast.user(who)
    response = client_for(user).post(f"{API}{screened.pk}/release")
    assert response.status_code == 403, response.content  # the role decides, before the row
    web = web_client_for(user).post(f"/oh/checkins/{screened.pk}/release")
    assert web.status_code == 403
    screened.refresh_from_db()
    assert screened.released_at is None
    assert not AuditEvent.objects.filter(action="checkin.released").exists()


def test_a_self_referral_is_never_released(cast: Cast, clock) -> None:
    referral = self_refer(user=cast.officer_a1.user, note="I would like to talk to someone.")
    assert referral.confidential
    response = client_for(cast.oh1).post(f"{API}{referral.pk}/release")
    assert response.status_code == 409
    assert response.json()["code"] == "not_releasable"
    assert response.json()["detail"] == NOT_RELEASABLE
    web = web_client_for(cast.oh1)
    web.post(f"/oh/checkins/{referral.pk}/release", {"next": f"/checkins/{referral.pk}"})
    referral.refresh_from_db()
    assert referral.released_at is None
    assert client_for(cast.supervisor_a).get(f"{API}{referral.pk}/").status_code == 404
    assert not AuditEvent.objects.filter(action="checkin.released").exists()
    page = web.get(f"/checkins/{referral.pk}").content.decode()
    assert f"/oh/checkins/{referral.pk}/release" not in page  # no button to press


def test_a_checkin_the_supervisor_sees_already_has_nothing_to_release(cast: Cast, clock) -> None:
    shared = checkin_trigger(
        officer_id=cast.officer_a1.pk, due_on=clock.today() + timedelta(days=7), key="limit"
    )
    assert shared is not None
    response = client_for(cast.oh1).post(f"{API}{shared.pk}/release")
    assert response.status_code == 409
    assert response.json()["code"] == "not_releasable"
    assert client_for(cast.supervisor_a).get(f"{API}{shared.pk}/").json()["kind"] == "triggered"


def test_a_supervisor_cannot_learn_a_released_appointments_kind_by_filtering(
    cast: Cast, clock, screened: CheckIn
) -> None:
    client_for(cast.oh1).post(f"{API}{screened.pk}/release")
    supervisor = client_for(cast.supervisor_a)
    assert screened.pk in api_ids(cast.supervisor_a)
    # Filtering by the hidden kind must not single it out.
    assert screened.pk not in api_ids(cast.supervisor_a, f"{API}?kind=triggered")
    assert supervisor.get(f"{API}?kind=periodic").json()["count"] == 0
