"""A calendar feed's key is its credential: no log line carries it. And `seed_demo`, which
creates users with known passwords, refuses to run in production."""

from __future__ import annotations

import logging
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from gunicorn.config import Config

from backend.gunicorn_logging import RedactingLogger
from backend.management.commands.seed_demo import REFUSED_IN_PRODUCTION
from tests.conftest import Cast, client_for
from welfare.core.logs import JsonFormatter, redact


def _issue_key(cast: Cast) -> tuple[str, str]:
    response = client_for(cast.officer_a1.user).post("/api/v1/me/calendar-key")
    assert response.status_code == 201
    url = response.json()["url"]
    path = url[url.index("/api/v1/calendar/") :]
    return path, path.removeprefix("/api/v1/calendar/").removesuffix(".ics")


def test_redact_replaces_only_the_key() -> None:
    assert redact("GET /api/v1/calendar/abc-DEF_123.ics 200") == (
        "GET /api/v1/calendar/[redacted].ics 200"
    )
    assert redact("GET /api/v1/me/checkins.ics 200") == "GET /api/v1/me/checkins.ics 200"
    assert redact(redact("/calendar/k.ics")) == "/calendar/[redacted].ics"


def test_feed_key_is_in_no_captured_log_line(cast: Cast, caplog: pytest.LogCaptureFixture) -> None:
    path, key = _issue_key(cast)
    wrong = path.replace(key, key[::-1])
    for name in ("", "welfare.access", "django.request", "django.server"):
        caplog.set_level(logging.DEBUG, logger=name)  # every logger, whatever its setting
    assert client_for(None).get(path).status_code == 200
    assert client_for(None).get(wrong).status_code == 404  # Django logs a 404 with its path
    formatter = JsonFormatter()
    access = [r for r in caplog.records if r.name == "welfare.access"]
    assert [r.getMessage() for r in access] == [
        "GET /api/v1/calendar/[redacted].ics 200",
        "GET /api/v1/calendar/[redacted].ics 404",
    ]
    assert all(r.path == "/api/v1/calendar/[redacted].ics" for r in access)  # type: ignore[attr-defined]
    assert any(r.name == "django.request" for r in caplog.records)
    for record in caplog.records:
        for secret in (key, key[::-1]):
            assert secret not in record.getMessage()
            assert secret not in formatter.format(record)  # extras such as the request too
    assert key not in caplog.text
    assert key[::-1] not in caplog.text


def test_gunicorn_access_log_redacts_the_key(capsys: pytest.CaptureFixture[str]) -> None:
    config = Config()
    config.set("accesslog", "-")
    logger = RedactingLogger(config)
    key = "s3cretKEYvalue_-x"
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/api/v1/calendar/{key}.ics?x=1",
        "PATH_INFO": f"/api/v1/calendar/{key}.ics",
        "QUERY_STRING": "x=1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_REFERER": f"https://example.test/api/v1/calendar/{key}.ics",
        "REMOTE_ADDR": "10.0.0.9",
    }
    resp = SimpleNamespace(status="200 OK", sent=10, headers=[])
    req = SimpleNamespace(headers=[("REFERER", environ["HTTP_REFERER"])])
    atoms = logger.atoms(resp, req, environ, timedelta(milliseconds=3))
    assert not [name for name, value in atoms.items() if key in str(value)]
    logger.access(resp, req, environ, timedelta(milliseconds=3))
    written = capsys.readouterr().out
    assert "/api/v1/calendar/[redacted].ics" in written
    assert key not in written


def test_seed_demo_refuses_in_production(db: None, settings) -> None:
    settings.PRODUCTION = True
    with pytest.raises(CommandError) as refused:
        call_command("seed_demo")
    assert str(refused.value) == REFUSED_IN_PRODUCTION
    assert refused.value.returncode == 2
    assert not get_user_model().objects.exists()
