"""Amendments and voids: new versions, history, permissions, the change window."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.conftest import Cast, client_for
from welfare.audit.models import AuditEvent
from welfare.exposure.models import DailyTotal, ExposureSession
from welfare.exposure.services import CHANGE_WINDOW_PASSED, NOTHING_TO_AMEND

URL = "/api/v1/exposures/"


@pytest.fixture
def logged(cast: Cast, clock):
    body = {
        "started_at": (clock.now() - timedelta(hours=4)).isoformat(),
        "ended_at": (clock.now() - timedelta(hours=3)).isoformat(),
        "material": "image",
        "category": "C",
        "client_ref": str(uuid.uuid4()),
        "note": "first",
    }
    response = client_for(cast.officer_a1.user).post(URL, body, format="json")
    assert response.status_code == 201
    return response.json()


def seconds_today(cast: Cast, clock) -> int:
    return DailyTotal.objects.get(officer=cast.officer_a1, day=clock.today()).seconds


def test_amend_makes_a_new_version_with_history(cast: Cast, clock, logged) -> None:
    officer = client_for(cast.officer_a1.user)
    response = officer.post(
        f"{URL}{logged['id']}/amend",
        {"reason": "It was video", "material": "video", "category": "B"},
        format="json",
    )
    assert response.status_code == 201, response.content
    new = response.json()
    assert new["id"] != logged["id"]
    assert new["version"] == 2
    assert new["lineage"] == logged["lineage"]
    assert new["material"] == "video"
    assert new["reason"] == "It was video"
    assert [(v["version"], v["status"], v["material"]) for v in new["history"]] == [
        (1, "superseded", "image"),
        (2, "current", "video"),
    ]
    old = ExposureSession.objects.get(pk=logged["id"])
    assert (old.state, old.material, old.superseded_by_id) == ("superseded", "image", new["id"])
    assert ExposureSession.objects.count() == 2
    total = DailyTotal.objects.get(officer=cast.officer_a1, day=clock.today())
    assert total.seconds == 3600
    assert total.video_seconds == 3600
    assert total.image_seconds == 0
    event = AuditEvent.objects.get(action="exposure.amended")
    assert event.detail["changed"] == ["material", "category"]
    assert event.detail["supersedes"] == logged["id"]


def test_lists_show_current_versions_unless_asked(cast: Cast, clock, logged) -> None:
    officer = client_for(cast.officer_a1.user)
    officer.post(f"{URL}{logged['id']}/amend", {"reason": "typo", "violent": True}, format="json")
    assert officer.get(URL).json()["count"] == 1
    assert officer.get(f"{URL}?include=superseded").json()["count"] == 2
    # The old version stays readable, with the same history.
    old = officer.get(f"{URL}{logged['id']}/").json()
    assert old["status"] == "superseded"
    assert len(old["history"]) == 2


def test_amending_a_superseded_version_is_a_conflict(cast: Cast, clock, logged) -> None:
    officer = client_for(cast.officer_a1.user)
    first = officer.post(
        f"{URL}{logged['id']}/amend", {"reason": "one", "violent": True}, format="json"
    )
    again = officer.post(
        f"{URL}{logged['id']}/amend", {"reason": "two", "violent": False}, format="json"
    )
    assert again.status_code == 409
    assert str(first.json()["id"]) in again.json()["detail"]
    assert ExposureSession.objects.count() == 2


def test_amend_with_client_ref_is_idempotent(cast: Cast, clock, logged) -> None:
    officer = client_for(cast.officer_a1.user)
    ref = str(uuid.uuid4())
    body = {
        "reason": "longer",
        "ended_at": (clock.now() - timedelta(hours=2)).isoformat(),
        "client_ref": ref,
    }
    first = officer.post(f"{URL}{logged['id']}/amend", body, format="json")
    retry = officer.post(f"{URL}{logged['id']}/amend", body, format="json")
    assert first.status_code == 201
    assert retry.json()["id"] == first.json()["id"]
    assert ExposureSession.objects.count() == 2
    assert seconds_today(cast, clock) == 7200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"material": "video"}, "reason"),
        ({"reason": "", "material": "video"}, "reason"),
        ({"reason": "r", "material": "hologram"}, "material"),
        ({"reason": "r", "ended_at": "2027-03-10T00:00:00+00:00"}, "ended_at"),
    ],
)
def test_bad_amendments_change_nothing(cast: Cast, clock, logged, body: dict, field: str) -> None:
    response = client_for(cast.officer_a1.user).post(
        f"{URL}{logged['id']}/amend", body, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()
    assert ExposureSession.objects.get().state == "current"
    assert seconds_today(cast, clock) == 3600
    assert not AuditEvent.objects.filter(action="exposure.amended").exists()


def test_amendment_without_a_change_is_refused(cast: Cast, clock, logged) -> None:
    response = client_for(cast.officer_a1.user).post(
        f"{URL}{logged['id']}/amend", {"reason": "same", "material": "image"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["detail"] == NOTHING_TO_AMEND


def test_amend_into_an_overlap_is_refused(cast: Cast, clock, logged) -> None:
    officer = client_for(cast.officer_a1.user)
    later = officer.post(
        URL,
        {
            "started_at": (clock.now() - timedelta(hours=2)).isoformat(),
            "ended_at": (clock.now() - timedelta(hours=1)).isoformat(),
            "material": "image",
            "category": "C",
            "client_ref": str(uuid.uuid4()),
        },
        format="json",
    ).json()
    response = officer.post(
        f"{URL}{logged['id']}/amend",
        {
            "reason": "ran on",
            "ended_at": (clock.now() - timedelta(hours=1, minutes=30)).isoformat(),
        },
        format="json",
    )
    assert response.status_code == 400
    assert "overlaps" in response.json()["started_at"][0]
    assert ExposureSession.objects.get(pk=logged["id"]).state == "current"
    assert ExposureSession.objects.get(pk=later["id"]).state == "current"
    assert ExposureSession.objects.count() == 2


def test_void_stops_it_counting_and_keeps_it(cast: Cast, clock, logged) -> None:
    officer = client_for(cast.officer_a1.user)
    response = officer.post(f"{URL}{logged['id']}/void", {"reason": "logged twice"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "void"
    assert response.json()["void_reason"] == "logged twice"
    assert seconds_today(cast, clock) == 0
    assert officer.get(URL).json()["count"] == 0
    assert officer.get(f"{URL}?include=void").json()["count"] == 1
    assert ExposureSession.objects.filter(pk=logged["id"]).exists()
    assert AuditEvent.objects.filter(action="exposure.voided", target_id=str(logged["id"])).exists()
    # Its time is free again.
    again = officer.post(
        URL,
        {
            "started_at": logged["started_at"],
            "ended_at": logged["ended_at"],
            "material": "image",
            "category": "C",
            "client_ref": str(uuid.uuid4()),
        },
        format="json",
    )
    assert again.status_code == 201
    assert (
        officer.post(f"{URL}{logged['id']}/void", {"reason": "again"}, format="json").status_code
        == 409
    )
    assert officer.post(f"{URL}{logged['id']}/void", {}, format="json").status_code in (400, 409)


def test_officer_window_then_supervisor(cast: Cast, clock, logged) -> None:
    clock.advance(days=15)
    officer = client_for(cast.officer_a1.user)
    late = officer.post(
        f"{URL}{logged['id']}/amend", {"reason": "late", "violent": True}, format="json"
    )
    assert late.status_code == 403
    assert late.json()["detail"] == CHANGE_WINDOW_PASSED.format(days=14)
    assert (
        officer.post(f"{URL}{logged['id']}/void", {"reason": "late"}, format="json").status_code
        == 403
    )
    supervisor = client_for(cast.supervisor_a)
    amended = supervisor.post(
        f"{URL}{logged['id']}/amend", {"reason": "late correction", "violent": True}, format="json"
    )
    assert amended.status_code == 201
    assert amended.json()["recorded_by"] == cast.supervisor_a.pk


def test_who_may_change_a_session(cast: Cast, clock, logged) -> None:
    body = {"reason": "x", "violent": True}
    assert (
        client_for(cast.officer_a2.user)
        .post(f"{URL}{logged['id']}/amend", body, format="json")
        .status_code
        == 404
    )
    assert (
        client_for(cast.supervisor_b)
        .post(f"{URL}{logged['id']}/amend", body, format="json")
        .status_code
        == 404
    )
    assert (
        client_for(cast.oh1).post(f"{URL}{logged['id']}/amend", body, format="json").status_code
        == 403
    )
    for user in (cast.hr, cast.admin):
        assert (
            client_for(user)
            .post(f"{URL}{logged['id']}/void", {"reason": "x"}, format="json")
            .status_code
            == 403
        )
    assert ExposureSession.objects.count() == 1


def test_every_history_entry_is_the_versions_own_rendering(cast: Cast, clock, logged) -> None:
    """The row's own version is cut from the row's rendering, the others rendered: both
    the same as rendering each version alone, for the officer (notes) and a supervisor."""
    from welfare.exposure.api import ExposureVersionOutput

    officer = client_for(cast.officer_a1.user)
    amended = officer.post(
        f"{URL}{logged['id']}/amend", {"reason": "typo", "note": "second"}, format="json"
    ).json()
    versions = {v.pk: v for v in ExposureSession.objects.filter(lineage=logged["lineage"])}
    for user, show_notes in ((cast.officer_a1.user, True), (cast.supervisor_a, False)):
        rows = client_for(user).get(f"{URL}?include=superseded").json()["results"]
        assert {row["id"] for row in rows} == set(versions)
        for row in [*rows, amended] if show_notes else rows:
            assert [entry["id"] for entry in row["history"]] == sorted(versions)
            for entry in row["history"]:
                alone = ExposureVersionOutput(
                    versions[entry["id"]], context={"show_notes": show_notes}
                )
                assert entry == alone.data
