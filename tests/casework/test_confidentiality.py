"""No clinical fact reaches anyone but occupational health (and the officer, for their own
results): markers written into every clinical field are searched for in every response
every other role can get, endpoint by endpoint."""

from __future__ import annotations

from datetime import date

import pytest
from drf_spectacular.generators import EndpointEnumerator

from schedules.runner import run_all
from tests.conftest import Cast, client_for
from welfare.alerts.models import Alert
from welfare.audit.models import AuditEvent
from welfare.casework.models import ManagementReport
from welfare.checkins.models import CheckIn
from welfare.exposure.models import Restriction
from welfare.exposure.services import force_policy

MARKERS = {
    "note": "NOTE-MARKER-7Q",
    "comment": "COMMENT-MARKER-7Q",
    "referral": "REFERRAL-MARKER-7Q",
    "reason": "REASON-MARKER-7Q",
    "adjustments": "ADJUSTMENT-MARKER-7Q",
    "draft": "DRAFT-MARKER-7Q",
    "legal": "LEGAL-MARKER-7Q",
}
# Flags and alert kinds that only results carry (band names are in the published instruments).
CLINICAL_WORDS = ("self_harm_thoughts", "screening_risk", "over_cutoff")


@pytest.fixture
def clinical_record(cast: Cast, clock) -> dict[str, int]:
    """Officer A1's case, with a marker in every clinical field."""
    oh = client_for(cast.oh1)
    officer = client_for(cast.officer_a1.user)
    referral = officer.post(
        "/api/v1/checkins/", {"kind": "self_referral", "note": MARKERS["referral"]}, format="json"
    ).json()
    checkin = CheckIn.objects.get(pk=referral["id"])
    officer.post(
        f"/api/v1/checkins/{checkin.pk}/screenings",
        {"instrument": "phq9", "answers": [3, 3, 3, 2, 2, 2, 1, 1, 1]},
        format="json",
    )
    oh.post(
        f"/api/v1/checkins/{checkin.pk}/screenings",
        {"instrument": "gad7", "answers": [1] * 7, "comment": MARKERS["comment"]},
        format="json",
    )
    oh.post(
        f"/api/v1/oh/cases/{cast.officer_a1.pk}/notes", {"body": MARKERS["note"]}, format="json"
    )
    oh.post(
        f"/api/v1/checkins/{checkin.pk}/complete",
        {
            "outcome": "fit_with_adjustments",
            "adjustments": MARKERS["adjustments"],
            "restrictions": [
                {"starts_on": "2027-03-01", "daily_minutes": 120, "reason": MARKERS["reason"]}
            ],
        },
        format="json",
    )
    oh.post(
        f"/api/v1/oh/cases/{cast.officer_a1.pk}/reports",
        {"fitness": "fit", "adjustments": MARKERS["draft"]},
        format="json",
    )
    disclosed = oh.post(
        f"/api/v1/oh/cases/{cast.officer_a1.pk}/reports",
        {"fitness": "unfit", "adjustments": "Desk duties."},
        format="json",
    ).json()
    oh.post(
        f"/api/v1/reports/{disclosed['id']}/disclose",
        {"legal_basis": MARKERS["legal"]},
        format="json",
    )
    run_all(clock.now())
    return {"checkin": checkin.pk, "disclosed": disclosed["id"]}


def _ids(prefix: str, cast: Cast, record: dict[str, int]) -> list[object]:
    """Every record of officer A1 (or about them) an endpoint could be asked for."""
    officer = cast.officer_a1
    return {
        "/api/v1/users/": [officer.user.pk],
        "/api/v1/units/": [cast.unit_a.pk],
        "/api/v1/officers/": [officer.pk],
        "/api/v1/exposures/": [1],
        "/api/v1/policies/": [force_policy().pk],
        "/api/v1/restrictions/": list(Restriction.objects.values_list("pk", flat=True)),
        "/api/v1/checkins/": list(CheckIn.objects.values_list("pk", flat=True)),
        "/api/v1/alerts/": list(Alert.objects.values_list("pk", flat=True)),
        "/api/v1/reports/": list(ManagementReport.objects.values_list("pk", flat=True)),
        "/api/v1/audit/": list(AuditEvent.objects.values_list("pk", flat=True)),
    }.get(prefix, [1])


def _paths(cast: Cast, record: dict[str, int]) -> list[str]:
    paths: list[str] = []
    for template, _regex, method, _view in EndpointEnumerator().get_api_endpoints():
        if method != "GET" or not template.startswith("/api/v1/"):
            continue  # the schema and docs describe the API; they hold no one's data
        fill = {
            "officer_id": cast.officer_a1.pk,
            "unit_id": cast.unit_a.pk,
            "checkin_id": record["checkin"],
            "key": "x",
            "device_id": 1,
        }
        if "{pk}" in template:
            prefix = (
                template.split("{")[0]
                if not template.startswith("/api/v1/officers/{officer_id}")
                else "x"
            )
            for pk in _ids(prefix, cast, record):
                paths.append(template.format(pk=pk, **fill))
        else:
            path = template.format(**fill)
            paths.append(path + ("?page_size=500" if path.endswith("/") else ""))
    return paths


