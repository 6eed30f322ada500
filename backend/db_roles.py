"""Least privilege in the database: who may do what, kept as data, and the SQL that grants it.

Three roles, each its own login:

- the owner (DATABASE_OWNER_URL) owns the schema and every table; it runs the migrations
  and `manage.py db_roles`, which creates the other two and grants them what follows;
- the application (DATABASE_URL, e.g. `welfare_app`) reads every table and inserts, but
  deletes only the rows of the few tables whose rows it removes in its ordinary work, and
  updates clinical, exposure and audit rows only in the columns its services change (none
  at all for case notes, screenings and audit events). It owns nothing, so it cannot alter
  or drop a table, disable a trigger or truncate; it is not a superuser, so it cannot turn
  triggers off for its session either;
- retention (DATABASE_RETENTION_URL, e.g. `welfare_retention`), used by the retention job
  alone: it reads, deletes what is past retention, anonymises people and records its own
  audit event. It is the only role that may delete a health record or an audit event.

Tables not named below are the service's working tables (users, units, alerts, policies,
job runs...): the application may update any of their columns. A table added later is in
that group until it is named here; a column added to a table named in `APP_UPDATES_ONLY`
cannot be updated by the application until it is listed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

# The rows the application deletes in its ordinary work: sessions and second-factor devices
# (TOTP devices and the steps their codes were used in, passkeys and their attestations)
# being replaced or removed, the scheduler's heartbeats, and the links a unit's supervisor
# list is rewritten through. Never a health record, an exposure or an audit event.
APP_DELETES = frozenset(
    {
        "django_session",
        "otp_totp_totpdevice",
        "accounts_totpstepused",
        "django_otp_webauthn_webauthncredential",
        "django_otp_webauthn_webauthnattestation",
        "schedules_heartbeat",
        "people_unit_supervisors",
        "accounts_user_groups",
        "accounts_user_user_permissions",
    }
)

# The sums the daily totals keep per day and the monthly totals per month.
_TOTAL_SUMS = (
    "seconds",
    "weighted_seconds",
    "violent_seconds",
    "image_seconds",
    "video_seconds",
    "video_with_audio_seconds",
    "audio_seconds",
    "text_seconds",
    "live_seconds",
    "category_a_seconds",
    "category_b_seconds",
    "category_c_seconds",
    "category_none_seconds",
    "category_unknown_seconds",
)

# Clinical, exposure and audit tables: the only columns the application may UPDATE (the
# ones its services change; an empty tuple: no UPDATE at all). Rewriting what was recorded
# (a note's text, a screening's answers, an exposure's minutes, an audit event) is refused
# by PostgreSQL; a correction is a new row (an amendment, a superseding note).
APP_UPDATES_ONLY: Mapping[str, tuple[str, ...]] = {
    "audit_auditevent": (),
    "audit_auditcheckpoint": (),
    "audit_auditkeying": (),
    "casework_casenote": (),
    "checkins_screening": (),
    # An amendment supersedes the old version; a void marks it. Times and minutes never change.
    "exposure_exposuresession": (
        "state",
        "superseded_by_id",
        "changed_at",
        "changed_by_id",
        "void_reason",
    ),
    # Derived from the sessions and recomputed whenever they change.
    "exposure_dailytotal": (
        "sessions",
        *_TOTAL_SUMS,
        "first_start",
        "last_end",
        "spans",
        "updated_at",
    ),
    "exposure_weeklytotal": ("seconds",),
    "exposure_monthlytotal": _TOTAL_SUMS,
    "exposure_restriction": ("lifted_at", "lifted_by_id"),
    "checkins_checkin": (
        "status",
        "status_changed_at",
        "booked_for",
        "booked_by_id",
        "outcome",
        "adjustments_encrypted",
        "completed_at",
        "completed_by_id",
        "cancelled_at",
        "cancelled_by_id",
        "cancel_reason_encrypted",
        "released_at",
    ),
    "checkins_incident": ("withdrawn_at", "withdrawn_by_id", "withdraw_reason"),
    "casework_managementreport": (
        "state",
        "offered_at",
        "consented_at",
        "declined_at",
        "withdrawn_at",
        "disclosed_at",
        "disclosed_by_id",
        "legal_basis",
    ),
    # Who may see clinical records: a proposal is decided once, never rewritten or removed.
    "accounts_rolegrant": ("state", "decided_by_id", "decided_at"),
}

# What the retention job removes (welfare.records.retention; a test keeps the two in step).
RETENTION_DELETES = frozenset(
    {
        "exposure_exposuresession",
        "exposure_dailytotal",
        "exposure_weeklytotal",
        "exposure_monthlytotal",
        "exposure_restriction",
        "checkins_screening",
        "checkins_checkin",
        "checkins_incident",
        "checkins_calendarfeed",
        "casework_managementreport",
        "casework_casenote",
        "alerts_caseowner",
        "alerts_alertoccurrence",
        "alerts_alert",
        "alerts_notification",
        "alerts_webhookdelivery",
        "alerts_outboundemail",
        "people_posting",
        "people_rotationreview",
        "accounts_authtoken",
        "accounts_loginthrottle",
        "otp_totp_totpdevice",
        "accounts_totpstepused",
        "django_otp_webauthn_webauthnattestation",
        "django_otp_webauthn_webauthncredential",
        "django_otp_webauthn_webauthnuserhandle",
        "audit_auditevent",
    }
)
# The anonymisation of a person whose record has gone.
RETENTION_UPDATES: Mapping[str, tuple[str, ...]] = {
    "people_officer": ("staff_number", "display_name"),
    "accounts_user": (
        "username",
        "first_name",
        "last_name",
        "email",
        "password",
        "is_active",
        "is_staff",
        "is_superuser",
    ),
}
# Its own audit event, and the checkpoint the remaining chain starts from.
RETENTION_INSERTS = frozenset({"audit_auditevent", "audit_auditcheckpoint"})

# What no application role may be, checked (and put right) every time the roles are set up.
ROLE_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT"

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class RoleSpecError(ValueError):
    """The grant spec names a table or column the database does not have, or a bad role."""


@dataclass(frozen=True)
class Roles:
    """The roles' names (from the users in DATABASE_URL and DATABASE_RETENTION_URL)."""

    owner: str
    app: str
    retention: str

    def check(self) -> None:
        for name in (self.owner, self.app, self.retention):
            if not _NAME.match(name):
                raise RoleSpecError(f"role name {name!r}: lower-case letters, digits and _ only")
        if len({self.owner, self.app, self.retention}) != 3:
            raise RoleSpecError(
                "the owner, the application and retention must be three different roles "
                f"(got {self.owner}, {self.app}, {self.retention})"
            )


