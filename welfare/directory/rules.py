"""SCIM 2.0 documents as pure functions: reading a User or Group the directory sends,
applying a PATCH to a document, projecting `attributes`, membership plans and dates.

Attribute names are case-insensitive in SCIM (RFC 7643 §2.1); attributes this service
does not keep (title, addresses, phone numbers...) are ignored, as the README says, so a
directory that sends its default mappings is not refused for them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

# Lengths of the columns the values land in.
USERNAME_MAX = 150
EXTERNAL_ID_MAX = 255
DISPLAY_NAME_MAX = 120
EMAIL_MAX = 254
STAFF_NUMBER_MAX = 64
UNIT_NAME_MAX = 120

_USERNAME = re.compile(r"^[\w.@+-]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_FILTERED_PATH = re.compile(
    r'^(?P<attr>[A-Za-z$][\w$-]*)\[\s*(?P<sub>[A-Za-z$][\w$-]*)\s+eq\s+"(?P<value>[^"]*)"\s*\]'
    r"(?:\.(?P<then>[A-Za-z$][\w$-]*))?$",
    re.IGNORECASE,
)

MISSING = "{attribute} is required."
NOT_A_STRING = "{attribute} must be a non-empty string of at most {limit} characters."
NOT_A_BOOLEAN = "{attribute} must be true or false."
USERNAME_CHARACTERS = "userName may contain letters, digits and @ . + - _ only."
EMAIL_INVALID = "emails must hold valid e-mail addresses."
PASSWORD_REFUSED = "Passwords are not accepted: people sign in through the force's directory."  # noqa: S105
MEMBERS_INVALID = 'members must be a list of {"value": "<user id>"}.'
OP_UNKNOWN = "Each operation's op is add, remove or replace."
OPERATIONS_MISSING = "A PATCH needs a list of Operations."
REMOVE_NEEDS_PATH = "A remove operation needs a path."
PATH_UNSUPPORTED = "This path cannot be patched: {path}."
VALUE_NOT_OBJECT = "An operation without a path needs an object as its value."


class ScimInvalid(ValueError):
    """The document is not acceptable; `scim_type` is RFC 7644's (invalidValue...)."""

    def __init__(self, message: str, scim_type: str = "invalidValue") -> None:
        super().__init__(message)
        self.message = message
        self.scim_type = scim_type


@dataclass(frozen=True)
class UserFields:
    username: str
    external_id: str
    display_name: str
    email: str
    active: bool
    staff_number: str | None


@dataclass(frozen=True)
class GroupFields:
    external_id: str
    display_name: str
    member_ids: frozenset[str]


def _find(doc: Mapping[str, Any], name: str) -> Any:
    """An attribute's value by case-insensitive name (None when absent)."""
    for key, value in doc.items():
        if key.lower() == name.lower():
            return value
    return None


def _string(value: Any, attribute: str, limit: int, *, required: bool = True) -> str:
    if value is None or value == "":
        if required:
            raise ScimInvalid(MISSING.format(attribute=attribute))
        return ""
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise ScimInvalid(NOT_A_STRING.format(attribute=attribute, limit=limit))
    return value.strip()


def _boolean(value: Any, attribute: str) -> bool:
    if isinstance(value, bool):
        return value
    # Some directories (Entra ID among them) send "True"/"False" in PATCH values.
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ScimInvalid(NOT_A_BOOLEAN.format(attribute=attribute))


def primary_email(value: Any) -> str:
    """The primary e-mail of an `emails` value (the first when none is primary), or ""."""
    if value is None or value == []:
        return ""
    if isinstance(value, Mapping):  # one object instead of a list: seen from some clients
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise ScimInvalid(EMAIL_INVALID)
    chosen = next((item for item in value if _find(item, "primary") is True), value[0])
    email = _find(chosen, "value")
    if email is None or email == "":
        return ""
    if not isinstance(email, str) or len(email) > EMAIL_MAX or not _EMAIL.match(email.strip()):
        raise ScimInvalid(EMAIL_INVALID)
    return email.strip()


def read_user(doc: Mapping[str, Any]) -> UserFields:
    """The fields this service keeps from a full User document (POST, PUT, or a PATCH
    applied to the current document). Raises ScimInvalid."""
    if not isinstance(doc, Mapping):
        raise ScimInvalid("The body must be a JSON object.", "invalidSyntax")
    if _find(doc, "password") is not None:
        raise ScimInvalid(PASSWORD_REFUSED)
    username = _string(_find(doc, "userName"), "userName", USERNAME_MAX)
    if not _USERNAME.match(username):
        raise ScimInvalid(USERNAME_CHARACTERS)
    external_id = _string(_find(doc, "externalId"), "externalId", EXTERNAL_ID_MAX)
    display_name = _string(_find(doc, "displayName"), "displayName", DISPLAY_NAME_MAX)
    active_value = _find(doc, "active")
    if active_value is None:
        raise ScimInvalid(MISSING.format(attribute="active"))
    enterprise = _find(doc, ENTERPRISE_SCHEMA) or {}
    if not isinstance(enterprise, Mapping):
        raise ScimInvalid(f"{ENTERPRISE_SCHEMA} must be an object.")
    staff_number = _string(
        _find(enterprise, "employeeNumber"), "employeeNumber", STAFF_NUMBER_MAX, required=False
    )
    return UserFields(
        username=username,
        external_id=external_id,
        display_name=display_name,
        email=primary_email(_find(doc, "emails")),
        active=_boolean(active_value, "active"),
        staff_number=staff_number or None,
    )


