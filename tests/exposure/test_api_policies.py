"""Policies as data: force defaults, unit overrides, weights that rebuild the index."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests import oracles
from tests.conftest import Cast, client_for
from welfare.audit.models import AuditEvent
from welfare.exposure import rules
from welfare.exposure.models import DailyTotal, ExposurePolicy
from welfare.exposure.services import DEFAULT_WEIGHTS, exposure_log, force_policy

URL = "/api/v1/policies/"


def summary(cast: Cast, officer) -> dict:
    return client_for(cast.oh1).get(f"/api/v1/officers/{officer.pk}/exposure-summary").json()


def test_force_policy_ships_with_the_documented_defaults(cast: Cast) -> None:
    rows = client_for(cast.admin).get(URL).json()
    assert len(rows) == 1
    force = rows[0]
    assert force["scope"] == "force"
    assert (force["daily_minutes"], force["week_minutes"], force["rolling_28d_minutes"]) == (
        300,
        1500,
        6000,
    )
    assert (force["break_after_minutes"], force["break_minutes"], force["latest_end"]) == (
        60,
        10,
        "16:00:00",
    )
    assert (force["max_consecutive_days"], force["warning_ratio"]) == (5, 0.8)
    assert force["weights"] == DEFAULT_WEIGHTS.to_json()


def test_unit_override_applies_to_that_unit_only(cast: Cast) -> None:
    response = client_for(cast.oh1).post(
        URL, {"unit": cast.unit_a.pk, "daily_minutes": 240}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["scope"] == "unit"
    a = summary(cast, cast.officer_a1)["limits"]["daily_minutes"]
    b = summary(cast, cast.officer_b1)["limits"]["daily_minutes"]
    assert (a["limit"], a["source"]) == (240, "unit")
    assert (b["limit"], b["source"]) == (300, "force")
    again = client_for(cast.admin).post(
        URL, {"unit": cast.unit_a.pk, "daily_minutes": 200}, format="json"
    )
    assert again.status_code == 400
    assert "unit" in again.json()
    assert AuditEvent.objects.filter(action="policy.created").count() == 1


def test_force_change_reaches_everyone_and_is_audited(cast: Cast) -> None:
    policy = force_policy()
    response = client_for(cast.admin).patch(
        f"{URL}{policy.pk}/", {"daily_minutes": 270, "latest_end": "15:30"}, format="json"
    )
    assert response.status_code == 200
    assert summary(cast, cast.officer_b1)["limits"]["daily_minutes"]["limit"] == 270
    event = AuditEvent.objects.get(action="policy.updated")
    assert event.detail["changed"] == ["daily_minutes", "latest_end"]


def test_changed_weights_rebuild_the_index(cast: Cast, clock) -> None:
    clock.set(datetime(2027, 3, 10, 18, tzinfo=UTC))
    start = clock.now() - timedelta(hours=6)
    exposure_log(
        officer=cast.officer_a1,
        recorded_by=cast.officer_a1.user,
        started_at=start,
        ended_at=start + timedelta(minutes=60),
        material="live",
        category="A",
        client_ref=uuid.uuid4(),
    )
    assert DailyTotal.objects.get(officer=cast.officer_a1).weighted_seconds == pytest.approx(
        3600 * 2.5 * 1.5
    )
    weights = DEFAULT_WEIGHTS.to_json()
    weights["medium"] = {**weights["medium"], "live": 3.0}
    response = client_for(cast.oh1).patch(
        f"{URL}{force_policy().pk}/", {"weights": weights}, format="json"
    )
    assert response.status_code == 200, response.content
    assert DailyTotal.objects.get(officer=cast.officer_a1).weighted_seconds == pytest.approx(
        3600 * 3.0 * 1.5
    )
    assert summary(cast, cast.officer_a1)["weighted_index"] == pytest.approx(60 * 3.0 * 1.5)


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ({"medium": {"video": 4.0}, "category": {"B": 2.0}, "violent": 3.0}, 4.0 * 2.0 * 3.0),
        ({"medium": {"image": 4.0}, "category": {}, "violent": 1.0}, 1.0),  # missing: 1
    ],
)
def test_a_logged_session_is_weighted_with_the_stored_weights(
    cast: Cast, clock, stored, expected
) -> None:
    """Logging reads the force's weights inside the totals statement; it must agree with
    the rules' session_weight over the same weights."""
    ExposurePolicy.objects.filter(unit__isnull=True).update(weights=stored)
    clock.set(datetime(2027, 3, 10, 18, tzinfo=UTC))
    start = clock.now() - timedelta(hours=6)
    exposure_log(
        officer=cast.officer_a1,
        recorded_by=cast.officer_a1.user,
        started_at=start,
        ended_at=start + timedelta(minutes=30),
        material="video",
        category="B",
        violent=True,
        client_ref=uuid.uuid4(),
    )
    weights = rules.Weights.from_json(stored)
    assert oracles.session_weight("video", "B", True, weights) == pytest.approx(expected)
    total = DailyTotal.objects.get(officer=cast.officer_a1)
    assert total.weighted_seconds == pytest.approx(1800 * expected)


