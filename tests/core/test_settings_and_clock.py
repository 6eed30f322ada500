from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from backend.env import ConfigurationError, database_from_url, env_bool, env_int
from welfare.core import clock
from welfare.core.filters import DATE_OR_INSTANT_INVALID, parse_date_or_instant

ROOT = Path(__file__).resolve().parents[2]


def test_database_url_with_socket_directory() -> None:
    config = database_from_url("postgresql://postgres:@/postgres?host=/tmp/pg")
    assert config["NAME"] == "postgres"
    assert config["HOST"] == "/tmp/pg"
    assert config["USER"] == "postgres"


def test_database_url_with_host_and_port() -> None:
    config = database_from_url("postgres://app:s%40cret@db.internal:6543/welfare?sslmode=require")
    assert (config["HOST"], config["PORT"], config["PASSWORD"], config["NAME"]) == (
        "db.internal",
        "6543",
        "s@cret",
        "welfare",
    )
    assert config["OPTIONS"] == {"sslmode": "require"}


@pytest.mark.parametrize(
    "url", ["mysql://x@y/z", "postgresql://x@y/", "postgresql://x@y:notaport/db"]
)
def test_bad_database_urls_fail_loudly(url: str) -> None:
    with pytest.raises(ConfigurationError):
        database_from_url(url)


def test_typed_env_helpers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_BOOL", "maybe")
    with pytest.raises(ConfigurationError, match="X_BOOL"):
        env_bool("X_BOOL", False)
    monkeypatch.setenv("X_INT", "12x")
    with pytest.raises(ConfigurationError, match="X_INT"):
        env_int("X_INT", 1)
    monkeypatch.setenv("X_INT", "3")
    with pytest.raises(ConfigurationError, match="at least 5"):
        env_int("X_INT", 1, minimum=5)


def _check_with(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ALLOWED_HOSTS"))}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_without_a_secret_refuses_to_start() -> None:
    result = _check_with({"DJANGO_ENV": "production", "ALLOWED_HOSTS": "welfare.example"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_with_debug_refuses_to_start() -> None:
    result = _check_with(
        {"DJANGO_ENV": "production", "DJANGO_DEBUG": "true", "DJANGO_SECRET_KEY": "k" * 60}
    )
    assert result.returncode != 0
    assert "DJANGO_DEBUG must be false" in result.stderr


def test_clock_is_injectable() -> None:
    at = datetime(
        2027, 3, 28, 0, 30, tzinfo=UTC
    )  # 00:30 UTC = 00:30 GMT, before the clocks go forward
    with clock.frozen(at):
        assert clock.now() == at
        assert clock.today() == date(2027, 3, 28)
        clock.advance(timedelta(hours=23))  # 23:30 UTC = 00:30 BST next day
        assert clock.today() == date(2027, 3, 29)
    assert not clock.is_frozen()
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.freeze(datetime(2027, 1, 1))  # noqa: DTZ001 - the point of the test


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2027-03-01", date(2027, 3, 1)),
        ("2027-03-01T10:00:00+01:00", datetime(2027, 3, 1, 9, 0, tzinfo=UTC)),
        ("2027-03-01T10:00:00Z", datetime(2027, 3, 1, 10, 0, tzinfo=UTC)),
    ],
)
def test_date_or_instant(raw: str, expected: object) -> None:
    assert parse_date_or_instant(raw) == expected


@pytest.mark.parametrize("raw", ["yesterday", "2027-13-01", "2027-03-01T10:00:00", "01/03/2027"])
def test_date_or_instant_refuses(raw: str) -> None:
    with pytest.raises(ValueError, match="date"):
        parse_date_or_instant(raw)
    assert "YYYY-MM-DD" in DATE_OR_INSTANT_INVALID
