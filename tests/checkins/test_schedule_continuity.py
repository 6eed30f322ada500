"""A schedule robust to restructures: spells in the work, series that cancelling never
stops, regular contacts; as rule tables, then through the sweeps and services."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.test import override_settings

from tests.conftest import Cast, make_user, web_client_for
from welfare.alerts.models import Alert, Notification
from welfare.alerts.services import rotation_alerts_resolve, rotation_sweep
from welfare.audit.models import AuditEvent
from welfare.checkins import rules
from welfare.checkins.models import CheckIn, CheckinPolicy
from welfare.checkins.rules import (
    CancelledFact,
    CompletedFact,
    KindPolicy,
    Planned,
    PostingFact,
    ScheduleSettings,
)
from welfare.checkins.services import (
    DEFAULT_POLICIES,
    WITHDRAWN_REASON,
    checkin_cancel,
    checkin_complete,
    checkin_policy_update,
    checkin_schedule_sweep,
    kind_policies,
)
from welfare.core import clock as clock_module
from welfare.core.errors import DomainError, Forbidden
from welfare.core.roles import Role
from welfare.people import rules as people_rules
from welfare.people.models import Posting, UnitKind
from welfare.people.rules import Continuity
from welfare.people.services import (
    officer_create,
    posting_end,
    posting_start,
    rotation_review_record,
    unit_create,
)

AI, CSE, DF, OTHER = "abusive_images", "online_cse", "digital_forensics", "other"
SAME_KIND = ScheduleSettings()
ACROSS_SPECIALIST = ScheduleSettings(continuity=Continuity(across="specialist"))
MONTHLY_CONTACT = {**DEFAULT_POLICIES, AI: replace(DEFAULT_POLICIES[AI], contact_every_months=1)}


def plan(
    postings: list[PostingFact],
    *,
    today: date,
    completed: tuple[CompletedFact, ...] = (),
    cancelled: tuple[CancelledFact, ...] = (),
    open_periodic: bool = False,
    open_contact: bool = False,
    policies: dict[str, KindPolicy] = DEFAULT_POLICIES,
    settings: ScheduleSettings = SAME_KIND,
) -> dict[str, Planned]:
    return {
        p.key: p
        for p in rules.planned_checkins(
            officer_id=7,
            postings=postings,
            completed=completed,
            cancelled=cancelled,
            has_open_periodic=open_periodic,
            has_open_contact=open_contact,
            policies=policies,
            today=today,
            settings=settings,
        )
    }


def moved(first_kind: str, second_kind: str, *, gap_days: int = 0) -> list[PostingFact]:
    """Posting 1 from 1 June 2025 to 31 March 2027; posting 2 starting `gap_days` later."""
    ended = date(2027, 3, 31)
    return [
        PostingFact(1, first_kind, date(2025, 6, 1), ended),
        PostingFact(2, second_kind, ended + timedelta(days=gap_days + 1), None),
    ]


# --- Spells -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gap_days", "one_spell"),
    [(0, True), (1, True), (7, True), (8, False), (30, False)],
)
def test_the_gap_between_postings_that_still_counts_as_one_spell(
    gap_days: int, one_spell: bool
) -> None:
    spells = people_rules.spells(moved(AI, AI, gap_days=gap_days), Continuity())
    assert [[p.id for p in s.postings] for s in spells] == ([[1, 2]] if one_spell else [[1], [2]])


@pytest.mark.parametrize(
    ("first", "second", "across", "one_spell"),
    [
        (AI, AI, "same_kind", True),
        (AI, CSE, "same_kind", False),
        (AI, CSE, "specialist", True),
        (DF, AI, "specialist", True),
        (AI, OTHER, "specialist", False),  # leaving specialist work
        (OTHER, AI, "specialist", False),  # entering it
        (OTHER, OTHER, "same_kind", True),
    ],
)
def test_which_kinds_of_unit_are_the_same_work(
    first: str, second: str, across: str, one_spell: bool
) -> None:
    spells = people_rules.spells(moved(first, second), Continuity(across=across))
    assert len(spells) == (1 if one_spell else 2)


def test_a_spell_is_named_by_its_first_posting_and_the_posting_in_force() -> None:
    postings = [*moved(AI, AI, gap_days=3)]
    [spell] = people_rules.spells(reversed(postings), Continuity())
    assert (spell.id, spell.started_on, spell.ended_on) == (1, date(2025, 6, 1), None)
    assert spell.posting_on(date(2027, 4, 2)).id == 1  # in the gap: the earlier posting
    assert spell.posting_on(date(2027, 4, 4)).id == 2
    assert spell.is_current(date(2027, 4, 2))


# --- Restructures -------------------------------------------------------------------------

RESTRUCTURED = date(2027, 4, 5)  # a few days after the move of 1 April 2027
DONE = CompletedFact(5, "periodic:7:posting:1", "periodic", date(2027, 1, 10))


def test_a_restructure_in_the_same_kind_keeps_the_spell_going() -> None:
    planned = plan(moved(AI, AI), today=RESTRUCTURED, completed=(DONE,))
    # No exit, follow-up or baseline; the periodic clock counts from the last one done,
    # not from the new posting (that would be 1 October 2027).
    assert set(planned) == {"periodic:7:after:5"}
    assert planned["periodic:7:after:5"].due_on == date(2027, 7, 10)
    # And with nothing done in the spell: from the spell's start, under the spell's name.
    assert plan(moved(AI, AI), today=RESTRUCTURED)["periodic:7:posting:1"].due_on == date(
        2025, 12, 1
    )


def test_a_move_to_another_specialist_kind_per_setting() -> None:
    same_kind = plan(moved(AI, DF), today=RESTRUCTURED, completed=(DONE,))
    assert same_kind == {
        "exit:1": Planned("exit:1", "exit", date(2027, 3, 31)),
        "exit_follow_up:1": Planned("exit_follow_up:1", "exit", date(2027, 9, 30), True),
        "pre_posting:2": Planned("pre_posting:2", "pre_posting", date(2027, 4, 1)),
        # A new spell: the clock starts again, every 12 months in digital forensics.
        "periodic:7:posting:2": Planned("periodic:7:posting:2", "periodic", date(2028, 4, 1)),
    }
    across = plan(moved(AI, DF), today=RESTRUCTURED, completed=(DONE,), settings=ACROSS_SPECIALIST)
    # One spell: the unit in force sets the interval (12 months), counted from the last done.
    assert across == {
        "periodic:7:after:5": Planned("periodic:7:after:5", "periodic", date(2028, 1, 10))
    }


def test_leaving_specialist_work_has_an_exit_and_a_follow_up() -> None:
    left = [PostingFact(1, AI, date(2025, 6, 1), date(2027, 3, 31))]
    assert plan(left, today=RESTRUCTURED) == {
        "exit:1": Planned("exit:1", "exit", date(2027, 3, 31)),
        "exit_follow_up:1": Planned("exit_follow_up:1", "exit", date(2027, 9, 30), True),
    }
    # To a unit of kind "other", whatever the setting: the periodic clock of "other" starts.
    for settings in (SAME_KIND, ACROSS_SPECIALIST):
        planned = plan(moved(AI, OTHER), today=RESTRUCTURED, settings=settings)
        assert set(planned) == {"exit:1", "exit_follow_up:1", "periodic:7:posting:2"}


def test_reentering_after_a_real_gap_has_a_new_baseline() -> None:
    postings = moved(AI, AI, gap_days=8)
    back = postings[1].started_on
    earlier = CompletedFact(5, "periodic:7:posting:1", "periodic", date(2027, 1, 10))
    planned = plan(postings, today=back + timedelta(days=2), completed=(earlier,))
    assert planned["pre_posting:2"].due_on == back
    assert planned["exit:1"].due_on == date(2027, 3, 31)
    # What was done in the earlier spell does not count in this one.
    assert planned["periodic:7:posting:2"].due_on == rules.add_months(back, 6)


def test_the_exit_of_a_continued_posting_is_withdrawn() -> None:
    assert rules.withdrawn_keys(moved(AI, AI)) == {"exit:1", "exit_follow_up:1", "pre_posting:2"}
    assert rules.withdrawn_keys(moved(AI, AI, gap_days=8)) == set()
    assert rules.withdrawn_keys(moved(AI, DF)) == set()
    assert rules.withdrawn_keys(moved(AI, DF), ACROSS_SPECIALIST) == {
        "exit:1",
        "exit_follow_up:1",
        "pre_posting:2",
    }


# --- Cancelling never stops a series --------------------------------------------------------

POSTED = [PostingFact(1, AI, date(2026, 1, 15), None)]
TODAY = date(2027, 3, 10)


@pytest.mark.parametrize(
    ("completed", "cancelled", "key", "due_on"),
    [
        # Cancelled, nothing done since: from the cancelled one's due date, under a new key.
        (
            (CompletedFact(3, "pre_posting:1", "pre_posting", date(2026, 2, 1)),),
            (CancelledFact(4, "periodic", date(2026, 8, 1)),),
            "periodic:7:after:4",
            date(2027, 2, 1),
        ),
        # Done later than the cancelled one's due date: from the one done.
        (
            (CompletedFact(6, "triggered:x", "triggered", date(2026, 9, 20)),),
            (CancelledFact(4, "periodic", date(2026, 8, 1)),),
            "periodic:7:after:6",
            date(2027, 3, 20),
        ),
        # Done, but before the cancelled one was due: from the cancelled one's due date.
        (
            (CompletedFact(6, "triggered:x", "triggered", date(2026, 7, 20)),),
            (CancelledFact(4, "periodic", date(2026, 8, 1)),),
            "periodic:7:after:4",
            date(2027, 2, 1),
        ),
        # Cancelled twice in a row: from the later one.
        (
            (),
            (
                CancelledFact(4, "periodic", date(2026, 7, 15)),
                CancelledFact(8, "periodic", date(2027, 1, 15)),
            ),
            "periodic:7:after:8",
            date(2027, 7, 15),
        ),
        # A cancelled contact or baseline is no periodic: from the spell's start.
        (
            (),
            (CancelledFact(4, "contact", date(2026, 8, 1)),),
            "periodic:7:posting:1",
            date(2026, 7, 15),
        ),
    ],
)
def test_a_cancelled_periodic_check_in_never_stops_the_series(
    completed: tuple[CompletedFact, ...],
    cancelled: tuple[CancelledFact, ...],
    key: str,
    due_on: date,
) -> None:
    planned = plan(POSTED, today=TODAY, completed=completed, cancelled=cancelled)
    assert {k: p.due_on for k, p in planned.items()} == {key: due_on}


def test_an_open_periodic_check_in_holds_the_next() -> None:
    cancelled = (CancelledFact(4, "periodic", date(2026, 8, 1)),)
    assert plan(POSTED, today=TODAY, cancelled=cancelled, open_periodic=True) == {}


def test_a_cancellation_in_an_earlier_spell_does_not_count() -> None:
    postings = [
        PostingFact(1, AI, date(2024, 1, 1), date(2025, 12, 31)),
        PostingFact(2, AI, date(2026, 6, 1), None),
    ]
    cancelled = (CancelledFact(4, "periodic", date(2026, 1, 20)),)
    planned = plan(postings, today=TODAY, cancelled=cancelled)
    assert {k: p.due_on for k, p in planned.items()} == {"periodic:7:posting:2": date(2026, 12, 1)}


# --- Regular contacts ---------------------------------------------------------------------


def test_no_regular_contact_by_default() -> None:
    assert all(policy.contact_every_months is None for policy in DEFAULT_POLICIES.values())
    assert not any(k.startswith("contact") for k in plan(POSTED, today=TODAY))


@pytest.mark.parametrize(
    ("completed", "cancelled", "open_contact", "expected"),
    [
        ((), (), False, {"contact:7:posting:1": date(2026, 2, 15)}),
        (
            (CompletedFact(9, "contact:7:x", "contact", date(2027, 2, 20)),),
            (),
            False,
            {"contact:7:after:9": date(2027, 3, 20)},
        ),
        (
            (CompletedFact(9, "contact:7:x", "contact", date(2027, 2, 20)),),
            (CancelledFact(10, "contact", date(2027, 3, 20)),),
            False,
            {"contact:7:after:10": date(2027, 4, 20)},
        ),
        # A periodic check-in done is no contact, and holds no contact back.
        (
            (CompletedFact(11, "periodic:7:x", "periodic", date(2027, 3, 1)),),
            (),
            False,
            {"contact:7:posting:1": date(2026, 2, 15)},
        ),
        ((), (), True, {}),
    ],
)
def test_regular_contacts_every_n_months_through_the_spell(
    completed: tuple[CompletedFact, ...],
    cancelled: tuple[CancelledFact, ...],
    open_contact: bool,
    expected: dict[str, date],
) -> None:
    planned = plan(
        POSTED,
        today=TODAY,
        completed=completed,
        cancelled=cancelled,
        open_periodic=True,
        open_contact=open_contact,
        policies=MONTHLY_CONTACT,
    )
    assert {k: p.due_on for k, p in planned.items()} == expected
    assert all(p.kind == "contact" for p in planned.values())


def test_a_contact_done_does_not_restart_the_periodic_clock() -> None:
    done = (CompletedFact(9, "contact:7:x", "contact", date(2027, 2, 20)),)
    planned = plan(POSTED, today=TODAY, completed=done, open_contact=True, policies=MONTHLY_CONTACT)
    assert {k: p.due_on for k, p in planned.items()} == {"periodic:7:posting:1": date(2026, 7, 15)}


def test_regular_contacts_go_on_across_a_restructure_and_stop_on_leaving() -> None:
    done = (CompletedFact(9, "contact:7:x", "contact", date(2027, 3, 20)),)
    planned = plan(
        moved(AI, AI), today=RESTRUCTURED, completed=done, open_periodic=True,
        policies=MONTHLY_CONTACT,
    )  # fmt: skip
    assert {k: p.due_on for k, p in planned.items()} == {"contact:7:after:9": date(2027, 4, 20)}
    left = [PostingFact(1, AI, date(2025, 6, 1), date(2027, 3, 31))]
    planned = plan(left, today=RESTRUCTURED, completed=done, policies=MONTHLY_CONTACT)
    assert not any(k.startswith("contact") for k in planned)


# --- The policy, as administrators change it ------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"contact_every_months": 0}, "contact_every_months"),
        ({"contact_every_months": 13}, "contact_every_months"),
        ({"periodic_months": 25}, "periodic_months"),
        ({"exit_checkin": False}, "exit_follow_up_months"),  # a follow-up needs the exit
    ],
)
def test_a_check_in_policy_is_validated(
    db: None, cast: Cast, changes: dict[str, object], field: str
) -> None:
    policy = CheckinPolicy.objects.get(unit_kind=AI)
    with pytest.raises(DomainError) as refused:
        checkin_policy_update(actor=cast.admin, policy=policy, changes=changes)
    assert set(refused.value.body()) == {field}
    assert kind_policies()[AI] == DEFAULT_POLICIES[AI]
    assert not AuditEvent.objects.filter(action="checkin_policy.updated").exists()


def test_a_regular_contact_cadence_is_set_and_audited(cast: Cast, clock) -> None:
    policy = CheckinPolicy.objects.get(unit_kind=AI)
    checkin_policy_update(actor=cast.admin, policy=policy, changes={"contact_every_months": 1})
    assert kind_policies()[AI].contact_every_months == 1
    event = AuditEvent.objects.get(action="checkin_policy.updated")
    assert event.detail == {
        "unit_kind": AI,
        "changed": ["contact_every_months"],
        "contact_every_months": 1,
        "contact_every_months_was": None,
    }
    # The sweep schedules them: officer A1, posted 1 June 2025, monthly from then on.
    checkin_schedule_sweep(at=clock.now())
    contact = CheckIn.objects.get(officer=cast.officer_a1, kind="contact")
    assert (contact.key, contact.due_on) == (
        f"contact:{cast.officer_a1.pk}:posting:{cast.officer_a1.postings.get().pk}",
        date(2025, 7, 1),
    )


def test_administrators_change_the_policy_in_the_admin_site(cast: Cast, clock) -> None:
    browser = web_client_for(cast.admin)
    policy = CheckinPolicy.objects.get(unit_kind=AI)
    url = f"/admin/checkins/checkinpolicy/{policy.pk}/change/"
    assert browser.get("/admin/checkins/checkinpolicy/").status_code == 200
    form = {
        "pre_posting": "on",
        "periodic_months": "6",
        "exit_checkin": "on",
        "exit_follow_up_months": "6",
        "contact_every_months": "0",
    }
    browser.post(url, form)
    policy.refresh_from_db()
    assert policy.contact_every_months is None  # refused: nothing written
    browser.post(url, {**form, "contact_every_months": "1"})
    policy.refresh_from_db()
    assert policy.contact_every_months == 1
    assert AuditEvent.objects.filter(action="checkin_policy.updated", actor=cast.admin).count() == 1


# --- Through the sweep -------------------------------------------------------------------------


def morning(day: date) -> datetime:
    return datetime.combine(day, time(6, 0), tzinfo=clock_module.local_zone()).astimezone(UTC)


def test_a_cancelled_periodic_check_in_is_followed_by_the_next(cast: Cast, clock) -> None:
    clock.set(morning(date(2027, 3, 10)))
    checkin_schedule_sweep(at=clock.now())
    first = CheckIn.objects.get(officer=cast.officer_a2, kind="periodic")
    assert first.due_on == date(2026, 7, 15)  # posted 15 January 2026, never seen
    checkin_cancel(actor=cast.oh1, checkin=first, reason="Seen elsewhere")
    clock.advance(hours=1)
    assert checkin_schedule_sweep(at=clock.now()).created == 1
    following = CheckIn.objects.get(officer=cast.officer_a2, kind="periodic", status="overdue")
    assert (following.key, following.due_on) == (
        f"periodic:{cast.officer_a2.pk}:after:{first.pk}",
        date(2027, 1, 15),
    )
    # Done now: the next counts from today, not from the cancelled one.
    checkin_complete(actor=cast.oh1, checkin=following, outcome="fit")
    assert checkin_schedule_sweep(at=clock.now()).created == 1
    assert CheckIn.objects.get(
        officer=cast.officer_a2, kind="periodic", status="due"
    ).due_on == date(2027, 9, 10)
    # The sweep for an instant before the cancellation makes nothing more.
    before = CheckIn.objects.count()
    checkin_schedule_sweep(at=morning(date(2027, 3, 1)))
    assert CheckIn.objects.count() == before


def test_a_restructure_through_the_services_makes_no_exit_or_baseline(cast: Cast, clock) -> None:
    clock.set(morning(date(2027, 3, 10)))
    new_unit = unit_create(actor=cast.admin, name="Unit A2", kind=UnitKind.ABUSIVE_IMAGES)
    checkin_schedule_sweep(at=clock.now())
    periodic = CheckIn.objects.get(officer=cast.officer_a2, kind="periodic")
    posting_start(
        actor=cast.admin, officer=cast.officer_a2, unit=new_unit, started_on=date(2027, 4, 1)
    )
    for day in (date(2027, 3, 11), date(2027, 4, 1), date(2027, 4, 20)):
        clock.set(morning(day))
        checkin_schedule_sweep(at=clock.now())
    assert list(CheckIn.objects.filter(officer=cast.officer_a2).values_list("key", flat=True)) == [
        periodic.key
    ]


def test_an_exit_is_withdrawn_when_the_next_posting_continues_the_work(cast: Cast, clock) -> None:
    clock.set(morning(date(2027, 3, 10)))
    new_unit = unit_create(actor=cast.admin, name="Unit A2", kind=UnitKind.ABUSIVE_IMAGES)
    old = cast.officer_a1.postings.get()
    posting_end(actor=cast.admin, posting=old, ended_on=date(2027, 3, 31))
    checkin_schedule_sweep(at=clock.now())
    exits = CheckIn.objects.filter(officer=cast.officer_a1, kind="exit")
    assert sorted(exits.values_list("key", flat=True)) == [
        f"exit:{old.pk}",
        f"exit_follow_up:{old.pk}",
    ]
    # Recorded a week later: the new posting starts 5 days after the old one ended.
    clock.set(morning(date(2027, 3, 17)))
    posting_start(
        actor=cast.admin, officer=cast.officer_a1, unit=new_unit, started_on=date(2027, 4, 6)
    )
    result = checkin_schedule_sweep(at=clock.now())
    assert result.changed == 2
    assert {(c.status, c.cancel_reason) for c in exits} == {("cancelled", WITHDRAWN_REASON)}
    assert AuditEvent.objects.filter(action="checkin.withdrawn", actor=None).count() == 2
    assert not CheckIn.objects.filter(officer=cast.officer_a1, kind="pre_posting").exists()
    assert checkin_schedule_sweep(at=clock.now()) == result.__class__(created=0, changed=0)


@override_settings(POSTING_CONTINUITY_GAP_DAYS=2)
def test_the_gap_is_a_setting(cast: Cast, clock) -> None:
    clock.set(morning(date(2027, 3, 17)))
    new_unit = unit_create(actor=cast.admin, name="Unit A2", kind=UnitKind.ABUSIVE_IMAGES)
    posting_end(
        actor=cast.admin, posting=cast.officer_a1.postings.get(), ended_on=date(2027, 3, 31)
    )
    posting_start(
        actor=cast.admin, officer=cast.officer_a1, unit=new_unit, started_on=date(2027, 4, 6)
    )
    checkin_schedule_sweep(at=clock.now())
    kinds = CheckIn.objects.filter(officer=cast.officer_a1).values_list("kind", flat=True)
    assert sorted(kinds) == ["exit", "exit", "periodic", "pre_posting"]


def test_the_schedule_sweep_costs_the_same_few_queries_for_more_officers(
    cast: Cast, clock, django_assert_max_num_queries
) -> None:
    clock.set(morning(date(2027, 3, 10)))
    with django_assert_max_num_queries(9):
        checkin_schedule_sweep(at=clock.now())
    for n in range(12):
        officer_create(
            actor=cast.admin,
            user=make_user(f"off.more{n}", Role.OFFICER),
            staff_number=f"M{n:03d}",
            display_name=f"More {n}",
            unit=cast.unit_a,
            posted_since=date(2027, 3, 20),
        )
    clock.advance(hours=1)
    with django_assert_max_num_queries(9):
        assert checkin_schedule_sweep(at=clock.now()).created == 12


# --- Rotation across a restructure ------------------------------------------------------------


def test_rotation_counts_across_a_restructure_and_decisions_carry_over(cast: Cast, clock) -> None:
    # Officer A1, posted 1 June 2025, moved to a new unit of the same kind on 1 March 2027:
    # the review is still due at 21 months, on 1 March 2027.
    new_supervisor = make_user("sup.new", Role.SUPERVISOR)
    new_unit = unit_create(
        actor=cast.admin, name="Unit A2", kind=UnitKind.ABUSIVE_IMAGES, supervisors=[new_supervisor]
    )
    clock.set(morning(date(2027, 2, 28)))
    rotation_sweep(at=clock.now())
    assert not Alert.objects.filter(officer=cast.officer_a1, kind="rotation_due").exists()
    old = cast.officer_a1.postings.get()
    new = posting_start(
        actor=cast.admin, officer=cast.officer_a1, unit=new_unit, started_on=date(2027, 3, 1)
    )
    clock.set(morning(date(2027, 3, 1)))
    rotation_sweep(at=clock.now())
    review = Alert.objects.get(officer=cast.officer_a1, kind="rotation_due")
    assert review.dedupe_key == f"rotation:{old.pk}:first:review"
    assert (review.posting_id, review.detail["months_in_post"]) == (new.pk, 21)
    assert Notification.objects.filter(alert=review, recipient=new_supervisor).exists()
    assert not Notification.objects.filter(alert=review, recipient=cast.supervisor_a).exists()
    # The old unit's supervisor no longer decides; the new one does, and occupational
    # health may name the old posting: the decision goes on the posting in force.
    with pytest.raises(Forbidden):
        rotation_review_record(
            actor=cast.supervisor_a, posting=old, decision="stay", next_review_on=date(2027, 9, 1)
        )
    decision = rotation_review_record(
        actor=cast.oh1, posting=old, decision="rotate", rotate_by=date(2027, 4, 30)
    )
    assert decision.posting_id == new.pk
    assert rotation_alerts_resolve(actor=cast.oh1, posting=old, note="Rotate by 30 April") == 1
    clock.set(morning(date(2027, 6, 2)))  # past tenure, but a decision stands
    rotation_sweep(at=clock.now())
    mine = Alert.objects.filter(officer=cast.officer_a1, kind="rotation_due")
    assert set(mine.values_list("dedupe_key", flat=True)) == {
        f"rotation:{old.pk}:first:review",
        f"rotation:{old.pk}:2027-04-30:rotate_by_passed",
    }


def test_a_rotate_by_date_passed_is_escalated_once_even_when_resolved(cast: Cast, clock) -> None:
    posting = cast.officer_a1.postings.get()
    clock.set(morning(date(2027, 3, 2)))
    rotation_review_record(
        actor=cast.supervisor_a, posting=posting, decision="rotate", rotate_by=date(2027, 4, 30)
    )
    clock.set(morning(date(2027, 5, 1)))
    rotation_sweep(at=clock.now())
    mine = Alert.objects.filter(officer=cast.officer_a1, kind="rotation_due")
    passed = mine.get()
    assert (passed.severity, passed.detail["level"], passed.detail["rotate_by"]) == (
        "high",
        "rotate_by_passed",
        "2027-04-30",
    )
    told = set(
        Notification.objects.filter(alert=passed).values_list("recipient__username", flat=True)
    )
    assert told == {"sup.a", "oh.one", "oh.two"}
    # The supervisor resolves it without a new decision; the officer is still in post.
    from welfare.alerts.services import alert_resolve

    alert_resolve(actor=cast.supervisor_a, alert=passed, note="Moving soon")
    clock.set(morning(date(2027, 5, 13)))  # 13 days past
    rotation_sweep(at=clock.now())
    assert mine.count() == 1
    clock.set(morning(date(2027, 5, 14)))  # 14 days past: to occupational health
    rotation_sweep(at=clock.now())
    again = Alert.objects.get(dedupe_key=f"{passed.dedupe_key}:escalated")
    assert (again.escalated_at, again.urgent, again.status) == (clock.now(), True, "open")
    leads = Notification.objects.filter(dedupe_key=f"rotation:{again.pk}:escalated")
    assert sorted(leads.values_list("recipient__username", flat=True)) == ["oh.one", "oh.two"]
    # A supervisor's new decision leaves the escalated alert to occupational health.
    rotation_review_record(
        actor=cast.supervisor_a, posting=posting, decision="rotate", rotate_by=date(2027, 6, 30)
    )
    assert rotation_alerts_resolve(actor=cast.supervisor_a, posting=posting, note="Later") == 0
    for day in (date(2027, 5, 15), date(2027, 6, 30)):
        clock.set(morning(day))
        rotation_sweep(at=clock.now())
    assert mine.count() == 2
    assert leads.count() == 2
    assert Posting.objects.filter(pk=posting.pk, ended_on__isnull=True).exists()
