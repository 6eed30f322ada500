"""Occupational health's work queue, case ownership and cover, and the case list ranked by
need with the reasons in words: through the API, on PostgreSQL, with the injected clock."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, reset_queries
from django.test.utils import CaptureQueriesContext

from tests.conftest import Cast, client_for, field_errors, make_user
from welfare.accounts.models import User
from welfare.accounts.services import user_update
from welfare.alerts import rules as alert_rules
from welfare.alerts.models import Alert, AlertKind, CaseOwner, Notification, Severity
from welfare.alerts.services import alert_acknowledge, alert_raise, case_assign
from welfare.alerts.services import checkin_escalation_sweep as escalation_sweep
from welfare.audit.models import AuditEvent
from welfare.casework import rules, selectors
from welfare.casework.api import SCOPE_UNKNOWN
from welfare.checkins.services import checkin_status_sweep, checkin_trigger, self_refer
from welfare.core.roles import Role
from welfare.people.models import Officer
from welfare.people.services import officer_create

LONDON = ZoneInfo("Europe/London")
QUEUE = "/api/v1/oh/queue/"
CASES = "/api/v1/oh/cases/"
PHQ9_CRITICAL = [0, 0, 0, 0, 0, 0, 0, 0, 1]
GAD7_CONCERNING = [2, 2, 2, 2, 2, 1, 1]  # 12: over the cut-off of 10
_keys = itertools.count()


def london(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2027, month, day, hour, minute, tzinfo=LONDON).astimezone(UTC)


def screen(officer: Officer, instrument: str, answers: list[int]) -> int:
    """The officer sends a self-check; returns the screening's id."""
    response = client_for(officer.user).post(
        "/api/v1/screenings/", {"instrument": instrument, "answers": answers}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def critical(officer: Officer) -> Alert:
    return Alert.objects.get(
        dedupe_key=f"screening:{screen(officer, 'phq9', PHQ9_CRITICAL)}:critical"
    )


def concerning(officer: Officer) -> Alert:
    return Alert.objects.get(
        dedupe_key=f"screening:{screen(officer, 'gad7', GAD7_CONCERNING)}:concern"
    )


def overdue_checkin_alert(officer: Officer, due_on: date) -> Alert:
    checkin = checkin_trigger(officer_id=officer.pk, due_on=due_on, key=f"test:{next(_keys)}")
    assert checkin is not None
    escalation_sweep(at=checkin.created_at)
    return Alert.objects.get(dedupe_key=f"checkin_overdue:{checkin.pk}")


def limit_alert(officer: Officer, severity: str = Severity.WARNING) -> Alert:
    alert, created = alert_raise(
        officer_id=officer.pk,
        kind=AlertKind.EXPOSURE_LIMIT,
        severity=severity,
        dedupe_key=f"test-limit:{next(_keys)}",
        detail={"rule": "day_minutes", "state": "warning"},
    )
    assert created
    return alert


def rotation_alert(officer: Officer) -> Alert:
    alert, created = alert_raise(
        officer_id=officer.pk,
        kind=AlertKind.ROTATION_DUE,
        severity=Severity.HIGH,
        dedupe_key=f"test-rotation:{next(_keys)}",
        detail={"level": "tenure"},
    )
    assert created
    return alert


def queue(user: User, scope: str | None = None) -> list[dict]:
    response = client_for(user).get(QUEUE, {"scope": scope} if scope else {})
    assert response.status_code == 200, response.content
    return response.json()["results"]


def counted_get(user: User, path: str, params: dict) -> tuple[list[dict], int]:
    """A first GET with a new token (tokens idle out as the clock moves), and how many queries
    it took. The log is emptied first: a request empties it as it starts, which would make a
    capture opened over an older log count nothing."""
    client = client_for(user)
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, params)
    assert response.status_code == 200, response.content
    return response.json()["results"], len(queries)


def ids(rows: list[dict]) -> list[int]:
    return [row["id"] for row in rows]


@dataclass
class Work:
    escalated: Alert  # a2's check-in 14 days overdue: urgent, due 13:00
    critical: Alert  # a1's self-harm answer at 10:00: urgent, due 14:00
    acknowledged: Alert  # b1's self-harm answer at 11:00, acknowledged: urgent, due 15:00
    concerning: Alert  # a1's GAD-7 over the cut-off at 12:00: due in 7 days
    overdue: Alert  # b1's check-in overdue today: due in 14 days
    limit: Alert
    rotation: Alert


