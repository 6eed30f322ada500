"""The fixed cast every test can use, API clients with real bearer tokens, and the clock.

Cast: two officers in unit A, one in unit B, a supervisor for each unit, two OH
clinicians, an HR analyst and an admin. Dates are fixed so tests read the same
on any day.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core import signals
from django.db import close_old_connections, connection, connections, transaction
from django.db.backends.signals import connection_created
from rest_framework.test import APIClient

from backend.db_roles import OWNER_MARK, Roles, apply_roles
from welfare.accounts.models import User
from welfare.accounts.services import token_issue
from welfare.core import clock as clock_module
from welfare.core.roles import Role
from welfare.exposure.services import exposure_log
from welfare.people.models import Officer, Unit, UnitKind
from welfare.people.services import officer_create, unit_create
from welfare.records import retention

PASSWORD = "correct horse battery staple"
T0 = datetime(2027, 3, 10, 9, 0, tzinfo=UTC)


def pytest_configure(config: pytest.Config) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- Least privilege: the suite runs as the application's role -----------------------------
# The test database is created and migrated as the superuser of DATABASE_URL (its owner);
# then `backend.db_roles` sets the roles up on it and every connection of the tests takes
# the application's role (the retention alias, retention's), as production connects.
APP_ROLE = "welfare_app"
RETENTION_ROLE = "welfare_retention"
_SESSION_ROLES = {"default": APP_ROLE, "retention": RETENTION_ROLE}


def _take_role(sender: Any, connection: Any, **kwargs: Any) -> None:
    role = _SESSION_ROLES.get(connection.alias)
    if role is not None and not connection.settings_dict.get(OWNER_MARK):
        with connection.connection.cursor() as cursor:
            cursor.execute(f'SET ROLE "{role}"')


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    with django_db_blocker.unblock():
        owner = connection.settings_dict["USER"] or "postgres"
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
            apply_roles(cursor, Roles(owner=owner, app=APP_ROLE, retention=RETENTION_ROLE))
        connections.close_all()
        connection_created.connect(_take_role, dispatch_uid="tests.take_role")
    yield
    connection_created.disconnect(dispatch_uid="tests.take_role")
    with django_db_blocker.unblock():
        connections.close_all()


@contextmanager
def owner_session() -> Iterator[None]:
    """For one block, the test's connection as its owner (the superuser it logged in as):
    for tests of the triggers that hold even against the owner, and owner-only jobs."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL ROLE NONE")
        yield
        cursor.execute(f'SET LOCAL ROLE "{APP_ROLE}"')


@contextmanager
def _retention_on_the_tests_connection() -> Iterator[str]:
    """A test's uncommitted rows cannot be seen from a second connection: the retention job
    runs on the test's own, as the retention role for its transaction (SET LOCAL ROLE: the
    tests' superuser session may; the application's role may not)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f'SET LOCAL ROLE "{RETENTION_ROLE}"')
        yield "default"
        cursor.execute(f'SET LOCAL ROLE "{APP_ROLE}"')


@pytest.fixture(autouse=True)
def _retention_role(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that allow the retention alias run the job on its own connection, as in
    production; the others on theirs (see above)."""
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and "retention" in (marker.kwargs.get("databases") or ()):
        return
    monkeypatch.setattr(retention, "retention_transaction", _retention_on_the_tests_connection)


