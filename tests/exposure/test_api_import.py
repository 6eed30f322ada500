"""Bulk import of a review tool's time-on-task: per-row report, idempotent rows."""

from __future__ import annotations

import pytest

from tests.conftest import Cast, client_for
from welfare.audit.models import AuditEvent
from welfare.exposure.models import DailyTotal, ExposureSession
from welfare.exposure.services import UNKNOWN_STAFF_NUMBER

URL = "/api/v1/exposures/import"

CSV = """staff_number,started_at,ended_at,material,category,violent,items_reviewed,activity,client_ref
T0001,2027-03-08T09:00:00+00:00,2027-03-08T10:00:00+00:00,image,A,true,1200,grading,tool-row-1
T0002,2027-03-08T09:00:00+00:00,2027-03-08T09:30:00+00:00,video_with_audio,B,false,,,tool-row-2
T0001,2027-03-08T09:30:00+00:00,2027-03-08T09:45:00+00:00,image,C,,,,tool-row-3
T0003,2027-03-08T09:00:00+00:00,2027-03-08T09:30:00+00:00,image,C,,,,tool-row-4
T0002,2027-03-08T11:00:00+00:00,2027-03-08T10:00:00+00:00,image,C,,,,tool-row-5
T0002,2027-03-08T12:00:00+00:00,2027-03-08T12:30:00+00:00,hologram,C,,,,tool-row-6
T9999,2027-03-08T12:00:00+00:00,2027-03-08T12:30:00+00:00,image,C,,,,tool-row-7
"""


def post_csv(client, body: str = CSV):
    return client.generic("POST", URL, body.encode(), content_type="text/csv")


def test_mixed_rows_report_and_store_the_good_ones(cast: Cast, clock) -> None:
    response = post_csv(client_for(cast.supervisor_a))
    assert response.status_code == 200, response.content
    report = response.json()
    statuses = [row["status"] for row in report["rows"]]
    assert statuses == [
        "created",
        "created",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
    ]
    assert (report["created"], report["duplicates"], report["rejected"]) == (2, 0, 5)
    rows = {row["row"]: row for row in report["rows"]}
    assert "overlaps" in rows[3]["errors"]["started_at"][0]
    assert rows[4]["errors"] == {
        "staff_number": [UNKNOWN_STAFF_NUMBER]
    }  # unit B: not supervisor A's
    assert "ended_at" in rows[5]["errors"]
    assert "material" in rows[6]["errors"]
    assert rows[7]["errors"] == {"staff_number": [UNKNOWN_STAFF_NUMBER]}
    stored = ExposureSession.objects.order_by("id")
    assert [(s.officer_id, s.source, s.recorded_by_id) for s in stored] == [
        (cast.officer_a1.pk, "import", cast.supervisor_a.pk),
        (cast.officer_a2.pk, "import", cast.supervisor_a.pk),
    ]
    assert stored[0].items_reviewed == 1200
    assert stored[0].violent is True
    assert DailyTotal.objects.get(officer=cast.officer_a1).seconds == 3600
    event = AuditEvent.objects.get(action="exposure.imported")
    assert event.detail == {"created": 2, "duplicates": 0, "rejected": 5}


def test_the_same_file_twice_stores_each_row_once(cast: Cast, clock) -> None:
    client = client_for(cast.supervisor_a)
    post_csv(client)
    again = post_csv(client).json()
    assert (again["created"], again["duplicates"], again["rejected"]) == (0, 2, 5)
    assert ExposureSession.objects.count() == 2
    assert DailyTotal.objects.get(officer=cast.officer_a1).seconds == 3600


def test_json_import_by_admin_for_any_unit(cast: Cast, clock) -> None:
    rows = [
        {
            "staff_number": "t0003",
            "started_at": "2027-03-08T09:00:00Z",
            "ended_at": "2027-03-08T09:40:00Z",
            "material": "live",
            "category": "A",
            "client_ref": "6c4f4d1e-0d4b-4c1f-9a8e-1d2f3a4b5c6d",
        },
        "not a row",
    ]
    report = client_for(cast.admin).post(URL, rows, format="json").json()
    assert [row["status"] for row in report["rows"]] == ["created", "rejected"]
    session = ExposureSession.objects.get()
    assert session.officer == cast.officer_b1
    assert str(session.client_ref) == "6c4f4d1e-0d4b-4c1f-9a8e-1d2f3a4b5c6d"


@pytest.mark.parametrize("body", [[], {"rows": "x"}, {"something": []}, "plain"])
def test_import_shape_is_checked(cast: Cast, body) -> None:
    response = client_for(cast.admin).post(URL, body, format="json")
    assert response.status_code == 400
    assert "rows" in response.json()
    assert not ExposureSession.objects.exists()
    assert not AuditEvent.objects.filter(action="exposure.imported").exists()


def test_import_size_is_bounded(cast: Cast) -> None:
    from welfare.exposure.api import MAX_IMPORT_ROWS

    rows = [{"staff_number": "T0001"}] * (MAX_IMPORT_ROWS + 1)
    assert client_for(cast.admin).post(URL, rows, format="json").status_code == 400


def test_who_may_import(cast: Cast) -> None:
    for user in (cast.officer_a1.user, cast.oh1, cast.hr):
        assert post_csv(client_for(user)).status_code == 403
    assert not ExposureSession.objects.exists()