@pytest.fixture
def work(cast: Cast, clock) -> Work:
    """Wednesday 10 March 2027, built from 09:00 to 12:00 London time; the clock is left at
    12:00."""
    clock.set(london(3, 10, 9))
    overdue = overdue_checkin_alert(cast.officer_b1, date(2027, 3, 10))
    escalated = overdue_checkin_alert(cast.officer_a2, date(2027, 2, 24))
    clock.advance(hours=1)
    first = critical(cast.officer_a1)
    clock.advance(hours=1)
    second = critical(cast.officer_b1)
    alert_acknowledge(actor=cast.oh1, alert=second)
    clock.advance(hours=1)
    concern = concerning(cast.officer_a1)
    limit = limit_alert(cast.officer_a2, Severity.HIGH)
    rotation = rotation_alert(cast.officer_b1)
    return Work(escalated, first, second, concern, overdue, limit, rotation)


# --- The order of the queue -------------------------------------------------------------------------


def test_urgent_work_comes_first_by_deadline_then_the_rest_by_when_due(
    cast: Cast, work: Work
) -> None:
    rows = queue(cast.oh1, "all")
    assert ids(rows) == [
        work.escalated.pk,
        work.critical.pk,
        work.acknowledged.pk,
        work.concerning.pk,
        work.overdue.pk,
    ]
    assert [row["tier"] for row in rows] == [1, 1, 2, 3, 3]
    assert [row["urgent"] for row in rows] == [True, True, True, False, False]
    assert [row["due_at"] for row in rows] == [
        "2027-03-10T13:00:00Z",
        "2027-03-10T14:00:00Z",
        "2027-03-10T15:00:00Z",
        "2027-03-17T12:00:00Z",  # raised at 12:00, seven days to respond
        "2027-03-24T09:00:00Z",  # raised at 09:00, escalated after fourteen days
    ]
    assert [row["reason"] for row in rows] == [
        "check-in 14 days overdue, escalated 3 h ago, not acknowledged",
        "self-harm answer 2 h ago, not acknowledged",
        "self-harm answer 1 h ago, acknowledged",
        "score over the cut-off just now",
        "check-in overdue",
    ]
    assert [row["late"] for row in rows] == [False] * 5
    assert {row["owner"] for row in rows} == {None}
    by_id = {row["id"]: row for row in rows}
    assert by_id[work.critical.pk]["officer"] == cast.officer_a1.pk
    assert by_id[work.critical.pk]["officer_name"] == cast.officer_a1.display_name
    assert by_id[work.acknowledged.pk]["acknowledged_by"] == cast.oh1.pk


def test_an_urgent_item_past_its_deadline_is_late(cast: Cast, work: Work, clock) -> None:
    clock.set(london(3, 10, 13, 30))
    rows = {row["id"]: row for row in queue(cast.oh1, "all")}
    assert rows[work.escalated.pk]["late"] is True
    assert rows[work.critical.pk]["late"] is False


def test_limit_and_rotation_alerts_are_never_in_the_queue(cast: Cast, work: Work) -> None:
    for scope in ("mine", "unassigned", "all"):
        for user in (cast.oh1, cast.oh2):
            listed = set(ids(queue(user, scope)))
            assert work.limit.pk not in listed
            assert work.rotation.pk not in listed
    assert (
        Alert.objects.filter(pk__in=[work.limit.pk, work.rotation.pk], status="open").count() == 2
    )


def test_resolved_alerts_leave_the_queue(cast: Cast, work: Work) -> None:
    response = client_for(cast.oh2).post(
        f"/api/v1/alerts/{work.critical.pk}/resolve", {"note": "Called them."}, format="json"
    )
    assert response.status_code == 200, response.content
    assert work.critical.pk not in ids(queue(cast.oh1, "all"))


# --- Scopes ------------------------------------------------------------------------------------------