@pytest.fixture(scope="session", autouse=True)
def _flush_past_append_only_triggers() -> Iterator[None]:
    """Tests that commit (real threads) are cleaned up by TRUNCATE, which the audit trail's
    triggers and the application's role refuse. The test database is ours to empty: let
    the flush run as its owner and a replica, which PostgreSQL only allows a superuser, so
    no production path is opened."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self: DatabaseOperations, sql_list: list[str]) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
            cursor.execute("SET session_replication_role = replica")
        try:
            original(self, sql_list)
        finally:
            with self.connection.cursor() as cursor:
                cursor.execute("SET session_replication_role = DEFAULT")
                role = _SESSION_ROLES.get(self.connection.alias)
                if role is not None:
                    cursor.execute(f'SET ROLE "{role}"')

    DatabaseOperations.execute_sql_flush = execute_sql_flush  # type: ignore[method-assign]
    yield
    DatabaseOperations.execute_sql_flush = original  # type: ignore[method-assign]


OFFLINE_PUBLIC_ADDRESS = "93.184.215.14"  # what every webhook host name "resolves" to in tests


@pytest.fixture(autouse=True)
def _webhooks_stay_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach the network through a webhook: host names resolve (without DNS) to
    one public address, IP literals to themselves, and only loopback is ever connected to
    (the local receivers some tests run on an allow-listed 127.0.0.1)."""
    import ipaddress

    from welfare.alerts.services import webhooks

    real_send = webhooks.send_post

    def resolve(host: str, port: int) -> list[str]:
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            return [OFFLINE_PUBLIC_ADDRESS]

    def send(target: Any, addresses: Any, body: bytes, headers: Any, timeout: float) -> int:
        if not all(ipaddress.ip_address(a).is_loopback for a in addresses):
            raise OSError("tests do not reach the network")
        return real_send(target, addresses, body, headers, timeout)

    monkeypatch.setattr(webhooks, "resolve_host", resolve)
    monkeypatch.setattr(webhooks, "send_post", send)


class Clock:
    """The injected clock, frozen for the test."""

    def now(self) -> datetime:
        return clock_module.now()

    def set(self, at: datetime) -> None:
        clock_module.freeze(at)

    def advance(self, **kwargs: float) -> datetime:
        return clock_module.advance(timedelta(**kwargs))

    def today(self) -> date:
        return clock_module.today()


@pytest.fixture
def clock() -> Iterator[Clock]:
    clock_module.freeze(T0)
    try:
        yield Clock()
    finally:
        clock_module.unfreeze()


@dataclass
class Cast:
    unit_a: Unit
    unit_b: Unit
    officer_a1: Officer
    officer_a2: Officer
    officer_b1: Officer
    supervisor_a: User
    supervisor_b: User
    oh1: User
    oh2: User
    hr: User
    admin: User

    def user(self, name: str) -> User:
        """A cast member's user by role-ish name: officer, supervisor, oh, hr, admin, ..."""
        aliases = {
            "officer": self.officer_a1.user,
            "other_officer": self.officer_b1.user,
            "supervisor": self.supervisor_a,
            "other_supervisor": self.supervisor_b,
            "oh": self.oh1,
            "hr": self.hr,
            "admin": self.admin,
        }
        return aliases[name]


def make_user(username: str, role: str, *, password: str = PASSWORD) -> User:
    user = User(username=username, role=role, is_staff=role == Role.ADMIN)
    user.set_password(password)
    user.save()
    return user


@pytest.fixture
def cast(db: None, clock: Clock) -> Cast:
    admin = make_user("admin1", Role.ADMIN)
    supervisor_a = make_user("sup.a", Role.SUPERVISOR)
    supervisor_b = make_user("sup.b", Role.SUPERVISOR)
    unit_a = unit_create(
        actor=admin, name="Unit A", kind=UnitKind.ABUSIVE_IMAGES, supervisors=[supervisor_a]
    )
    unit_b = unit_create(
        actor=admin, name="Unit B", kind=UnitKind.DIGITAL_FORENSICS, supervisors=[supervisor_b]
    )

    def officer(username: str, staff: str, unit: Unit, since: date) -> Officer:
        return officer_create(
            actor=admin,
            user=make_user(username, Role.OFFICER),
            staff_number=staff,
            display_name=f"Test {username}",
            unit=unit,
            posted_since=since,
        )

    return Cast(
        unit_a=unit_a,
        unit_b=unit_b,
        officer_a1=officer("off.a1", "T0001", unit_a, date(2025, 6, 1)),
        officer_a2=officer("off.a2", "T0002", unit_a, date(2026, 1, 15)),
        officer_b1=officer("off.b1", "T0003", unit_b, date(2024, 9, 1)),
        supervisor_a=supervisor_a,
        supervisor_b=supervisor_b,
        oh1=make_user("oh.one", Role.OH),
        oh2=make_user("oh.two", Role.OH),
        hr=make_user("hr.one", Role.HR),
        admin=admin,
    )


