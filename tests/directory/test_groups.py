"""Groups are units: a member of a unit's group is posted there. Moves end one posting and
start the next on the same effective date; what cannot be done is refused whole."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.conftest import Cast
from tests.directory.conftest import Scim, user_body
from welfare.audit.models import AuditEvent
from welfare.people.models import Posting, Unit
from welfare.people.services import unit_update

pytestmark = pytest.mark.usefixtures("clock")


def _last_event() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


@pytest.fixture
def mapped(cast: Cast) -> Cast:
    unit_update(actor=cast.admin, unit=cast.unit_a, changes={"directory_group": "grp-a"})
    unit_update(actor=cast.admin, unit=cast.unit_b, changes={"directory_group": "grp-b"})
    return cast


def _person(scim: Scim, n: int) -> str:
    response = scim.post("Users", user_body(f"oid-{n}", f"person.{n}", staff=f"D{n}"))
    assert response.status_code == 201, response.content
    return str(response.json()["id"])


def _add(user_id: str) -> dict[str, Any]:
    return {"op": "Add", "path": "members", "value": [{"value": user_id}]}


def _remove(user_id: str) -> dict[str, Any]:
    return {"op": "Remove", "path": f'members[value eq "{user_id}"]'}


def _postings(user_id: str) -> list[tuple[str, date, date | None]]:
    return [
        (p.unit.name, p.started_on, p.ended_on)
        for p in Posting.objects.filter(officer__user_id=user_id).order_by("started_on", "id")
    ]


def _state() -> tuple[list[tuple[Any, ...]], int]:
    rows = list(Posting.objects.order_by("id").values_list("id", "unit_id", "ended_on"))
    return rows, AuditEvent.objects.count()


def test_groups_are_the_mapped_units(scim: Scim, mapped: Cast) -> None:
    listed = scim.get("Groups").json()
    assert [(g["displayName"], g["externalId"]) for g in listed["Resources"]] == [
        ("Unit A", "grp-a"),
        ("Unit B", "grp-b"),
    ]
    # People posted by hand are not the directory's to list (or to remove).
    assert all("members" not in g for g in listed["Resources"])
    found = scim.get("Groups", filter='displayName eq "Unit B"').json()["Resources"]
    assert [g["id"] for g in found] == [str(mapped.unit_b.pk)]


def test_adding_to_a_group_starts_a_posting_today(scim: Scim, mapped: Cast, clock: Any) -> None:
    user_id = _person(scim, 1)
    before = _last_event()
    response = scim.patch(f"Groups/{mapped.unit_a.pk}", _add(user_id))
    assert response.status_code == 200, response.content
    assert response.json()["members"] == [
        {"value": user_id, "$ref": f"http://127.0.0.1:8000/scim/v2/Users/{user_id}", "type": "User"}
    ]
    assert _postings(user_id) == [("Unit A", clock.today(), None)]
    started = AuditEvent.objects.get(id__gt=before, action="posting.started")
    assert (started.actor_id, started.actor_role) == (None, "directory")
    # The directory sends it again (a retry): nothing more.
    state = _state()
    assert scim.patch(f"Groups/{mapped.unit_a.pk}", _add(user_id)).status_code == 200
    assert _state() == state


@pytest.mark.parametrize("order", ["add_then_remove", "remove_then_add"])
def test_a_move_ends_one_posting_and_starts_the_next_on_the_same_date(
    scim: Scim, mapped: Cast, clock: Any, order: str
) -> None:
    user_id = _person(scim, 1)
    scim.patch(f"Groups/{mapped.unit_a.pk}", _add(user_id))
    joined = clock.today()
    clock.advance(days=30)
    moves = [(mapped.unit_b, _add(user_id)), (mapped.unit_a, _remove(user_id))]
    for unit, operation in moves if order == "add_then_remove" else moves[::-1]:
        response = scim.patch(f"Groups/{unit.pk}", operation)
        assert response.status_code == 200, response.content
    today = clock.today()
    assert _postings(user_id) == [
        ("Unit A", joined, today - timedelta(days=1)),
        ("Unit B", today, None),
    ]


def test_leaving_a_group_ends_the_posting_the_day_before(
    scim: Scim, mapped: Cast, clock: Any
) -> None:
    user_id = _person(scim, 1)
    scim.patch(f"Groups/{mapped.unit_a.pk}", _add(user_id))
    clock.advance(days=10)
    scim.patch(f"Groups/{mapped.unit_a.pk}", _remove(user_id))
    assert _postings(user_id)[0][2] == clock.today() - timedelta(days=1)
    ended = AuditEvent.objects.get(action="posting.ended")
    assert ended.actor_role == "directory"


def test_a_move_that_would_overlap_is_refused_and_changes_nothing(scim: Scim, mapped: Cast) -> None:
    user_id = _person(scim, 1)
    scim.patch(f"Groups/{mapped.unit_a.pk}", _add(user_id))  # posted today
    state = _state()
    response = scim.patch(f"Groups/{mapped.unit_b.pk}", _add(user_id))  # and elsewhere today
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert "cannot be posted" in body["detail"]
    assert _state() == state


def test_an_unknown_member_refuses_the_whole_request(scim: Scim, mapped: Cast) -> None:
    user_id = _person(scim, 1)
    state = _state()
    for bad in ("999999", "not-an-id", str(mapped.officer_a1.user_id)):
        response = scim.patch(
            f"Groups/{mapped.unit_b.pk}",
            {"op": "add", "path": "members", "value": [{"value": user_id}, {"value": bad}]},
        )
        assert response.status_code == 400, response.content
        assert response.json()["scimType"] == "invalidValue"
    assert _state() == state


def test_a_group_with_no_unit_is_refused(scim: Scim, mapped: Cast, settings: Any) -> None:
    units = Unit.objects.count()
    group = {"externalId": "grp-x", "displayName": "Unit X", "members": []}
    response = scim.post("Groups", group)
    assert (response.status_code, response.json()["scimType"]) == (400, "invalidValue")
    mapped_again = {"externalId": "grp-a", "displayName": "Unit A"}
    assert scim.post("Groups", mapped_again).json()["scimType"] == "uniqueness"
    settings.SCIM_GROUP_MATCH = "name"
    assert scim.post("Groups", group).status_code == 400
    assert Unit.objects.count() == units


def test_by_name_the_first_post_maps_the_unit(scim: Scim, cast: Cast, settings: Any) -> None:
    settings.SCIM_GROUP_MATCH = "name"
    user_id = _person(scim, 1)
    group = {"externalId": "grp-b", "displayName": "unit b", "members": [{"value": user_id}]}
    response = scim.post("Groups", group)
    assert response.status_code == 201, response.content
    assert response.json()["id"] == str(cast.unit_b.pk)
    assert Unit.objects.get(pk=cast.unit_b.pk).directory_group == "grp-b"
    assert _postings(user_id)[0][0] == "Unit B"
    state = _state()
    assert scim.post("Groups", group).status_code == 409  # a retry
    assert _state() == state


def test_replacing_members_leaves_people_posted_by_hand(scim: Scim, mapped: Cast) -> None:
    user_id = _person(scim, 1)
    scim.patch(f"Groups/{mapped.unit_a.pk}", _add(user_id))
    response = scim.put(
        f"Groups/{mapped.unit_a.pk}", {"externalId": "grp-a", "displayName": "Unit A"}
    )
    assert response.status_code == 200, response.content
    assert _postings(user_id)[0][2] is not None
    hand_posted = Posting.objects.filter(unit=mapped.unit_a, ended_on__isnull=True)
    assert set(hand_posted.values_list("officer_id", flat=True)) == {
        mapped.officer_a1.pk,
        mapped.officer_a2.pk,
    }


def test_deleting_a_group_unmaps_the_unit_and_moves_nobody(scim: Scim, mapped: Cast) -> None:
    user_id = _person(scim, 1)
    scim.patch(f"Groups/{mapped.unit_a.pk}", _add(user_id))
    assert scim.delete(f"Groups/{mapped.unit_a.pk}").status_code == 204
    assert scim.get(f"Groups/{mapped.unit_a.pk}").status_code == 404
    assert Unit.objects.get(pk=mapped.unit_a.pk).directory_group is None
    assert _postings(user_id)[0][2] is None


def test_the_effective_day_is_the_forces_local_day(scim: Scim, mapped: Cast, clock: Any) -> None:
    from datetime import UTC, datetime

    clock.set(datetime(2027, 6, 30, 23, 30, tzinfo=UTC))  # 00:30 on 1 July in London (BST)
    user_id = _person(scim, 1)
    scim.patch(f"Groups/{mapped.unit_a.pk}", _add(user_id))
    assert _postings(user_id) == [("Unit A", date(2027, 7, 1), None)]


def test_an_administrator_maps_a_unit_to_its_group(scim: Scim, cast: Cast) -> None:
    from tests.conftest import client_for

    admin = client_for(cast.admin)
    response = admin.patch(
        f"/api/v1/units/{cast.unit_a.pk}/", {"directory_group": "grp-a"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["directory_group"] == "grp-a"
    clash = admin.patch(
        f"/api/v1/units/{cast.unit_b.pk}/", {"directory_group": "grp-a"}, format="json"
    )
    assert clash.status_code == 400
    assert "directory_group" in clash.json()
    assert scim.get(f"Groups/{cast.unit_a.pk}").json()["externalId"] == "grp-a"
    refused = client_for(cast.supervisor_a).patch(
        f"/api/v1/units/{cast.unit_a.pk}/", {"directory_group": "grp-x"}, format="json"
    )
    assert refused.status_code == 403
    assert Unit.objects.get(pk=cast.unit_a.pk).directory_group == "grp-a"


def test_lists_take_a_fixed_number_of_queries(
    scim: Scim, mapped: Cast, django_assert_max_num_queries: Any
) -> None:
    people = [_person(scim, n) for n in range(6)]
    for user_id in people[:3]:
        scim.patch(f"Groups/{mapped.unit_a.pk}", _add(user_id))
    # Two savepoints (the request's transaction, then this one's) and their releases, a count
    # and the page; for groups, one more per unit listed (its members).
    with django_assert_max_num_queries(6):
        assert scim.get("Users").json()["totalResults"] == 6
    with django_assert_max_num_queries(6 + 2):
        groups = scim.get("Groups").json()["Resources"]
    assert [len(g.get("members", [])) for g in groups] == [3, 0]


@pytest.mark.django_db(transaction=True)
def test_two_patches_at_once_both_count(scim_on: None, cast: Cast) -> None:
    from tests.conftest import run_together

    unit_update(actor=cast.admin, unit=cast.unit_a, changes={"directory_group": "grp-a"})
    scim = Scim()
    first, second = _person(scim, 1), _person(scim, 2)
    answers = run_together(
        lambda: Scim().patch(f"Groups/{cast.unit_a.pk}", _add(first)).status_code,
        lambda: Scim().patch(f"Groups/{cast.unit_a.pk}", _add(second)).status_code,
    )
    assert answers == [200, 200]
    members = scim.get(f"Groups/{cast.unit_a.pk}").json()["members"]
    assert sorted(m["value"] for m in members) == sorted([first, second])
