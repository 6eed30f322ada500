"""Crisis support at the moment of risk: a critical answer (PHQ-9 item 9 above 0) puts where
to get help now in the result at once, raises an urgent alert to occupational health in the
same transaction, and when the two cannot be stored, nothing is and the officer still gets
the support message. "Get help now" is open to anyone; administrators keep the contacts."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils.dateparse import parse_datetime
from django.utils.html import escape

from tests.conftest import Cast, client_for, owner_session, web_client_for
from welfare.alerts.models import Alert, Notification, UnitWebhook, WebhookDelivery
from welfare.audit.models import AuditEvent
from welfare.casework.models import SupportContact
from welfare.casework.services import (
    SCREENING_NOT_SAVED,
    SUPPORT_ANYTIME,
    SUPPORT_NOT_SAVED,
    screening_submit,
)
from welfare.checkins.models import CheckIn, Screening
from welfare.checkins.services import checkin_trigger

LONDON = ZoneInfo("Europe/London")
WEDNESDAY_9AM = datetime(2027, 3, 10, 9, 0, tzinfo=LONDON)

PHQ9_SEVERAL_DAYS_ON_ITEM_9 = [0, 1, 0, 0, 0, 0, 0, 0, 1]  # total 2, minimal, but critical
PHQ9_OK = [1, 1, 0, 0, 1, 0, 0, 0, 0]  # total 3, minimal
PHQ9_HIGH = [2, 2, 2, 2, 2, 1, 1, 0, 0]  # total 12: over the cut-off, item 9 at 0


@pytest.fixture
def wednesday(clock) -> None:
    assert WEDNESDAY_9AM.strftime("%A") == "Wednesday"
    clock.set(WEDNESDAY_9AM)


@pytest.fixture
def checkin(cast: Cast, wednesday: None) -> CheckIn:
    created = checkin_trigger(officer_id=cast.officer_a1.pk, due_on=date(2027, 3, 17), key="t")
    assert created is not None
    return created


@pytest.fixture
def contacts(db: None) -> list[SupportContact]:
    """The force's own contacts in place of the national lines: three active, out of
    insertion order, and one inactive."""
    SupportContact.objects.update(active=False)
    rows = [
        SupportContact.objects.create(
            name="OH duty clinician", how="Call 01632 960001", phone="01632960001", position=20
        ),
        SupportContact.objects.create(
            name="Employee assistance", how="Call 0800 000 0000", phone="08000000000", position=5
        ),
        SupportContact.objects.create(
            name="Retired line",
            how="Call 01632 960999",
            phone="01632960999",
            position=1,
            active=False,
        ),
        SupportContact.objects.create(
            name="Peer supporters", how="Ask the unit's peer supporter", position=20
        ),
    ]
    return rows


def url(checkin: CheckIn) -> str:
    return f"/api/v1/checkins/{checkin.pk}/screenings"


def submit(officer_user, checkin: CheckIn, answers: list[int], instrument: str = "phq9"):
    return client_for(officer_user).post(
        url(checkin), {"instrument": instrument, "answers": answers}, format="json"
    )


def web_form(checkin: CheckIn, key: str = "phq9") -> str:
    return f"/me/checkins/{checkin.pk}/{key}"


def form_data(answers: list[int]) -> dict[str, str]:
    return {f"item{n}": str(value) for n, value in enumerate(answers, start=1)}


def refuse_inserts_into(table: str) -> None:
    """Every insert into `table` fails at the database from now on, as it would on a full
    disk or a broken constraint. DDL is transactional: the test's rollback removes it."""
    with owner_session(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_refuse_insert() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'insert refused by the test'; END $$"
        )
        cursor.execute(
            f"CREATE TRIGGER test_refuse_insert BEFORE INSERT ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION test_refuse_insert()"
        )


def stored() -> tuple[int, int, int, int]:
    return (
        Screening.objects.count(),
        Alert.objects.count(),
        Notification.objects.count(),
        AuditEvent.objects.filter(action="screening.submitted").count(),
    )


# --- The support message with a critical answer ----------------------------------------------


