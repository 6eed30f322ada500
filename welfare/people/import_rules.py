"""Bulk import of units, people and postings, planned as pure functions: the file's rows and
the current state as values in, an outcome per row and the steps that apply it out. No
Django here (an import-linter contract names this module with the `rules` modules).

One file, one header row, a `kind` column saying what each row is (README, "Bulk import
(CSV/XLSX)"). Keys: a unit by its name (case-insensitive); a person by user name, and by
staff number and directory id when given, which must all name the same account; a posting
by (staff number, unit, started_on). An empty optional cell means "leave as it is".
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from welfare.people.rules import posting_date_error

UNIT, PERSON, POSTING = "unit", "person", "posting"
KINDS = (UNIT, PERSON, POSTING)
COLUMNS = (
    "kind",
    "unit",
    "unit_kind",
    "directory_id",
    "username",
    "email",
    "display_name",
    "staff_number",
    "role",
    "active",
    "started_on",
    "ended_on",
)
COLUMNS_OF = {
    UNIT: ("unit", "unit_kind"),
    PERSON: (
        "directory_id",
        "username",
        "email",
        "display_name",
        "staff_number",
        "role",
        "active",
    ),
    POSTING: ("staff_number", "unit", "started_on", "ended_on"),
}
OFFICER, SUPERVISOR, OH, HR, ADMIN = "officer", "supervisor", "oh", "hr", "admin"
# Never `oh`: clinical access is given by an OH lead's approval of a proposal (two people).
IMPORT_ROLES = (OFFICER, SUPERVISOR, HR, ADMIN)

CREATED, CHANGED, UNCHANGED, REJECTED = "created", "changed", "unchanged", "rejected"
OUTCOMES = (CREATED, CHANGED, UNCHANGED, REJECTED)

# --- Messages (tests import them) ------------------------------------------------------------

KIND_INVALID = "Use unit, person or posting."
NOT_FOR_KIND = "Not used on a {kind} row: leave it empty."
REQUIRED = "Required on a {kind} row."
TOO_LONG = "At most {limit} characters."
BAD_DATE = "Not a date: use YYYY-MM-DD."
BAD_BOOLEAN = "Use true or false."
BAD_EMAIL = "Not an e-mail address."
BAD_USERNAME = "Letters, digits and @ . + - _ only."
BAD_STAFF_NUMBER = "Use letters, digits, '-' or '/', up to 32 characters."
UNIT_KIND_UNKNOWN = "Not a kind of unit: use one of {kinds}."
ROLE_UNKNOWN = "Use officer, supervisor, hr or admin."
ROLE_OH_REFUSED = (
    "Clinical access (the role oh) is never imported: an administrator proposes it and an "
    "OH lead approves it."
)
OFFICER_ONLY = "Only officers have a {what}: leave it empty for this role."
DUPLICATE_UNIT = "Duplicate unit in the file (row {row})."
DUPLICATE_USERNAME = "Duplicate user name in the file (row {row})."
DUPLICATE_STAFF_NUMBER = "Duplicate staff number in the file (row {row})."
DUPLICATE_DIRECTORY_ID = "Duplicate directory id in the file (row {row})."
DUPLICATE_POSTING = "Duplicate posting in the file (row {row})."
KEYS_DIFFERENT_ACCOUNTS = (
    "The user name, staff number and directory id name different accounts ({usernames})."
)
KEY_DIFFERS = "Differs from the account's ({current}): an import never changes it."
CLINICIAN_NOT_IMPORTED = (
    "This is a clinician's account: an import never changes it (OH leads manage clinicians)."
)
ROLE_OFFICER_FIXED = "An import never makes an officer of another role, nor the other way round."
ROLE_OWN = "You cannot change your own role."
ROLE_SUPERUSER = "A superuser is always an administrator."
ROLE_SUPERVISES = "This user supervises units: remove them as supervisor first."
DEACTIVATE_SELF = "You cannot deactivate your own account."
NEW_INACTIVE = "A new account is created active: leave active empty (or true)."
OFFICER_RECORD_NEEDS_ACTIVE = "The account is inactive: an officer record needs an active account."
UNKNOWN_UNIT = "Unknown unit: add it on a unit row, or check the name."
UNIT_ROW_REJECTED = "The unit's row (row {row}) is rejected."
UNKNOWN_STAFF_NUMBER = "No officer has this staff number, in the service or in the file."
PERSON_ROW_REJECTED = "The person's row (row {row}) is rejected."
END_BEFORE_START = "Ends before it starts."
POSTING_OVERLAP = "Would overlap the posting from {started_on} in {unit}{until}."
POSTING_BEFORE_LATEST = (
    "Starts before the posting from {started_on} in {unit}: an import adds postings after "
    "an officer's latest one only."
)
POSTING_END_FIXED = "The posting ended on {ended_on} already: an import never moves an end."
ENDS_OPEN_POSTING = "Ends the posting from {started_on} in {unit} on {ended_on}."

LIMITS = {
    "unit": 120,
    "directory_id": 255,
    "username": 150,
    "email": 254,
    "display_name": 120,
}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_USERNAME = re.compile(r"^[\w.@+-]+\Z")
STAFF_NUMBER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9\-/]{0,31}$"
_STAFF_NUMBER = re.compile(STAFF_NUMBER_PATTERN)
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}


# --- Values in --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One row of the file: its number (the header is row 1) and its cells by column name,
    stripped ("" when empty). Values are data, never formulas, whatever they start with."""

    number: int
    cells: Mapping[str, str]

    def get(self, column: str) -> str:
        return self.cells.get(column, "")