def _ident(name: str) -> str:
    if not _NAME.match(name):
        raise RoleSpecError(f"not a plain identifier: {name!r}")
    return f'"{name}"'


def _literal(value: str) -> str:
    if "\x00" in value:
        raise RoleSpecError("a password may not contain a NUL character")
    return "'" + value.replace("'", "''") + "'"


def role_statements(name: str, password: str | None) -> list[str]:
    """Create the role if it is missing, put its attributes right if they drifted (only
    then, so two test databases set up at once do not both alter it), set its password."""
    role = _ident(name)
    literal = _literal(name)
    statements = [
        f"""DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {literal}) THEN
        BEGIN
            CREATE ROLE {role} {ROLE_ATTRIBUTES};
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {literal} AND (rolsuper OR
            rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls OR rolinherit
            OR NOT rolcanlogin)) THEN
        ALTER ROLE {role} {ROLE_ATTRIBUTES};
    END IF;
END
$$"""  # noqa: S608 - identifiers checked, literals quoted
    ]
    if password:
        statements.append(f"ALTER ROLE {role} PASSWORD {_literal(password)}")
    return statements


def grant_statements(
    roles: Roles, tables: Mapping[str, Sequence[str]], sequences: Sequence[str]
) -> list[str]:
    """Every privilege of the application and retention roles, from nothing: what is not
    granted here is refused. `tables` maps each table of the schema to its columns."""
    roles.check()
    named = set(APP_UPDATES_ONLY) | APP_DELETES | RETENTION_DELETES | set(RETENTION_UPDATES)
    missing = sorted(named - set(tables))
    if missing:
        raise RoleSpecError(f"the grant spec names tables the database lacks: {missing}")
    for spec in (APP_UPDATES_ONLY, RETENTION_UPDATES):
        for table, columns in spec.items():
            unknown = sorted(set(columns) - set(tables[table]))
            if unknown:
                raise RoleSpecError(f"{table} has no columns {unknown}")
    app, retention, owner = _ident(roles.app), _ident(roles.retention), _ident(roles.owner)
    both = f"{app}, {retention}"
    statements = [
        # Neither may act as the other (or as the owner): membership would void the split.
        f"REVOKE {retention} FROM {app}",
        f"REVOKE {app} FROM {retention}",
        f"REVOKE {owner} FROM {both}",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        f"REVOKE ALL ON SCHEMA public FROM {both}",
        f"GRANT USAGE ON SCHEMA public TO {both}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {both}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {both}",
    ]
    for table in sorted(tables):
        name = _ident(table)
        privileges = ["SELECT", "INSERT"]
        if table not in APP_UPDATES_ONLY:
            privileges.append("UPDATE")
        if table in APP_DELETES:
            privileges.append("DELETE")
        statements.append(f"GRANT {', '.join(privileges)} ON {name} TO {app}")
        if APP_UPDATES_ONLY.get(table):
            listed = ", ".join(_ident(c) for c in APP_UPDATES_ONLY[table])
            statements.append(f"GRANT UPDATE ({listed}) ON {name} TO {app}")
        privileges = ["SELECT"]
        if table in RETENTION_INSERTS:
            privileges.append("INSERT")
        if table in RETENTION_DELETES:
            privileges.append("DELETE")
        statements.append(f"GRANT {', '.join(privileges)} ON {name} TO {retention}")
        if table in RETENTION_UPDATES:
            listed = ", ".join(_ident(c) for c in RETENTION_UPDATES[table])
            statements.append(f"GRANT UPDATE ({listed}) ON {name} TO {retention}")
    for sequence in sorted(sequences):
        statements.append(f"GRANT USAGE, SELECT ON SEQUENCE {_ident(sequence)} TO {both}")
    return statements