def test_several_days_on_item_9_answers_with_the_whole_support_message(
    cast: Cast, checkin: CheckIn, contacts: list[SupportContact], settings
) -> None:
    response = submit(cast.officer_a1.user, checkin, PHQ9_SEVERAL_DAYS_ON_ITEM_9)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["total"], body["band"], body["flags"]) == (2, "minimal", ["self_harm_thoughts"])
    support = body["support"]
    assert support["message"] == settings.SUPPORT_INTRO
    assert support["danger"] == settings.SUPPORT_DANGER
    assert "999" in support["danger"]
    assert support["follow_up"] == settings.SUPPORT_PROMISE.format(by="13:00 today")
    assert parse_datetime(support["contact_by"]) == datetime(2027, 3, 10, 13, 0, tzinfo=LONDON)
    assert support["who_sees"] == settings.SUPPORT_WHO_SEES
    assert support["contacts"] == [
        {
            "name": "Employee assistance",
            "how": "Call 0800 000 0000",
            "phone": "08000000000",
            "hours": "",
            "note": "",
        },
        {
            "name": "OH duty clinician",
            "how": "Call 01632 960001",
            "phone": "01632960001",
            "hours": "",
            "note": "",
        },
        {
            "name": "Peer supporters",
            "how": "Ask the unit's peer supporter",
            "phone": "",
            "hours": "",
            "note": "",
        },
    ]


def test_the_follow_up_promises_the_urgent_alerts_deadline(cast: Cast, checkin: CheckIn) -> None:
    body = submit(cast.officer_a1.user, checkin, PHQ9_SEVERAL_DAYS_ON_ITEM_9).json()
    alert = Alert.objects.get(kind="screening_risk", severity="urgent")
    assert alert.ack_due_at == datetime(2027, 3, 10, 13, 0, tzinfo=LONDON)
    assert parse_datetime(body["support"]["contact_by"]) == alert.ack_due_at


@pytest.mark.parametrize(
    ("instrument", "answers"),
    [("phq9", PHQ9_OK), ("phq9", PHQ9_HIGH), ("gad7", [3, 3, 3, 3, 3, 3, 3])],
)
def test_a_screening_without_a_critical_answer_has_no_support(
    cast: Cast, checkin: CheckIn, instrument: str, answers: list[int]
) -> None:
    response = submit(cast.officer_a1.user, checkin, answers, instrument)
    assert response.status_code == 201, response.content
    assert response.json()["support"] is None
    assert not Alert.objects.filter(severity="urgent").exists()


