"""What the directory sees: the accounts it provisioned (or that carry its id) and the units
mapped to its groups. Nothing else exists for it: another account is the same 404 as none."""

from __future__ import annotations

from django.db import connection
from django.db.models import QuerySet
from scim2_filter_parser.parser import SCIMParserError
from scim2_filter_parser.queries.sql import SQLQuery

from welfare.accounts.models import User
from welfare.audit.models import AuditEvent
from welfare.core.errors import NotFound
from welfare.directory.models import Removal
from welfare.directory.rules import ENTERPRISE_SCHEMA, ScimInvalid
from welfare.people.models import Officer, Posting, Unit

FILTER_INVALID = "The filter cannot be read, or names an attribute that cannot be filtered on."

# SCIM attribute -> column, for filters (scim2-filter-parser turns them into SQL).
_USER_COLUMNS = {
    ("userName", None, None): "accounts_user.username",
    ("externalId", None, None): "accounts_user.directory_id",
    ("active", None, None): "accounts_user.is_active",
    ("emails", None, None): "accounts_user.email",
    ("emails", "value", None): "accounts_user.email",
    ("displayName", None, None): "people_officer.display_name",
    ("employeeNumber", None, ENTERPRISE_SCHEMA): "people_officer.staff_number",
}
_USER_JOINS = ("LEFT JOIN people_officer ON people_officer.user_id = accounts_user.id",)
_GROUP_COLUMNS = {
    ("displayName", None, None): "people_unit.name",
    ("externalId", None, None): "people_unit.directory_group",
}


def directory_users() -> QuerySet[User]:
    removed = Removal.objects.filter(restored_at__isnull=True).values("user_id")
    return (
        User.objects.filter(directory_id__isnull=False)
        .exclude(pk__in=removed)
        .select_related("officer")
        .order_by("pk")
    )


def _by_id(queryset: QuerySet, resource_id: str):  # type: ignore[no-untyped-def,type-arg]
    if not resource_id.isdigit() or len(resource_id) > 18:
        raise NotFound()
    found = queryset.filter(pk=int(resource_id)).first()
    if found is None:
        raise NotFound()
    return found


def directory_user_get(resource_id: str, *, lock: bool = False) -> User:
    """`lock`: held to the end of the caller's transaction (a PATCH reads, then writes)."""
    users = directory_users().select_for_update(of=("self",)) if lock else directory_users()
    user: User = _by_id(users, resource_id)
    return user


def directory_units() -> QuerySet[Unit]:
    return Unit.objects.filter(directory_group__isnull=False).order_by("pk")


def directory_unit_get(resource_id: str, *, lock: bool = False) -> Unit:
    """`lock`: held to the end of the caller's transaction (a PATCH reads the members, then
    writes: two at once would each lose the other's change)."""
    units = directory_units().select_for_update() if lock else directory_units()
    unit: Unit = _by_id(units, resource_id)
    return unit


def unit_members(unit: Unit) -> list[User]:
    """The directory's accounts now posted to the unit (an open posting there). Officers
    posted by hand (no directory id) are not the directory's to list or remove."""
    posted = Posting.objects.filter(unit=unit, ended_on__isnull=True).values("officer__user_id")
    return list(directory_users().filter(pk__in=posted))


def open_posting(officer: Officer) -> Posting | None:
    return Posting.objects.filter(officer=officer, ended_on__isnull=True).first()


def deactivated_by_directory(user: User) -> bool:
    """Whether the account's latest deactivation was the directory's (not a person's: an
    account an administrator closed stays closed whatever the directory says)."""
    latest = (
        AuditEvent.objects.filter(
            target_type="user", target_id=str(user.pk), action="user.deactivated"
        )
        .order_by("-id")
        .values_list("actor_role", flat=True)
        .first()
    )
    return latest == "directory"


def _matching_ids(filter_text: str, table: str, columns: dict, joins: tuple[str, ...]) -> list[int]:  # type: ignore[type-arg]
    try:
        query = SQLQuery(filter_text, table, columns, joins)
    except (SCIMParserError, ValueError, KeyError, IndexError, AttributeError) as exc:
        raise ScimInvalid(FILTER_INVALID, "invalidFilter") from exc
    if query.where_sql is None:
        raise ScimInvalid(FILTER_INVALID, "invalidFilter")
    # Column names come from the maps above; the values are parameters.
    sql = (
        query.sql.strip()
        .rstrip(";")
        .replace(f"SELECT DISTINCT {table}.*", f"SELECT DISTINCT {table}.id", 1)
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, query.params)
        return [row[0] for row in cursor.fetchall()]


def users_matching(filter_text: str) -> QuerySet[User]:
    ids = _matching_ids(filter_text, "accounts_user", _USER_COLUMNS, _USER_JOINS)
    return directory_users().filter(pk__in=ids)


def units_matching(filter_text: str) -> QuerySet[Unit]:
    ids = _matching_ids(filter_text, "people_unit", _GROUP_COLUMNS, ())
    return directory_units().filter(pk__in=ids)