def test_mine_is_my_cases_unassigned_work_and_every_urgent_alert(cast: Cast, work: Work) -> None:
    case_assign(actor=cast.oh2, officer=cast.officer_a1, clinician=cast.oh2)
    # oh1: a1's case is oh2's; its urgent alert is still everyone's, its concern is not.
    assert ids(queue(cast.oh1, "mine")) == [
        work.escalated.pk,
        work.critical.pk,
        work.acknowledged.pk,
        work.overdue.pk,
    ]
    assert ids(queue(cast.oh1)) == ids(queue(cast.oh1, "mine"))  # mine is the default
    assert ids(queue(cast.oh2, "mine")) == [
        work.escalated.pk,
        work.critical.pk,
        work.acknowledged.pk,
        work.concerning.pk,
        work.overdue.pk,
    ]
    rows = {row["id"]: row for row in queue(cast.oh1, "all")}
    assert rows[work.critical.pk]["owner"] == cast.oh2.pk
    assert rows[work.concerning.pk]["owner"] == cast.oh2.pk
    assert rows[work.overdue.pk]["owner"] is None


def test_mine_shows_an_urgent_alert_of_a_case_someone_else_owns(cast: Cast, work: Work) -> None:
    case_assign(actor=cast.oh1, officer=cast.officer_a2, clinician=cast.oh2)
    case_assign(actor=cast.oh1, officer=cast.officer_a1, clinician=cast.oh2)
    case_assign(actor=cast.oh1, officer=cast.officer_b1, clinician=cast.oh2)
    assert ids(queue(cast.oh1, "mine")) == [
        work.escalated.pk,
        work.critical.pk,
        work.acknowledged.pk,
    ]


def test_unassigned_is_work_without_an_owner(cast: Cast, work: Work) -> None:
    case_assign(actor=cast.oh1, officer=cast.officer_a1, clinician=cast.oh2)
    assert ids(queue(cast.oh1, "unassigned")) == [
        work.escalated.pk,
        work.acknowledged.pk,
        work.overdue.pk,
    ]
    case_assign(actor=cast.oh1, officer=cast.officer_b1, clinician=cast.oh1)
    assert ids(queue(cast.oh2, "unassigned")) == [work.escalated.pk]


def test_all_is_every_item_whoever_owns_it(cast: Cast, work: Work) -> None:
    case_assign(actor=cast.oh1, officer=cast.officer_a1, clinician=cast.oh2)
    case_assign(actor=cast.oh1, officer=cast.officer_b1, clinician=cast.oh1)
    assert len(queue(cast.oh1, "all")) == 5
    assert ids(queue(cast.oh1, "all")) == ids(queue(cast.oh2, "all"))


def test_an_unknown_scope_is_refused(cast: Cast, work: Work) -> None:
    for scope in ("everyone", "MINE", "mine,all"):
        response = client_for(cast.oh1).get(QUEUE, {"scope": scope})
        assert response.status_code == 400
        assert field_errors(response) == {"scope": [SCOPE_UNKNOWN]}
    assert not AuditEvent.objects.filter(action="queue.read").exists()


@pytest.mark.parametrize("name", ["officer", "supervisor", "hr", "admin"])
def test_only_occupational_health_has_a_queue(cast: Cast, work: Work, name: str) -> None:
    response = client_for(cast.user(name)).get(QUEUE, {"scope": "all"})
    assert response.status_code == 403
    assert "results" not in response.json()


def test_reading_the_queue_is_audited(cast: Cast, work: Work) -> None:
    queue(cast.oh1, "all")
    queue(cast.oh1, "unassigned")
    events = AuditEvent.objects.filter(action="queue.read")
    assert [(e.actor_id, e.actor_role) for e in events] == [(cast.oh1.pk, Role.OH)] * 2


def test_the_queue_costs_the_same_queries_however_long(
    cast: Cast, clock, django_assert_max_num_queries
) -> None:
    clock.set(london(3, 10, 9))
    critical(cast.officer_a1)
    rows, few = counted_get(cast.oh1, QUEUE, {"scope": "all"})
    assert len(rows) == 1

    case_assign(actor=cast.oh1, officer=cast.officer_a2, clinician=cast.oh2)
    overdue_checkin_alert(cast.officer_b1, clock.today() - timedelta(days=20))
    overdue_checkin_alert(cast.officer_a2, clock.today() - timedelta(days=2))
    for n in range(30):
        clock.advance(minutes=7)
        officer = (cast.officer_a1, cast.officer_a2, cast.officer_b1)[n % 3]
        critical(officer) if n % 2 else concerning(officer)
    with django_assert_max_num_queries(few):
        rows, many = counted_get(cast.oh1, QUEUE, {"scope": "all"})
    assert len(rows) == 33
    assert many == few > 0


# --- Assigning a case --------------------------------------------------------------------------------


