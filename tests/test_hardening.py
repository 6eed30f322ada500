"""Production hardening: the deploy check, headers, the 500 answer, and log lines that carry
no personal or health data."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.test import Client

from tests.conftest import Cast, client_for
from tests.test_deployment import _as_role, _database_url
from welfare.core.logs import JsonFormatter

ROOT = Path(__file__).resolve().parent.parent


def production_env() -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_ENV": "production",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "x" * 30 + "-production-test-secret-not-used-anywhere-else",
        "ALLOWED_HOSTS": "welfare.example.invalid,testserver",
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "AUDIT_HMAC_KEYS": "synthetic-production-test-audit-key-not-used-elsewhere",
        # Production refuses a superuser: the application's own role (tests/conftest.py).
        "DATABASE_URL": _as_role(_database_url(), "welfare_app"),
        "PYTHONPATH": str(ROOT),
    }


@pytest.mark.django_db
def test_the_deploy_check_passes_with_production_settings() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
secure = Client(HTTP_HOST="welfare.example.invalid")
out = {}
for path in ("/api/v1/me", "/healthz"):
    r = secure.get(path, secure=True)
    out[path] = {"status": r.status_code, **{h: r.get(h) for h in (
        "Strict-Transport-Security", "Cache-Control", "Referrer-Policy",
        "X-Content-Type-Options", "X-Frame-Options")}}
plain = Client(HTTP_HOST="welfare.example.invalid")
out["http_api"] = plain.get("/api/v1/me").status_code
out["http_readyz"] = plain.get("/readyz").status_code
out["cookies"] = [settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE,
                  settings.SESSION_COOKIE_HTTPONLY]
print(json.dumps(out))
"""


@pytest.mark.django_db
def test_production_headers_and_cookies() -> None:
    env = {**production_env(), "DJANGO_SETTINGS_MODULE": "backend.settings"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    api = out["/api/v1/me"]
    assert api["status"] == 401
    assert api["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "no-store" in api["Cache-Control"]
    assert api["Referrer-Policy"] == "same-origin"
    assert api["X-Content-Type-Options"] == "nosniff"
    assert api["X-Frame-Options"] == "DENY"
    assert out["http_api"] == 301  # plain HTTP is sent to HTTPS
    assert out["http_readyz"] in (200, 503)  # probes are answered over plain HTTP
    assert out["cookies"] == [True, True, True]


def test_every_api_answer_is_not_stored_and_carries_a_request_id(cast: Cast) -> None:
    client = client_for(cast.officer_a1.user)
    for response in (
        client.get("/api/v1/me"),
        client.get("/api/v1/exposures/"),
        client.get("/api/v1/audit/"),  # 403
        client_for(None).get("/api/v1/me"),  # 401
        client.get("/api/v1/no-such-thing"),  # 404
    ):
        assert "no-store" in response["Cache-Control"], response
        assert len(response["X-Request-ID"]) >= 8
    given = client_for(None).get("/healthz", HTTP_X_REQUEST_ID="proxy-given-id-1")
    assert given["X-Request-ID"] == "proxy-given-id-1"
    odd = client_for(None).get("/healthz", HTTP_X_REQUEST_ID="<script>")
    assert odd["X-Request-ID"] != "<script>"


def test_the_docs_page_has_a_content_security_policy(db) -> None:
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "object-src 'none'" in policy


def test_a_server_error_says_nothing_about_the_code(cast: Cast, monkeypatch) -> None:
    from welfare.people.api import MeView

    def broken(*args, **kwargs):
        raise RuntimeError("secret detail: officer Test off.a1, note marker ZX-81")

    monkeypatch.setattr(MeView, "get", broken)
    client = client_for(cast.officer_a1.user)
    client.raise_request_exception = False
    response = client.get("/api/v1/me")
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "server_error"
    assert body["request_id"] == response["X-Request-ID"]
    text = response.content.decode()
    for leak in ("Traceback", "RuntimeError", "secret detail", "Django", "Python", "File "):
        assert leak not in text
    from backend.views import server_error

    page = server_error(Client().get("/healthz").wsgi_request)
    assert page.status_code == 500
    assert b"Traceback" not in page.content
    assert b"Server error" in page.content


def test_log_lines_are_json_with_request_and_caller_but_no_personal_data(
    cast: Cast, caplog
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.INFO, logger="welfare.access")
    marker = "NOTE-MARKER-7781"
    oh = client_for(cast.oh1)
    oh.post(f"/api/v1/oh/cases/{cast.officer_a1.pk}/notes", {"body": marker}, format="json")
    oh.get(f"/api/v1/oh/cases/{cast.officer_a1.pk}")
    client_for(cast.supervisor_a).get("/api/v1/officers/")
    client_for(None).post(
        "/api/v1/auth/login", {"username": "off.a1", "password": "wrong"}, format="json"
    )
    lines = [JsonFormatter().format(record) for record in caplog.records]
    assert lines
    entries = [json.loads(line) for line in lines]
    access = [e for e in entries if e["logger"] == "welfare.access"]
    assert len(access) >= 4
    assert all(e["request_id"] for e in access)
    note = next(e for e in access if e["path"].endswith("/notes"))
    assert (note["user_id"], note["role"], note["status"]) == (cast.oh1.pk, "oh", 201)
    text = "\n".join(lines)
    names = [o.display_name for o in (cast.officer_a1, cast.officer_a2, cast.officer_b1)]
    for secret in (marker, *names, "off.a1", cast.oh1.username, "wrong"):
        assert secret not in text, secret