def read_members(value: Any) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list):
        raise ScimInvalid(MEMBERS_INVALID)
    ids: set[str] = set()
    for item in value:
        member = _find(item, "value") if isinstance(item, Mapping) else None
        if not isinstance(member, str | int) or isinstance(member, bool) or member == "":
            raise ScimInvalid(MEMBERS_INVALID)
        ids.add(str(member))
    return frozenset(ids)


def read_group(doc: Mapping[str, Any]) -> GroupFields:
    if not isinstance(doc, Mapping):
        raise ScimInvalid("The body must be a JSON object.", "invalidSyntax")
    return GroupFields(
        external_id=_string(_find(doc, "externalId"), "externalId", EXTERNAL_ID_MAX),
        display_name=_string(_find(doc, "displayName"), "displayName", UNIT_NAME_MAX),
        member_ids=read_members(_find(doc, "members")),
    )


# --- PATCH (RFC 7644 §3.5.2) ------------------------------------------------------------------


def _canonical(doc: dict[str, Any], name: str) -> str:
    """The key `name` already has in `doc` (case-insensitively), or `name` itself."""
    return next((key for key in doc if key.lower() == name.lower()), name)


def _merge(old: Any, new: Any, *, key: str) -> Any:
    """`add` to a multi-valued attribute appends the new values (members once each)."""
    if not isinstance(old, list) or not isinstance(new, list):
        return new
    seen = {str(_find(item, key)) for item in old if isinstance(item, Mapping)}
    return old + [
        item for item in new if not (isinstance(item, Mapping) and str(_find(item, key)) in seen)
    ]


def _apply(doc: dict[str, Any], op: str, path: str, value: Any, schemas: Iterable[str]) -> None:
    for urn in schemas:  # "urn:...:User:userName" or "urn:...:enterprise:2.0:User:employeeNumber"
        if path.lower().startswith(urn.lower() + ":"):
            rest = path[len(urn) + 1 :]
            if urn.lower() in (USER_SCHEMA.lower(), GROUP_SCHEMA.lower()):
                _apply(doc, op, rest, value, ())
            else:
                container = doc.setdefault(_canonical(doc, urn), {})
                if not isinstance(container, dict):
                    raise ScimInvalid(PATH_UNSUPPORTED.format(path=path), "invalidPath")
                _apply(container, op, rest, value, ())
            return
        if path.lower() == urn.lower() and urn.lower() not in (
            USER_SCHEMA.lower(),
            GROUP_SCHEMA.lower(),
        ):
            if op == "remove":
                doc.pop(_canonical(doc, urn), None)
            elif isinstance(value, Mapping):
                container = doc.setdefault(_canonical(doc, urn), {})
                container.update(value)
            else:
                raise ScimInvalid(VALUE_NOT_OBJECT, "invalidValue")
            return
    filtered = _FILTERED_PATH.match(path)
    if filtered:
        attr = _canonical(doc, filtered["attr"])
        items = doc.get(attr) or []
        if not isinstance(items, list):
            raise ScimInvalid(PATH_UNSUPPORTED.format(path=path), "invalidPath")
        matching: list[dict[str, Any]] = [
            item
            for item in items
            if isinstance(item, dict) and str(_find(item, filtered["sub"])) == filtered["value"]
        ]
        then = filtered["then"]
        if op == "remove" and not then:
            doc[attr] = [item for item in items if item not in matching]
            return
        if not matching:
            if op == "remove":
                return
            # Entra ID: replace emails[type eq "work"].value on a user with no such e-mail.
            new_item: dict[str, Any] = {filtered["sub"]: filtered["value"]}
            items = [*items, new_item]
            doc[attr] = items
            matching = [new_item]
        for entry in matching:
            if not then:
                if isinstance(value, Mapping):
                    entry.update(value)
                continue
            if op == "remove":
                entry.pop(_canonical(entry, then), None)
            else:
                entry[_canonical(entry, then)] = value
        return
    if "[" in path:
        raise ScimInvalid(PATH_UNSUPPORTED.format(path=path), "invalidFilter")
    head, _, sub = path.partition(".")
    key = _canonical(doc, head)
    if sub:
        container = doc.setdefault(key, {})
        if not isinstance(container, dict):
            raise ScimInvalid(PATH_UNSUPPORTED.format(path=path), "invalidPath")
        _apply(container, op, sub, value, ())
        return
    if op == "remove":
        if isinstance(value, list) and isinstance(doc.get(key), list):
            # Entra ID removes members with the path "members" and the values to remove.
            gone = {str(_find(item, "value")) for item in value if isinstance(item, Mapping)}
            doc[key] = [
                item
                for item in doc[key]
                if not (isinstance(item, Mapping) and str(_find(item, "value")) in gone)
            ]
        else:
            doc.pop(key, None)
    elif op == "add":
        doc[key] = _merge(doc.get(key), value, key="value")
    else:
        doc[key] = value


