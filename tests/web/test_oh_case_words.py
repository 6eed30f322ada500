"""The OH case page in words: instruments by name, flags and bands in words, each answer
beside its question, booked times, score charts; restrictions lifted from the page and a
restriction already exceeded today saved only when confirmed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.alerts.test_sweeps_in_bulk import log_minutes
from tests.conftest import Cast, web_client_for
from welfare.casework.services import screening_submit
from welfare.checkins.instruments import get
from welfare.checkins.services import checkin_book, checkin_trigger
from welfare.exposure.models import Restriction
from welfare.exposure.services import restriction_create

PHQ9_CRITICAL = [1, 1, 1, 1, 1, 1, 1, 1, 2]


@pytest.fixture
def case_page(cast: Cast, clock):
    checkin = checkin_trigger(
        officer_id=cast.officer_a1.pk, due_on=clock.today() + timedelta(days=5), key="words"
    )
    assert checkin is not None
    checkin_book(actor=cast.oh1, checkin=checkin, booked_for=clock.now() + timedelta(days=2))
    screening_submit(
        actor=cast.officer_a1.user, checkin=None, instrument_key="phq9", answers=PHQ9_CRITICAL
    )
    return web_client_for(cast.oh1).get(f"/oh/cases/{cast.officer_a1.pk}").content.decode()


def test_instruments_flags_and_answers_in_words(cast: Cast, case_page: str) -> None:
    phq9 = get("phq9")
    assert phq9 is not None
    listed = case_page.split('id="screenings"')[1].split("</ul>\n</section>")[0]
    assert "PHQ-9" in listed
    assert "Thoughts of self-harm" in listed
    assert "Self Harm Thoughts" not in case_page
    assert "self_harm_thoughts" not in case_page
    assert "(Moderate)" in listed  # total 10, band in words
    assert phq9.items[8] in listed  # the question beside its answer
    assert f"<strong>{phq9.options[2]}</strong>" in listed
    assert "PHQ-9 totals" in case_page  # the score chart


def test_a_booked_check_in_says_when(cast: Cast, clock, case_page: str) -> None:
    from welfare.core.clock import local_zone

    when = (clock.now() + timedelta(days=2)).astimezone(local_zone())
    assert f"booked for {when:%A} {when.day} {when:%b %Y, %H:%M}" in case_page


def test_a_restriction_is_lifted_from_the_page(cast: Cast, clock) -> None:
    restriction = restriction_create(
        actor=cast.oh1, officer=cast.officer_a1, starts_on=clock.today(), daily_minutes=60
    )
    client = web_client_for(cast.oh1)
    page = client.get(f"/oh/cases/{cast.officer_a1.pk}").content.decode()
    assert f"/oh/restrictions/{restriction.pk}/lift" in page
    response = client.post(f"/oh/restrictions/{restriction.pk}/lift", follow=True)
    assert "Restriction lifted" in response.content.decode()
    restriction.refresh_from_db()
    assert restriction.lifted_at is not None
    assert restriction.lifted_by == cast.oh1
    assert web_client_for(cast.supervisor_a).post(
        f"/oh/restrictions/{restriction.pk}/lift"
    ).status_code in {403, 404}


def test_a_restriction_already_exceeded_waits_for_confirmation(cast: Cast, clock) -> None:
    clock.set(clock.now().replace(hour=18, minute=0, second=0, microsecond=0))
    log_minutes(cast.officer_a1, clock.now().replace(hour=8), 90)
    checkin = checkin_trigger(officer_id=cast.officer_a1.pk, due_on=clock.today(), key="x")
    assert checkin is not None
    form = {
        "outcome": "fit_with_adjustments",
        "restrict_from": clock.today().isoformat(),
        "restrict_daily_minutes": "60",
        "restrict_media": ["image"],
    }
    client = web_client_for(cast.oh1)
    refused = client.post(f"/oh/checkins/{checkin.pk}/complete", form, follow=True)
    text = refused.content.decode()
    assert "exceeded already today (90 minutes viewed today, over 60; 90 minutes of images" in text
    assert not Restriction.objects.filter(officer=cast.officer_a1).exists()
    checkin.refresh_from_db()
    assert checkin.completed_at is None  # nothing saved, the check-in with it
    client.post(f"/oh/checkins/{checkin.pk}/complete", {**form, "accept_exceeded": "1"})
    assert Restriction.objects.filter(officer=cast.officer_a1, daily_minutes=60).exists()
