"""Logging sessions: validation, idempotency on client_ref, overlap, scoping, listing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import Cast, client_for, field_errors
from welfare.exposure.models import DailyTotal, ExposureSession
from welfare.exposure.rules import END_IN_FUTURE, END_NOT_AFTER_START, START_IN_FUTURE, TOO_LONG
from welfare.exposure.services import NO_OFFICER_RECORD

URL = "/api/v1/exposures/"


def session_body(start: datetime, minutes: int = 60, **extra: object) -> dict[str, object]:
    return {
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(minutes=minutes)).isoformat(),
        "material": "video",
        "category": "A",
        "client_ref": str(uuid.uuid4()),
        **extra,
    }


@pytest.fixture
def officer(cast: Cast):
    return client_for(cast.officer_a1.user)


def test_officer_logs_a_session(cast: Cast, officer, clock) -> None:
    start = clock.now() - timedelta(hours=3)
    response = officer.post(
        URL,
        session_body(start, violent=True, items_reviewed=420, activity="grading"),
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["officer"] == cast.officer_a1.pk
    assert body["minutes"] == 60
    assert body["status"] == "current"
    assert body["source"] == "self"
    assert body["violent"] is True
    assert [v["id"] for v in body["history"]] == [body["id"]]
    total = DailyTotal.objects.get(officer=cast.officer_a1, day=clock.today())
    assert total.seconds == 3600
    assert total.video_seconds == 3600
    assert total.category_a_seconds == 3600
    assert total.violent_seconds == 3600
    assert total.weighted_seconds == pytest.approx(3600 * 1.5 * 1.5 * 1.5)


def test_same_client_ref_returns_stored_session(cast: Cast, officer, clock) -> None:
    body = session_body(clock.now() - timedelta(hours=3))
    first = officer.post(URL, body, format="json")
    again = officer.post(URL, {**body, "material": "image"}, format="json")
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["material"] == "video"
    assert ExposureSession.objects.count() == 1
    assert DailyTotal.objects.get(officer=cast.officer_a1).seconds == 3600


def test_client_refs_are_per_officer(cast: Cast, officer, clock) -> None:
    body = session_body(clock.now() - timedelta(hours=3))
    assert officer.post(URL, body, format="json").status_code == 201
    other = client_for(cast.officer_a2.user).post(URL, body, format="json")
    assert other.status_code == 201
    assert other.json()["officer"] == cast.officer_a2.pk


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"minutes": 0}, {"ended_at": [END_NOT_AFTER_START]}),
        ({"minutes": -30}, {"ended_at": [END_NOT_AFTER_START]}),
        ({"minutes": 24 * 60 + 1}, {"ended_at": [TOO_LONG.format(hours=24)]}),
        ({"start_offset": timedelta(minutes=10)}, {"started_at": [START_IN_FUTURE]}),
        ({"start_offset": timedelta(minutes=-30), "minutes": 60}, {"ended_at": [END_IN_FUTURE]}),
        ({"material": "hologram"}, "material"),
        ({"category": "D"}, "category"),
        ({"activity": "browsing"}, "activity"),
        ({"client_ref": "not-a-uuid"}, "client_ref"),
        ({"client_ref": None}, "client_ref"),
        ({"items_reviewed": -1}, "items_reviewed"),
        ({"note": "x" * 281}, "note"),
        ({"started_at": "2027-03-10T08:00:00"}, "started_at"),
        ({"started_at": "yesterday"}, "started_at"),
    ],
)
def test_bad_input_is_refused_and_nothing_stored(
    cast: Cast, officer, clock, change: dict, expected
) -> None:
    offset = change.pop("start_offset", timedelta(hours=-3))
    minutes = change.pop("minutes", 60)
    body = session_body(clock.now() + offset, minutes)
    body.update(change)
    response = officer.post(URL, body, format="json")
    assert response.status_code == 400, response.content
    if isinstance(expected, dict):
        assert field_errors(response) == expected
    else:
        assert expected in response.json()
    assert not ExposureSession.objects.exists()
    assert not DailyTotal.objects.exists()


def test_small_clock_skew_is_tolerated(cast: Cast, officer, clock) -> None:
    response = officer.post(
        URL, session_body(clock.now() - timedelta(minutes=56), minutes=60), format="json"
    )
    assert response.status_code == 201


def test_exactly_24_hours_is_allowed(cast: Cast, officer, clock) -> None:
    response = officer.post(
        URL, session_body(clock.now() - timedelta(hours=25), minutes=24 * 60), format="json"
    )
    assert response.status_code == 201


def test_overlap_is_refused(cast: Cast, officer, clock) -> None:
    start = clock.now() - timedelta(hours=5)
    assert officer.post(URL, session_body(start, 60), format="json").status_code == 201
    overlapping = officer.post(URL, session_body(start + timedelta(minutes=59), 30), format="json")
    assert overlapping.status_code == 400
    assert "started_at" in overlapping.json()
    assert "overlaps" in overlapping.json()["started_at"][0]
    # Touching end to start is not an overlap.
    assert (
        officer.post(
            URL, session_body(start + timedelta(minutes=60), 30), format="json"
        ).status_code
        == 201
    )
    assert ExposureSession.objects.count() == 2


def test_another_officers_sessions_never_overlap_mine(cast: Cast, officer, clock) -> None:
    start = clock.now() - timedelta(hours=5)
    assert officer.post(URL, session_body(start, 60), format="json").status_code == 201
    assert (
        client_for(cast.officer_a2.user)
        .post(URL, session_body(start, 60), format="json")
        .status_code
        == 201
    )


def test_only_officers_log_and_only_their_own(cast: Cast, clock) -> None:
    body = session_body(clock.now() - timedelta(hours=3))
    for user in (cast.supervisor_a, cast.oh1, cast.hr, cast.admin):
        assert client_for(user).post(URL, body, format="json").status_code == 403
    assert not ExposureSession.objects.exists()


def test_officer_without_record_is_told(cast: Cast, clock) -> None:
    from tests.conftest import make_user
    from welfare.core.roles import Role

    response = client_for(make_user("no.record", Role.OFFICER)).post(
        URL, session_body(clock.now() - timedelta(hours=3)), format="json"
    )
    assert response.status_code == 403
    assert response.json()["detail"] == NO_OFFICER_RECORD


def _log(cast: Cast, clock) -> None:
    for user, hours in (
        (cast.officer_a1.user, 3),
        (cast.officer_a2.user, 4),
        (cast.officer_b1.user, 5),
    ):
        body = session_body(clock.now() - timedelta(hours=hours), note="own context")
        assert client_for(user).post(URL, body, format="json").status_code == 201


def test_listing_is_scoped_by_role(cast: Cast, clock) -> None:
    _log(cast, clock)

    def officers_seen(user) -> set[int]:
        return {row["officer"] for row in client_for(user).get(URL).json()["results"]}

    assert officers_seen(cast.officer_a1.user) == {cast.officer_a1.pk}
    assert officers_seen(cast.supervisor_a) == {cast.officer_a1.pk, cast.officer_a2.pk}
    assert officers_seen(cast.supervisor_b) == {cast.officer_b1.pk}
    assert officers_seen(cast.oh1) == {cast.officer_a1.pk, cast.officer_a2.pk, cast.officer_b1.pk}
    for user in (cast.hr, cast.admin):
        assert client_for(user).get(URL).status_code == 403


def test_supervisor_does_not_see_the_officers_note(cast: Cast, clock) -> None:
    _log(cast, clock)
    supervisor_rows = client_for(cast.supervisor_a).get(URL).json()["results"]
    assert supervisor_rows
    assert all(row["note"] is None for row in supervisor_rows)
    assert all(v["note"] is None for row in supervisor_rows for v in row["history"])
    own = client_for(cast.officer_a1.user).get(URL).json()["results"]
    assert own[0]["note"] == "own context"


def test_supervisor_cannot_open_other_units_session(cast: Cast, clock) -> None:
    _log(cast, clock)
    other = ExposureSession.objects.get(officer=cast.officer_b1)
    assert client_for(cast.supervisor_a).get(f"{URL}{other.pk}/").status_code == 404
    assert client_for(cast.officer_a1.user).get(f"{URL}{other.pk}/").status_code == 404
    assert client_for(cast.supervisor_b).get(f"{URL}{other.pk}/").status_code == 200


def test_filters(cast: Cast, clock) -> None:
    _log(cast, clock)
    oh = client_for(cast.oh1)
    assert oh.get(f"{URL}?officer={cast.officer_b1.pk}").json()["count"] == 1
    assert oh.get(f"{URL}?material=image").json()["count"] == 0
    assert oh.get(f"{URL}?category=A&material=video").json()["count"] == 3
    assert oh.get(f"{URL}?from=2027-03-11").json()["count"] == 0
    assert oh.get(f"{URL}?to=2027-03-10").json()["count"] == 3
    assert oh.get(f"{URL}?to=2027-03-09").json()["count"] == 0
    assert oh.get(f"{URL}?from=2027-03-10T05:30:00Z").json()["count"] == 2
    assert oh.get(f"{URL}?from=soon").status_code == 400
    assert oh.get(f"{URL}?material=hologram").status_code == 400


def test_date_filters_at_the_edges_answer_400_or_rows_never_500(cast: Cast, clock) -> None:
    _log(cast, clock)
    oh = client_for(cast.oh1)
    # The same instant as 05:30Z, with an offset PostgreSQL would not take as it is.
    assert oh.get(f"{URL}?from=2027-03-09T13:11:00-16:19").json()["count"] == 2
    assert oh.get(f"{URL}?to=9999-12-31").status_code == 400
    assert oh.get(f"{URL}?from=0001-01-01T00:00:00Z").status_code == 400
    summary = f"/api/v1/officers/{cast.officer_a1.pk}/exposure-summary"
    assert oh.get(f"{summary}?on=9999-12-31T23:59:59-05:00").status_code == 400


def test_list_query_count_is_flat(cast: Cast, clock, django_assert_max_num_queries) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(cast.supervisor_a)
    _log(cast, clock)
    with CaptureQueriesContext(connection) as few:
        assert client.get(URL).json()["count"] == 2
    baseline = len(few)
    start = datetime(2027, 2, 1, 8, tzinfo=UTC)
    for day in range(20):
        body = session_body(start + timedelta(days=day))
        client_for(cast.officer_a2.user).post(URL, body, format="json")
    with django_assert_max_num_queries(baseline):
        assert client.get(URL).json()["count"] == 22