def test_the_web_result_shows_the_support_message_at_once(
    cast: Cast, checkin: CheckIn, contacts: list[SupportContact], settings
) -> None:
    page = web_client_for(cast.officer_a1.user).post(
        web_form(checkin), form_data(PHQ9_SEVERAL_DAYS_ON_ITEM_9)
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="support"' in html
    assert 'id="result"' in html
    assert escape(settings.SUPPORT_DANGER) in html
    assert escape(settings.SUPPORT_PROMISE.format(by="13:00 today")) in html
    assert escape(settings.SUPPORT_WHO_SEES) in html
    assert html.index("Employee assistance") < html.index("OH duty clinician")
    assert 'href="tel:08000000000"' in html
    assert "Retired line" not in html


def test_the_web_result_of_an_ordinary_screening_has_no_support(
    cast: Cast, checkin: CheckIn
) -> None:
    page = web_client_for(cast.officer_a1.user).post(web_form(checkin), form_data(PHQ9_OK))
    assert page.status_code == 200
    assert 'id="result"' in page.content.decode()
    assert 'id="support"' not in page.content.decode()


# --- The same transaction ----------------------------------------------------------------------


def test_the_urgent_alert_is_stored_with_the_screening(cast: Cast, checkin: CheckIn) -> None:
    body = submit(cast.officer_a1.user, checkin, PHQ9_SEVERAL_DAYS_ON_ITEM_9).json()
    screening = Screening.objects.get()
    assert screening.pk == body["id"]
    alert = Alert.objects.get(dedupe_key=f"screening:{screening.pk}:critical")
    assert (alert.kind, alert.severity, alert.clinical) == ("screening_risk", "urgent", True)
    assert (alert.officer_id, alert.checkin_id) == (cast.officer_a1.pk, checkin.pk)
    assert alert.detail["screening"] == screening.pk
    assert alert.raised_at == screening.submitted_at


@pytest.mark.parametrize(
    "table", ["alerts_alert", "alerts_notification", "checkins_screening", "audit_auditevent"]
)
def test_a_critical_screening_that_cannot_be_stored_stores_nothing_and_still_gives_support(
    cast: Cast, checkin: CheckIn, contacts: list[SupportContact], table: str
) -> None:
    before = stored()
    refuse_inserts_into(table)
    response = submit(cast.officer_a1.user, checkin, PHQ9_SEVERAL_DAYS_ON_ITEM_9)
    assert response.status_code == 503
    body = response.json()
    assert (body["detail"], body["code"]) == (SCREENING_NOT_SAVED, "not_saved")
    support = body["support"]
    assert support["follow_up"] == SUPPORT_NOT_SAVED
    assert support["contact_by"] is None
    assert [c["name"] for c in support["contacts"]] == [
        "Employee assistance",
        "OH duty clinician",
        "Peer supporters",
    ]
    assert stored() == before == (0, 0, 0, 0)


def test_a_self_check_that_cannot_be_stored_still_gives_support(cast: Cast, wednesday) -> None:
    refuse_inserts_into("alerts_alert")
    response = client_for(cast.officer_a1.user).post(
        "/api/v1/screenings/",
        {"instrument": "phq9", "answers": PHQ9_SEVERAL_DAYS_ON_ITEM_9},
        format="json",
    )
    assert response.status_code == 503
    assert response.json()["code"] == "not_saved"
    assert "Samaritans" in [c["name"] for c in response.json()["support"]["contacts"]]
    assert not Screening.objects.exists()


def test_an_ordinary_screening_that_cannot_be_stored_is_a_plain_server_error(
    cast: Cast, checkin: CheckIn
) -> None:
    refuse_inserts_into("alerts_alert")  # over the cut-off: its concern alert is refused
    officer = client_for(cast.officer_a1.user)
    officer.raise_request_exception = False
    response = officer.post(
        url(checkin), {"instrument": "phq9", "answers": PHQ9_HIGH}, format="json"
    )
    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
    assert "support" not in response.json()
    assert not Screening.objects.exists()


def test_the_service_lets_an_ordinary_screenings_database_error_through(
    cast: Cast, checkin: CheckIn
) -> None:
    from django.db import DatabaseError

    refuse_inserts_into("alerts_alert")
    with pytest.raises(DatabaseError, match="insert refused by the test"):
        screening_submit(
            actor=cast.officer_a1.user, checkin=checkin, instrument_key="phq9", answers=PHQ9_HIGH
        )
    assert not Screening.objects.exists()


def test_the_web_form_that_cannot_store_a_critical_answer_shows_support_and_the_error(
    cast: Cast, checkin: CheckIn, contacts: list[SupportContact]
) -> None:
    refuse_inserts_into("alerts_alert")
    page = web_client_for(cast.officer_a1.user).post(
        web_form(checkin), form_data(PHQ9_SEVERAL_DAYS_ON_ITEM_9)
    )
    assert page.status_code == 503
    html = page.content.decode()
    assert 'id="support"' in html
    assert escape(SCREENING_NOT_SAVED) in html
    assert escape(SUPPORT_NOT_SAVED) in html
    assert 'href="tel:08000000000"' in html
    assert 'id="result"' not in html
    assert stored() == (0, 0, 0, 0)


# --- The contacts ------------------------------------------------------------------------------


def test_with_no_active_contact_the_national_lines_are_shown(cast: Cast, wednesday) -> None:
    SupportContact.objects.create(name="Old EAP", how="Call 0", phone="0", active=False)
    SupportContact.objects.update(active=False)
    shown = client_for(None).get("/api/v1/support").json()["contacts"]
    assert shown[0]["name"] == "Samaritans"
    assert shown[0]["phone"] == "116123"
    assert "Old EAP" not in [c["name"] for c in shown]
    page = web_client_for(None).get("/help").content.decode()
    assert 'href="tel:116123"' in page
    assert "Call 116 123" in page


def test_an_inactive_contact_is_never_shown(
    cast: Cast, checkin: CheckIn, contacts: list[SupportContact]
) -> None:
    critical = submit(cast.officer_a1.user, checkin, PHQ9_SEVERAL_DAYS_ON_ITEM_9).json()
    public = client_for(None).get("/api/v1/support").json()
    help_page = web_client_for(cast.officer_a1.user).get("/help").content.decode()
    for names in (
        [c["name"] for c in critical["support"]["contacts"]],
        [c["name"] for c in public["contacts"]],
    ):
        assert "Retired line" not in names
        assert "Samaritans" not in names  # the national lines were deactivated too
    assert "Retired line" not in help_page
    assert "01632960999" not in help_page


def test_support_is_open_without_a_token(cast: Cast, settings) -> None:
    response = client_for(None).get("/api/v1/support")
    assert response.status_code == 200
    body = response.json()
    assert body["message"] == settings.SUPPORT_PAGE_INTRO
    assert body["follow_up"] == SUPPORT_ANYTIME
    assert body["contact_by"] is None
    assert body["contacts"]


def test_support_is_open_with_a_token_that_does_not_work(cast: Cast) -> None:
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert client.get("/api/v1/support").status_code == 200


def test_the_support_texts_follow_the_settings(cast: Cast, checkin: CheckIn, settings) -> None:
    settings.SUPPORT_PROMISE = "A clinician will ring you by {by}."
    settings.SUPPORT_DANGER = "In danger now: dial 999."
    settings.SUPPORT_WHO_SEES = "Only OH reads this."
    settings.SUPPORT_PAGE_INTRO = "Help is here."
    settings.SUPPORT_INTRO = "Thank you."
    support = submit(cast.officer_a1.user, checkin, PHQ9_SEVERAL_DAYS_ON_ITEM_9).json()["support"]
    assert support["follow_up"] == "A clinician will ring you by 13:00 today."
    assert support["danger"] == "In danger now: dial 999."
    assert support["who_sees"] == "Only OH reads this."
    assert support["message"] == "Thank you."
    public = client_for(None).get("/api/v1/support").json()
    assert (public["message"], public["danger"]) == ("Help is here.", "In danger now: dial 999.")
    help_page = web_client_for(None).get("/help").content.decode()
    assert "Help is here." in help_page
    assert "Only OH reads this." in help_page


def test_help_page_is_open_to_anyone_and_works_without_javascript(cast: Cast, settings) -> None:
    page = web_client_for(None).get("/help")
    assert page.status_code == 200
    html = page.content.decode()
    # Everything is in the served page: the contacts as tap-to-call links and the texts.
    assert 'href="tel:116123"' in html
    assert 'href="tel:111"' in html
    assert escape(settings.SUPPORT_DANGER) in html
    assert escape(settings.SUPPORT_PAGE_INTRO) in html
    assert 'href="/help"' in html
    # Signed-in-only parts stay out for a stranger.
    assert "Ask for a confidential check-in" not in html


def test_an_admin_saving_a_contact_is_audited(cast: Cast) -> None:
    admin = web_client_for(cast.admin)
    added = admin.post(
        "/admin/casework/supportcontact/add/",
        {
            "name": "Force EAP",
            "how": "Call 0800 111 2222",
            "phone": "08001112222",
            "hours": "24 hours",
            "note": "",
            "position": "5",
            "active": "on",
        },
    )
    assert added.status_code == 302, added.content
    contact = SupportContact.objects.get(name="Force EAP")
    created = AuditEvent.objects.get(action="support_contact.created")
    assert (created.actor, created.target_type, created.target_id) == (
        cast.admin,
        "support_contact",
        str(contact.pk),
    )
    changed = admin.post(
        f"/admin/casework/supportcontact/{contact.pk}/change/",
        {
            "name": "Force EAP",
            "how": "Call 0800 111 2222",
            "phone": "08001112222",
            "hours": "24 hours",
            "note": "",
            "position": "5",
        },  # "active" unticked
    )
    assert changed.status_code == 302, changed.content
    contact.refresh_from_db()
    assert contact.active is False
    assert AuditEvent.objects.filter(
        action="support_contact.changed", actor=cast.admin, target_id=str(contact.pk)
    ).exists()


def test_an_admin_cannot_delete_a_contact(cast: Cast) -> None:
    contact = SupportContact.objects.create(name="Force EAP", how="Call 0800", phone="0800")
    admin = web_client_for(cast.admin)
    assert admin.get(f"/admin/casework/supportcontact/{contact.pk}/delete/").status_code == 403
    refused = admin.post(f"/admin/casework/supportcontact/{contact.pk}/delete/", {"post": "yes"})
    assert refused.status_code == 403
    bulk = admin.post(
        "/admin/casework/supportcontact/",
        {"action": "delete_selected", "_selected_action": [contact.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    assert SupportContact.objects.filter(pk=contact.pk).exists()


# --- Never the supervisor ----------------------------------------------------------------------


def test_the_urgent_alert_never_reaches_the_supervisor(cast: Cast, checkin: CheckIn) -> None:
    UnitWebhook.objects.create(
        unit=cast.unit_a, url="https://chat.example/hook", secret="s", created_at=checkin.created_at
    )
    submit(cast.officer_a1.user, checkin, PHQ9_SEVERAL_DAYS_ON_ITEM_9)
    alert = Alert.objects.get(kind="screening_risk", severity="urgent")
    supervisor = client_for(cast.supervisor_a)
    assert supervisor.get("/api/v1/alerts/").json()["count"] == 0
    assert supervisor.get(f"/api/v1/alerts/{alert.pk}/").status_code == 404
    assert not Notification.objects.filter(
        recipient__in=[cast.supervisor_a, cast.supervisor_b]
    ).exists()
    assert set(Notification.objects.filter(alert=alert).values_list("recipient", flat=True)) == {
        cast.oh1.pk,
        cast.oh2.pk,
    }
    assert not WebhookDelivery.objects.exists()
    inbox = web_client_for(cast.supervisor_a).get("/inbox")
    assert inbox.status_code == 200
    assert f"/alerts/{alert.pk}" not in inbox.content.decode()


def refuse_alerts_at_commit() -> None:
    """Every transaction that inserted an alert fails when it commits (a deferred constraint
    trigger), as a commit can fail for reasons of its own (a deferred foreign key, the
    connection lost). Committed DDL: the caller drops it with `allow_alerts_at_commit`."""
    with owner_session(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'refused at commit by the test'; END $$"
        )
        cursor.execute(
            "CREATE CONSTRAINT TRIGGER test_refuse_at_commit AFTER INSERT ON alerts_alert "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_refuse_at_commit()"
        )


def allow_alerts_at_commit() -> None:
    with owner_session(), connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS test_refuse_at_commit ON alerts_alert")
        cursor.execute("DROP FUNCTION IF EXISTS test_refuse_at_commit()")


@pytest.mark.django_db(transaction=True)
def test_a_critical_screening_refused_when_the_request_commits_still_gives_support(
    cast: Cast, checkin: CheckIn
) -> None:
    """The request's transaction (ATOMIC_REQUESTS) commits after the service returned: a
    failure there stores nothing either, and the officer must still be shown where to get
    help rather than a bare server error."""
    refuse_alerts_at_commit()
    try:
        officer = client_for(cast.officer_a1.user)
        officer.raise_request_exception = False
        response = officer.post(
            url(checkin),
            {"instrument": "phq9", "answers": PHQ9_SEVERAL_DAYS_ON_ITEM_9},
            format="json",
        )
        assert not Screening.objects.exists()
        assert not Alert.objects.exists()
        assert response.status_code == 503
        assert response.json()["code"] == "not_saved"
        assert response.json()["support"]["contacts"]
    finally:
        allow_alerts_at_commit()


@pytest.mark.django_db(transaction=True)
def test_the_web_form_refused_when_the_request_commits_still_shows_support(
    cast: Cast, checkin: CheckIn
) -> None:
    refuse_alerts_at_commit()
    try:
        browser = web_client_for(cast.officer_a1.user)
        browser.raise_request_exception = False
        page = browser.post(web_form(checkin), form_data(PHQ9_SEVERAL_DAYS_ON_ITEM_9))
        assert not Screening.objects.exists()
        assert page.status_code == 503
        assert 'id="support"' in page.content.decode()
    finally:
        allow_alerts_at_commit()