@dataclass(frozen=True)
class UnitState:
    id: int
    name: str
    kind: str


@dataclass(frozen=True)
class AccountState:
    id: int
    username: str
    email: str
    role: str
    is_active: bool
    directory_id: str | None = None
    is_superuser: bool = False
    supervises: bool = False
    officer_id: int | None = None
    staff_number: str | None = None
    display_name: str | None = None


@dataclass(frozen=True)
class PostingState:
    id: int
    officer_id: int
    unit_id: int
    started_on: date
    ended_on: date | None


@dataclass(frozen=True)
class ImportState:
    """What the service holds that the file's rows could touch."""

    actor_id: int
    unit_kinds: tuple[str, ...]
    units: tuple[UnitState, ...] = ()
    accounts: tuple[AccountState, ...] = ()
    postings: tuple[PostingState, ...] = ()


# --- Values out: outcomes and the steps that apply them ---------------------------------------


@dataclass(frozen=True)
class RowOutcome:
    row: int
    kind: str
    key: str
    outcome: str
    changes: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    errors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class UnitCreate:
    row: int
    name: str
    kind: str


@dataclass(frozen=True)
class UnitChange:
    row: int
    unit_id: int
    kind: str


@dataclass(frozen=True)
class PersonCreate:
    row: int
    username: str
    role: str
    email: str
    directory_id: str | None
    staff_number: str | None
    display_name: str | None


@dataclass(frozen=True)
class PersonChange:
    """Account changes (email, role, is_active, directory_id) and officer-record changes
    (`officer_create` with staff number and name for an officer account without one, or a
    new display name)."""

    row: int
    account_id: int
    account: Mapping[str, Any]
    officer_create: tuple[str, str] | None = None
    display_name: str | None = None


@dataclass(frozen=True)
class PostingCreate:
    """A posting for an officer (their staff number) in a unit (its name), both existing or
    made earlier in the plan. The service ends the officer's open posting the day before."""

    row: int
    staff_number: str
    unit: str
    started_on: date
    ended_on: date | None


@dataclass(frozen=True)
class PostingEnd:
    row: int
    posting_id: int
    ended_on: date


Step = UnitCreate | UnitChange | PersonCreate | PersonChange | PostingCreate | PostingEnd


