"""The OpenAPI document is enough to build a client (Part 16, item 6).

A typed client is generated from the document the app serves (`GET /api/schema/`) by
openapi-python-client, and drives one whole story through its typed functions and models
(`tests/generated_client_scenario.py`): an officer logs a day's sessions and amends one;
the scheduler finds the daily limit gone past; a supervisor of the officer's unit lists
the alerts and acknowledges it; occupational health books the officer's check-in and
completes it with an outcome; after the quarter, HR downloads the exposure statistics.
Every role signs in with a password and a TOTP code. After each step the database is
checked: the state really changed.

How it runs:
- The client is generated once per test process into a temporary folder, never committed,
  and imported from there (about a second). The generator's warnings about the operations
  the story calls fail the test: the document must describe them fully. Its warnings about
  other operations are printed (`-s` shows them).
- Requests go in process through `backend.wsgi.application` (an httpx WSGI transport under
  the generated client), inside the test's transaction on the test PostgreSQL.
- The scenario module is typed, and mypy passes it against the generated package (too slow
  to run here, about 15 s): keep the generated folder and check it, with DATABASE_URL set,
  `mkdir -p .data && .venv/bin/python -m pytest --basetemp=.data/client tests/test_generated_client.py`
  then `MYPYPATH=.data/client/client0 .venv/bin/mypy --config-file= --strict
  tests/generated_client_scenario.py` (no config file: a missing import is then an error).
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from types import ModuleType
from typing import Any

import httpx
import pytest
from openapi_python_client import generate
from openapi_python_client.config import Config, ConfigFile, MetaType
from openapi_python_client.parser.errors import ErrorLevel, GeneratorError

from backend.wsgi import application
from schedules.runner import run_all
from tests.accounts.test_api_login import code_for
from tests.conftest import PASSWORD, Cast, connection_kept, officer_who_viewed
from welfare.accounts.models import User
from welfare.accounts.services import otp_device_new
from welfare.alerts.models import Alert, AlertOccurrence
from welfare.checkins.models import CheckIn
from welfare.exposure.models import ExposureSession

PACKAGE = "welfare_api_client"
SCENARIO = "tests.generated_client_scenario"
# The operations the story calls: the generator must not have skipped or cut any of them.
CALLED = {
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/exposures/"),
    ("POST", "/api/v1/exposures/{id}/amend"),
    ("GET", "/api/v1/alerts/"),
    ("POST", "/api/v1/alerts/{id}/acknowledge"),
    ("GET", "/api/v1/checkins/"),
    ("POST", "/api/v1/checkins/{id}/book"),
    ("POST", "/api/v1/checkins/{id}/complete"),
    ("GET", "/api/v1/stats/exposure"),
}
OPERATION = re.compile(r"parsing (?P<method>[A-Z]+) (?P<path>\S+) within")


def _operation(problem: GeneratorError) -> tuple[str, str] | None:
    found = OPERATION.search(problem.header)
    return (found["method"], found["path"]) if found else None


def _describe(problem: GeneratorError) -> str:
    return f"{problem.header} {problem.detail or ''}".strip()


@pytest.fixture(scope="session")
def scenario(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ModuleType]:
    """The client generated from the served document, and the scenario written against it."""
    root = tmp_path_factory.mktemp("client")
    transport = httpx.WSGITransport(app=application)
    # The view runs in a transaction (ATOMIC_REQUESTS), so on the test database; it writes nothing.
    with django_db_blocker.unblock(), httpx.Client(transport=transport) as http:
        served = http.get("http://testserver/api/schema/", params={"format": "json"})
    assert served.status_code == 200, served.text
    described = {
        (verb.upper(), path) for path, item in served.json()["paths"].items() for verb in item
    }
    assert described >= CALLED, f"not in the document: {CALLED - described}"
    document = root / "openapi.json"
    document.write_bytes(served.content)
    config = Config.from_sources(
        # No post hooks: formatting the generated code would only cost time.
        ConfigFile(package_name_override=PACKAGE, post_hooks=[]),
        MetaType.NONE,
        document,
        "utf-8",
        overwrite=False,
        output_path=root / PACKAGE,
    )
    problems = generate(config=config)
    blocking = [
        _describe(p)
        for p in problems
        if p.level is ErrorLevel.ERROR or _operation(p) is None or _operation(p) in CALLED
    ]
    assert not blocking, "the generator could not build what the story needs:\n" + "\n".join(
        blocking
    )
    for problem in problems:
        print(f"generator: {_describe(problem)}")  # other operations, degraded
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(SCENARIO)
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n == SCENARIO or n.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def _colleagues(cast: Cast) -> None:
    """Four more officers of unit A who viewed 50 minutes each on 3 March: with the officer
    of the story, five people, so that unit A's March figures stand for HR (k = 5)."""
    for n in range(4):
        officer_who_viewed(
            cast,
            f"off.a{n + 3}",
            unit=cast.unit_a,
            staff_number=f"T01{n:02d}",
            display_name=f"Colleague {n}",
            posted_since=date(2026, 9, 1),
            sessions=[(datetime(2027, 3, 3, 9, tzinfo=UTC), 50)],
            material="image",
            category="C",
        )


