"""Writes the directory makes through SCIM: accounts, officer records and postings.

Every write goes through the accounts and people services (the same constraints, the same
audit events), in one transaction, inside `acting_as("directory")`: each event it causes
is recorded with no user as actor and the actor role `directory`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.conf import settings
from django.db import transaction

from welfare.accounts.models import User
from welfare.accounts.services import user_create, user_update
from welfare.audit.services import audit_record
from welfare.core import clock
from welfare.core.context import acting_as
from welfare.core.errors import Conflict, DomainError, Forbidden
from welfare.core.roles import Role
from welfare.directory.models import Removal
from welfare.directory.rules import (
    GroupFields,
    UserFields,
    membership_plan,
    removal_end,
)
from welfare.directory.selectors import (
    deactivated_by_directory,
    directory_users,
    open_posting,
    unit_members,
)
from welfare.people.models import Officer, Unit
from welfare.people.services import (
    officer_create,
    officer_update,
    posting_end,
    posting_start,
    unit_update,
)

DIRECTORY = "directory"
# Roles the directory never gives, whatever SCIM_USER_ROLE says: clinical access is two
# people's decision (RoleGrant), administration is given by hand.
NEVER_PROVISIONED = frozenset({Role.OH, Role.ADMIN})

EXTERNAL_ID_TAKEN = "An account with this externalId exists already."
EXTERNAL_ID_IMMUTABLE = "externalId cannot change: it is the person's id in the directory."
STAFF_NUMBER_REQUIRED = (
    "An officer needs a staff number: send it as the enterprise extension's employeeNumber."
)
PRIVILEGED_BY_HAND = (
    "This account has clinical or administrative access: the directory may deactivate it, "
    "nothing else. An administrator changes it by hand."
)
REOPEN_BY_HAND = (
    "A person closed this account, not the directory: only an administrator reopens it."
)
ROLE_NOT_PROVISIONED = "SCIM_USER_ROLE names a role the directory may not give."
NO_UNIT_FOR_GROUP = (
    "No unit is mapped to this group. An administrator maps it first: the unit's "
    "directory_group is the group's externalId (or, with SCIM_GROUP_MATCH=name, a unit "
    "is named as the group)."
)
GROUP_PROVISIONED = "This group is provisioned already, as id {id}."
UNIT_MAPPED_ELSEWHERE = "The unit named so is mapped to another directory group already."
UNKNOWN_MEMBERS = "Unknown members (no such user in this service): {ids}."
MEMBERS_NOT_OFFICERS = "Only officers are posted to units; these members are not: {ids}."
POSTING_REFUSED = "User {user} cannot be posted to this unit today: {reason}"


def _role() -> str:
    role = settings.SCIM_USER_ROLE
    if role in NEVER_PROVISIONED or role not in Role.values:
        raise Forbidden(ROLE_NOT_PROVISIONED, code="not_allowed")
    return str(role)


def _is_privileged(user: User) -> bool:
    return user.role in NEVER_PROVISIONED or user.is_superuser


# --- Users ------------------------------------------------------------------------------------


def directory_user_create(*, fields: UserFields) -> User:
    """A person the directory provisions: an account of SCIM_USER_ROLE with no password
    (they sign in through the directory) and, for an officer, the officer record. The same
    person provisioned again after a removal gets their account back, never a second one."""
    with acting_as(DIRECTORY), transaction.atomic():
        existing = User.objects.select_for_update().filter(directory_id=fields.external_id).first()
        if existing is not None:
            removal = (
                Removal.objects.select_for_update()
                .filter(user=existing, restored_at__isnull=True)
                .first()
            )
            if removal is None:
                raise Conflict(EXTERNAL_ID_TAKEN, code="uniqueness")
            removal.restored_at = clock.now()
            removal.save(update_fields=["restored_at"])
            audit_record(
                actor=None,
                action="directory.user.restored",
                target_type="user",
                target_id=existing.pk,
            )
            return _update(user=existing, fields=fields)
        role = _role()
        if role == Role.OFFICER and not fields.staff_number:
            raise DomainError(STAFF_NUMBER_REQUIRED, field="employeeNumber", code="required")
        user = user_create(
            actor=None,
            username=fields.username,
            role=role,
            email=fields.email,
            directory_id=fields.external_id,
        )
        if role == Role.OFFICER:
            assert fields.staff_number is not None
            officer_create(
                actor=None,
                user=user,
                staff_number=fields.staff_number,
                display_name=fields.display_name,
            )
        if not fields.active:
            user = user_update(actor=None, user=user, changes={"is_active": False})
    return user


def directory_user_update(*, user: User, fields: UserFields) -> User:
    """The account as the directory now describes it (PUT, or a PATCH applied)."""
    with acting_as(DIRECTORY), transaction.atomic():
        return _update(user=user, fields=fields)


def _update(*, user: User, fields: UserFields) -> User:
    user = User.objects.select_for_update().get(pk=user.pk)
    if fields.external_id != user.directory_id:
        raise DomainError(EXTERNAL_ID_IMMUTABLE, field="externalId", code="mutability")
    changes: dict[str, object] = {}
    if fields.username != user.username:
        changes["username"] = fields.username
    if fields.email != user.email:
        changes["email"] = fields.email
    reopening = fields.active and not user.is_active
    if _is_privileged(user):
        if changes or reopening:
            raise Forbidden(PRIVILEGED_BY_HAND, code="not_allowed")
    elif reopening:
        if not deactivated_by_directory(user):
            raise Forbidden(REOPEN_BY_HAND, code="not_allowed")
        user = user_update(actor=None, user=user, changes={"is_active": True})
    if changes:
        user = user_update(actor=None, user=user, changes=changes)
    if user.role == Role.OFFICER:
        _officer_fields(user=user, fields=fields)
    if not fields.active and user.is_active:
        user = user_update(actor=None, user=user, changes={"is_active": False})
    return user


def _officer_fields(*, user: User, fields: UserFields) -> None:
    officer = Officer.objects.filter(user=user).first()
    if not fields.staff_number:
        raise DomainError(STAFF_NUMBER_REQUIRED, field="employeeNumber", code="required")
    if officer is None:
        if user.is_active:
            officer_create(
                actor=None,
                user=user,
                staff_number=fields.staff_number,
                display_name=fields.display_name,
            )
        return
    officer_update(
        actor=None,
        officer=officer,
        changes={"staff_number": fields.staff_number, "display_name": fields.display_name},
    )


def directory_user_remove(*, user: User) -> None:
    """SCIM DELETE: the account is deactivated (every token revoked), never deleted, and
    gone from the directory's view. Its postings stay as they are: the unit groups say
    where people work."""
    with acting_as(DIRECTORY), transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.is_active:
            user = user_update(actor=None, user=user, changes={"is_active": False})
        Removal.objects.create(user=user, removed_at=clock.now())
        audit_record(
            actor=None, action="directory.user.removed", target_type="user", target_id=user.pk
        )


# --- Groups: units ----------------------------------------------------------------------------


def directory_group_link(*, fields: GroupFields) -> Unit:
    """SCIM POST of a group: the unit it maps to, with the group's members posted there.
    Units are never created by the directory: a group with no unit is refused."""
    with acting_as(DIRECTORY), transaction.atomic():
        if settings.SCIM_GROUP_MATCH == "name":
            unit = Unit.objects.select_for_update().filter(name__iexact=fields.display_name).first()
            if unit is None:
                raise DomainError(NO_UNIT_FOR_GROUP, field="displayName")
            if unit.directory_group == fields.external_id:
                raise Conflict(GROUP_PROVISIONED.format(id=unit.pk), code="uniqueness")
            if unit.directory_group is not None:
                raise Conflict(UNIT_MAPPED_ELSEWHERE, code="uniqueness")
            unit = unit_update(
                actor=None, unit=unit, changes={"directory_group": fields.external_id}
            )
        else:
            unit = Unit.objects.filter(directory_group=fields.external_id).first()
            if unit is None:
                raise DomainError(NO_UNIT_FOR_GROUP, field="externalId")
            raise Conflict(GROUP_PROVISIONED.format(id=unit.pk), code="uniqueness")
        _set_members(unit=unit, wanted=fields.member_ids)
    return unit


def directory_group_update(*, unit: Unit, fields: GroupFields) -> Unit:
    """The group as the directory now describes it (PUT, or a PATCH applied): the unit's
    name, and who is posted there among the directory's people."""
    with acting_as(DIRECTORY), transaction.atomic():
        unit = Unit.objects.select_for_update().get(pk=unit.pk)
        if fields.external_id != unit.directory_group:
            raise DomainError(EXTERNAL_ID_IMMUTABLE, field="externalId", code="mutability")
        if fields.display_name != unit.name:
            unit = unit_update(actor=None, unit=unit, changes={"name": fields.display_name})
        _set_members(unit=unit, wanted=fields.member_ids)
    return unit