@pytest.mark.parametrize(
    "weights",
    [
        {"medium": {"image": 1.0}, "category": {}, "violent": 1.5},
        {**DEFAULT_WEIGHTS.to_json(), "violent": 0},
        {**DEFAULT_WEIGHTS.to_json(), "medium": {**DEFAULT_WEIGHTS.medium, "video": "heavy"}},
        "heavy",
    ],
)
def test_bad_weights_are_refused(cast: Cast, weights) -> None:
    policy = force_policy()
    response = client_for(cast.admin).patch(
        f"{URL}{policy.pk}/", {"weights": weights}, format="json"
    )
    assert response.status_code == 400
    assert "weights" in response.json()
    policy.refresh_from_db()
    assert policy.weights == DEFAULT_WEIGHTS.to_json()


@pytest.mark.parametrize(
    "body",
    [
        {"daily_minutes": 0},
        {"warning_ratio": 1.5},
        {"latest_end": "25:00"},
        {"latest_end": "16:00+01:00"},
        {"latest_end": "16:00:00Z"},
        {"max_consecutive_days": -1},
    ],
)
def test_bad_limits_are_refused(cast: Cast, body: dict) -> None:
    policy = force_policy()
    response = client_for(cast.admin).patch(f"{URL}{policy.pk}/", body, format="json")
    assert response.status_code == 400
    assert set(body) <= set(response.json())
    assert ExposurePolicy.objects.get(pk=policy.pk).daily_minutes == 300


def test_weights_belong_to_the_force_policy(cast: Cast) -> None:
    response = client_for(cast.admin).post(
        URL, {"unit": cast.unit_b.pk, "weights": DEFAULT_WEIGHTS.to_json()}, format="json"
    )
    assert response.status_code == 400
    assert not ExposurePolicy.objects.filter(unit=cast.unit_b).exists()


def test_restriction_lift_and_validation(cast: Cast) -> None:
    oh = client_for(cast.oh1)
    empty = oh.post(
        "/api/v1/restrictions/",
        {"officer": cast.officer_a1.pk, "starts_on": "2027-03-01"},
        format="json",
    )
    assert empty.status_code == 400
    backwards = oh.post(
        "/api/v1/restrictions/",
        {
            "officer": cast.officer_a1.pk,
            "starts_on": "2027-03-01",
            "ends_on": "2027-02-01",
            "daily_minutes": 60,
        },
        format="json",
    )
    assert backwards.status_code == 400
    assert "ends_on" in backwards.json()
    made = oh.post(
        "/api/v1/restrictions/",
        {"officer": cast.officer_a1.pk, "starts_on": "2027-03-01", "daily_minutes": 60},
        format="json",
    ).json()
    assert made["active"] is True
    assert summary(cast, cast.officer_a1)["limits"]["daily_minutes"]["limit"] == 60
    lifted = oh.post(f"/api/v1/restrictions/{made['id']}/lift").json()
    assert lifted["active"] is False
    assert summary(cast, cast.officer_a1)["limits"]["daily_minutes"]["limit"] == 300
    assert AuditEvent.objects.filter(action__startswith="restriction.").count() == 2
    # Other units' supervisors do not see it.
    assert (
        client_for(cast.supervisor_b).get(f"/api/v1/restrictions/{made['id']}/").status_code == 404
    )
