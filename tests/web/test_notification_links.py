"""Every notification the service sends opens, for its recipient, a page that shows its item;
the same link opens nothing for anyone who may not see that item (403 for a role the page is
not for, the same 404 as for an item that does not exist otherwise).

One scenario, run through the real services and sweeps with the clock, produces every kind
of notification; the links are followed stage by stage, while the items are in the state
that the notification was about (a report released and later withdrawn is no longer the
supervisor's to open, which is checked on its own).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import welfare
from tests.conftest import Cast, web_client_for
from welfare.accounts.models import User
from welfare.accounts.services import oh_lead_set
from welfare.alerts import rules as alert_rules
from welfare.alerts.models import Alert, AlertKind, Notification, Severity
from welfare.alerts.services import (
    alert_raise,
    case_assign,
    checkin_escalation_sweep,
    rotation_sweep,
    urgent_alerts_sweep,
)
from welfare.alerts.services.notifications import INCIDENT_OFFICER_SUBJECT, INCIDENT_OH_SUBJECT
from welfare.casework import services as casework
from welfare.casework.models import MANAGEMENT_VISIBLE, ManagementReport, ReportState
from welfare.checkins.models import CheckIn, Kind
from welfare.checkins.services import (
    checkin_status_sweep,
    checkin_trigger,
    incident_record,
    self_refer,
)
from welfare.people.models import Officer

ALERTS, CHECKINS, REPORTS, CASES = "/alerts/", "/checkins/", "/reports/", "/oh/cases/"

# Every kind of notification: (subject, the link's page, the recipient's role).
EXPECTED_KINDS = {
    (alert_rules.ALERT_SUBJECT, ALERTS, "supervisor"),  # limit, rotation, overdue check-in
    (alert_rules.ALERT_SUBJECT, ALERTS, "oh"),  # rotation, clinical
    (alert_rules.OFFICER_LIMIT_SUBJECT, ALERTS, "officer"),
    (alert_rules.REMINDER_SUBJECT, CHECKINS, "officer"),
    (alert_rules.OVERDUE_SUBJECT, CHECKINS, "officer"),
    (alert_rules.ESCALATED_SUBJECT, ALERTS, "oh"),
    (alert_rules.UNACKNOWLEDGED_SUBJECT, ALERTS, "oh"),
    (casework.REPORT_READY_SUBJECT, REPORTS, "officer"),
    (casework.REPORT_RELEASED_SUBJECT, REPORTS, "supervisor"),
    (casework.REPORT_DISCLOSED_SUBJECT, REPORTS, "officer"),
    (casework.REPORT_WITHDRAWN_SUBJECT, "", "supervisor"),  # no link: no longer theirs
    (alert_rules.CASE_ASSIGNED_SUBJECT, CASES, "oh"),
    (alert_rules.SELF_REFERRAL_SUBJECT, CHECKINS, "oh"),
    (INCIDENT_OH_SUBJECT, CASES, "oh"),
    (INCIDENT_OFFICER_SUBJECT, CHECKINS, "officer"),  # recorded by their supervisor
}

LEGAL_BASIS = "Safeguarding: risk to the officer's safety"


def _people(cast: Cast) -> dict[str, User]:
    return {
        "a1": cast.officer_a1.user,
        "a2": cast.officer_a2.user,
        "b1": cast.officer_b1.user,
        "supervisor_a": cast.supervisor_a,
        "supervisor_b": cast.supervisor_b,
        "oh1": cast.oh1,
        "oh2": cast.oh2,
        "hr": cast.hr,
        "admin": cast.admin,
    }


def _page_of(path: str) -> tuple[str, int]:
    """The page a link opens and the id of its item: ("/alerts/", 12)."""
    match = re.fullmatch(r"(/alerts/|/checkins/|/reports/|/oh/cases/)(\d+)", path)
    assert match, f"a notification links to no item page: {path!r}"
    return match.group(1), int(match.group(2))


def _kind(notification: Notification) -> tuple[str, str, str]:
    path = urlsplit(notification.link).path
    page = _page_of(path)[0] if notification.link else ""
    return notification.subject, page, notification.recipient.role


def _officer_and_supervisor(cast: Cast, officer: Officer) -> set[str]:
    by_officer = {
        cast.officer_a1.pk: {"a1", "supervisor_a"},
        cast.officer_a2.pk: {"a2", "supervisor_a"},
        cast.officer_b1.pk: {"b1", "supervisor_b"},
    }
    return by_officer[officer.pk]


def _own_officer(cast: Cast, officer: Officer) -> str:
    return {cast.officer_a1.pk: "a1", cast.officer_a2.pk: "a2", cast.officer_b1.pk: "b1"}[
        officer.pk
    ]


def _entitled(cast: Cast, path: str) -> set[str]:
    """Who may see the item a link names (DOMAIN.md), whether told of it or not. OH: every
    item. An officer: their own alerts and check-ins except clinical ones' alerts, their own
    reports once offered. Their supervisor: the unit's non-clinical alerts, check-ins that
    are not occupational health's alone (a self-referral, one a screening triggered) unless
    released, reports released with consent or disclosed. HR and admin: none."""
    page, pk = _page_of(path)
    clinicians = {"oh1", "oh2"}
    if page == ALERTS:
        alert = Alert.objects.select_related("officer").get(pk=pk)
        clinical = alert.clinical or alert.kind == AlertKind.SCREENING_RISK
        return clinicians | (set() if clinical else _officer_and_supervisor(cast, alert.officer))
    if page == CHECKINS:
        checkin = CheckIn.objects.select_related("officer").get(pk=pk)
        who = _officer_and_supervisor(cast, checkin.officer)
        if checkin.kind == Kind.SELF_REFERRAL or (
            checkin.confidential and checkin.released_at is None
        ):
            who = {_own_officer(cast, checkin.officer)}
        return clinicians | who
    if page == REPORTS:
        report = ManagementReport.objects.select_related("officer").get(pk=pk)
        who = set()
        if report.state != ReportState.DRAFT:
            who.add(_own_officer(cast, report.officer))
        if report.state in MANAGEMENT_VISIBLE:
            who |= _officer_and_supervisor(cast, report.officer)
        return clinicians | who
    return clinicians  # a case page


def _shows_item(path: str, body: str) -> bool:
    """The page shows the item the link names, not just any page."""
    page, pk = _page_of(path)
    if page == ALERTS:
        alert = Alert.objects.get(pk=pk)
        return 'id="alert-detail"' in body and f"<h1>{alert.get_kind_display()}</h1>" in body
    if page == CHECKINS:
        checkin = CheckIn.objects.get(pk=pk)
        return (
            'id="checkin-detail"' in body
            and f"<h1>{checkin.get_kind_display()} check-in</h1>" in body
            and f"Due {checkin.due_on:%A} {checkin.due_on.day} {checkin.due_on:%B %Y}" in body
        )
    if page == REPORTS:
        report = ManagementReport.objects.get(pk=pk)
        return (
            'id="report-detail"' in body
            and f"Fitness: <strong>{report.get_fitness_display()}</strong>" in body
        )
    officer = Officer.objects.get(pk=pk)
    return f"<h1>{officer.display_name} <span" in body and officer.staff_number in body


def _stages(cast: Cast, clock) -> Iterator[tuple[str, list[Notification]]]:
    """Produce every kind of notification through the real services and sweeps; after each
    stage, the notifications it created."""
    a1, b1 = cast.officer_a1, cast.officer_b1
    last = 0

    def created() -> list[Notification]:
        nonlocal last
        rows = list(Notification.objects.filter(pk__gt=last).select_related("recipient"))
        last = max([last, *(n.pk for n in rows)])
        return rows

    oh_lead_set(actor=None, user=cast.oh2, lead=True)
    case_assign(actor=cast.oh2, officer=a1, clinician=cast.oh1)
    yield "case assigned", created()

    alert_raise(
        officer_id=a1.pk,
        kind=AlertKind.EXPOSURE_LIMIT,
        severity=Severity.HIGH,
        dedupe_key=alert_rules.limit_alert_key(a1.pk, "daily_minutes", clock.today(), "breach"),
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
    yield "exposure limit", created()

    rotation_sweep(at=clock.now())  # A1 21 months in post, B1 30
    yield "rotation", created()

    casework.screening_submit(
        actor=a1.user,
        checkin=None,
        instrument_key="phq9",
        answers=[3, 3, 3, 2, 2, 2, 1, 1, 1],  # item 9 above 0: urgent; over the cut-off
    )
    yield "screening", created()

    offered = casework.report_draft(actor=cast.oh1, officer=a1, fitness="fit")
    casework.report_act(actor=cast.oh1, report=offered, action="offer")
    yield "report offered", created()
    casework.report_act(actor=a1.user, report=offered, action="consent")
    yield "report released with consent", created()
    disclosed = casework.report_draft(actor=cast.oh1, officer=a1, fitness="unfit")
    casework.report_act(
        actor=cast.oh1, report=disclosed, action="disclose", legal_basis=LEGAL_BASIS
    )
    yield "report disclosed", created()

    # Check-ins: the triggered one the screening asked for (due in 7 days), a self-referral,
    # and one of unit B's officer; reminders, overdue, escalation, an urgent alert left.
    self_refer(user=a1.user, note="I would like to talk to someone.")
    checkin_trigger(officer_id=b1.pk, due_on=clock.today() + timedelta(days=10), key="links:b1")
    checkin_escalation_sweep(at=clock.now())
    yield "14-day reminders", created()
    clock.advance(days=4)
    checkin_escalation_sweep(at=clock.now())
    yield "3-day reminders", created()
    clock.advance(days=4)
    checkin_status_sweep(at=clock.now())
    checkin_escalation_sweep(at=clock.now())
    yield "overdue", created()
    clock.advance(days=16)
    checkin_status_sweep(at=clock.now())
    checkin_escalation_sweep(at=clock.now())
    yield "escalated", created()
    clock.advance(days=3)  # past the deadlines: 4 working hours, a weekend between
    urgent_alerts_sweep(at=clock.now())
    yield "urgent not acknowledged", created()

    withdrawn = casework.report_draft(actor=cast.oh1, officer=a1, fitness="fit")
    casework.report_act(actor=cast.oh1, report=withdrawn, action="offer")
    casework.report_act(actor=a1.user, report=withdrawn, action="consent")
    yield "report released, to be withdrawn", created()
    casework.report_act(actor=a1.user, report=withdrawn, action="withdraw")
    yield "consent withdrawn", created()

    # Last, so that its follow-ups go through no sweep above.
    incident_record(
        actor=cast.supervisor_a, officer=a1, occurred_on=clock.today(), category="other"
    )
    yield "incident recorded by the supervisor", created()


def _subjects_notified_in_code() -> set[str]:
    """Every subject a notification is given in the code: each `subject=` argument is a
    `*_SUBJECT` constant (or a spec's, passed on)."""
    # E-mails are not notifications: the delivery queue, the digest and the e-mail of a
    # notification (its subject, or "you have a message") are left out of the scan.
    e_mail = {"emails.py", "digests.py"}
    sources = [
        re.sub(r"subject=(email_subject\(n\)|subject)(?=[,)\s])", "", path.read_text())
        for path in Path(welfare.__file__).parent.rglob("*.py")
        if "migrations" not in path.parts and path.name not in e_mail
    ]
    defined = dict(
        pair for text in sources for pair in re.findall(r'^(\w+_SUBJECT) = "([^"]+)"', text, re.M)
    )
    subjects = set()
    for text in sources:
        for argument in re.findall(r"\bsubject=([^,)\s]+)", text):
            if argument == "spec.subject":
                continue
            name = argument.rsplit(".", 1)[-1]
            assert name in defined, f"a notification's subject that is not a constant: {argument}"
            subjects.add(defined[name])
    return subjects


def _name_of(people: dict[str, User], user: User) -> str:
    return next(name for name, member in people.items() if member.pk == user.pk)


def test_every_kind_of_notification_is_produced_and_followed_here(cast: Cast, clock) -> None:
    seen = [n for _stage, notifications in _stages(cast, clock) for n in notifications]
    assert {_kind(n) for n in seen} == EXPECTED_KINDS
    # A notification added to the code later, without a kind here, fails this test.
    assert _subjects_notified_in_code() == {subject for subject, _, _ in EXPECTED_KINDS}


def test_each_alert_is_told_to_those_the_rules_name(cast: Cast, clock) -> None:
    people = _people(cast)
    for _stage in _stages(cast, clock):
        pass
    told: dict[tuple[str, str, bool, str], set[str]] = {}
    for n in Notification.objects.filter(
        subject__in=[alert_rules.ALERT_SUBJECT, alert_rules.OFFICER_LIMIT_SUBJECT]
    ).select_related("alert__officer", "alert__checkin", "recipient"):
        alert = n.alert
        what = alert.checkin.kind if alert.checkin else ""
        key = (_own_officer(cast, alert.officer), alert.kind, alert.clinical, what)
        told.setdefault(key, set()).add(_name_of(people, n.recipient))
    a1_screening = told.pop(("a1", AlertKind.SCREENING_RISK, True, ""))
    assert a1_screening == {"oh1", "oh2"}  # the urgent one to every clinician ...
    assert (
        Notification.objects.filter(
            alert__kind=AlertKind.SCREENING_RISK, alert__ack_due_at__isnull=True
        ).values_list("recipient__username", flat=True)
    ).get() == cast.oh1.username  # ... the other to the case's owner only
    assert told == {
        ("a1", AlertKind.EXPOSURE_LIMIT, False, ""): {"supervisor_a", "a1"},
        ("a1", AlertKind.ROTATION_DUE, False, ""): {"supervisor_a", "oh1"},  # the owner
        ("b1", AlertKind.ROTATION_DUE, False, ""): {"supervisor_b", "oh2"},  # the lead
        # The check-in A1's screening triggered is OH's alone, and so is its overdue alert.
        ("a1", AlertKind.CHECKIN_OVERDUE, True, Kind.TRIGGERED): {"oh1"},  # the owner
        ("b1", AlertKind.CHECKIN_OVERDUE, False, Kind.TRIGGERED): {"supervisor_b"},
        ("a1", AlertKind.CHECKIN_OVERDUE, True, Kind.SELF_REFERRAL): {"oh1"},  # the owner
    }
    officer_told = Notification.objects.get(subject=alert_rules.OFFICER_LIMIT_SUBJECT)
    assert officer_told.confidential
    assert officer_told.recipient == cast.officer_a1.user
    leads_told = Notification.objects.filter(
        subject__in=[alert_rules.ESCALATED_SUBJECT, alert_rules.UNACKNOWLEDGED_SUBJECT]
    )
    # Three check-ins escalated; those and the screening's urgent alert not acknowledged.
    assert leads_told.count() == 3 + 4
    assert set(leads_told.values_list("recipient", flat=True)) == {cast.oh2.pk}  # the lead


def test_a_notifications_link_opens_its_item_for_its_recipient(cast: Cast, clock) -> None:
    followed = 0
    for stage, notifications in _stages(cast, clock):
        clients: dict[int, object] = {}
        for n in notifications:
            if not n.link:
                continue
            path = urlsplit(n.link).path
            client = clients.setdefault(n.recipient.pk, web_client_for(n.recipient))
            opened = client.post(f"/inbox/{n.pk}")  # as the inbox's Open does
            assert opened.status_code == 302, (stage, n.subject)
            assert opened["Location"] == path, (stage, n.subject)
            response = client.get(path)
            assert response.status_code == 200, (stage, n.subject, n.recipient.username, path)
            assert _shows_item(path, response.content.decode()), (stage, n.subject, path)
            followed += 1
    assert followed >= 25


def test_a_notifications_link_opens_nothing_for_anyone_who_may_not_see_its_item(
    cast: Cast, clock
) -> None:
    people = _people(cast)
    refused = 0
    for stage, notifications in _stages(cast, clock):
        clients = {name: web_client_for(user) for name, user in people.items()}
        for n in notifications:
            if not n.link:
                continue
            path = urlsplit(n.link).path
            entitled = _entitled(cast, path)
            recipients = {
                _name_of(people, r)
                for r in User.objects.filter(notifications__link=n.link).distinct()
            }
            assert recipients <= entitled, (stage, n.subject, path, recipients - entitled)
            for name, client in clients.items():
                status = client.get(path).status_code
                if name in entitled:
                    assert status == 200, (stage, n.subject, path, name, status)
                else:
                    assert status in (403, 404), (stage, n.subject, path, name, status)
                    refused += 1
    assert refused >= 100


def test_the_withdrawn_consent_notification_has_no_link_and_the_report_no_longer_opens(
    cast: Cast, clock
) -> None:
    stages = dict(_stages(cast, clock))
    [withdrawn] = stages["consent withdrawn"]
    assert withdrawn.subject == casework.REPORT_WITHDRAWN_SUBJECT
    assert withdrawn.recipient == cast.supervisor_a
    assert withdrawn.link == ""
    assert withdrawn.body == casework.REPORT_WITHDRAWN_BODY  # no content, no name, no reason
    assert cast.officer_a1.display_name not in withdrawn.body
    [released] = [
        n
        for n in stages["report released, to be withdrawn"]
        if n.subject == casework.REPORT_RELEASED_SUBJECT
    ]
    path = urlsplit(released.link).path
    supervisor = web_client_for(cast.supervisor_a)
    assert supervisor.get(path).status_code == 404
    inbox = supervisor.get("/inbox").content.decode()
    assert f'href="/inbox/{withdrawn.pk}"' not in inbox  # nothing to open
    assert casework.REPORT_WITHDRAWN_SUBJECT in inbox
    assert web_client_for(cast.officer_a1.user).get(path).status_code == 200


def test_the_disclosure_told_to_the_officer_is_confidential_and_carries_the_legal_basis(
    cast: Cast, clock
) -> None:
    stages = dict(_stages(cast, clock))
    disclosed = {n.recipient.pk: n for n in stages["report disclosed"]}
    to_officer = disclosed[cast.officer_a1.user.pk]
    assert to_officer.subject == casework.REPORT_DISCLOSED_SUBJECT
    assert to_officer.confidential
    assert LEGAL_BASIS in to_officer.body
    to_supervisor = disclosed[cast.supervisor_a.pk]
    assert not to_supervisor.confidential
    assert LEGAL_BASIS not in to_supervisor.body
    assert set(disclosed) == {cast.officer_a1.user.pk, cast.supervisor_a.pk}