def directory_group_unlink(*, unit: Unit) -> None:
    """SCIM DELETE of a group: the unit is no longer the directory's (its mapping goes);
    nobody's posting ends, so a group deleted by mistake moves nobody."""
    with acting_as(DIRECTORY), transaction.atomic():
        unit_update(actor=None, unit=unit, changes={"directory_group": None})


def _members(ids: Iterable[str]) -> dict[int, User]:
    wanted = set(ids)
    numeric = {int(i) for i in wanted if i.isdigit() and len(i) <= 18}
    found = {user.pk: user for user in directory_users().filter(pk__in=numeric)}
    unknown = sorted(i for i in wanted if not (i.isdigit() and len(i) <= 18 and int(i) in found))
    if unknown:
        raise DomainError(UNKNOWN_MEMBERS.format(ids=", ".join(unknown[:20])), field="members")
    not_officers = sorted(
        str(pk) for pk, user in found.items() if not Officer.objects.filter(user=user).exists()
    )
    if not_officers:
        raise DomainError(MEMBERS_NOT_OFFICERS.format(ids=", ".join(not_officers)), field="members")
    return found


def _set_members(*, unit: Unit, wanted: Iterable[str], today: date | None = None) -> None:
    """Post the wanted people to the unit from today (the force's local day), ending the
    postings of those who left its group the day before."""
    effective = today or clock.today()
    people = _members(wanted)
    current = {user.pk: user for user in unit_members(unit)}
    joining, leaving = membership_plan(current=current, wanted=people)
    for pk in leaving:
        officer = Officer.objects.get(user_id=pk)
        posting = open_posting(officer)
        if posting is not None:
            posting_end(
                actor=None,
                posting=posting,
                ended_on=removal_end(started_on=posting.started_on, effective=effective),
            )
    for pk in joining:
        officer = Officer.objects.get(user_id=pk)
        try:
            posting_start(actor=None, officer=officer, unit=unit, started_on=effective)
        except DomainError as exc:
            reason = exc.message or "; ".join(
                message for messages in (exc.fields or {}).values() for message in messages
            )
            raise Conflict(POSTING_REFUSED.format(user=pk, reason=reason), code="overlap") from exc
