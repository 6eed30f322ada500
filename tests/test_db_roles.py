"""Least privilege in the database (backend/db_roles.py): the application's role cannot
delete records, rewrite what was recorded, truncate, change the schema or switch triggers
off; the retention role alone deletes; the grants are built from one spec.

The whole suite runs as the application's role (tests/conftest.py); these tests name the
attacks. A few open a real log-in as the application's role, so that what a superuser's
session could undo (SET ROLE back) is not what is tested.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction
from django.test import override_settings

from backend.db_roles import (
    APP_DELETES,
    APP_UPDATES_ONLY,
    RETENTION_DELETES,
    RETENTION_UPDATES,
    Roles,
    RoleSpecError,
    grant_statements,
    role_statements,
)
from tests.conftest import APP_ROLE, RETENTION_ROLE, Cast
from welfare.audit.models import AuditEvent
from welfare.casework.models import CaseNote, ManagementReport
from welfare.casework.services import note_body, note_write, report_act, report_draft
from welfare.checkins.models import CheckIn, Outcome, Screening
from welfare.checkins.services import checkin_complete, checkin_trigger
from welfare.core import clock as clock_module
from welfare.exposure.models import ExposureSession, Restriction, SessionState
from welfare.exposure.services import exposure_amend, exposure_log, exposure_void
from welfare.people.models import Posting
from welfare.people.services import posting_end
from welfare.records.retention import retention_sweep

REFUSED = r"permission denied|must be owner"
ROLES = Roles(owner="welfare", app="welfare_app", retention="welfare_retention")
PHQ9_OK = [1, 1, 0, 0, 1, 0, 0, 0, 0]


def _spec_tables() -> dict[str, list[str]]:
    """Every table the spec names, with the columns it names, and a working table."""
    tables: dict[str, list[str]] = {
        table: ["id"] for table in {*APP_DELETES, *RETENTION_DELETES, *APP_UPDATES_ONLY}
    }
    for spec in (APP_UPDATES_ONLY, RETENTION_UPDATES):
        for table, columns in spec.items():
            tables[table] = ["id", *columns, "officer_id"]
    tables["people_unit"] = ["id", "name"]
    return tables


# --- The grants, built from the spec (no database) -------------------------------------------


def test_grants_start_from_nothing_and_keep_the_roles_apart() -> None:
    statements = grant_statements(ROLES, _spec_tables(), ["people_unit_id_seq"])
    assert statements[:3] == [
        'REVOKE "welfare_retention" FROM "welfare_app"',
        'REVOKE "welfare_app" FROM "welfare_retention"',
        'REVOKE "welfare" FROM "welfare_app", "welfare_retention"',
    ]
    revoke = statements.index(
        'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "welfare_app", "welfare_retention"'
    )
    grants = [s for s in statements if s.startswith("GRANT ")]
    assert revoke < min(n for n, s in enumerate(statements) if s.startswith("GRANT SELECT"))
    assert statements[-1] == (
        'GRANT USAGE, SELECT ON SEQUENCE "people_unit_id_seq" TO "welfare_app", "welfare_retention"'
    )
    allowed = {"SELECT", "INSERT", "UPDATE", "DELETE", "USAGE"}
    for grant in grants:
        privileges = grant.removeprefix("GRANT ").split(" ON ")[0]
        named = {p.strip().split(" ")[0] for p in privileges.split(",") if p.strip()[:1].isupper()}
        assert named <= allowed, grant  # never TRUNCATE, TRIGGER, REFERENCES, CREATE, ALL


def test_the_application_never_deletes_nor_rewrites_a_record() -> None:
    statements = grant_statements(ROLES, _spec_tables(), [])
    to_app = [s for s in statements if s.startswith("GRANT") and s.endswith('TO "welfare_app"')]
    assert 'GRANT SELECT, INSERT ON "casework_casenote" TO "welfare_app"' in to_app
    assert 'GRANT SELECT, INSERT ON "audit_auditevent" TO "welfare_app"' in to_app
    assert 'GRANT SELECT, INSERT ON "checkins_screening" TO "welfare_app"' in to_app
    assert not [s for s in to_app if "DELETE" in s and "exposure" in s]
    assert (
        'GRANT UPDATE ("state", "superseded_by_id", "changed_at", "changed_by_id", '
        '"void_reason") ON "exposure_exposuresession" TO "welfare_app"'
    ) in to_app
    # A working table the spec does not name: full UPDATE, no DELETE.
    assert 'GRANT SELECT, INSERT, UPDATE ON "people_unit" TO "welfare_app"' in to_app
    assert 'GRANT SELECT, INSERT, UPDATE, DELETE ON "django_session" TO "welfare_app"' in to_app


def test_only_retention_deletes_records_and_audit_events() -> None:
    statements = grant_statements(ROLES, _spec_tables(), [])
    assert 'GRANT SELECT, INSERT, DELETE ON "audit_auditevent" TO "welfare_retention"' in statements
    assert 'GRANT SELECT, DELETE ON "casework_casenote" TO "welfare_retention"' in statements
    assert 'GRANT SELECT ON "people_unit" TO "welfare_retention"' in statements
    assert not APP_DELETES & {*APP_UPDATES_ONLY, "audit_auditevent"}


def test_a_spec_naming_a_column_the_database_lacks_is_refused() -> None:
    tables = _spec_tables()
    tables["casework_managementreport"].remove("legal_basis")
    with pytest.raises(RoleSpecError, match="casework_managementreport has no columns"):
        grant_statements(ROLES, tables, [])
    del tables["casework_casenote"]
    with pytest.raises(RoleSpecError, match="casework_casenote"):
        grant_statements(ROLES, tables, [])


@pytest.mark.parametrize(
    "roles",
    [
        Roles(owner="welfare", app="welfare", retention="welfare_retention"),
        Roles(owner="welfare", app="welfare_app", retention="welfare_app"),
        Roles(owner="welfare", app='app"; DROP TABLE x; --', retention="welfare_retention"),
    ],
)
def test_roles_must_be_three_plain_names(roles: Roles) -> None:
    with pytest.raises(RoleSpecError):
        grant_statements(roles, _spec_tables(), [])


def test_role_statements_create_without_privileges_and_quote_the_password() -> None:
    create, password = role_statements("welfare_app", "it's-a-secret")
    assert 'CREATE ROLE "welfare_app" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE' in create
    assert "NOBYPASSRLS" in create
    assert "rolsuper OR" in create  # put right if it drifted
    assert password == "ALTER ROLE \"welfare_app\" PASSWORD 'it''s-a-secret'"
    assert role_statements("welfare_app", None) == [create]


# --- As the application's role, on the test database -----------------------------------------


def test_the_application_is_not_a_superuser_and_owns_nothing(db: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls, "
            "rolreplication FROM pg_roles WHERE rolname = current_user"
        )
        assert cursor.fetchone() == (APP_ROLE, False, False, False, False, False)
        cursor.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = "
            "current_user"
        )
        assert cursor.fetchone() == (0,)


def _refused(sql: str, params: list[Any] | None = None, *, retention_flag: bool = False) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        if retention_flag:
            cursor.execute("SELECT set_config('welfare.retention', 'on', true)")
        with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
            cursor.execute(sql, params)


@pytest.mark.parametrize(
    "table",
    [
        "audit_auditevent",
        "casework_casenote",
        "exposure_exposuresession",
        "exposure_dailytotal",
        "exposure_monthlytotal",
        "checkins_checkin",
        "checkins_screening",
        "accounts_authtoken",
    ],
)
def test_setting_welfare_retention_does_not_let_the_application_delete(
    cast: Cast, table: str
) -> None:
    _records(cast)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        before = cursor.fetchone()[0]
    _refused(f"DELETE FROM {table}", retention_flag=True)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        assert cursor.fetchone()[0] == before


@pytest.mark.parametrize(
    "sql",
    [
        "TRUNCATE audit_auditevent",
        "TRUNCATE casework_casenote",
        "ALTER TABLE audit_auditevent DISABLE TRIGGER audit_no_update_delete",
        "ALTER TABLE casework_casenote DISABLE TRIGGER ALL",
        "DROP TRIGGER exposure_exposuresession_keep ON exposure_exposuresession",
        "CREATE TABLE public.smuggled (id int)",
        "CREATE OR REPLACE FUNCTION welfare_keep_until_retention() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$",
        "SET session_replication_role = replica",
        "CREATE ROLE someone_else",
    ],
)
def test_the_application_cannot_change_the_schema_or_switch_triggers_off(
    db: None, sql: str
) -> None:
    with (
        pytest.raises(DatabaseError, match=REFUSED),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)


def _records(cast: Cast) -> dict[str, Any]:
    officer = cast.officer_a1
    now = clock_module.now()
    session = exposure_log(
        officer=officer,
        recorded_by=officer.user,
        started_at=now - timedelta(hours=3),
        ended_at=now - timedelta(hours=2),
        material="image",
        category="A",
        client_ref=uuid.uuid4(),
    ).session
    note = note_write(actor=cast.oh1, officer=officer, body="Synthetic note: coping well.")
    checkin = checkin_trigger(
        officer_id=officer.pk, due_on=clock_module.today() + timedelta(days=7), key="roles:1"
    )
    assert checkin is not None
    from welfare.casework.services import screening_submit

    screening = screening_submit(
        actor=officer.user, checkin=None, instrument_key="phq9", answers=PHQ9_OK
    )
    report = report_draft(actor=cast.oh1, officer=officer, fitness="Fit for full duties.")
    from welfare.exposure.services import restriction_create

    restriction = restriction_create(
        actor=cast.oh1,
        officer=officer,
        starts_on=clock_module.today(),
        daily_minutes=60,
        reason="Synthetic reason.",
    )
    return {
        "restriction": restriction,
        "session": session,
        "note": note,
        "checkin": checkin,
        "screening": screening,
        "report": report,
    }


@pytest.mark.parametrize(
    ("sql", "what"),
    [
        ("UPDATE casework_casenote SET body_encrypted = %s WHERE id = %s", "note"),
        ("UPDATE casework_casenote SET officer_id = officer_id WHERE id = %s", "note"),
        ("UPDATE checkins_screening SET answers_encrypted = %s WHERE id = %s", "screening"),
        ("UPDATE checkins_screening SET total = 0 WHERE id = %s", "screening"),
        ("UPDATE audit_auditevent SET action = %s WHERE id = %s", "audit"),
        (
            "UPDATE exposure_exposuresession SET ended_at = started_at + interval '1 minute' "
            "WHERE id = %s",
            "session",
        ),
        ("UPDATE exposure_exposuresession SET category = 'none' WHERE id = %s", "session"),
        ("UPDATE exposure_dailytotal SET day = day + 1 WHERE officer_id = %s", "officer"),
        ("UPDATE checkins_checkin SET due_on = due_on + 365 WHERE id = %s", "checkin"),
        ("UPDATE casework_managementreport SET fitness = %s WHERE id = %s", "report"),
        # Sealed text is rewritten by key rotation alone, as the owner.
        ("UPDATE casework_managementreport SET adjustments_encrypted = %s WHERE id = %s", "report"),
        ("UPDATE exposure_restriction SET reason_encrypted = %s WHERE id = %s", "restriction"),
        ("UPDATE checkins_checkin SET referral_note_encrypted = %s WHERE id = %s", "checkin"),
    ],
)
def test_recorded_content_cannot_be_rewritten(cast: Cast, sql: str, what: str) -> None:
    records = _records(cast)
    target = {
        "audit": AuditEvent.objects.order_by("-id").values_list("pk", flat=True).first(),
        "officer": cast.officer_a1.pk,
    }.get(what) or records[what].pk
    params = ["forged", target] if sql.count("%s") == 2 else [target]

    _refused(sql, params)

    assert note_body(CaseNote.objects.get(pk=records["note"].pk)) == "Synthetic note: coping well."
    assert ExposureSession.objects.get(pk=records["session"].pk).ended_at == (
        records["session"].ended_at
    )
    assert not AuditEvent.objects.filter(action="forged").exists()
    assert ManagementReport.objects.get(pk=records["report"].pk).fitness == "Fit for full duties."
    assert Screening.objects.get(pk=records["screening"].pk).total == records["screening"].total
    assert Restriction.objects.get(pk=records["restriction"].pk).reason == "Synthetic reason."


def test_the_services_work_as_the_application(cast: Cast) -> None:
    records = _records(cast)
    officer = cast.officer_a1
    session = records["session"]
    amended = exposure_amend(
        session=session,
        actor=officer.user,
        reason="Stopped earlier than logged.",
        changes={"ended_at": session.ended_at - timedelta(minutes=30)},
    )
    exposure_void(session=amended, actor=officer.user, reason="Logged on the wrong day.")
    assert list(
        ExposureSession.objects.filter(lineage=session.lineage)
        .order_by("version")
        .values_list("state", flat=True)
    ) == [SessionState.SUPERSEDED, SessionState.VOID]
    completed = checkin_complete(actor=cast.oh1, checkin=records["checkin"], outcome=Outcome.FIT)
    assert CheckIn.objects.get(pk=completed.pk).completed_by_id == cast.oh1.pk
    newer = note_write(
        actor=cast.oh1, officer=officer, body="Synthetic: corrected.", supersedes=records["note"]
    )
    assert newer.supersedes_id == records["note"].pk
    report = report_act(actor=cast.oh1, report=records["report"], action="offer")
    assert ManagementReport.objects.get(pk=report.pk).state == report.state


# --- A real log-in as the application's role ---------------------------------------------------


@pytest.fixture
def app_login(db: None) -> Iterator[psycopg.Connection[Any]]:
    config = connection.settings_dict
    try:
        login = psycopg.connect(
            dbname=config["NAME"],
            user=APP_ROLE,
            host=config["HOST"] or None,
            port=config["PORT"] or None,
            autocommit=True,
        )
    except psycopg.OperationalError as error:  # the server asks for a password we never set
        pytest.skip(f"cannot log in as {APP_ROLE} without a password here: {error}")
    try:
        yield login
    finally:
        login.close()


@pytest.mark.parametrize(
    "sql",
    [
        f"SET ROLE {RETENTION_ROLE}",
        "SET session_replication_role = replica",
        "SET SESSION AUTHORIZATION welfare_retention",
    ],
)
def test_a_login_as_the_application_cannot_become_another_role(
    app_login: psycopg.Connection[Any], sql: str
) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app_login.execute(sql)
    row = app_login.execute("SELECT current_user, session_user").fetchone()
    assert row == (APP_ROLE, APP_ROLE)


def test_a_login_as_the_application_cannot_delete_with_the_retention_flag(
    app_login: psycopg.Connection[Any],
) -> None:
    app_login.execute("SET welfare.retention = 'on'")
    for table in ("audit_auditevent", "casework_casenote", "django_migrations"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app_login.execute(f"DELETE FROM {table}")


# --- Superusers refused; the retention job on its own connection ------------------------------


def test_an_application_connection_as_a_superuser_is_refused(db: None) -> None:
    superuser = connections.create_connection("default")
    superuser.settings_dict = {**connection.settings_dict}
    with override_settings(DATABASE_REFUSE_SUPERUSER=True):
        try:
            with pytest.raises(ImproperlyConfigured, match="superuser"):
                superuser.ensure_connection()
            with pytest.raises(ImproperlyConfigured, match="superuser"):  # and every time
                superuser.ensure_connection()
        finally:
            superuser.close()


def test_an_application_connection_as_its_own_role_is_accepted(
    app_login: psycopg.Connection[Any],
) -> None:
    own = connections.create_connection("default")
    own.settings_dict = {**connection.settings_dict, "USER": APP_ROLE, "PASSWORD": ""}
    with override_settings(DATABASE_REFUSE_SUPERUSER=True):
        try:
            own.ensure_connection()
            with own.cursor() as cursor:
                cursor.execute("SELECT current_user")
                assert cursor.fetchone() == (APP_ROLE,)
        finally:
            own.close()


def test_db_roles_refuses_an_application_that_is_the_owner_in_production(db: None) -> None:
    # The tests' settings connect as one superuser for everything (roles come from conftest).
    with override_settings(PRODUCTION=True), pytest.raises(CommandError, match="its own role"):
        call_command("db_roles")


@pytest.mark.django_db(transaction=True, databases=["default", "retention"])
def test_the_retention_job_deletes_on_its_own_connection_as_its_own_role(cast: Cast) -> None:
    officer = cast.officer_a1
    left = datetime(2027, 3, 10, 17, 0, tzinfo=UTC)
    clock_module.freeze(left)
    exposure_log(
        officer=officer,
        recorded_by=officer.user,
        started_at=left - timedelta(hours=8),
        ended_at=left - timedelta(hours=7),
        material="image",
        category="A",
        client_ref=uuid.uuid4(),
    )
    note_write(actor=cast.oh1, officer=officer, body="Synthetic note.")
    posting = Posting.objects.get(officer=officer, ended_on__isnull=True)
    posting_end(actor=cast.admin, posting=posting, ended_on=left.date())

    report = retention_sweep(at=datetime(2067, 3, 11, tzinfo=UTC))

    assert report.officers_anonymised == 1
    assert not ExposureSession.objects.filter(officer=officer).exists()
    assert not CaseNote.objects.filter(officer=officer).exists()
    assert AuditEvent.objects.filter(action="retention.run").exists()
    with connections["retention"].cursor() as cursor:
        cursor.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (RETENTION_ROLE, False)


def test_the_embedded_database_runs_the_app_and_retention_as_their_own_roles() -> None:
    from backend.embedded_db import role_urls

    owner = "postgresql://postgres:@/postgres?host=/work/.data/run"
    assert role_urls(owner) == {
        "DATABASE_OWNER_URL": owner,
        "DATABASE_URL": "postgresql://welfare_app@/postgres?host=/work/.data/run",
        "DATABASE_RETENTION_URL": "postgresql://welfare_retention@/postgres?host=/work/.data/run",
        "DATABASE_REFUSE_SUPERUSER": "true",
    }
