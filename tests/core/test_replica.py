"""Which database the statistics read: the primary, or a read replica while it is fit to.

Here the second alias points at the test database itself (a second, read-only connection:
not a standby, so never used for the statistics); tests/stats/test_read_replica.py runs a
real streaming standby."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from backend.env import replica_database_from_url
from tests.conftest import database_alias
from welfare.core import db as core_db
from welfare.core import rules
from welfare.core.db import REPLICA_DB_ALIAS, fetch_rows, reporting_alias, reporting_read
from welfare.people.models import Unit, UnitKind
from welfare.stats import rules as stats_rules
from welfare.stats import selectors

# same cluster, in recovery, receiving, caught up, seconds since the last replayed commit
VERDICTS = [
    (False, True, True, True, 0.0, rules.REPLICA_OTHER_CLUSTER),  # another force's standby
    (True, False, True, True, 0.0, rules.REPLICA_NOT_STANDBY),  # a primary, a promoted one
    (True, True, False, True, 0.0, rules.REPLICA_NOT_RECEIVING),  # cut off: stale how much?
    (True, True, True, True, None, None),  # nothing replayed yet, nothing to replay
    (True, True, True, True, 86400.0, None),  # caught up; the primary has been quiet a day
    (True, True, True, False, None, rules.REPLICA_LAG_UNKNOWN),
    (True, True, True, False, 30.0, None),  # at the bound
    (True, True, True, False, 30.5, rules.REPLICA_LAGGING),
]


@pytest.mark.parametrize(
    ("same_cluster", "in_recovery", "receiving", "caught_up", "lag", "refusal"), VERDICTS
)
def test_when_a_standby_may_serve_the_statistics(
    same_cluster: bool,
    in_recovery: bool,
    receiving: bool,
    caught_up: bool,
    lag: float | None,
    refusal: str | None,
) -> None:
    assert (
        rules.replica_refusal(
            same_cluster=same_cluster,
            in_recovery=in_recovery,
            receiving=receiving,
            caught_up=caught_up,
            lag_seconds=lag,
            max_lag=30,
        )
        == refusal
    )


def test_the_replica_url_makes_a_read_only_alias_that_gives_up_quickly() -> None:
    config = replica_database_from_url(
        "postgresql://welfare_app:pw@db-replica:5432/welfare?sslmode=require&options=-c%20x=1",
        conn_max_age=60,
    )
    assert (config["HOST"], config["USER"], config["NAME"]) == (
        "db-replica",
        "welfare_app",
        "welfare",
    )
    assert config["OPTIONS"] == {
        "sslmode": "require",
        "connect_timeout": "3",
        "options": "-c x=1 -c default_transaction_read_only=on",
    }
    assert config["TEST"] == {"MIRROR": "default"}  # the tests never create a database there
    slow = replica_database_from_url("postgresql://a@b/c?connect_timeout=10", conn_max_age=0)
    assert slow["OPTIONS"]["connect_timeout"] == "10"  # type: ignore[index]


def test_without_a_replica_the_statistics_read_the_primary_with_no_check(db: None) -> None:
    assert REPLICA_DB_ALIAS not in settings.DATABASES
    with CaptureQueriesContext(connection) as queries:
        assert reporting_alias() == DEFAULT_DB_ALIAS
    assert len(queries) == 0


def _test_database_url() -> str:
    config = connection.settings_dict
    host, name = config["HOST"] or "localhost", config["NAME"]
    where = (
        f"/{name}?host={host}"
        if host.startswith("/")
        else f"{host}:{config['PORT'] or 5432}/{name}"
    )
    return f"postgresql://{config['USER'] or 'postgres'}:{config['PASSWORD'] or ''}@{where}"


@pytest.fixture
def second_alias(db: None) -> Iterator[None]:
    """The `replica` alias as DATABASE_REPLICA_URL would make it, at the test database."""
    config = replica_database_from_url(_test_database_url(), conn_max_age=0)
    core_db.replica_state_reset()
    with database_alias({REPLICA_DB_ALIAS: config}):
        yield
    core_db.replica_state_reset()


def test_writes_through_the_replica_alias_are_refused(second_alias: None) -> None:
    read = fetch_rows("SELECT current_setting('transaction_read_only') AS ro", {}, using="replica")
    assert read.values == [("on",)]
    with pytest.raises(DatabaseError, match="read-only"):
        Unit.objects.using(REPLICA_DB_ALIAS).create(name="Never", kind=UnitKind.ONLINE_CSE)
    with (
        pytest.raises(DatabaseError, match="read-only"),
        connections[REPLICA_DB_ALIAS].cursor() as cursor,
    ):
        cursor.execute("CREATE TEMPORARY TABLE scratch (n int)")


def test_a_server_that_is_not_a_standby_is_not_used_and_said_once(
    second_alias: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="welfare.db.replica")
    with override_settings(DATABASE_REPLICA_CHECK_SECONDS=0):
        assert [reporting_alias() for _ in range(3)] == [DEFAULT_DB_ALIAS] * 3
    said = [r.getMessage() for r in caplog.records if r.name == "welfare.db.replica"]
    assert len(said) == 1
    assert rules.REPLICA_NOT_STANDBY in said[0]


def test_the_check_is_made_at_most_every_few_seconds(second_alias: None) -> None:
    with override_settings(DATABASE_REPLICA_CHECK_SECONDS=3600):
        with CaptureQueriesContext(connections[REPLICA_DB_ALIAS]) as first:
            reporting_alias()
        with CaptureQueriesContext(connections[REPLICA_DB_ALIAS]) as second:
            reporting_alias()
    assert any("pg_is_in_recovery" in q["sql"] for q in first.captured_queries)
    assert len(second) == 0


def test_a_superuser_replica_connection_is_refused_and_the_primary_read(
    second_alias: None, caplog: pytest.LogCaptureFixture
) -> None:
    # The tests' DATABASE_URL is the test database's owner, a superuser (conftest).
    with override_settings(DATABASE_REFUSE_SUPERUSER=True, DATABASE_REPLICA_CHECK_SECONDS=0):
        assert reporting_alias() == DEFAULT_DB_ALIAS
    assert "unreachable (ImproperlyConfigured)" in caplog.text


CLINICAL = re.compile(r"\b(casework_\w+|checkins_screening|checkins_incident)\b")


def test_the_statistics_read_only_the_alias_given_and_no_clinical_table(
    second_alias: None,
) -> None:
    first, end = date(2027, 1, 1), date(2027, 4, 1)
    protection = stats_rules.Protection(k=5)
    with (
        CaptureQueriesContext(connection) as primary,
        CaptureQueriesContext(connections[REPLICA_DB_ALIAS]) as replica,
    ):
        selectors.exposure_table(["unit", "month"], first, end, protection, using="replica")
        selectors.checkins_table(["unit", "quarter"], first, end, protection, using="replica")
        selectors.alerts_table(["kind", "month"], first, end, protection, using="replica")
        selectors.rotation_table(["unit"], protection, day=date(2027, 3, 31), using="replica")
    assert len(primary) == 0
    statements = [q["sql"] for q in replica.captured_queries]
    assert sum("GROUPING SETS" in sql for sql in statements) >= 4
    assert [sql for sql in statements if CLINICAL.search(sql)] == []


def test_a_read_that_fails_on_the_replica_runs_again_on_the_primary(
    second_alias: None, caplog: pytest.LogCaptureFixture
) -> None:
    # Believed fit (a real standby is in tests/stats/test_read_replica.py); then its session
    # is cut in the middle of the read.
    with core_db._replica_lock:
        core_db._replica.refusal = None
        core_db._replica.checked_at = float("inf")
    calls: list[str] = []

    def read(using: str) -> Any:
        calls.append(using)
        if using == REPLICA_DB_ALIAS:
            fetch_rows("SELECT pg_terminate_backend(pg_backend_pid())", {}, using=using)
        return fetch_rows("SELECT 1 AS one", {}, using=using).values

    assert reporting_read(read) == [(1,)]
    assert calls == [REPLICA_DB_ALIAS, DEFAULT_DB_ALIAS]
    assert "replica_read_failed" in caplog.text
    assert core_db._replica.checked_at is None  # checked again before its next use
