"""The SCIM documents as pure functions: reading, PATCH, projection, paging, dates."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from welfare.directory.rules import (
    ENTERPRISE_SCHEMA,
    USER_SCHEMA,
    ScimInvalid,
    apply_patch,
    membership_plan,
    page,
    project,
    read_group,
    read_user,
    removal_end,
)

USER = {
    "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
    "id": "7",
    "externalId": "oid-7",
    "userName": "jo.bloggs",
    "displayName": "Jo Bloggs",
    "active": True,
    "emails": [{"value": "jo@force.example", "type": "work"}],
    ENTERPRISE_SCHEMA: {"employeeNumber": "D7"},
}
SCHEMAS = (USER_SCHEMA, ENTERPRISE_SCHEMA)


def _patched(*operations: dict[str, Any]) -> dict[str, Any]:
    return apply_patch(USER, list(operations), schemas=SCHEMAS)


@pytest.mark.parametrize(
    ("operation", "attribute", "expected"),
    [
        ({"op": "Replace", "path": "active", "value": "False"}, "active", False),
        ({"op": "replace", "path": "USERNAME", "value": "jo.b"}, "username", "jo.b"),
        (
            {"op": "add", "path": f"{USER_SCHEMA}:displayName", "value": "J B"},
            "display_name",
            "J B",
        ),
        (
            {"op": "replace", "path": f"{ENTERPRISE_SCHEMA}:employeeNumber", "value": "D8"},
            "staff_number",
            "D8",
        ),
        (
            {"op": "replace", "value": {f"{ENTERPRISE_SCHEMA}:employeeNumber": "D9"}},
            "staff_number",
            "D9",
        ),
        (
            {"op": "replace", "path": 'emails[type eq "work"].value', "value": "a@b.example"},
            "email",
            "a@b.example",
        ),
        ({"op": "remove", "path": "emails"}, "email", ""),
        ({"op": "replace", "path": "title", "value": "Sergeant"}, "username", "jo.bloggs"),
    ],
)
def test_patch_operations(operation: dict[str, Any], attribute: str, expected: Any) -> None:
    assert getattr(read_user(_patched(operation)), attribute) == expected


def test_patch_leaves_the_original_alone() -> None:
    _patched({"op": "replace", "path": "userName", "value": "changed"})
    assert USER["userName"] == "jo.bloggs"


@pytest.mark.parametrize(
    ("operations", "scim_type"),
    [
        ([], "invalidSyntax"),
        ([{"op": "move", "path": "active", "value": True}], "invalidSyntax"),
        ([{"op": "remove"}], "noTarget"),
        ([{"op": "replace", "value": "not an object"}], "invalidValue"),
        ([{"op": "replace", "path": 'emails[type co "w"].value', "value": "x"}], "invalidFilter"),
    ],
)
def test_bad_patches(operations: list[Any], scim_type: str) -> None:
    with pytest.raises(ScimInvalid) as raised:
        apply_patch(USER, operations, schemas=SCHEMAS)
    assert raised.value.scim_type == scim_type


def test_members_add_once_and_remove_by_value_or_filter() -> None:
    group = {"externalId": "g", "displayName": "Unit", "members": [{"value": "1"}]}
    added = apply_patch(
        group,
        [{"op": "add", "path": "members", "value": [{"value": "1"}, {"value": "2"}]}],
        schemas=(),
    )
    assert read_group(added).member_ids == {"1", "2"}
    removed = apply_patch(
        added,
        [
            {"op": "remove", "path": "members", "value": [{"value": "1"}]},
            {"op": "remove", "path": 'members[value eq "3"]'},
        ],
        schemas=(),
    )
    assert read_group(removed).member_ids == {"2"}


@pytest.mark.parametrize(
    "change",
    [
        {"userName": ""},
        {"userName": "a" * 151},
        {"externalId": None},
        {"displayName": "x" * 121},
        {"active": None},
        {"password": "x"},
        {"emails": "jo@force.example"},
    ],
)
def test_unreadable_users(change: dict[str, Any]) -> None:
    with pytest.raises(ScimInvalid):
        read_user({**USER, **change})


def test_projection_keeps_id_schemas_and_meta() -> None:
    doc = {**USER, "meta": {}}
    assert set(project(doc, attributes=["userName"], schemas=SCHEMAS)) == {
        "schemas",
        "id",
        "meta",
        "userName",
    }
    assert "emails" not in project(doc, excluded=["emails", "id"], schemas=SCHEMAS)
    assert "id" in project(doc, excluded=["id"], schemas=SCHEMAS)
    kept = project(doc, attributes=[f"{ENTERPRISE_SCHEMA}:employeeNumber"], schemas=SCHEMAS)
    assert ENTERPRISE_SCHEMA in kept


@pytest.mark.parametrize(
    ("start", "count", "expected"),
    [(None, None, (1, 100)), ("0", "5", (1, 5)), ("3", "-1", (3, 0)), ("2", "500", (2, 100))],
)
def test_paging(start: str | None, count: str | None, expected: tuple[int, int]) -> None:
    assert page(start, count, maximum=100) == expected


@pytest.mark.parametrize(
    ("started_on", "effective", "ends"),
    [
        (date(2027, 1, 1), date(2027, 3, 10), date(2027, 3, 9)),
        (date(2027, 3, 10), date(2027, 3, 10), date(2027, 3, 10)),
    ],
)
def test_leaving_ends_the_day_before_but_never_before_the_start(
    started_on: date, effective: date, ends: date
) -> None:
    assert removal_end(started_on=started_on, effective=effective) == ends


def test_membership_plan() -> None:
    assert membership_plan(current=[1, 2, 3], wanted=[3, 4]) == ([4], [1, 2])