def assign(actor: User, officer: Officer, clinician: User | None):
    return client_for(actor).post(
        f"/api/v1/oh/cases/{officer.pk}/assign",
        {"clinician": clinician.pk if clinician else None},
        format="json",
    )


def test_assigning_a_case_tells_the_new_owner_and_is_audited(cast: Cast, clock) -> None:
    response = assign(cast.oh1, cast.officer_a1, cast.oh2)
    assert response.status_code == 200, response.content
    assert response.json() == {
        "officer": cast.officer_a1.pk,
        "clinician": cast.oh2.pk,
        "assigned_at": "2027-03-10T09:00:00Z",
        "assigned_by": cast.oh1.pk,
    }
    assert CaseOwner.objects.get(officer=cast.officer_a1).clinician == cast.oh2
    [told] = Notification.objects.filter(recipient=cast.oh2)
    assert told.subject == alert_rules.CASE_ASSIGNED_SUBJECT
    assert told.body == alert_rules.CASE_ASSIGNED_BODY
    assert told.link.endswith(f"/oh/cases/{cast.officer_a1.pk}")
    assert cast.officer_a1.display_name not in told.body
    [event] = AuditEvent.objects.filter(action="case.assigned")
    assert (event.actor_id, event.target_type, event.target_id) == (
        cast.oh1.pk,
        "officer",
        str(cast.officer_a1.pk),
    )
    assert event.detail == {"clinician": cast.oh2.pk, "previous": None}


def test_reassigning_records_the_previous_owner_and_taking_it_oneself_tells_nobody(
    cast: Cast, clock
) -> None:
    assert assign(cast.oh1, cast.officer_a1, cast.oh2).status_code == 200
    clock.advance(hours=1)
    assert assign(cast.oh1, cast.officer_a1, cast.oh1).status_code == 200
    clock.advance(hours=1)
    response = assign(cast.oh2, cast.officer_a1, None)
    assert response.status_code == 200
    assert response.json()["clinician"] is None
    assert CaseOwner.objects.get(officer=cast.officer_a1).clinician is None
    details = [e.detail for e in AuditEvent.objects.filter(action="case.assigned").order_by("id")]
    assert details == [
        {"clinician": cast.oh2.pk, "previous": None},
        {"clinician": cast.oh1.pk, "previous": cast.oh2.pk},
        {"clinician": None, "previous": cast.oh1.pk},
    ]
    assert not Notification.objects.filter(recipient=cast.oh1).exists()
    assert Notification.objects.filter(recipient=cast.oh2).count() == 1


def test_assigning_to_the_same_owner_again_changes_nothing(cast: Cast, clock) -> None:
    assert assign(cast.oh1, cast.officer_a1, cast.oh2).status_code == 200
    clock.advance(hours=1)
    response = assign(cast.oh1, cast.officer_a1, cast.oh2)
    assert response.status_code == 200
    assert response.json()["assigned_at"] == "2027-03-10T09:00:00Z"
    assert AuditEvent.objects.filter(action="case.assigned").count() == 1
    assert Notification.objects.filter(recipient=cast.oh2).count() == 1


@pytest.mark.parametrize("who", ["supervisor", "hr", "admin", "officer", "deactivated clinician"])
def test_a_case_goes_only_to_an_active_clinician(cast: Cast, clock, who: str) -> None:
    assert assign(cast.oh1, cast.officer_a1, cast.oh2).status_code == 200
    if who == "deactivated clinician":
        target = make_user("oh.gone", Role.OH)
        target.is_active = False
        target.save()
    else:
        target = cast.user(who)
    response = assign(cast.oh1, cast.officer_a1, target)
    assert response.status_code == 400
    assert "clinician" in response.json()
    assert CaseOwner.objects.get(officer=cast.officer_a1).clinician == cast.oh2
    assert AuditEvent.objects.filter(action="case.assigned").count() == 1
    assert not Notification.objects.filter(recipient=target).exists()


def test_the_service_refuses_a_non_clinician_too(cast: Cast) -> None:
    from welfare.core.errors import DomainError

    with pytest.raises(DomainError):
        case_assign(actor=cast.oh1, officer=cast.officer_a1, clinician=cast.supervisor_a)
    assert not CaseOwner.objects.exists()


@pytest.mark.parametrize("name", ["officer", "supervisor", "hr", "admin"])
def test_only_occupational_health_assigns_cases(cast: Cast, name: str) -> None:
    response = assign(cast.user(name), cast.officer_a1, cast.oh1)
    assert response.status_code == 403
    assert not CaseOwner.objects.exists()