_TABLES_SQL = """
SELECT c.table_name, array_agg(c.column_name::text ORDER BY c.ordinal_position)
  FROM information_schema.columns c
  JOIN pg_tables t ON t.schemaname = c.table_schema AND t.tablename = c.table_name
 WHERE c.table_schema = 'public'
 GROUP BY c.table_name
"""
_SEQUENCES_SQL = "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
# Two set-ups of one database at once take turns (any constant will do); across databases
# (roles are the cluster's) the role statements above tolerate a race.
_ROLES_LOCK = 0x_DB_201E5


def apply_roles(
    cursor: Any, roles: Roles, passwords: Mapping[str, str | None] | None = None
) -> list[str]:
    """Set the roles up through `cursor` (the owner's, in a transaction); returns the
    statements run."""
    roles.check()
    passwords = passwords or {}
    cursor.execute(_TABLES_SQL)
    tables = {name: list(columns) for name, columns in cursor.fetchall()}
    cursor.execute(_SEQUENCES_SQL)
    sequences = [row[0] for row in cursor.fetchall()]
    statements = [
        *role_statements(roles.app, passwords.get(roles.app)),
        *role_statements(roles.retention, passwords.get(roles.retention)),
        *grant_statements(roles, tables, sequences),
    ]
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ROLES_LOCK])
    for statement in statements:
        cursor.execute(statement)
    return statements


_CONNECTION_KEYS = ("USER", "PASSWORD", "HOST", "PORT")  # the same database, as its owner
OWNER_MARK = "WELFARE_AS_OWNER"


@contextmanager
def as_owner() -> Iterator[None]:
    """The default connection, for the block, as the owner (DATABASE_OWNER_URL): for the
    migrations, the role set-up and re-encrypting clinical text, which the application's
    role may not do (and restoring a backup into a scratch database). For management
    commands, outside any transaction."""
    from django.conf import settings
    from django.db import DEFAULT_DB_ALIAS, connections

    connection = connections[DEFAULT_DB_ALIAS]
    saved = connection.settings_dict
    owner: dict[str, Any] = settings.DATABASE_OWNER
    connection.close()
    connection.settings_dict = {
        **saved,
        **{key: owner[key] for key in _CONNECTION_KEYS},
        OWNER_MARK: True,
        "OPTIONS": {**saved.get("OPTIONS", {}), **owner.get("OPTIONS", {})},
    }
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict = saved


def configured_roles() -> Roles:
    """The roles the settings connect as."""
    from django.conf import settings

    return Roles(
        owner=str(settings.DATABASE_OWNER["USER"]),
        app=str(settings.DATABASES["default"]["USER"]),
        retention=str(settings.DATABASES["retention"]["USER"]),
    )