def officer_who_viewed(
    cast: Cast,
    username: str,
    *,
    unit: Unit,
    staff_number: str,
    display_name: str,
    posted_since: date,
    sessions: Iterable[tuple[datetime, int]],
    material: str = "video",
    category: str = "B",
) -> Officer:
    """One more officer (an account, the record, a posting in `unit`) who logged a session
    for each `(start, minutes)`: the people statistics need more of than the cast has."""
    user = make_user(username, Role.OFFICER)
    officer = officer_create(
        actor=cast.admin,
        user=user,
        staff_number=staff_number,
        display_name=display_name,
        unit=unit,
        posted_since=posted_since,
    )
    for started, minutes in sessions:
        exposure_log(
            officer=officer,
            recorded_by=user,
            started_at=started,
            ended_at=started + timedelta(minutes=minutes),
            material=material,
            category=category,
            client_ref=uuid.uuid4(),
        )
    return officer


def run_together(*calls: Callable[[], object]) -> list[object]:
    """Run the calls at the same moment on real threads, each with its own connection."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def worker(index: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except Exception as error:  # reported to the test as its result
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n, call)) for n, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


@contextmanager
def database_alias(aliases: dict[str, dict[str, Any]]) -> Iterator[None]:
    """More database aliases for one test (a read replica's, say), as DATABASES would
    configure them: in `settings.DATABASES` for the code that looks there, and each a
    connection of this thread. Made on the fly, so the test case's rule that a test name the
    aliases it uses (checked against the aliases configured at start) does not apply."""
    from django.db.utils import load_backend

    original = settings.DATABASES
    settings.DATABASES = {**original, **aliases}
    for alias, config in aliases.items():
        config = {**connection.settings_dict, **config}
        connections[alias] = load_backend(config["ENGINE"]).DatabaseWrapper(config, alias)
    try:
        yield
    finally:
        for alias in aliases:
            connections[alias].close()
            del connections[alias]
        settings.DATABASES = original


@contextmanager
def connection_kept() -> Iterator[None]:
    """For requests sent straight to `backend.wsgi.application` (schemathesis, an httpx
    WSGI transport), what Django's test client does around a request: the handler must not
    close the test's connection (it is inside the test's transaction) when a request starts
    or finishes."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def client_for(user: User | None, *, verified: bool = True) -> APIClient:
    """An API client carrying a real bearer token (verified second factor unless told)."""
    client = APIClient()
    if user is not None:
        raw, _ = token_issue(user=user, otp_verified=verified)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def api():
    return client_for


def web_client_for(user: User | None, *, verified: bool = True) -> Any:
    """A browser-like client signed in to the web app (second factor verified unless told)."""
    from django.test import Client

    from welfare.accounts.models import SealedTOTPDevice
    from welfare.accounts.services import otp_device_new
    from welfare.web.auth import SESSION_STARTED

    client = Client()
    if user is None:
        return client
    client.force_login(user, backend="welfare.accounts.backends.RoleBackend")
    session = client.session
    if verified:
        device = SealedTOTPDevice.objects.filter(
            user=user, confirmed=True
        ).first() or otp_device_new(user=user, name="test", confirmed=True)
        session["otp_device_id"] = device.persistent_id
    session[SESSION_STARTED] = clock_module.now().timestamp()
    session.save()
    return client


def field_errors(response: Any, *, code: str | None = "invalid") -> dict[str, Any]:
    """A field-error answer's messages by field, once its `code` is checked (every error
    carries one: `invalid` unless a rule names its own; None: any code)."""
    body = dict(response.json())
    given = body.pop("code")
    assert given == code if code is not None else isinstance(given, str) and given, body
    return body
