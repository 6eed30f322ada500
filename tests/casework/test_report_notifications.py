"""Who is told what about reports and limit alerts: supervisors when consent is withdrawn
(with nothing of the report), the officer when a report is disclosed without consent (the
legal basis in the inbox, never in an e-mail), and the officer when a limit alert about them
is raised (no numbers)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import Cast, client_for, make_user
from welfare.alerts import rules as alert_rules
from welfare.alerts.models import Alert, Notification
from welfare.alerts.services import (
    CONFIDENTIAL_EMAIL_BODY,
    CONFIDENTIAL_EMAIL_SUBJECT,
    exposure_limits_sweep,
)
from welfare.casework.services import (
    REPORT_DISCLOSED_SUBJECT,
    REPORT_WITHDRAWN_BODY,
    REPORT_WITHDRAWN_SUBJECT,
)
from welfare.core.roles import Role
from welfare.exposure.services import exposure_log
from welfare.people.services import posting_start, unit_update

URL = "/api/v1/reports/"
ADJUSTMENTS = "ADJ-MARKER no video review for four weeks"
LEGAL_BASIS = "LEGAL-MARKER serious risk to the officer's safety; GMC guidance para 64"
RULE_NAMES = ("daily_minutes", "week_minutes", "rolling_28d_minutes", "daily_index", "break")


@pytest.fixture
def report(cast: Cast) -> int:
    response = client_for(cast.oh1).post(
        f"/api/v1/oh/cases/{cast.officer_a1.pk}/reports",
        {"fitness": "fit_with_adjustments", "adjustments": ADJUSTMENTS},
        format="json",
    )
    assert response.status_code == 201
    return response.json()["id"]


@pytest.fixture
def with_email(cast: Cast) -> None:
    for user, address in (
        (cast.officer_a1.user, "a1@force.example"),
        (cast.supervisor_a, "sup.a@force.example"),
        (cast.supervisor_b, "sup.b@force.example"),
        (cast.oh1, "oh.one@force.example"),
    ):
        user.email = address
        user.save(update_fields=["email"])


def consented(cast: Cast, report: int) -> None:
    assert client_for(cast.oh1).post(f"{URL}{report}/offer").status_code == 200
    assert client_for(cast.officer_a1.user).post(f"{URL}{report}/consent").status_code == 200


def told(key_part: str) -> set[str]:
    return set(
        Notification.objects.filter(dedupe_key__contains=key_part).values_list(
            "recipient__username", flat=True
        )
    )


# --- Withdrawal ----------------------------------------------------------------------------------


def test_withdrawal_tells_the_units_supervisors_only(cast: Cast, report: int) -> None:
    second = make_user("sup.a2", Role.SUPERVISOR)
    unit_update(
        actor=cast.admin, unit=cast.unit_a, changes={"supervisors": [cast.supervisor_a, second]}
    )
    consented(cast, report)
    response = client_for(cast.officer_a1.user).post(f"{URL}{report}/withdraw")
    assert response.json()["state"] == "withdrawn"
    assert told(f"report:{report}:withdrawn") == {"sup.a", "sup.a2"}
    for notification in Notification.objects.filter(dedupe_key__contains=":withdrawn:"):
        assert notification.subject == REPORT_WITHDRAWN_SUBJECT
        assert notification.body == REPORT_WITHDRAWN_BODY
        assert notification.link == ""


def test_withdrawal_tells_the_supervisors_who_held_it_after_the_officer_moved(
    cast: Cast, report: int, clock
) -> None:
    """Those told it was available, and those who read it, are told; not the new unit's."""
    consented(cast, report)
    reader = make_user("sup.reader", Role.SUPERVISOR)
    unit_update(
        actor=cast.admin, unit=cast.unit_a, changes={"supervisors": [cast.supervisor_a, reader]}
    )
    assert client_for(reader).get(f"{URL}{report}/").status_code == 200  # read, and audited
    posting_start(
        actor=cast.admin, officer=cast.officer_a1, unit=cast.unit_b, started_on=clock.today()
    )
    assert client_for(cast.supervisor_a).get(f"{URL}{report}/").status_code == 404
    response = client_for(cast.officer_a1.user).post(f"{URL}{report}/withdraw")
    assert response.json()["state"] == "withdrawn"
    assert told(f"report:{report}:withdrawn") == {"sup.a", "sup.reader"}


