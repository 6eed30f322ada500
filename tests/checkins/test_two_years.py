"""Two simulated years of a small unit through the real jobs, once a day: a restructure
(every officer moved to a new unit of the same kind), cancellations, regular contacts,
rotate-by decisions passing, an officer leaving, and a ten-day outage then a catch-up.
Exactly the expected check-ins and alerts, each once; re-running a past instant makes
nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from schedules.jobs import JOBS
from schedules.runner import run_all, run_job
from tests.conftest import make_user
from welfare.accounts.models import User
from welfare.alerts.models import Alert, Notification
from welfare.alerts.rules import ROTATION_ESCALATED_BODY
from welfare.alerts.services import alert_acknowledge, rotation_alerts_resolve
from welfare.checkins.models import CheckIn, CheckinPolicy
from welfare.checkins.services import (
    checkin_cancel,
    checkin_complete,
    checkin_policy_update,
    checkin_trigger,
)
from welfare.core import clock as clock_module
from welfare.core.roles import Role
from welfare.people.models import Officer, Posting, Unit, UnitKind
from welfare.people.services import (
    officer_create,
    posting_end,
    posting_start,
    rotation_review_record,
    unit_create,
)

FIRST_DAY = date(2027, 1, 1)
DAYS = 731  # to 31 December 2028
POSTED = date(2027, 1, 11)
RESTRUCTURED = date(2027, 7, 1)
OUTAGE = (date(2028, 12, 8), date(2028, 12, 17))  # no job runs; catch-up on the 18th
# The jobs this unit's life calls on, in the scheduler's order (no exposure is logged, no
# webhook set up, and no digest is due at 07:00), so two years run in well under a minute;
# the re-runs at the end run every job.
DAILY = [
    job
    for job in JOBS
    if job.name
    in {"checkin_schedule", "checkin_status", "checkin_escalation", "urgent_alerts", "rotation"}
]


def local(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=clock_module.local_zone()).astimezone(UTC)


def counts() -> tuple[int, int, int]:
    return CheckIn.objects.count(), Alert.objects.count(), Notification.objects.count()


class Unit_:
    """The unit and its people, made on 1 January 2027."""

    def __init__(self) -> None:
        self.admin = make_user("admin.sim", Role.ADMIN)
        self.old_supervisor = make_user("sup.old", Role.SUPERVISOR)
        self.new_supervisor = make_user("sup.new", Role.SUPERVISOR)
        self.lead = make_user("oh.lead", Role.OH)
        self.lead.is_oh_lead = True
        self.lead.save()
        self.clinician = make_user("oh.other", Role.OH)
        self.old: Unit = unit_create(
            actor=self.admin,
            name="Images (old)",
            kind=UnitKind.ABUSIVE_IMAGES,
            supervisors=[self.old_supervisor],
        )
        self.new: Unit = unit_create(
            actor=self.admin,
            name="Images (new)",
            kind=UnitKind.ABUSIVE_IMAGES,
            supervisors=[self.new_supervisor],
        )
        # The force adopts a regular contact every four months in image units.
        checkin_policy_update(
            actor=self.admin,
            policy=CheckinPolicy.objects.get(unit_kind=UnitKind.ABUSIVE_IMAGES),
            changes={"contact_every_months": 4},
        )
        self.officers: dict[str, Officer] = {
            name: officer_create(
                actor=self.admin,
                user=make_user(f"off.{name}", Role.OFFICER),
                staff_number=f"S{n}",
                display_name=f"Sim {name}",
                unit=self.old,
                posted_since=POSTED,
            )
            for n, name in enumerate(("stays", "cancels", "rotates", "leaves"))
        }

    def posting(self, name: str, unit: Unit) -> Posting:
        return Posting.objects.get(officer=self.officers[name], unit=unit)

    def checkin(self, name: str, kind: str, due_on: date) -> CheckIn:
        return CheckIn.objects.get(officer=self.officers[name], kind=kind, due_on=due_on)


def test_two_years_of_a_unit_with_a_restructure(db: None, clock) -> None:
    clock.set(local(FIRST_DAY, 6))
    unit = Unit_()
    lead: User = unit.lead
    o = unit.officers
    triggered: list[CheckIn] = []

    def restructure() -> None:
        for officer in o.values():
            posting_start(actor=unit.admin, officer=officer, unit=unit.new, started_on=RESTRUCTURED)

    def cancel(name: str, kind: str, due_on: date, reason: str) -> Callable[[], None]:
        return lambda: checkin_cancel(
            actor=lead, checkin=unit.checkin(name, kind, due_on), reason=reason
        )

    def decide(name: str, actor: User, posting: Callable[[], Posting], **decision: object) -> None:
        given = posting()
        rotation_review_record(actor=actor, posting=given, **decision)  # type: ignore[arg-type]
        rotation_alerts_resolve(actor=actor, posting=given, note="Decision recorded.")

    events: dict[date, list[Callable[[], None]]] = {
        # Recorded two weeks ahead: the old postings end on 30 June.
        date(2027, 6, 15): [restructure],
        date(2027, 7, 5): [cancel("cancels", "periodic", date(2027, 7, 11), "On leave")],
        date(2027, 9, 1): [cancel("cancels", "contact", date(2027, 9, 10), "Rearranged")],
        # A concerning screening asks for a triggered check-in; done on the 15th, after the
        # periodic one due on the 11th was missed; that one is then cancelled.
        date(2028, 1, 5): [
            lambda: triggered.append(
                checkin_trigger(
                    officer_id=o["cancels"].pk, due_on=date(2028, 1, 19), key="triggered:sim"
                )  # type: ignore[arg-type]
            )
        ],
        date(2028, 1, 15): [
            lambda: checkin_complete(actor=lead, checkin=triggered[0], outcome="fit")
        ],
        date(2028, 1, 16): [
            cancel("cancels", "periodic", date(2028, 1, 11), "Seen at the triggered check-in")
        ],
        date(2028, 3, 1): [
            lambda: posting_end(
                actor=unit.admin,
                posting=unit.posting("leaves", unit.new),
                ended_on=date(2028, 3, 31),
            )
        ],
        # The 21-month reviews (from 11 January 2027, not from the restructure) are decided:
        # OH on the old posting (the decision carries over), the new supervisor on the new.
        date(2028, 10, 12): [
            lambda: decide(
                "stays",
                lead,
                lambda: unit.posting("stays", unit.old),
                decision="stay",
                next_review_on=date(2028, 12, 20),
            ),
            lambda: decide(
                "rotates",
                unit.new_supervisor,
                lambda: unit.posting("rotates", unit.new),
                decision="rotate",
                rotate_by=date(2028, 11, 30),
            ),
        ],
        # Escalated at the catch-up after the outage; OH acknowledges it that morning.
        date(2028, 12, 18): [
            lambda: alert_acknowledge(
                actor=lead,
                alert=Alert.objects.get(detail__level="rotate_by_passed"),
            )
        ],
    }
    missed = {(o["cancels"].pk, "periodic", date(2028, 1, 11))}

    for n in range(DAYS):
        day = FIRST_DAY + timedelta(days=n)
        if not OUTAGE[0] <= day <= OUTAGE[1]:
            clock.set(local(day, 7))
            for job in DAILY:
                run_job(job, clock.now())
        clock.set(local(day, 10))
        for event in events.get(day, []):
            event()
        # The clinic sees everyone the day before their check-in is due (the outage stops
        # the jobs, not the clinic), except for the one missed.
        for checkin in CheckIn.objects.filter(
            due_on=day + timedelta(days=1), status__in=["due", "booked"]
        ):
            if (checkin.officer_id, checkin.kind, checkin.due_on) not in missed:
                checkin_complete(actor=lead, checkin=checkin, outcome="fit")

    def schedule(name: str) -> list[tuple[str, date, str]]:
        return list(
            CheckIn.objects.filter(officer=o[name])
            .order_by("kind", "due_on")
            .values_list("kind", "due_on", "status")
        )

    done, due, cancelled = "completed", "due", "cancelled"
    periodic_done_day_before = [
        ("periodic", date(2027, 7, 11), done),  # six months from the posting: no restart
        ("periodic", date(2028, 1, 10), done),  # on 1 July 2027 at the restructure
        ("periodic", date(2028, 7, 9), done),
        ("periodic", date(2029, 1, 8), due),
    ]
    contacts = [
        ("contact", date(2027, 5, 11), done),
        ("contact", date(2027, 9, 10), done),
        ("contact", date(2028, 1, 9), done),
        ("contact", date(2028, 5, 8), done),
        ("contact", date(2028, 9, 7), done),
        ("contact", date(2029, 1, 6), due),
    ]
    baseline = [("pre_posting", POSTED, done)]
    assert schedule("stays") == sorted(baseline + periodic_done_day_before + contacts)
    assert schedule("rotates") == sorted(baseline + periodic_done_day_before + contacts)
    assert schedule("cancels") == sorted(
        [
            *baseline,
            ("periodic", date(2027, 7, 11), cancelled),
            ("periodic", date(2028, 1, 11), cancelled),  # 6 months after the cancelled one
            ("periodic", date(2028, 7, 15), done),  # 6 months after the triggered one, done
            ("periodic", date(2029, 1, 14), due),
            ("triggered", date(2028, 1, 19), done),
            ("contact", date(2027, 5, 11), done),
            ("contact", date(2027, 9, 10), cancelled),
            ("contact", date(2028, 1, 10), done),  # 4 months after the cancelled one
            ("contact", date(2028, 5, 9), done),
            ("contact", date(2028, 9, 8), done),
            ("contact", date(2029, 1, 7), due),
        ]
    )
    assert (
        schedule("leaves")
        == sorted(
            [
                *baseline,
                *periodic_done_day_before[:3],  # the last made while still in the work
                *contacts[:4],
                ("exit", date(2028, 3, 31), done),
                ("exit", date(2028, 9, 30), done),  # the follow-up, six months after leaving
            ]
        )
    )
    # The keys name what each follows: the spell (its first posting), or the check-in.
    cancels = o["cancels"].pk
    first = unit.checkin("cancels", "periodic", date(2027, 7, 11))
    second = unit.checkin("cancels", "periodic", date(2028, 1, 11))
    old_posting = unit.posting("cancels", unit.old).pk
    assert (first.key, second.key) == (
        f"periodic:{cancels}:posting:{old_posting}",
        f"periodic:{cancels}:after:{first.pk}",
    )
    assert (
        unit.checkin("cancels", "periodic", date(2028, 7, 15)).key
        == f"periodic:{cancels}:after:{triggered[0].pk}"
    )
    leaving = unit.posting("leaves", unit.new).pk
    assert sorted(
        CheckIn.objects.filter(officer=o["leaves"], kind="exit").values_list("key", flat=True)
    ) == [f"exit:{leaving}", f"exit_follow_up:{leaving}"]

    # Alerts: the one missed check-in, and rotation. Reviews at 21 months in the work from
    # 11 January 2027 (11 October 2028), across the restructure; the rotate-by date passed
    # on 1 December and escalated at the catch-up (14 days past fell in the outage).
    spell = {name: unit.posting(name, unit.old).pk for name in o}
    alerts = {
        a.dedupe_key: (a.severity, a.status, a.raised_at, a.escalated_at)
        for a in Alert.objects.all()
    }
    assert alerts == {
        f"checkin_overdue:{second.pk}": ("warning", "resolved", local(date(2028, 1, 11), 7), None),
        f"rotation:{spell['stays']}:first:review": (
            "warning",
            "resolved",
            local(date(2028, 10, 11), 7),
            None,
        ),
        f"rotation:{spell['stays']}:2028-12-20:review": (
            "warning",
            "open",
            local(date(2028, 12, 20), 7),
            None,
        ),
        f"rotation:{spell['cancels']}:first:review": (
            "warning",
            "open",
            local(date(2028, 10, 11), 7),
            None,
        ),
        f"rotation:{spell['rotates']}:first:review": (
            "warning",
            "resolved",
            local(date(2028, 10, 11), 7),
            None,
        ),
        f"rotation:{spell['rotates']}:2028-11-30:rotate_by_passed": (
            "high",
            "acknowledged",
            local(date(2028, 12, 1), 7),
            local(date(2028, 12, 18), 7),
        ),
    }
    passed = Alert.objects.get(detail__level="rotate_by_passed")
    assert passed.posting_id == unit.posting("rotates", unit.new).pk
    told = Notification.objects.filter(alert=passed)
    assert sorted(told.values_list("recipient__username", "dedupe_key")) == [
        ("oh.lead", f"alert:{passed.pk}"),
        ("oh.lead", f"rotation:{passed.pk}:escalated"),  # no case owner: the lead only
        ("sup.new", f"alert:{passed.pk}"),
    ]
    escalation = told.get(dedupe_key=f"rotation:{passed.pk}:escalated")
    assert escalation.body == ROTATION_ESCALATED_BODY.format(days=18)  # 30 Nov to 18 Dec

    # Re-running the jobs for past instants (before, in and after the outage) makes nothing.
    before = counts()
    for instant in (local(date(2027, 3, 1), 7), local(date(2028, 6, 1), 7), local(OUTAGE[0], 7)):
        clock.set(instant)
        run_all(instant)
    assert counts() == before