@dataclass(frozen=True)
class Plan:
    rows: tuple[RowOutcome, ...]
    steps: tuple[Step, ...]

    def counts(self) -> dict[str, int]:
        return {name: sum(1 for r in self.rows if r.outcome == name) for name in OUTCOMES}

    @property
    def can_apply(self) -> bool:
        return all(r.outcome != REJECTED for r in self.rows)

    def fingerprint(self) -> str:
        """SHA-256 of the plan: what each row would do and each step, with the ids it
        touches. Another state that changes what would happen gives another fingerprint."""
        content = {
            "rows": [asdict(r) for r in self.rows],
            "steps": [[type(s).__name__, asdict(s)] for s in self.steps],
        }
        text = json.dumps(content, sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


# --- Cells ------------------------------------------------------------------------------------


def parse_date(text: str) -> date | None:
    """An ISO date YYYY-MM-DD, or None when it is not one."""
    if not _DATE.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_boolean(text: str) -> bool | None:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return None


class _Errors:
    def __init__(self) -> None:
        self.by_field: dict[str, list[str]] = {}

    def add(self, column: str, message: str) -> None:
        self.by_field.setdefault(column, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.by_field)

    def frozen(self) -> dict[str, tuple[str, ...]]:
        return {k: tuple(v) for k, v in self.by_field.items()}


def _common_checks(row: Row, kind: str, required: Sequence[str], errors: _Errors) -> None:
    for column, value in row.cells.items():
        if value and column != "kind" and column not in COLUMNS_OF[kind]:
            errors.add(column, NOT_FOR_KIND.format(kind=kind))
    for column in required:
        if not row.get(column):
            errors.add(column, REQUIRED.format(kind=kind))
    for column, limit in LIMITS.items():
        if column in COLUMNS_OF[kind] and len(row.get(column)) > limit:
            errors.add(column, TOO_LONG.format(limit=limit))


def _date_cell(row: Row, column: str, errors: _Errors) -> date | None:
    text = row.get(column)
    if not text:
        return None
    day = parse_date(text)
    if day is None:
        errors.add(column, BAD_DATE)
        return None
    if (out_of_range := posting_date_error(day)) is not None:
        errors.add(column, out_of_range)
        return None
    return day


def _rejected(row: Row, kind: str, key: str, errors: _Errors) -> RowOutcome:
    return RowOutcome(row.number, kind, key, REJECTED, errors=errors.frozen())


# --- The planner ------------------------------------------------------------------------------


@dataclass
class _Span:
    """A posting as the plan goes: one that exists (`posting_id`) or one it makes."""

    unit_key: str
    unit_name: str
    started_on: date
    ended_on: date | None
    posting_id: int | None = None


@dataclass
class _Planner:
    state: ImportState
    outcomes: dict[int, RowOutcome] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    # unit name (lower) -> (display name, the row that makes it or None if it exists)
    units: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    rejected_units: dict[str, int] = field(default_factory=dict)
    # staff number (lower) -> the officer's postings as the plan goes
    officers: dict[str, list[_Span]] = field(default_factory=dict)
    rejected_people: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.accounts_by: dict[str, dict[str, AccountState]] = {
            "username": {a.username.lower(): a for a in self.state.accounts},
            "staff_number": {
                a.staff_number.lower(): a for a in self.state.accounts if a.staff_number
            },
            "directory_id": {a.directory_id: a for a in self.state.accounts if a.directory_id},
        }
        unit_names = {u.id: u.name for u in self.state.units}
        for unit in self.state.units:
            self.units[unit.name.lower()] = (unit.name, None)
        by_officer: dict[int, list[_Span]] = {}
        for p in sorted(self.state.postings, key=lambda p: p.started_on):
            name = unit_names.get(p.unit_id, str(p.unit_id))
            span = _Span(name.lower(), name, p.started_on, p.ended_on, p.id)
            by_officer.setdefault(p.officer_id, []).append(span)
        for account in self.state.accounts:
            if account.officer_id is not None and account.staff_number:
                self.officers[account.staff_number.lower()] = by_officer.get(account.officer_id, [])

    # --- Units ---

    def unit(self, row: Row, seen: dict[str, int]) -> None:
        errors = _Errors()
        _common_checks(row, UNIT, ("unit", "unit_kind"), errors)
        name, kind = row.get("unit"), row.get("unit_kind")
        if kind and kind not in self.state.unit_kinds:
            errors.add(
                "unit_kind", UNIT_KIND_UNKNOWN.format(kinds=", ".join(self.state.unit_kinds))
            )
        key = name.lower()
        if name and key in seen:
            errors.add("unit", DUPLICATE_UNIT.format(row=seen[key]))
        elif name:
            seen[key] = row.number
        if errors:
            if name and key not in self.units:
                self.rejected_units.setdefault(key, row.number)
            self.outcomes[row.number] = _rejected(row, UNIT, name, errors)
            return
        existing = next((u for u in self.state.units if u.name.lower() == key), None)
        if existing is None:
            self.units[key] = (name, row.number)
            self.steps.append(UnitCreate(row.number, name, kind))
            self.outcomes[row.number] = RowOutcome(row.number, UNIT, name, CREATED)
        elif existing.kind != kind:
            self.steps.append(UnitChange(row.number, existing.id, kind))
            self.outcomes[row.number] = RowOutcome(
                row.number, UNIT, existing.name, CHANGED, changes=("unit_kind",)
            )
        else:
            self.outcomes[row.number] = RowOutcome(row.number, UNIT, existing.name, UNCHANGED)

    # --- People ---

    def _match(self, row: Row, errors: _Errors) -> AccountState | None:
        keys = (
            ("username", row.get("username").lower()),
            ("staff_number", row.get("staff_number").lower()),
            ("directory_id", row.get("directory_id")),
        )
        found: dict[int, AccountState] = {}
        for name, value in keys:
            account = self.accounts_by[name].get(value) if value else None
            if account is not None:
                found[account.id] = account
        if len(found) > 1:
            names = ", ".join(sorted(a.username for a in found.values()))
            errors.add("username", KEYS_DIFFERENT_ACCOUNTS.format(usernames=names))
            return None
        return next(iter(found.values()), None)

    def person(self, row: Row, seen: dict[str, dict[str, int]]) -> None:
        errors = _Errors()
        _common_checks(row, PERSON, ("username", "role"), errors)
        username, role = row.get("username"), row.get("role").lower()
        email, directory_id = row.get("email"), row.get("directory_id") or None
        staff, display_name = row.get("staff_number"), row.get("display_name")
        key = username + (f" / {staff}" if staff else "")
        if username and not _USERNAME.match(username):
            errors.add("username", BAD_USERNAME)
        if role == OH:
            errors.add("role", ROLE_OH_REFUSED)
        elif role and role not in IMPORT_ROLES:
            errors.add("role", ROLE_UNKNOWN)
        if email and not _EMAIL.match(email):
            errors.add("email", BAD_EMAIL)
        if staff and not _STAFF_NUMBER.match(staff):
            errors.add("staff_number", BAD_STAFF_NUMBER)
        active = parse_boolean(row.get("active")) if row.get("active") else None
        if row.get("active") and active is None:
            errors.add("active", BAD_BOOLEAN)
        if role in IMPORT_ROLES and role != OFFICER:
            if staff:
                errors.add("staff_number", OFFICER_ONLY.format(what="staff number"))
            if display_name:
                errors.add("display_name", OFFICER_ONLY.format(what="display name"))
        for column, value, message in (
            ("username", username.lower(), DUPLICATE_USERNAME),
            ("staff_number", staff.lower(), DUPLICATE_STAFF_NUMBER),
            ("directory_id", directory_id or "", DUPLICATE_DIRECTORY_ID),
        ):
            if not value:
                continue
            if value in seen[column]:
                errors.add(column, message.format(row=seen[column][value]))
            else:
                seen[column][value] = row.number
        account = None if errors else self._match(row, errors)
        if not errors:
            if account is None:
                self._person_new(row, key, role, active, errors)
            else:
                self._person_existing(row, key, account, role, active, errors)
        if errors:
            if staff:
                self.rejected_people.setdefault(staff.lower(), row.number)
            self.outcomes[row.number] = _rejected(row, PERSON, key, errors)

    def _person_new(
        self, row: Row, key: str, role: str, active: bool | None, errors: _Errors
    ) -> None:
        staff, display_name = row.get("staff_number"), row.get("display_name")
        if active is False:
            errors.add("active", NEW_INACTIVE)
        if role == OFFICER:
            for column, value in (("staff_number", staff), ("display_name", display_name)):
                if not value:
                    errors.add(column, REQUIRED.format(kind="new officer's"))
        if errors:
            return
        self.steps.append(
            PersonCreate(
                row.number,
                username=row.get("username"),
                role=role,
                email=row.get("email"),
                directory_id=row.get("directory_id") or None,
                staff_number=staff or None,
                display_name=display_name or None,
            )
        )
        if role == OFFICER:
            self.officers[staff.lower()] = []
        self.outcomes[row.number] = RowOutcome(row.number, PERSON, key, CREATED)

    def _person_existing(
        self,
        row: Row,
        key: str,
        account: AccountState,
        role: str,
        active: bool | None,
        errors: _Errors,
    ) -> None:
        staff, display_name = row.get("staff_number"), row.get("display_name")
        directory_id, email = row.get("directory_id"), row.get("email")
        if account.role == OH:
            errors.add("role", CLINICIAN_NOT_IMPORTED)
            return
        if row.get("username").lower() != account.username.lower():
            errors.add("username", KEY_DIFFERS.format(current=account.username))
        if directory_id and account.directory_id and directory_id != account.directory_id:
            errors.add("directory_id", KEY_DIFFERS.format(current=account.directory_id))
        if staff and account.staff_number and staff.lower() != account.staff_number.lower():
            errors.add("staff_number", KEY_DIFFERS.format(current=account.staff_number))
        changes: dict[str, Any] = {}
        if role != account.role:
            if OFFICER in (role, account.role):
                errors.add("role", ROLE_OFFICER_FIXED)
            elif account.id == self.state.actor_id:
                errors.add("role", ROLE_OWN)
            elif account.is_superuser:
                errors.add("role", ROLE_SUPERUSER)
            elif account.supervises:
                errors.add("role", ROLE_SUPERVISES)
            else:
                changes["role"] = role
        if email and email != account.email:
            changes["email"] = email
        if directory_id and not account.directory_id:
            changes["directory_id"] = directory_id
        if active is not None and active != account.is_active:
            if not active and account.id == self.state.actor_id:
                errors.add("active", DEACTIVATE_SELF)
            changes["is_active"] = active
        officer_create: tuple[str, str] | None = None
        new_name: str | None = None
        if account.role == OFFICER and account.officer_id is None and (staff or display_name):
            for column, value in (("staff_number", staff), ("display_name", display_name)):
                if not value:
                    errors.add(column, REQUIRED.format(kind="new officer's"))
            if not changes.get("is_active", account.is_active):
                errors.add("active", OFFICER_RECORD_NEEDS_ACTIVE)
            officer_create = (staff, display_name)
        elif display_name and account.officer_id and display_name != account.display_name:
            new_name = display_name
        if errors:
            return
        changed = [*changes]
        if officer_create is not None:
            changed += ["staff_number", "display_name"]
            self.officers[staff.lower()] = []
        if new_name is not None:
            changed.append("display_name")
        if not changed:
            self.outcomes[row.number] = RowOutcome(row.number, PERSON, key, UNCHANGED)
            return
        self.steps.append(PersonChange(row.number, account.id, changes, officer_create, new_name))
        order = [c for c in COLUMNS if c in changed]
        if "is_active" in changed:
            order.append("active")
        self.outcomes[row.number] = RowOutcome(row.number, PERSON, key, CHANGED, tuple(order))

    # --- Postings ---

    def posting_checks(self, row: Row, seen: dict[tuple[str, str, str], int]) -> Any:
        errors = _Errors()
        _common_checks(row, POSTING, ("staff_number", "unit", "started_on"), errors)
        staff, unit = row.get("staff_number"), row.get("unit")
        started_on = _date_cell(row, "started_on", errors)
        ended_on = _date_cell(row, "ended_on", errors)
        key = f"{staff} / {unit} / {row.get('started_on')}"
        if started_on and ended_on and ended_on < started_on:
            errors.add("ended_on", END_BEFORE_START)
        if unit and unit.lower() not in self.units:
            if unit.lower() in self.rejected_units:
                errors.add("unit", UNIT_ROW_REJECTED.format(row=self.rejected_units[unit.lower()]))
            else:
                errors.add("unit", UNKNOWN_UNIT)
        if staff and staff.lower() not in self.officers:
            if staff.lower() in self.rejected_people:
                errors.add(
                    "staff_number",
                    PERSON_ROW_REJECTED.format(row=self.rejected_people[staff.lower()]),
                )
            else:
                errors.add("staff_number", UNKNOWN_STAFF_NUMBER)
        dedupe = (staff.lower(), unit.lower(), row.get("started_on"))
        if all(dedupe):
            if dedupe in seen:
                errors.add("started_on", DUPLICATE_POSTING.format(row=seen[dedupe]))
            else:
                seen[dedupe] = row.number
        if errors:
            self.outcomes[row.number] = _rejected(row, POSTING, key, errors)
            return None
        return (key, staff, unit, started_on, ended_on)

    def posting(self, row: Row, checked: tuple[str, str, str, date, date | None]) -> None:
        key, staff, unit, started_on, ended_on = checked
        spans = self.officers[staff.lower()]
        unit_key = unit.lower()
        unit_name = self.units[unit_key][0]
        match = next(
            (s for s in spans if s.unit_key == unit_key and s.started_on == started_on), None
        )
        if match is not None:
            self._posting_existing(row, key, match, ended_on, spans)
            return
        errors = _Errors()
        open_span = next((s for s in spans if s.ended_on is None), None)
        conflict = self._conflict(spans, started_on, ended_on)
        if conflict is not None:
            until = f" to {conflict.ended_on}" if conflict.ended_on else ""
            errors.add(
                "started_on",
                POSTING_OVERLAP.format(
                    started_on=conflict.started_on, unit=conflict.unit_name, until=until
                ),
            )
        elif spans and started_on <= max(s.started_on for s in spans):
            latest = max(spans, key=lambda s: s.started_on)
            errors.add(
                "started_on",
                POSTING_BEFORE_LATEST.format(started_on=latest.started_on, unit=latest.unit_name),
            )
        if errors:
            self.outcomes[row.number] = _rejected(row, POSTING, key, errors)
            return
        notes: tuple[str, ...] = ()
        if open_span is not None:
            open_span.ended_on = started_on - timedelta(days=1)
            notes = (
                ENDS_OPEN_POSTING.format(
                    started_on=open_span.started_on,
                    unit=open_span.unit_name,
                    ended_on=open_span.ended_on,
                ),
            )
        spans.append(_Span(unit_key, unit_name, started_on, ended_on))
        self.steps.append(PostingCreate(row.number, staff, unit_name, started_on, ended_on))
        self.outcomes[row.number] = RowOutcome(row.number, POSTING, key, CREATED, notes=notes)

    @staticmethod
    def _conflict(spans: Iterable[_Span], start: date, end: date | None) -> _Span | None:
        """The first posting the new one would overlap; an open posting started before the
        new one is ended the day before instead (as `posting_start` does)."""
        for span in sorted(spans, key=lambda s: s.started_on):
            if span.ended_on is None and span.started_on < start:
                continue
            span_end = span.ended_on or date.max
            if span.started_on <= (end or date.max) and start <= span_end:
                return span
        return None

    def _posting_existing(
        self, row: Row, key: str, span: _Span, ended_on: date | None, spans: list[_Span]
    ) -> None:
        if ended_on is None or ended_on == span.ended_on:
            self.outcomes[row.number] = RowOutcome(row.number, POSTING, key, UNCHANGED)
            return
        errors = _Errors()
        if span.ended_on is not None:
            errors.add("ended_on", POSTING_END_FIXED.format(ended_on=span.ended_on))
            self.outcomes[row.number] = _rejected(row, POSTING, key, errors)
            return
        later = [s for s in spans if s is not span and s.started_on > span.started_on]
        if later:
            first = min(later, key=lambda s: s.started_on)
            errors.add(
                "ended_on",
                POSTING_OVERLAP.format(started_on=first.started_on, unit=first.unit_name, until=""),
            )
            self.outcomes[row.number] = _rejected(row, POSTING, key, errors)
            return
        span.ended_on = ended_on
        assert span.posting_id is not None  # the file's own postings are keyed once (dedupe)
        self.steps.append(PostingEnd(row.number, span.posting_id, ended_on))
        self.outcomes[row.number] = RowOutcome(
            row.number, POSTING, key, CHANGED, changes=("ended_on",)
        )


def plan_import(rows: Sequence[Row], state: ImportState) -> Plan:
    """What importing `rows` into `state` would do, row by row, and the steps that do it:
    units first, then people, then postings (each officer's in date order), whatever the
    order of the file. The report keeps the file's order."""
    planner = _Planner(state)
    by_kind: dict[str, list[Row]] = {kind: [] for kind in KINDS}
    for row in rows:
        kind = row.get("kind").lower()
        if kind not in KINDS:
            errors = _Errors()
            errors.add("kind", KIND_INVALID)
            planner.outcomes[row.number] = _rejected(row, kind, "", errors)
        else:
            by_kind[kind].append(row)
    seen_units: dict[str, int] = {}
    for row in by_kind[UNIT]:
        planner.unit(row, seen_units)
    seen_people: dict[str, dict[str, int]] = {
        "username": {},
        "staff_number": {},
        "directory_id": {},
    }
    for row in by_kind[PERSON]:
        planner.person(row, seen_people)
    seen_postings: dict[tuple[str, str, str], int] = {}
    checked = [(row, planner.posting_checks(row, seen_postings)) for row in by_kind[POSTING]]
    good = [(row, c) for row, c in checked if c is not None]
    for row, c in sorted(good, key=lambda item: (item[1][1].lower(), item[1][3], item[0].number)):
        planner.posting(row, c)
    outcomes = tuple(planner.outcomes[row.number] for row in rows)
    return Plan(rows=outcomes, steps=tuple(planner.steps))
