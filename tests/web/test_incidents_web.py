"""Recording a distressing piece of work in the web app: the officer's form on their page,
the supervisor's form for an officer of their units, what happens next, and what each page
shows (a supervisor's pages never the category)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.test import Client

from tests.conftest import Cast, web_client_for
from tests.web.test_accessibility import assert_none, axe, check  # noqa: F401
from tests.web.test_browser import chromium, page, sign_in  # noqa: F401
from welfare.alerts.models import Alert, AlertKind
from welfare.alerts.services import checkin_escalation_sweep
from welfare.audit.models import AuditEvent
from welfare.checkins import rules
from welfare.checkins.models import CheckIn, Incident, IncidentCategory, Kind
from welfare.checkins.services import checkin_status_sweep, incident_record
from welfare.web.incidents import CHOOSE_OFFICER, FORM_INCOMPLETE, RECORDED_ALREADY

CATEGORY = IncidentCategory.PERSONAL_RESONANCE
OTHER = IncidentCategory.DEATH_OR_INJURY


def form_ref(html: str) -> str:
    """The client_ref the page's incident form carries."""
    found = re.search(r'name="client_ref" value="([0-9a-f-]{36})"', html)
    assert found is not None
    return found.group(1)


def shown(client: Client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.content.decode()


def no_category(html: str, *categories: IncidentCategory) -> bool:
    return not any(c.value in html or str(c.label) in html for c in categories)


# --- The officer ------------------------------------------------------------------------


def test_the_officers_page_has_a_labelled_form_with_the_categories(cast: Cast) -> None:
    html = shown(web_client_for(cast.officer_a1.user), "/me/")

    assert 'id="incident-heading">Record a distressing piece of work' in html
    assert '<label for="incident-date">Date of the work</label>' in html
    assert '<label for="incident-category">What made it distressing</label>' in html
    for value, label in IncidentCategory.choices:
        assert f'<option value="{value}">{label}</option>' in html.replace("&#x27;", "'")
    assert 'max="2027-03-10"' in html
    assert 'min="2026-12-10"' in html  # 90 days back
    assert "3 days and 28 days after the work" in html


def test_an_officer_records_one_and_is_told_what_happens_next(cast: Cast) -> None:
    client = web_client_for(cast.officer_a1.user)
    ref = form_ref(shown(client, "/me/"))

    response = client.post(
        "/me/incidents", {"occurred_on": "2027-03-09", "category": CATEGORY, "client_ref": ref}
    )

    assert response.status_code == 302
    assert response["Location"] == "/me/#incident"
    incident = Incident.objects.get()
    assert (incident.officer, incident.category, str(incident.client_ref)) == (
        cast.officer_a1,
        CATEGORY,
        ref,
    )
    html = shown(client, "/me/")
    assert "Recorded. Follow-up contacts are due on 12 March 2027 and 6 April 2027" in html
    assert "Your supervisor sees only that follow-ups are due" in html
    # The officer's own list shows it with its category, and the follow-ups as check-ins.
    assert str(CATEGORY.label).replace("'", "&#x27;") in html
    assert html.count("Incident follow-up") == 2
    assert AuditEvent.objects.filter(action="incident.recorded").count() == 1


def test_a_resent_form_records_nothing_twice(cast: Cast) -> None:
    client = web_client_for(cast.officer_a1.user)
    sent = {"occurred_on": "2027-03-10", "category": CATEGORY, "client_ref": str(uuid.uuid4())}

    client.post("/me/incidents", sent)
    client.post("/me/incidents", sent)

    assert Incident.objects.count() == 1
    assert CheckIn.objects.filter(kind=Kind.INCIDENT_FOLLOW_UP).count() == 2
    assert RECORDED_ALREADY in shown(client, "/me/")


@pytest.mark.parametrize(
    ("sent", "message"),
    [
        (
            {"occurred_on": "2027-03-11", "category": CATEGORY},
            f"Date of the work: {rules.INCIDENT_IN_FUTURE}",
        ),
        (
            {"occurred_on": "2026-12-09", "category": CATEGORY},
            f"Date of the work: {rules.INCIDENT_TOO_OLD.format(days=90)}",
        ),
        ({"occurred_on": "2027-03-10", "category": ""}, "What made it distressing: "),
        ({"occurred_on": "", "category": CATEGORY}, "Date of the work: "),
    ],
)
def test_problems_are_named_by_their_field_and_nothing_is_recorded(
    cast: Cast, sent: dict[str, str], message: str
) -> None:
    client = web_client_for(cast.officer_a1.user)

    client.post("/me/incidents", {**sent, "client_ref": str(uuid.uuid4())})

    html = shown(client, "/me/")
    assert 'class="message error"' in html
    assert message in html
    assert not Incident.objects.exists()


def test_a_form_without_its_reference_asks_for_a_reload(cast: Cast) -> None:
    client = web_client_for(cast.officer_a1.user)

    client.post("/me/incidents", {"occurred_on": "2027-03-10", "category": CATEGORY})

    assert FORM_INCOMPLETE in shown(client, "/me/")
    assert not Incident.objects.exists()


# --- The supervisor ---------------------------------------------------------------------


def test_the_unit_page_links_to_a_form_for_an_officer_of_the_unit(cast: Cast) -> None:
    client = web_client_for(cast.supervisor_a)

    unit = shown(client, "/unit/")
    form = shown(client, "/unit/incidents")

    assert 'href="/unit/incidents"' in unit
    assert no_category(unit, *IncidentCategory)  # the categories live on the form's page
    assert '<label for="incident-officer">Officer</label>' in form
    assert f'<option value="{cast.officer_a1.pk}">{cast.officer_a1.display_name}' in form
    assert f'<option value="{cast.officer_a2.pk}">{cast.officer_a2.display_name}' in form
    assert cast.officer_b1.display_name not in form  # another unit's
    preselected = shown(client, f"/unit/incidents?officer={cast.officer_a2.pk}")
    assert f'<option value="{cast.officer_a2.pk}" selected>' in preselected


def test_a_supervisor_records_one_and_sees_only_that_follow_ups_are_due(cast: Cast) -> None:
    client = web_client_for(cast.supervisor_a)
    ref = form_ref(shown(client, "/unit/incidents"))

    response = client.post(
        "/unit/incidents",
        {
            "officer": cast.officer_a2.pk,
            "occurred_on": "2027-03-10",
            "category": CATEGORY,
            "client_ref": ref,
        },
    )

    assert response.status_code == 302
    assert response["Location"] == "/unit/"
    incident = Incident.objects.get()
    assert (incident.officer, incident.reported_by) == (cast.officer_a2, cast.supervisor_a)
    unit = shown(client, "/unit/")
    assert f"Recorded for {cast.officer_a2.display_name}." in unit
    assert "due on 13 March 2027 and 7 April 2027" in unit
    # The unit's check-ins: "Incident follow-up", due on each date; never the category.
    rows = re.findall(
        r"<td data-label=\"Kind\">Incident follow-up</td><td data-label=\"Due\">([^<;]+)</td>", unit
    )
    assert rows == ["13 Mar 2027", "7 Apr 2027"]
    pages = [unit, shown(client, "/unit/")]  # after the message, too
    pages += [shown(client, f"/checkins/{c.pk}") for c in incident.follow_ups.all()]
    for html in pages:
        assert no_category(html, CATEGORY)


def test_a_supervisor_cannot_record_for_another_units_officer(cast: Cast) -> None:
    client = web_client_for(cast.supervisor_b)

    response = client.post(
        "/unit/incidents",
        {
            "officer": cast.officer_a1.pk,
            "occurred_on": "2027-03-10",
            "category": CATEGORY,
            "client_ref": str(uuid.uuid4()),
        },
    )

    assert response.status_code == 404
    assert not Incident.objects.exists()


def test_a_supervisor_must_choose_the_officer(cast: Cast) -> None:
    client = web_client_for(cast.supervisor_a)

    response = client.post(
        "/unit/incidents",
        {"occurred_on": "2027-03-10", "category": CATEGORY, "client_ref": str(uuid.uuid4())},
    )

    assert response["Location"] == "/unit/incidents"
    assert CHOOSE_OFFICER in shown(client, "/unit/incidents")
    assert not Incident.objects.exists()


def test_a_supervisors_refused_form_returns_to_the_form_with_the_officer_chosen(
    cast: Cast,
) -> None:
    client = web_client_for(cast.supervisor_a)

    response = client.post(
        "/unit/incidents",
        {
            "officer": cast.officer_a1.pk,
            "occurred_on": "2027-04-01",
            "category": CATEGORY,
            "client_ref": str(uuid.uuid4()),
        },
    )

    assert response["Location"] == f"/unit/incidents?officer={cast.officer_a1.pk}"
    html = shown(client, response["Location"])
    assert f"Date of the work: {rules.INCIDENT_IN_FUTURE}" in html
    assert f'<option value="{cast.officer_a1.pk}" selected>' in html


@pytest.mark.parametrize("role", ["officer", "oh", "hr"])
def test_only_supervisors_have_the_unit_form(cast: Cast, role: str) -> None:
    assert web_client_for(cast.user(role)).get("/unit/incidents").status_code == 403


def test_supervisors_pages_about_an_overdue_follow_up_never_show_the_category(
    cast: Cast, clock
) -> None:
    incident_record(
        actor=cast.officer_a1.user,
        officer=cast.officer_a1,
        occurred_on=clock.today(),
        category=OTHER,
    )
    clock.advance(days=4)
    checkin_status_sweep(at=clock.now())
    checkin_escalation_sweep(at=clock.now())
    alert = Alert.objects.get(kind=AlertKind.CHECKIN_OVERDUE)
    client = web_client_for(cast.supervisor_a)

    for path in ("/unit/", f"/alerts/{alert.pk}", f"/checkins/{alert.checkin_id}", "/inbox"):
        html = shown(client, path)
        assert no_category(html, OTHER), path
    assert "Incident follow-up" in shown(client, "/unit/")


# --- Occupational health ----------------------------------------------------------------


def test_the_oh_case_page_lists_incidents_with_their_categories(cast: Cast, clock) -> None:
    incident_record(
        actor=cast.supervisor_a,
        officer=cast.officer_a1,
        occurred_on=clock.today() - timedelta(days=1),
        category=CATEGORY,
    )
    incident_record(
        actor=cast.officer_a2.user,
        officer=cast.officer_a2,
        occurred_on=clock.today(),
        category=OTHER,
    )

    html = shown(web_client_for(cast.oh1), f"/oh/cases/{cast.officer_a1.pk}")

    section = html.split('id="case-incidents"')[1].split("</section>")[0]
    assert "9 March 2027" in section
    assert str(CATEGORY.label).replace("'", "&#x27;") in section
    assert "recorded by sup.a" in section
    assert "12 Mar 2027" in section
    assert "6 Apr 2027" in section
    assert no_category(section, OTHER)  # another officer's


# --- Accessibility (axe-core in Chromium; skipped where Chromium is missing) -------------


@pytest.mark.django_db(transaction=True)
def test_the_incident_forms_and_lists_pass_axe(
    page,  # noqa: F811
    axe,  # noqa: F811
    live_server,
    cast: Cast,
    clock,
) -> None:
    incident_record(
        actor=cast.supervisor_a, officer=cast.officer_a1, occurred_on=clock.today(), category=OTHER
    )
    sign_in(page, live_server.url, cast.supervisor_a)
    found = check(page, axe, live_server.url, "/unit/incidents")
    found += check(page, axe, live_server.url, "/unit/")
    assert_none(found)
