"""Units, officers and postings: admin writes, scoped reads, posting history."""

from __future__ import annotations

from datetime import date

import pytest

from tests.conftest import Cast, client_for, field_errors, make_user
from welfare.accounts.models import User
from welfare.audit.models import AuditEvent
from welfare.core.roles import Role
from welfare.people.models import Officer, Posting, Unit
from welfare.people.rules import POSTING_DATE_OUT_OF_RANGE, POSTING_START_NOT_AFTER_OPEN
from welfare.people.services import (
    ACTIVE_USER_REQUIRED,
    OFFICER_EXISTS,
    POSTING_NEEDS_BOTH,
    SUPERVISOR_ROLE_REQUIRED,
    UNIT_NAME_TAKEN,
)


def ids(response) -> set[int]:
    return {row["id"] for row in response.json()["results"]}


def test_supervisor_sees_only_own_units_officers(cast: Cast) -> None:
    client = client_for(cast.supervisor_a)
    assert ids(client.get("/api/v1/officers/")) == {cast.officer_a1.pk, cast.officer_a2.pk}


def test_supervisor_cannot_see_other_unit(cast: Cast) -> None:
    client = client_for(cast.supervisor_a)
    assert client.get(f"/api/v1/officers/{cast.officer_b1.pk}/").status_code == 404
    assert client.get(f"/api/v1/officers/{cast.officer_b1.pk}/postings/").status_code == 404
    assert client.get(f"/api/v1/units/{cast.unit_b.pk}/").status_code == 404


def test_officer_sees_only_self(cast: Cast) -> None:
    client = client_for(cast.officer_a1.user)
    assert ids(client.get("/api/v1/officers/")) == {cast.officer_a1.pk}
    assert client.get(f"/api/v1/officers/{cast.officer_a2.pk}/").status_code == 404
    assert ids(client.get("/api/v1/units/")) == {cast.unit_a.pk}


def test_oh_and_admin_see_everyone(cast: Cast) -> None:
    for user in (cast.oh1, cast.admin):
        assert len(ids(client_for(user).get("/api/v1/officers/"))) == 3


def test_officer_record_shape(cast: Cast) -> None:
    body = client_for(cast.officer_a1.user).get(f"/api/v1/officers/{cast.officer_a1.pk}/").json()
    assert body == {
        "id": cast.officer_a1.pk,
        "user": cast.officer_a1.user.pk,
        "staff_number": "T0001",
        "display_name": "Test off.a1",
        "unit": cast.unit_a.pk,
        "posted_since": "2025-06-01",
    }


def test_me_shows_officer_record_and_supervised_units(cast: Cast) -> None:
    officer = client_for(cast.officer_a1.user).get("/api/v1/me").json()
    assert officer["officer"]["id"] == cast.officer_a1.pk
    assert officer["role"] == "officer"
    supervisor = client_for(cast.supervisor_a).get("/api/v1/me").json()
    assert supervisor["units"] == [
        {"id": cast.unit_a.pk, "name": "Unit A", "kind": "abusive_images"}
    ]


def test_admin_creates_unit_with_supervisors(cast: Cast) -> None:
    client = client_for(cast.admin)
    response = client.post(
        "/api/v1/units/",
        {"name": "OCSAE West", "kind": "online_cse", "supervisors": [cast.supervisor_b.pk]},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["supervisors"] == [cast.supervisor_b.pk]
    assert ids(client_for(cast.supervisor_b).get("/api/v1/units/")) == {
        cast.unit_b.pk,
        response.json()["id"],
    }


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"kind": "online_cse"}, "name"),
        ({"name": "X", "kind": "cyber"}, "kind"),
        ({"name": "unit a", "kind": "other"}, {"name": [UNIT_NAME_TAKEN]}),
        ({"name": "X", "kind": "other", "supervisors": [999999]}, "supervisors"),
        ({"name": "X", "kind": "other", "supervisors": ["officer"]}, "supervisors"),
    ],
)
def test_bad_unit_input(cast: Cast, body: dict, expected) -> None:
    before = (Unit.objects.count(), AuditEvent.objects.count())
    response = client_for(cast.admin).post("/api/v1/units/", body, format="json")
    assert response.status_code == 400
    if isinstance(expected, dict):
        assert field_errors(response, code=None) == expected
    else:
        assert expected in response.json()
    assert (Unit.objects.count(), AuditEvent.objects.count()) == before