def test_a_client_generated_from_the_document_drives_the_whole_story(
    scenario: ModuleType, cast: Cast, clock
) -> None:
    _colleagues(cast)
    officer, supervisor, oh, hr = cast.officer_a1.user, cast.supervisor_a, cast.oh1, cast.hr
    devices = {
        user: otp_device_new(user=user, name="phone", confirmed=True)
        for user in (officer, supervisor, oh, hr)
    }
    transport = httpx.WSGITransport(app=application)

    def log_in(user: User) -> Any:
        session = scenario.log_in(transport, user.username, PASSWORD, code_for(devices[user]))
        assert session.login.role.value == user.role
        assert session.login.otp_verified is True
        return session.client

    with connection_kept():
        # The officer's day: six sessions, one sent twice, the last amended.
        clock.set(datetime(2027, 3, 10, 18, tzinfo=UTC))
        day = scenario.officer_logs_and_amends_a_day(
            log_in(officer), datetime(2027, 3, 10, 8, tzinfo=UTC)
        )
        assert [s.officer for s in day.logged] == [cast.officer_a1.pk] * 6
        assert day.retried.id == day.logged[0].id  # the retry created nothing
        last, amended = day.logged[-1], day.amended
        assert (last.minutes, amended.minutes, amended.version) == (20, 55, 2)
        assert amended.status.value == "current"
        assert [(v.version, v.status.value) for v in amended.history] == [
            (1, "superseded"),
            (2, "current"),
        ]
        stored = ExposureSession.objects.filter(lineage=amended.lineage).order_by("version")
        assert [(s.pk, s.state) for s in stored] == [
            (last.id, "superseded"),
            (amended.id, "current"),
        ]
        assert ExposureSession.objects.filter(officer=cast.officer_a1).count() == 7

        # The scheduler's sweep finds 330 minutes, past the daily limit of 300.
        run_all(clock.now())

        # A supervisor of unit A acknowledges the alert.
        seen = scenario.supervisor_acknowledges_the_limit_alert(log_in(supervisor))
        assert [a.officer for a in seen.listed] == [cast.officer_a1.pk]
        alert = seen.acknowledged
        occurrences = AlertOccurrence.objects.filter(alert_id=alert.id)
        assert list(occurrences.values_list("rule", "on")) == [("daily_minutes", date(2027, 3, 10))]
        assert (alert.status.value, alert.acknowledged_by) == ("acknowledged", supervisor.pk)
        stored_alert = Alert.objects.get(pk=alert.id)
        assert (stored_alert.status, stored_alert.acknowledged_by_id) == (
            "acknowledged",
            supervisor.pk,
        )
        assert stored_alert.acknowledged_at == clock.now()

        # Occupational health books the officer's check-in for Friday, then completes it.
        booked_for = datetime(2027, 3, 12, 10, tzinfo=UTC)
        checkin_id = scenario.oh_books_a_checkin(log_in(oh), cast.officer_a1.pk, booked_for)
        stored_booking = CheckIn.objects.get(pk=checkin_id)
        assert (stored_booking.booked_for, stored_booking.booked_by_id) == (booked_for, oh.pk)
        clock.set(booked_for + timedelta(hours=1))
        done = scenario.oh_completes_the_checkin(log_in(oh), checkin_id)
        assert (done.status.value, done.outcome.value) == ("completed", "fit_with_adjustments")
        stored_checkin = CheckIn.objects.get(pk=checkin_id)
        assert (stored_checkin.officer_id, stored_checkin.status, stored_checkin.outcome) == (
            cast.officer_a1.pk,
            "completed",
            "fit_with_adjustments",
        )

        # After the quarter, HR's statistics count the amended session, not the original.
        clock.set(datetime(2027, 4, 10, 9, tzinfo=UTC))
        stats = scenario.hr_downloads_exposure_statistics(log_in(hr), "2027Q1")
    # The document leaves the statistics' parameters and rows free-form: read by key.
    assert (stats.parameters["audience"], stats.parameters["k"]) == ("hr", 5)
    march = [row for row in stats.rows if (row["unit"], row["month"]) == ("Unit A", "2027-03")]
    assert len(march) == 1
    assert march[0]["suppressed"] is False
    assert march[0]["people"] == 5
    # 5 x 55 + 55 (amended from 20) + 4 x 50 = 530 minutes, 9 hours; the original 495, 8.
    assert march[0]["hours"] == 9