@pytest.mark.parametrize(
    "who", ["officer", "other_officer", "supervisor", "other_supervisor", "hr", "admin"]
)
def test_no_clinical_marker_reaches_a_non_oh_role(
    cast: Cast, clinical_record: dict[str, int], who: str
) -> None:
    user = {
        "officer": cast.officer_a1.user,
        "other_officer": cast.officer_a2.user,
        "supervisor": cast.supervisor_a,
        "other_supervisor": cast.supervisor_b,
        "hr": cast.hr,
        "admin": cast.admin,
    }[who]
    client = client_for(user)
    allowed = set()
    if who == "officer":  # their own results, and why a report about them was disclosed
        allowed = {"self_harm_thoughts", "over_cutoff", MARKERS["legal"]}
    walked = 0
    for path in _paths(cast, clinical_record):
        response = client.get(path)
        walked += 1
        body = response.content.decode(errors="replace")
        for marker in [*MARKERS.values(), *CLINICAL_WORDS]:
            if marker in allowed:
                continue
            assert marker not in body, (who, path, marker)
    assert walked > 40


def test_oh_does_see_every_marker(cast: Cast, clinical_record: dict[str, int]) -> None:
    body = client_for(cast.oh1).get(f"/api/v1/oh/cases/{cast.officer_a1.pk}").content.decode()
    for name in ("note", "comment", "referral", "reason", "adjustments", "draft", "legal"):
        assert MARKERS[name] in body, name


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        (
            "officer",
            {"id", "checkin", "instrument", "total", "band", "flags", "change", "submitted_at"},
        ),
        (
            "oh",
            {
                "id",
                "checkin",
                "instrument",
                "total",
                "band",
                "flags",
                "change",
                "submitted_at",
                "instrument_version",
                "previous_total",
                "answers",
                "comment",
                "submitted_by",
            },
        ),
    ],
)
def test_exact_screening_fields_by_role(
    cast: Cast, clinical_record: dict[str, int], who: str, expected: set[str]
) -> None:
    user = cast.officer_a1.user if who == "officer" else cast.oh1
    rows = client_for(user).get(f"/api/v1/checkins/{clinical_record['checkin']}/screenings").json()
    assert rows
    assert all(set(row) == expected for row in rows)


def test_exact_checkin_fields_by_role(cast: Cast, clinical_record: dict[str, int]) -> None:
    public = {
        "id",
        "officer",
        "kind",
        "follow_up",
        "due_on",
        "status",
        "booked_for",
        "outcome",
        "completed_at",
        "cancelled_at",
    }
    periodic = CheckIn.objects.filter(officer=cast.officer_a1, kind="periodic").first()
    assert periodic is not None
    assert (
        set(client_for(cast.supervisor_a).get(f"/api/v1/checkins/{periodic.pk}/").json()) == public
    )
    assert (
        set(
            client_for(cast.officer_a1.user)
            .get(f"/api/v1/checkins/{clinical_record['checkin']}/")
            .json()
        )
        == public
    )
    assert set(
        client_for(cast.oh1).get(f"/api/v1/checkins/{clinical_record['checkin']}/").json()
    ) == public | {
        "adjustments",
        "referral_note",
        "cancel_reason",
        "created_at",
        "confidential",  # OH's alone (a self-referral, a screening's): whether and when
        "released_at",  # released to the supervisor as a welfare appointment
    }


def test_the_disclosed_report_shows_management_fitness_only(
    cast: Cast, clinical_record: dict[str, int]
) -> None:
    row = (
        client_for(cast.supervisor_a).get(f"/api/v1/reports/{clinical_record['disclosed']}/").json()
    )
    assert set(row) == {
        "id",
        "officer",
        "fitness",
        "adjustments",
        "state",
        "consented_at",
        "disclosed_at",
    }
    assert (
        client_for(cast.supervisor_b)
        .get(f"/api/v1/reports/{clinical_record['disclosed']}/")
        .status_code
        == 404
    )


def test_admin_site_has_no_clinical_models(cast: Cast) -> None:
    from django.contrib import admin

    registered = {model._meta.label for model in admin.site._registry}
    assert registered.isdisjoint(
        {
            "casework.CaseNote",
            "casework.ManagementReport",
            "checkins.Screening",
            "checkins.CheckIn",
            "exposure.Restriction",
            "exposure.ExposureSession",
            "alerts.Alert",
            "alerts.CaseOwner",
            "alerts.Notification",
        }
    )


def test_officer_sees_restriction_limits_not_reasons(
    cast: Cast, clinical_record: dict[str, int]
) -> None:
    rows = client_for(cast.officer_a1.user).get("/api/v1/restrictions/").json()["results"]
    assert rows[0]["daily_minutes"] == 120
    assert rows[0]["reason"] is None
    assert date.fromisoformat(rows[0]["starts_on"]) == date(2027, 3, 1)
