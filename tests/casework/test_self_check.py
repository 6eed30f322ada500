"""Self-checks: an officer's own questionnaire at any time, outside a check-in, which goes
to occupational health like any other; the list of their results; and, after a check-in's
questionnaire, the ones still to answer for it."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.utils.html import escape

from tests.conftest import Cast, client_for, field_errors, make_user, web_client_for
from welfare.alerts.models import Alert, Notification
from welfare.audit.models import AuditEvent
from welfare.casework.services import SELF_CHECK_OFFICERS_ONLY, UNKNOWN_INSTRUMENT
from welfare.checkins.instruments.base import ANSWER_RANGE, ITEM_COUNT
from welfare.checkins.models import CheckIn, Screening
from welfare.checkins.services import checkin_trigger
from welfare.core.roles import Role

URL = "/api/v1/screenings/"
PHQ9_OK = [1, 1, 0, 0, 1, 0, 0, 0, 0]  # total 3, minimal
PHQ9_CRITICAL = [0, 0, 0, 0, 0, 0, 0, 0, 1]
PHQ9_HIGH = [2, 2, 2, 2, 2, 1, 1, 0, 0]  # total 12, over the cut-off
GAD7_OK = [0, 1, 0, 1, 0, 0, 0]


def self_check(user, instrument: str, answers: object):
    return client_for(user).post(URL, {"instrument": instrument, "answers": answers}, format="json")


def form_data(answers: list[int]) -> dict[str, str]:
    return {f"item{n}": str(value) for n, value in enumerate(answers, start=1)}


def next_links(html: str) -> list[str]:
    """The links of the "next questionnaire" list, or [] when there is none."""
    found = re.search(r'<ul class="plain" id="next-questionnaires">(.*?)</ul>', html, re.S)
    return re.findall(r'href="([^"]+)"', found.group(1)) if found else []


@pytest.fixture
def checkin(cast: Cast) -> CheckIn:
    created = checkin_trigger(officer_id=cast.officer_a1.pk, due_on=date(2027, 3, 17), key="t")
    assert created is not None
    return created


# --- Submitting --------------------------------------------------------------------------------


def test_a_self_check_is_stored_without_a_checkin_and_returns_the_result(cast: Cast) -> None:
    response = self_check(cast.officer_a1.user, "phq9", PHQ9_OK)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body == {
        "id": body["id"],
        "checkin": None,
        "instrument": "phq9",
        "total": 3,
        "band": "minimal",
        "flags": [],
        "change": None,
        "submitted_at": body["submitted_at"],
        "support": None,
    }
    screening = Screening.objects.get()
    assert (screening.pk, screening.checkin_id) == (body["id"], None)
    assert (screening.officer, screening.submitted_by) == (cast.officer_a1, cast.officer_a1.user)
    submitted = AuditEvent.objects.get(action="screening.submitted")
    assert (submitted.actor, submitted.target_id) == (
        cast.officer_a1.user,
        str(cast.officer_a1.pk),
    )
    assert not Alert.objects.exists()
    assert not CheckIn.objects.exists()


def test_a_second_self_check_shows_the_change(cast: Cast) -> None:
    self_check(cast.officer_a1.user, "phq9", PHQ9_OK)
    again = self_check(cast.officer_a1.user, "phq9", PHQ9_HIGH).json()
    assert (again["total"], again["change"]) == (12, 9)


def test_a_critical_self_check_alerts_oh_urgently_like_a_checkins(cast: Cast) -> None:
    response = self_check(cast.officer_a1.user, "phq9", PHQ9_CRITICAL)
    assert response.status_code == 201
    assert response.json()["support"]["contacts"]
    screening = Screening.objects.get()
    alert = Alert.objects.get(dedupe_key=f"screening:{screening.pk}:critical")
    assert (alert.kind, alert.severity, alert.clinical) == ("screening_risk", "urgent", True)
    assert (alert.officer, alert.checkin) == (cast.officer_a1, None)
    assert alert.ack_due_at is not None
    told = set(Notification.objects.filter(alert=alert).values_list("recipient", flat=True))
    assert told == {cast.oh1.pk, cast.oh2.pk}
    assert client_for(cast.supervisor_a).get("/api/v1/alerts/").json()["count"] == 0


def test_a_self_check_over_the_cutoff_raises_a_concern_and_a_triggered_checkin(
    cast: Cast,
) -> None:
    body = self_check(cast.officer_a1.user, "phq9", PHQ9_HIGH).json()
    assert body["flags"] == ["over_cutoff"]
    assert body["support"] is None
    alert = Alert.objects.get()
    assert (alert.kind, alert.severity, alert.clinical) == ("screening_risk", "warning", True)
    assert alert.dedupe_key == f"screening:{body['id']}:concern"
    assert alert.ack_due_at is None
    triggered = CheckIn.objects.get(officer=cast.officer_a1)
    assert (triggered.kind, triggered.due_on) == ("triggered", date(2027, 3, 17))
    assert not Notification.objects.filter(recipient=cast.supervisor_a).exists()


def test_a_self_check_over_the_cutoff_adds_no_second_triggered_checkin(
    cast: Cast, checkin: CheckIn
) -> None:
    self_check(cast.officer_a1.user, "phq9", PHQ9_HIGH)
    assert list(CheckIn.objects.values_list("pk", flat=True)) == [checkin.pk]
    assert Alert.objects.filter(severity="warning").count() == 1


def test_the_web_self_check_stores_and_shows_the_result(cast: Cast) -> None:
    page = web_client_for(cast.officer_a1.user).post("/me/self-check/phq9", form_data(PHQ9_OK))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="result"' in html
    assert "<strong>3</strong>" in html
    assert 'id="support"' not in html
    screening = Screening.objects.get()
    assert (screening.checkin_id, screening.officer, screening.total) == (None, cast.officer_a1, 3)
    listed = web_client_for(cast.officer_a1.user).get("/me/self-check").content.decode()
    assert "PHQ9" in listed


def test_the_web_self_check_with_a_critical_answer_shows_support_and_alerts_oh(
    cast: Cast,
) -> None:
    page = web_client_for(cast.officer_a1.user).post(
        "/me/self-check/phq9", form_data(PHQ9_CRITICAL)
    )
    assert page.status_code == 200
    assert 'id="support"' in page.content.decode()
    assert Alert.objects.filter(severity="urgent", clinical=True, checkin=None).count() == 1


def test_the_web_self_check_over_the_cutoff_triggers_a_checkin(cast: Cast) -> None:
    web_client_for(cast.officer_a1.user).post("/me/self-check/phq9", form_data(PHQ9_HIGH))
    assert Alert.objects.filter(severity="warning", kind="screening_risk").count() == 1
    assert CheckIn.objects.filter(officer=cast.officer_a1, kind="triggered").count() == 1


# --- Who may ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["supervisor", "oh", "hr", "admin"])
def test_other_roles_are_refused_self_checks(cast: Cast, role: str) -> None:
    user = cast.user(role)
    assert client_for(user).get(URL).status_code == 403
    assert self_check(user, "phq9", PHQ9_OK).status_code == 403
    assert not Screening.objects.exists()


def test_self_checks_need_a_token(cast: Cast) -> None:
    assert client_for(None).get(URL).status_code == 401
    assert self_check(None, "phq9", PHQ9_OK).status_code == 401


def test_an_officer_without_an_officer_record_is_refused(cast: Cast) -> None:
    stray = make_user("off.stray", Role.OFFICER)
    response = self_check(stray, "phq9", PHQ9_CRITICAL)
    assert response.status_code == 403
    assert response.json() == {"detail": SELF_CHECK_OFFICERS_ONLY, "code": "forbidden"}
    assert not Screening.objects.exists()
    assert not Alert.objects.exists()
    assert client_for(stray).get(URL).json()["count"] == 0


def test_the_web_refuses_an_officer_without_an_officer_record_as_the_api_does(
    cast: Cast,
) -> None:
    stray = make_user("off.stray", Role.OFFICER)
    page = web_client_for(stray).post("/me/self-check/phq9", form_data(PHQ9_CRITICAL))
    assert escape(SELF_CHECK_OFFICERS_ONLY) in page.content.decode()
    assert not Screening.objects.exists()
    assert page.status_code == 403


# --- The list of results ---------------------------------------------------------------------


def test_the_list_holds_only_the_callers_results_newest_first_without_answers(
    cast: Cast, checkin: CheckIn, clock
) -> None:
    self_check(cast.officer_a1.user, "phq9", PHQ9_OK)
    clock.advance(hours=1)
    client_for(cast.officer_a1.user).post(
        f"/api/v1/checkins/{checkin.pk}/screenings",
        {"instrument": "gad7", "answers": GAD7_OK},
        format="json",
    )
    clock.advance(hours=1)
    self_check(cast.officer_a2.user, "phq9", PHQ9_HIGH)
    self_check(cast.officer_b1.user, "gad7", GAD7_OK)
    body = client_for(cast.officer_a1.user).get(URL).json()
    assert body["count"] == 2
    assert [(r["instrument"], r["checkin"]) for r in body["results"]] == [
        ("gad7", checkin.pk),
        ("phq9", None),
    ]
    own = set(Screening.objects.filter(officer=cast.officer_a1).values_list("pk", flat=True))
    assert {r["id"] for r in body["results"]} == own
    for row in body["results"]:
        assert set(row) == {
            "id", "checkin", "instrument", "total", "band", "flags", "change", "submitted_at",
        }  # fmt: skip


def test_the_list_is_paginated(cast: Cast, clock) -> None:
    for _ in range(3):
        self_check(cast.officer_a1.user, "gad7", GAD7_OK)
        clock.advance(minutes=5)
    officer = client_for(cast.officer_a1.user)
    first = officer.get(f"{URL}?page_size=2").json()
    assert (first["count"], len(first["results"])) == (3, 2)
    assert first["previous"] is None
    second = officer.get(first["next"]).json()
    assert len(second["results"]) == 1
    assert second["next"] is None
    seen = [r["id"] for r in first["results"] + second["results"]]
    assert seen == sorted(seen, reverse=True)
    assert officer.get(f"{URL}?page=9").status_code == 404


# --- Bad answers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"instrument": "phq9", "answers": [0] * 8},
            {"answers": [ITEM_COUNT.format(count=9)]},
        ),
        (
            {"instrument": "phq9", "answers": [0] * 8 + [4]},
            {"answers": [ANSWER_RANGE.format(item=9, low=0, high=3)]},
        ),
        (
            {"instrument": "gad7", "answers": [True, 0, 0, 0, 0, "1", -1]},
            {"answers": [ANSWER_RANGE.format(item=n, low=0, high=3) for n in (1, 6, 7)]},
        ),
        (
            {"instrument": "ghq12", "answers": [0] * 12},
            {"instrument": [UNKNOWN_INSTRUMENT.format(names="phq9, gad7, pcl5")]},
        ),
    ],
)
def test_bad_answers_are_refused_with_field_messages_and_store_nothing(
    cast: Cast, body: dict, errors: dict
) -> None:
    response = client_for(cast.officer_a1.user).post(URL, body, format="json")
    assert response.status_code == 400
    assert field_errors(response) == errors
    assert not Screening.objects.exists()
    assert not Alert.objects.exists()
    assert not AuditEvent.objects.filter(action="screening.submitted").exists()


@pytest.mark.parametrize("body", [{"instrument": "phq9"}, {"answers": PHQ9_OK}, {}])
def test_a_self_check_missing_a_field_is_refused(cast: Cast, body: dict) -> None:
    response = client_for(cast.officer_a1.user).post(URL, body, format="json")
    assert response.status_code == 400
    assert set(field_errors(response)) == {"instrument", "answers"} - set(body)
    assert not Screening.objects.exists()


def test_the_web_form_with_an_unanswered_item_shows_the_problem_and_stores_nothing(
    cast: Cast,
) -> None:
    data = form_data(PHQ9_OK)
    del data["item9"]
    page = web_client_for(cast.officer_a1.user).post("/me/self-check/phq9", data)
    assert page.status_code == 400
    html = page.content.decode()
    assert ANSWER_RANGE.format(item=9, low=0, high=3) in html
    assert 'id="result"' not in html
    assert not Screening.objects.exists()


# --- The next questionnaire of a check-in ---------------------------------------------------------


def test_after_each_questionnaire_the_rest_of_the_checkin_is_offered(
    cast: Cast, checkin: CheckIn
) -> None:
    browser = web_client_for(cast.officer_a1.user)
    base = f"/me/checkins/{checkin.pk}"
    after_phq9 = browser.post(f"{base}/phq9", form_data(PHQ9_OK))
    assert after_phq9.status_code == 200
    assert next_links(after_phq9.content.decode()) == [f"{base}/gad7", f"{base}/pcl5"]
    after_gad7 = browser.post(f"{base}/gad7", form_data(GAD7_OK))
    assert next_links(after_gad7.content.decode()) == [f"{base}/pcl5"]
    after_pcl5 = browser.post(f"{base}/pcl5", form_data([0] * 20)).content.decode()
    assert 'id="result"' in after_pcl5
    assert 'id="next-questionnaires"' not in after_pcl5
    assert Screening.objects.filter(checkin=checkin).count() == 3


def test_a_questionnaire_answered_by_oh_for_the_checkin_is_not_offered(
    cast: Cast, checkin: CheckIn
) -> None:
    client_for(cast.oh1).post(
        f"/api/v1/checkins/{checkin.pk}/screenings",
        {"instrument": "pcl5", "answers": [1] * 20},
        format="json",
    )
    page = web_client_for(cast.officer_a1.user).post(
        f"/me/checkins/{checkin.pk}/phq9", form_data(PHQ9_OK)
    )
    assert next_links(page.content.decode()) == [f"/me/checkins/{checkin.pk}/gad7"]


def test_a_self_check_offers_the_other_self_checks(cast: Cast) -> None:
    page = web_client_for(cast.officer_a1.user).post("/me/self-check/gad7", form_data(GAD7_OK))
    assert next_links(page.content.decode()) == ["/me/self-check/phq9", "/me/self-check/pcl5"]


def test_a_self_check_does_not_count_as_answering_a_checkins_questionnaire(
    cast: Cast, checkin: CheckIn
) -> None:
    self_check(cast.officer_a1.user, "gad7", GAD7_OK)
    page = web_client_for(cast.officer_a1.user).post(
        f"/me/checkins/{checkin.pk}/phq9", form_data(PHQ9_OK)
    )
    base = f"/me/checkins/{checkin.pk}"
    assert next_links(page.content.decode()) == [f"{base}/gad7", f"{base}/pcl5"]