def apply_patch(
    doc: Mapping[str, Any], operations: Any, *, schemas: Iterable[str]
) -> dict[str, Any]:
    """The document after the operations, applied in order (all or none: a bad operation
    raises ScimInvalid before anything is written)."""
    if not isinstance(operations, list) or not operations:
        raise ScimInvalid(OPERATIONS_MISSING, "invalidSyntax")
    result: dict[str, Any] = _deep_copy(doc)
    known = tuple(sorted(schemas, key=len, reverse=True))
    for operation in operations:
        if not isinstance(operation, Mapping):
            raise ScimInvalid(OP_UNKNOWN, "invalidSyntax")
        op = str(_find(operation, "op") or "").lower()
        if op not in ("add", "remove", "replace"):
            raise ScimInvalid(OP_UNKNOWN, "invalidSyntax")
        path = _find(operation, "path")
        value = _find(operation, "value")
        if path is not None and not isinstance(path, str):
            raise ScimInvalid(PATH_UNSUPPORTED.format(path=path), "invalidPath")
        if not path:
            if op == "remove":
                raise ScimInvalid(REMOVE_NEEDS_PATH, "noTarget")
            if not isinstance(value, Mapping):
                raise ScimInvalid(VALUE_NOT_OBJECT)
            for key, item in value.items():
                _apply(result, op, str(key), _deep_copy(item), known)
            continue
        _apply(result, op, path.strip(), _deep_copy(value), known)
    return result


def _deep_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


# --- Responses --------------------------------------------------------------------------------

ALWAYS_RETURNED = frozenset({"id", "schemas", "meta"})


def _attribute_names(values: Iterable[str], schemas: Iterable[str]) -> set[str]:
    names: set[str] = set()
    known = sorted(schemas, key=len, reverse=True)
    for raw in values:
        name = raw.strip()
        for urn in known:
            if name.lower() == urn.lower() or name.lower().startswith(urn.lower() + ":"):
                if urn in (USER_SCHEMA, GROUP_SCHEMA):
                    name = name[len(urn) + 1 :]
                else:  # an extension's attribute: its whole object
                    names.add(urn.lower())
                    name = ""
                break
        if name:
            names.add(name.split(".")[0].lower())
    return names


def project(
    doc: Mapping[str, Any],
    *,
    attributes: Iterable[str] = (),
    excluded: Iterable[str] = (),
    schemas: Iterable[str] = (),
) -> dict[str, Any]:
    """The document with only the `attributes` asked for, or without the `excluded` ones
    (RFC 7644 §3.4.2.5); id, schemas and meta are always returned."""
    wanted = _attribute_names(attributes, schemas)
    unwanted = _attribute_names(excluded, schemas) - ALWAYS_RETURNED
    result: dict[str, Any] = {}
    for key, value in doc.items():
        name = key.lower()
        asked = name in wanted if wanted else name not in unwanted
        if name in ALWAYS_RETURNED or asked:
            result[key] = value
    return result


def page(start_index: str | None, count: str | None, *, maximum: int) -> tuple[int, int]:
    """startIndex (1-based; below 1 is 1) and count (0..maximum; absent: maximum), as
    RFC 7644 §3.4.2.4 reads them. Raises ScimInvalid for what is not a number."""
    try:
        start = int(start_index) if start_index else 1
        size = int(count) if count else maximum
    except ValueError as exc:
        raise ScimInvalid("startIndex and count must be integers.") from exc
    return max(start, 1), min(max(size, 0), maximum)


# --- Membership and dates ----------------------------------------------------------------------


def membership_plan(
    *, current: Iterable[int], wanted: Iterable[int]
) -> tuple[list[int], list[int]]:
    """(to post to the unit, to take out of it), each in id order."""
    now, then = set(current), set(wanted)
    return sorted(then - now), sorted(now - then)


def removal_end(*, started_on: date, effective: date) -> date:
    """Where a posting ends when its person leaves the unit's group on `effective`: the day
    before (the next posting, elsewhere, may start on `effective`), or the day it started
    when it started that very day (a posting is at least one day long)."""
    return max(started_on, effective - timedelta(days=1))
