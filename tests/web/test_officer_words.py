"""What an officer reads: the limit named in words, messages under the form's labels, a
page (not a blank) for a form's address, and no header links before the second factor."""

from __future__ import annotations

import uuid
from datetime import timedelta

from tests.alerts.test_sweeps_in_bulk import log_minutes
from tests.conftest import Cast, web_client_for


def test_the_headline_names_the_limit_over_in_words(cast: Cast, clock) -> None:
    clock.set(clock.now().replace(hour=20, minute=0, second=0, microsecond=0))
    start = clock.now().replace(hour=7)
    for n in range(3):
        log_minutes(cast.officer_a1, start + timedelta(hours=2 * n, minutes=10), 110)
    page = web_client_for(cast.officer_a1.user).get("/me/").content.decode()
    headline = page.split('id="headline"')[1].split("</p>")[0]
    assert "Over the limit:" in headline
    assert "Today: 330 of" in headline
    assert "daily_minutes" not in page
    assert ">ok<" not in page.lower().replace(" ", "")


def test_a_refusal_names_the_field_as_the_form_does(cast: Cast, clock) -> None:
    client = web_client_for(cast.officer_a1.user)
    future = clock.now() + timedelta(hours=2)
    response = client.post(
        "/me/sessions",
        {
            "client_ref": str(uuid.uuid4()),
            "started_at": future.isoformat(),
            "ended_at": (future + timedelta(minutes=30)).isoformat(),
            "material": "image",
            "category": "C",
        },
        follow=True,
    )
    text = response.content.decode()
    assert "Start: The start cannot be in the future." in text
    assert "started at:" not in text


def test_a_forms_address_opened_by_hand_is_a_page(cast: Cast) -> None:
    response = web_client_for(cast.officer_a1.user).get("/me/sessions")
    assert response.status_code == 405
    assert b"This address is for a form" in response.content
    assert response["Allow"] == "POST"
    assert "default-src 'self'" in response["Content-Security-Policy"]


def test_no_role_links_before_the_second_factor_nor_the_api_for_officers(cast: Cast) -> None:
    half = web_client_for(cast.supervisor_a, verified=False).get("/enrol").content.decode()
    assert "Import time-on-task" not in half
    assert ">My unit<" not in half
    officer = web_client_for(cast.officer_a1.user).get("/me/").content.decode()
    assert 'href="/api/docs/"' not in officer


def test_a_timer_paused_for_seconds_logs_one_session(cast: Cast, clock) -> None:
    import json

    from welfare.exposure.models import ExposureSession

    start = clock.now() - timedelta(hours=2)
    resumed = start + timedelta(minutes=20, seconds=3)
    segments = [
        [start.isoformat(), (start + timedelta(minutes=20)).isoformat()],
        [resumed.isoformat(), (start + timedelta(minutes=50)).isoformat()],
        [(start + timedelta(minutes=65)).isoformat(), (start + timedelta(minutes=80)).isoformat()],
    ]
    form = {
        "client_ref": str(uuid.uuid4()),
        "segments": json.dumps(segments),
        "material": "image",
        "category": "C",
    }
    client = web_client_for(cast.officer_a1.user)
    client.post("/me/sessions", form)
    client.post("/me/sessions", form)  # sent twice: logged once
    logged = list(
        ExposureSession.objects.filter(officer=cast.officer_a1)
        .order_by("started_at")
        .values_list("started_at", "ended_at")
    )
    assert [(end - begin).total_seconds() / 60 for begin, end in logged] == [50, 15]