def test_unit_supervisors_must_be_supervisors(cast: Cast) -> None:
    response = client_for(cast.admin).patch(
        f"/api/v1/units/{cast.unit_a.pk}/", {"supervisors": [cast.oh1.pk]}, format="json"
    )
    assert response.status_code == 400
    assert field_errors(response) == {
        "supervisors": [SUPERVISOR_ROLE_REQUIRED.format(user_id=cast.oh1.pk)]
    }
    assert list(cast.unit_a.supervisors.all()) == [cast.supervisor_a]


def test_admin_creates_officer_with_first_posting(cast: Cast) -> None:
    user = make_user("off.new", Role.OFFICER)
    response = client_for(cast.admin).post(
        "/api/v1/officers/",
        {
            "user": user.pk,
            "staff_number": "T0100",
            "display_name": "Test New",
            "unit": cast.unit_b.pk,
            "posted_since": "2027-02-01",
        },
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["unit"] == cast.unit_b.pk
    assert response.json()["posted_since"] == "2027-02-01"
    officer = Officer.objects.get(user=user)
    assert list(officer.postings.values_list("unit_id", "started_on", "ended_on")) == [
        (cast.unit_b.pk, date(2027, 2, 1), None)
    ]


@pytest.mark.parametrize(
    ("who", "extra", "expected"),
    [
        ("inactive", {}, {"user": [ACTIVE_USER_REQUIRED]}),
        ("existing", {}, {"user": [OFFICER_EXISTS]}),
        ("fresh", {"unit": "UNIT"}, {"posted_since": [POSTING_NEEDS_BOTH]}),
        ("fresh", {"staff_number": "T 01"}, "staff_number"),
        ("fresh", {"staff_number": "t0001"}, "staff_number"),
        ("fresh", {"display_name": ""}, "display_name"),
        ("fresh", {"unit": "UNIT", "posted_since": "01/02/2027"}, "posted_since"),
    ],
)
def test_bad_officer_input(cast: Cast, who: str, extra: dict, expected) -> None:
    user = {"existing": cast.officer_a1.user}.get(who) or make_user("off.fresh", Role.OFFICER)
    if who == "inactive":
        User.objects.filter(pk=user.pk).update(is_active=False)
    body = {"user": user.pk, "staff_number": "T0200", "display_name": "Test Fresh", **extra}
    if body.get("unit") == "UNIT":
        body["unit"] = cast.unit_a.pk
    before = (Officer.objects.count(), Posting.objects.count(), AuditEvent.objects.count())
    response = client_for(cast.admin).post("/api/v1/officers/", body, format="json")
    assert response.status_code == 400
    if isinstance(expected, dict):
        assert field_errors(response, code=None) == expected
    else:
        assert expected in response.json()
    assert (Officer.objects.count(), Posting.objects.count(), AuditEvent.objects.count()) == before


def test_new_posting_ends_the_open_one_the_day_before(cast: Cast) -> None:
    client = client_for(cast.admin)
    url = f"/api/v1/officers/{cast.officer_a1.pk}/postings/"
    response = client.post(url, {"unit": cast.unit_b.pk, "started_on": "2027-03-01"}, format="json")
    assert response.status_code == 201
    history = client.get(url).json()
    assert [(p["unit"], p["started_on"], p["ended_on"]) for p in history] == [
        (cast.unit_b.pk, "2027-03-01", None),
        (cast.unit_a.pk, "2025-06-01", "2027-02-28"),
    ]
    # The officer has moved: supervisor A no longer sees them, supervisor B does.
    assert (
        client_for(cast.supervisor_a).get(f"/api/v1/officers/{cast.officer_a1.pk}/").status_code
        == 404
    )
    assert (
        client_for(cast.supervisor_b).get(f"/api/v1/officers/{cast.officer_a1.pk}/").status_code
        == 200
    )
    assert AuditEvent.objects.filter(
        action="posting.ended", target_id=str(cast.officer_a1.pk)
    ).exists()


def test_posting_must_start_after_the_open_one(cast: Cast) -> None:
    before = Posting.objects.count()
    response = client_for(cast.admin).post(
        f"/api/v1/officers/{cast.officer_a1.pk}/postings/",
        {"unit": cast.unit_b.pk, "started_on": "2025-06-01"},
        format="json",
    )
    assert response.status_code == 400
    assert field_errors(response) == {
        "started_on": [POSTING_START_NOT_AFTER_OPEN.format(started_on="2025-06-01")]
    }
    assert Posting.objects.count() == before
    assert Posting.objects.get(officer=cast.officer_a1).ended_on is None


def test_end_posting_and_after(cast: Cast) -> None:
    client = client_for(cast.admin)
    posting = cast.officer_a2.postings.get()
    url = f"/api/v1/officers/{cast.officer_a2.pk}/postings/{posting.pk}/end"
    early = client.post(url, {"ended_on": "2025-01-01"}, format="json")
    assert early.status_code == 400
    assert "ended_on" in early.json()
    ended = client.post(url, {"ended_on": "2027-03-01"}, format="json")
    assert ended.status_code == 200
    assert ended.json()["ended_on"] == "2027-03-01"
    again = client.post(url, {"ended_on": "2027-03-05"}, format="json")
    assert again.status_code == 400
    # A later posting may start after the end; one that overlaps it may not.
    overlap = client.post(
        f"/api/v1/officers/{cast.officer_a2.pk}/postings/",
        {"unit": cast.unit_b.pk, "started_on": "2027-02-20"},
        format="json",
    )
    assert overlap.status_code == 400
    later = client.post(
        f"/api/v1/officers/{cast.officer_a2.pk}/postings/",
        {"unit": cast.unit_b.pk, "started_on": "2027-03-02"},
        format="json",
    )
    assert later.status_code == 201


@pytest.mark.parametrize("day", ["1999-12-31", "9999-12-31"])
def test_posting_dates_outside_the_window_are_refused_not_a_server_error(
    cast: Cast, day: str
) -> None:
    """The overlap constraint counts days from 2000 in six digits: a date outside its window
    once collided with another officer's range (a 500 when ending a posting)."""
    client = client_for(cast.admin)
    officer = cast.officer_a2
    posting = officer.postings.get()
    started = client.post(
        f"/api/v1/officers/{officer.pk}/postings/",
        {"unit": cast.unit_b.pk, "started_on": day},
        format="json",
    )
    ended = client.post(
        f"/api/v1/officers/{officer.pk}/postings/{posting.pk}/end", {"ended_on": day}, format="json"
    )
    assert started.status_code == 400
    assert field_errors(started) == {"started_on": [POSTING_DATE_OUT_OF_RANGE]}
    assert ended.status_code == 400
    assert Posting.objects.get(pk=posting.pk).ended_on is None


def test_database_refuses_overlapping_postings(cast: Cast) -> None:
    from django.db import IntegrityError, transaction

    posting = cast.officer_b1.postings.get()
    posting.ended_on = date(2026, 12, 31)
    posting.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        Posting.objects.create(
            officer=cast.officer_b1,
            unit=cast.unit_a,
            started_on=date(2026, 12, 1),
            created_at=posting.created_at,
        )
    # Another officer's postings never collide with these.
    Posting.objects.filter(officer=cast.officer_a1).update(ended_on=date(2026, 12, 31))
    Posting.objects.create(
        officer=cast.officer_a1,
        unit=cast.unit_b,
        started_on=date(2027, 1, 1),
        created_at=posting.created_at,
    )


def test_list_query_counts_are_pinned_and_flat(cast: Cast, django_assert_max_num_queries) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from welfare.people.services import officer_create

    client = client_for(cast.supervisor_a)

    def count(url: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    small = {url: count(url) for url in ("/api/v1/officers/", "/api/v1/units/")}
    for n in range(10):
        user = make_user(f"off.extra{n}", Role.OFFICER)
        officer_create(
            actor=cast.admin,
            user=user,
            staff_number=f"E{n:03d}",
            display_name=f"Extra {n}",
            unit=cast.unit_a,
            posted_since=date(2026, 5, 1),
        )
    for url, queries in small.items():
        assert count(url) == queries, url
    with django_assert_max_num_queries(6):
        response = client.get("/api/v1/officers/")
    assert response.json()["count"] == 12