def test_withdrawal_tells_nothing_of_the_report(cast: Cast, report: int) -> None:
    consented(cast, report)
    client_for(cast.officer_a1.user).post(f"{URL}{report}/withdraw")
    notification = Notification.objects.get(
        recipient=cast.supervisor_a, dedupe_key__contains=":withdrawn:"
    )
    text = f"{notification.subject} {notification.body}".lower()
    assert "adj-marker" not in text
    assert "video" not in text
    assert "fit_with_adjustments" not in text
    assert "fit with adjustments" not in text
    assert cast.officer_a1.display_name.lower() not in text
    assert cast.officer_a1.staff_number.lower() not in text
    assert f"/reports/{report}" not in notification.link
    assert not Notification.objects.filter(
        recipient__in=[cast.oh1, cast.oh2, cast.supervisor_b, cast.officer_a1.user],
        dedupe_key__contains=":withdrawn:",
    ).exists()


def test_the_withdrawal_email_carries_no_link(
    cast: Cast, report: int, with_email: None, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    cast.supervisor_a.notify_by = "immediate"  # an e-mail of its own, not in a digest
    cast.supervisor_a.save(update_fields=["notify_by"])
    consented(cast, report)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client_for(cast.officer_a1.user).post(f"{URL}{report}/withdraw")
    [mail] = mailoutbox
    assert mail.to == ["sup.a@force.example"]
    assert mail.subject == REPORT_WITHDRAWN_SUBJECT
    assert mail.body == REPORT_WITHDRAWN_BODY
    assert "/reports/" not in mail.body
    assert "ADJ-MARKER" not in mail.body


# --- Disclosure without consent ---------------------------------------------------------------


def disclose(cast: Cast, report: int):
    return client_for(cast.oh1).post(
        f"{URL}{report}/disclose", {"legal_basis": LEGAL_BASIS}, format="json"
    )


def test_disclosure_tells_the_officer_the_legal_basis_in_the_inbox(cast: Cast, report: int) -> None:
    assert disclose(cast, report).json()["state"] == "disclosed"
    notification = Notification.objects.get(
        recipient=cast.officer_a1.user, dedupe_key=f"report:{report}:disclosed"
    )
    assert notification.subject == REPORT_DISCLOSED_SUBJECT
    assert LEGAL_BASIS in notification.body
    assert notification.confidential is True
    assert notification.link.endswith(f"/reports/{report}")
    inbox = client_for(cast.officer_a1.user).get("/api/v1/notifications/").json()["results"]
    [row] = [row for row in inbox if row["id"] == notification.pk]
    assert LEGAL_BASIS in row["body"]


def test_the_legal_basis_reaches_nobody_but_the_officer(cast: Cast, report: int) -> None:
    disclose(cast, report)
    assert told(f"report:{report}:disclosed") == {"off.a1", "sup.a"}
    elsewhere = Notification.objects.exclude(recipient=cast.officer_a1.user)
    assert elsewhere.exists()
    for notification in elsewhere:
        assert "LEGAL-MARKER" not in notification.body
        assert "LEGAL-MARKER" not in notification.subject


def test_the_disclosure_email_says_only_that_there_is_a_message(
    cast: Cast, report: int, with_email: None, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        assert disclose(cast, report).status_code == 200
    to_officer = [m for m in mailoutbox if m.to == ["a1@force.example"]]
    assert len(to_officer) == 1
    [mail] = to_officer
    assert mail.subject == CONFIDENTIAL_EMAIL_SUBJECT  # the subject says nothing either
    assert mail.body.startswith(CONFIDENTIAL_EMAIL_BODY)
    assert mail.body.endswith(f"/reports/{report}")
    for sent in mailoutbox:
        assert "LEGAL-MARKER" not in sent.body
        assert "LEGAL-MARKER" not in sent.subject
        assert "ADJ-MARKER" not in sent.body
    notification = Notification.objects.get(dedupe_key=f"report:{report}:disclosed")
    assert notification.emailed_at is not None


# --- Limit alerts, told to the officer --------------------------------------------------------


def over_the_daily_limit(cast: Cast, clock) -> None:
    clock.set(datetime(2027, 3, 10, 18, tzinfo=UTC))
    for n in range(4):  # four 85-minute sessions: 340 minutes, over the 300-minute day
        start = datetime(2027, 3, 10, 8, tzinfo=UTC) + timedelta(minutes=90 * n)
        exposure_log(
            officer=cast.officer_a1,
            recorded_by=cast.officer_a1.user,
            started_at=start,
            ended_at=start + timedelta(minutes=85),
            material="video",
            category="A",
            client_ref=uuid.uuid4(),
        )


def test_the_officer_is_told_of_a_limit_alert_about_them_without_numbers(cast: Cast, clock) -> None:
    over_the_daily_limit(cast, clock)
    exposure_limits_sweep(at=clock.now())
    alerts = Alert.objects.filter(officer=cast.officer_a1, kind="exposure_limit")
    assert alerts.filter(detail__state="breach").exists()
    mine = Notification.objects.filter(recipient=cast.officer_a1.user, alert__in=alerts)
    assert mine.count() == alerts.count()
    for notification in mine:
        assert notification.confidential is True
        assert notification.subject == alert_rules.OFFICER_LIMIT_SUBJECT
        assert (
            notification.body == alert_rules.OFFICER_LIMIT_BODY[notification.alert.detail["state"]]
        )
        assert notification.link.endswith(f"/alerts/{notification.alert_id}")
        for text in (notification.subject, notification.body):
            assert not re.search(r"\d", text), text
            assert "minute" not in text.lower()
            assert "hour" not in text.lower()
            for rule in RULE_NAMES:
                assert rule not in text
    # The link opens: the alert is the officer's to see.
    breach = alerts.get(detail__state="breach", detail__rule="daily_minutes")
    assert client_for(cast.officer_a1.user).get(f"/api/v1/alerts/{breach.pk}/").status_code == 200


def test_other_officers_are_not_told_of_a_limit_alert(cast: Cast, clock) -> None:
    over_the_daily_limit(cast, clock)
    exposure_limits_sweep(at=clock.now())
    assert not Notification.objects.filter(
        recipient__in=[cast.officer_a2.user, cast.officer_b1.user]
    ).exists()
    alert = Alert.objects.filter(officer=cast.officer_a1, detail__state="breach").first()
    assert set(Notification.objects.filter(alert=alert).values_list("recipient", flat=True)) == {
        cast.officer_a1.user.pk,
        cast.supervisor_a.pk,
    }


def test_the_limit_alert_email_to_the_officer_carries_no_body(
    cast: Cast, clock, with_email: None, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    over_the_daily_limit(cast, clock)
    with django_capture_on_commit_callbacks(execute=True):
        exposure_limits_sweep(at=clock.now())
    to_officer = [m for m in mailoutbox if m.to == ["a1@force.example"]]
    assert to_officer
    for mail in to_officer:
        assert mail.subject == CONFIDENTIAL_EMAIL_SUBJECT
        assert mail.body.startswith(CONFIDENTIAL_EMAIL_BODY)
        for body in alert_rules.OFFICER_LIMIT_BODY.values():
            assert body not in mail.body


def test_the_sweep_run_again_tells_the_officer_nothing_new(cast: Cast, clock) -> None:
    over_the_daily_limit(cast, clock)
    exposure_limits_sweep(at=clock.now())
    before = Notification.objects.filter(recipient=cast.officer_a1.user).count()
    assert before > 0
    clock.advance(minutes=5)
    exposure_limits_sweep(at=clock.now())
    assert Notification.objects.filter(recipient=cast.officer_a1.user).count() == before