def test_assigning_an_unknown_officer_is_not_found(cast: Cast) -> None:
    response = client_for(cast.oh1).post(
        "/api/v1/oh/cases/999999/assign", {"clinician": cast.oh1.pk}, format="json"
    )
    assert response.status_code == 404


@pytest.mark.parametrize("change", [{"is_active": False}, {"role": Role.HR}])
def test_an_owner_who_leaves_occupational_health_no_longer_owns_the_case(
    cast: Cast, work: Work, change: dict
) -> None:
    case_assign(actor=cast.oh1, officer=cast.officer_a1, clinician=cast.oh2)
    assert work.concerning.pk not in ids(queue(cast.oh1, "unassigned"))
    user_update(actor=cast.admin, user=cast.oh2, changes=change)
    rows = {row["id"]: row for row in queue(cast.oh1, "all")}
    assert rows[work.concerning.pk]["owner"] is None
    assert work.concerning.pk in ids(queue(cast.oh1, "unassigned"))
    assert work.concerning.pk in ids(queue(cast.oh1, "mine"))
    assert selectors.case_owner_of(cast.officer_a1.pk) is None
    # Acting on the case now is nobody's cover.
    response = client_for(cast.oh1).post(f"/api/v1/alerts/{work.concerning.pk}/acknowledge")
    assert response.status_code == 200
    event = AuditEvent.objects.get(action="alert.acknowledged", target_id=str(work.concerning.pk))
    assert "cover_for" not in (event.detail or {})


# --- Cover for another clinician --------------------------------------------------------------------


def test_acting_on_another_clinicians_case_is_audited_as_cover(cast: Cast, work: Work) -> None:
    case_assign(actor=cast.oh2, officer=cast.officer_a1, clinician=cast.oh2)
    oh1 = client_for(cast.oh1)
    assert oh1.post(f"/api/v1/alerts/{work.critical.pk}/acknowledge").status_code == 200
    response = oh1.post(
        f"/api/v1/alerts/{work.concerning.pk}/resolve", {"note": "Booked in."}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "resolved"
    acknowledged = AuditEvent.objects.get(
        action="alert.acknowledged", target_id=str(work.critical.pk)
    )
    resolved = AuditEvent.objects.get(action="alert.resolved", target_id=str(work.concerning.pk))
    for event in (acknowledged, resolved):
        assert event.actor_id == cast.oh1.pk
        assert event.detail == {"cover_for": cast.oh2.pk}


def test_acting_on_ones_own_or_an_unowned_case_is_not_cover(cast: Cast, work: Work) -> None:
    case_assign(actor=cast.oh2, officer=cast.officer_a1, clinician=cast.oh2)
    oh2 = client_for(cast.oh2)
    assert oh2.post(f"/api/v1/alerts/{work.critical.pk}/acknowledge").status_code == 200
    assert oh2.post(f"/api/v1/alerts/{work.escalated.pk}/acknowledge").status_code == 200
    for alert in (work.critical, work.escalated):
        event = AuditEvent.objects.get(action="alert.acknowledged", target_id=str(alert.pk))
        assert "cover_for" not in (event.detail or {})


# --- The case list -----------------------------------------------------------------------------------


def case_rows(user: User) -> list[dict]:
    response = client_for(user).get(CASES, {"page_size": 500})
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_an_unacknowledged_self_harm_answer_comes_before_many_limit_alerts(
    cast: Cast, clock
) -> None:
    clock.set(london(3, 10, 9))
    for _ in range(30):
        limit_alert(cast.officer_a2)
        clock.advance(minutes=1)
    clock.set(london(3, 10, 11))
    critical(cast.officer_a1)
    clock.set(london(3, 10, 13))

    rows = case_rows(cast.oh1)
    assert [row["id"] for row in rows] == [
        cast.officer_a1.pk,
        cast.officer_a2.pk,
        cast.officer_b1.pk,
    ]
    first, second, third = rows
    assert first["tier"] == rules.URGENT_UNACKNOWLEDGED
    assert first["reasons"] == ["self-harm answer 2 h ago, not acknowledged"]
    assert (first["urgent"], first["open_items"]) == (1, 1)
    assert first["waiting_since"] == "2027-03-10T11:00:00Z"
    assert second["tier"] == rules.OTHER
    assert (second["urgent"], second["open_items"]) == (0, 30)
    assert second["reasons"] == [
        "exposure limit alert 4 h ago",
        "exposure limit alert 3 h ago",
        "exposure limit alert 3 h ago",
        "27 more open",
    ]
    assert second["waiting_since"] == "2027-03-10T09:00:00Z"
    assert (third["tier"], third["reasons"], third["open_items"]) == (
        rules.NOTHING_OPEN,
        [],
        0,
    )
    assert third["waiting_since"] is None


def test_an_overdue_check_in_and_its_alert_count_once(cast: Cast, clock) -> None:
    clock.set(london(3, 10, 9))
    overdue_checkin_alert(cast.officer_b1, date(2027, 3, 8))
    [row] = [r for r in case_rows(cast.oh1) if r["id"] == cast.officer_b1.pk]
    assert row["open_items"] == 1
    assert row["reasons"] == ["check-in 2 days overdue"]
    assert row["tier"] == rules.ATTENTION


def test_a_self_referral_counts_once_before_and_after_it_is_overdue(cast: Cast, clock) -> None:
    clock.set(london(3, 10, 9))
    self_refer(user=cast.officer_a2.user, note="")
    [row] = [r for r in case_rows(cast.oh1) if r["id"] == cast.officer_a2.pk]
    assert (row["tier"], row["open_items"]) == (rules.ATTENTION, 1)
    assert row["reasons"] == ["asked for help (self-referral) just now"]

    later = london(3, 18, 9)  # past the seven days a self-referral has
    clock.set(later)
    checkin_status_sweep(at=later)
    escalation_sweep(at=later)
    [row] = [r for r in case_rows(cast.oh1) if r["id"] == cast.officer_a2.pk]
    assert (row["tier"], row["open_items"]) == (rules.ATTENTION, 1)
    assert row["reasons"] == ["check-in 1 day overdue"]


def test_reading_the_case_list_is_audited_and_for_oh_only(cast: Cast) -> None:
    case_rows(cast.oh1)
    assert AuditEvent.objects.filter(action="case.list", actor=cast.oh1).count() == 1
    for name in ("officer", "supervisor", "hr", "admin"):
        assert client_for(cast.user(name)).get(CASES).status_code == 403


def test_the_case_list_costs_the_same_queries_however_long(
    cast: Cast, clock, django_assert_max_num_queries
) -> None:
    rows, few = counted_get(cast.oh1, CASES, {})
    assert len(rows) == 3
    for n in range(12):
        officer = officer_create(
            actor=cast.admin,
            user=make_user(f"off.q{n}", Role.OFFICER),
            staff_number=f"Q{n:04d}",
            display_name=f"Test q{n}",
            unit=cast.unit_a,
            posted_since=date(2026, 1, 1),
        )
        limit_alert(officer)
        if n % 2:
            critical(officer)
    with django_assert_max_num_queries(few):
        rows, many = counted_get(cast.oh1, CASES, {})
    assert len(rows) == 15
    assert [row["tier"] for row in rows[:6]] == [rules.URGENT_UNACKNOWLEDGED] * 6
    assert many == few > 0


# --- The ranking in SQL and the tiers in Python agree ----------------------------------------------


def extra_officer(cast: Cast, n: int) -> Officer:
    return officer_create(
        actor=cast.admin,
        user=make_user(f"off.mix{n}", Role.OFFICER),
        staff_number=f"M{n:04d}",
        display_name=f"Mix {n:02d}",
        unit=cast.unit_b,
        posted_since=date(2025, 1, 1),
    )


def ranked_in_sql() -> list[tuple[int, int, datetime | None]]:
    return selectors.ranked_page(1000, 0)


def test_the_sql_ranking_and_the_python_tiers_agree_for_every_officer(cast: Cast, clock) -> None:
    clock.set(london(3, 1, 9))
    mix = [extra_officer(cast, n) for n in range(9)]
    # Urgent, not acknowledged, with limit alerts besides.
    limit_alert(cast.officer_a1)
    clock.advance(hours=1)
    critical(cast.officer_a1)
    # Urgent and acknowledged by OH.
    clock.advance(hours=1)
    alert_acknowledge(actor=cast.oh1, alert=critical(cast.officer_a2))
    # A concerning score and a rotation review.
    clock.advance(hours=1)
    rotation_alert(cast.officer_b1)
    concerning(cast.officer_b1)
    # An overdue check-in, not escalated, acknowledged by the supervisor.
    clock.advance(hours=1)
    alert = overdue_checkin_alert(mix[0], clock.today() - timedelta(days=3))
    alert_acknowledge(actor=cast.supervisor_b, alert=alert)
    # A self-referral waiting, and a limit alert.
    clock.advance(hours=1)
    self_refer(user=mix[1].user, note="")
    limit_alert(mix[1])
    # Limit alerts only, rotation only.
    limit_alert(mix[2], Severity.HIGH)
    rotation_alert(mix[3])
    # Nothing open: mix[4]; a resolved alert only: mix[5].
    resolved = limit_alert(mix[5])
    response = client_for(cast.supervisor_b).post(
        f"/api/v1/alerts/{resolved.pk}/resolve", {"note": "Done."}, format="json"
    )
    assert response.status_code == 200, response.content
    # An escalated check-in, acknowledged by OH, and a later critical answer; an escalated
    # check-in nobody acknowledged, older than that answer.
    clock.advance(hours=1)
    escalated = overdue_checkin_alert(mix[6], clock.today() - timedelta(days=20))
    alert_acknowledge(actor=cast.oh2, alert=escalated)
    clock.advance(hours=1)
    escalated_open = overdue_checkin_alert(mix[7], clock.today() - timedelta(days=15))
    clock.advance(hours=1)
    critical(mix[6])
    # Two concerning scores.
    concerning(mix[8])
    clock.advance(hours=2)
    concerning(mix[8])
    clock.set(london(3, 2, 9))

    ranked = ranked_in_sql()
    officers = list(Officer.objects.values_list("pk", flat=True))
    assert sorted(pk for pk, _, _ in ranked) == sorted(officers)
    items = selectors.open_items(officers)
    for pk, tier, since in ranked:
        need = rules.case_need(items[pk], clock.now())
        assert (pk, tier, since) == (pk, need.tier, need.since)

    expected = {
        cast.officer_a1.pk: rules.URGENT_UNACKNOWLEDGED,
        cast.officer_a2.pk: rules.URGENT_ACKNOWLEDGED,
        cast.officer_b1.pk: rules.ATTENTION,
        mix[0].pk: rules.ATTENTION,
        mix[1].pk: rules.ATTENTION,
        mix[2].pk: rules.OTHER,
        mix[3].pk: rules.OTHER,
        mix[4].pk: rules.NOTHING_OPEN,
        mix[5].pk: rules.NOTHING_OPEN,
        mix[6].pk: rules.URGENT_UNACKNOWLEDGED,
        mix[7].pk: rules.URGENT_UNACKNOWLEDGED,
    }
    tiers = {pk: tier for pk, tier, _ in ranked}
    assert {pk: tiers[pk] for pk in expected} == expected
    assert tiers[mix[8].pk] == rules.ATTENTION
    # Within the first tier, the oldest first: a1's answer, mix[7]'s escalation, mix[6]'s.
    assert [pk for pk, tier, _ in ranked if tier == rules.URGENT_UNACKNOWLEDGED] == [
        cast.officer_a1.pk,
        mix[7].pk,
        mix[6].pk,
    ]
    assert escalated_open.escalated_at is not None
    # Open work first, most pressing first; then the rest by name.
    assert [tier for _, tier, _ in ranked] == sorted(tier for _, tier, _ in ranked)
    rest = [pk for pk, tier, _ in ranked if tier == rules.NOTHING_OPEN]
    assert rest == list(
        Officer.objects.filter(pk__in=rest)
        .order_by("display_name", "id")
        .values_list("pk", flat=True)
    )
    # Pages of any size, across the boundary between the two, give the same order.
    for size in (1, 2, 3, 5, 7):
        pages = [selectors.ranked_page(size, start) for start in range(0, len(ranked), size)]
        assert [row for page in pages for row in page] == ranked, size
    assert selectors.ranked_page(3, len(ranked)) == []

    # The API rows come in the SQL's order, with the Python tier on each.
    rows = case_rows(cast.oh1)
    assert [(row["id"], row["tier"]) for row in rows] == [(pk, tier) for pk, tier, _ in ranked]
    assert [row["open_items"] for row in rows if row["id"] == mix[1].pk] == [2]
    assert [row["open_items"] for row in rows if row["id"] == mix[6].pk] == [2]
