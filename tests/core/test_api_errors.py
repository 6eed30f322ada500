"""Every error under /api/ in the one JSON shape `{"detail", "code"}`, and one form per path.

Each API path is written one way (collections and items end in a slash, actions and single
resources do not: docs/API.md, "URLs"); the other form answers a JSON 404 that names the
right address, never a redirect, and changes nothing. Paths that match no route answer the
same 404 whatever the method; 400, 405, 406, 413 and 500 answer the same shape with their
own code. The web app outside /api/ keeps its pages and its redirects.

The 413s and the 500 are also sent through `backend.wsgi.application` (what gunicorn
serves), where nothing of the test client stands between the request and the handler.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from django.core.exceptions import RequestDataTooBig
from django.test import Client, RequestFactory
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import URLPattern, get_resolver, resolve

from backend.views import API_NOT_FOUND, SERVER_ERROR, bad_request
from backend.wsgi import application
from tests.conftest import T0, Cast, client_for, connection_kept
from welfare.accounts.models import SealedTOTPDevice
from welfare.accounts.services import otp_device_new, token_issue
from welfare.core.errors import (
    BAD_REQUEST,
    NOT_FOUND,
    NOT_FOUND_WITH_SLASH,
    NOT_FOUND_WITHOUT_SLASH,
)
from welfare.core.parsers import TOO_LARGE
from welfare.exposure.models import ExposureSession

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
UNKNOWN = ["/api", "/api/", "/api/nope", "/api/v2/x", "/api/v1", "/api/v1/", "/api/v1/nope/"]
# Not numbers, so no item: the 404 of a path that matches no route, before any lookup.
NOT_IDS = ["/api/v1/exposures/abc/", "/api/v1/exposures/-1/", "/api/v1/users/x/otp-reset"]
SAMPLES = {"int": "1", "str": "key"}  # a value for each path converter the API uses


def error(response: Any, status: int, code: str, *, extra: frozenset[str] = frozenset()) -> str:
    """The answer's detail, once it is checked to be the JSON error shape with that code
    (and any `extra` keys). A HEAD answer has its headers only."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    if getattr(response, "request", {}).get("REQUEST_METHOD") == "HEAD":
        return ""
    body = response.json()
    assert set(body) == {"detail", "code", *extra}, body
    assert body["code"] == code, body
    assert isinstance(body["detail"], str), body
    assert body["detail"], body
    return str(body["detail"])


# --- One form per path ---------------------------------------------------------------------


def test_an_action_with_a_slash_added_answers_404_naming_it_and_changes_nothing(
    cast: Cast,
) -> None:
    user = cast.officer_a1.user
    otp_device_new(user=user, name="phone", confirmed=True)
    admin = client_for(cast.admin)
    response = admin.post(f"/api/v1/users/{user.pk}/otp-reset/")
    assert error(response, 404, "not_found") == NOT_FOUND_WITHOUT_SLASH.format(
        path=f"/api/v1/users/{user.pk}/otp-reset"
    )
    assert "Location" not in response
    assert SealedTOTPDevice.objects.filter(user=user).exists()
    assert admin.post(f"/api/v1/users/{user.pk}/otp-reset").status_code == 204  # the address
    assert not SealedTOTPDevice.objects.filter(user=user).exists()


def test_a_collection_without_its_slash_is_not_redirected_and_stores_nothing(
    cast: Cast,
) -> None:
    officer = client_for(cast.officer_a1.user)
    body = {
        "started_at": (T0 - timedelta(hours=3)).isoformat(),
        "ended_at": (T0 - timedelta(hours=2)).isoformat(),
        "material": "image",
        "category": "C",
        "client_ref": str(uuid.uuid4()),
    }
    named = NOT_FOUND_WITH_SLASH.format(path="/api/v1/exposures/")
    for response in (
        officer.get("/api/v1/exposures"),
        officer.post("/api/v1/exposures", body, format="json"),
    ):
        assert error(response, 404, "not_found") == named
        assert "Location" not in response
    assert not ExposureSession.objects.exists()
    assert officer.post("/api/v1/exposures/", body, format="json").status_code == 201


def test_a_list_action_with_a_slash_is_not_taken_for_an_item(cast: Cast) -> None:
    """Items are numbers: `/exposures/import/` is the import's address miswritten (a 404
    naming it), not the item "import" (which answered 405 to a POST)."""
    response = client_for(cast.supervisor_a).post("/api/v1/exposures/import/")
    assert error(response, 404, "not_found") == NOT_FOUND_WITHOUT_SLASH.format(
        path="/api/v1/exposures/import"
    )


def api_paths() -> Iterator[str]:
    """Every route under /api/, its ids filled in: the v1 routes one by one, then the schema
    and its docs."""
    api = next(p for p in get_resolver().url_patterns if str(p.pattern) == "api/v1/")
    for pattern in api.url_patterns:  # type: ignore[attr-defined]
        assert isinstance(pattern, URLPattern)
        route = str(pattern.pattern)
        assert not route.startswith("^"), f"{route}: a regular expression, not a Django path"
        yield "/api/v1/" + re.sub(r"<(\w+):\w+>", lambda m: SAMPLES[m.group(1)], route)
    yield "/api/schema/"
    yield "/api/docs/"


def test_every_api_route_has_one_form_and_the_other_names_it(db: None) -> None:
    client = Client()  # no credentials: the 404 comes before any sign-in or role check
    paths = list(api_paths())
    assert len(paths) > 80
    for path in paths:
        assert resolve(path).url_name != API_NOT_FOUND, path
        toggled = path[:-1] if path.endswith("/") else f"{path}/"
        wording = NOT_FOUND_WITH_SLASH if path.endswith("/") else NOT_FOUND_WITHOUT_SLASH
        for method in ("GET", "POST"):
            response = client.generic(method, toggled)
            assert error(response, 404, "not_found") == wording.format(path=path), toggled


# --- Paths that match nothing ------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_an_unknown_api_path_answers_the_json_404_whatever_the_method(
    cast: Cast, method: str
) -> None:
    client = client_for(cast.admin)
    for path in UNKNOWN + NOT_IDS:
        response = client.generic(method, path, b'{"a": 1}', "application/json")
        assert error(response, 404, "not_found") in (NOT_FOUND, ""), path
        if method == "GET":
            xml = client.get(path, HTTP_ACCEPT="application/xml")  # no 406 for a 404
            assert error(xml, 404, "not_found") == NOT_FOUND


def test_the_schema_and_docs_have_their_one_form_too(db: None) -> None:
    client = Client()
    for path in ("/api/schema", "/api/docs"):
        detail = error(client.get(path), 404, "not_found")
        assert detail == NOT_FOUND_WITH_SLASH.format(path=f"{path}/")


def test_a_csrf_check_never_stands_in_front_of_the_api(cast: Cast) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(cast.admin, backend="welfare.accounts.backends.RoleBackend")
    error(browser.post("/api/nope", {"a": "1"}), 404, "not_found")
    login = browser.post("/api/v1/auth/login", {"username": "x"}, content_type="application/json")
    assert login.status_code != 403
    assert login["Content-Type"] == "application/json"


# --- 400, 405, 406 -----------------------------------------------------------------------------


def test_a_wrong_method_answers_405_in_the_json_shape(cast: Cast) -> None:
    """A method the address never serves is a 405 for whoever signs in (it was a 403 "Your
    role does not allow this" from the role check); without a token it is still a 401."""
    officer, admin = client_for(cast.officer_a1.user), client_for(cast.admin)
    error(officer.post("/api/v1/me"), 405, "method_not_allowed")
    error(admin.delete("/api/v1/me"), 405, "method_not_allowed")
    error(officer.put(f"/api/v1/users/{cast.admin.pk}/"), 405, "method_not_allowed")
    error(admin.get(f"/api/v1/users/{cast.admin.pk}/otp-reset"), 405, "method_not_allowed")
    error(client_for(None).delete("/api/v1/me"), 401, "not_authenticated")
    error(officer.delete(f"/api/v1/users/{cast.admin.pk}/"), 403, "permission_denied")
    for path in ("/api/schema/", "/api/docs/"):  # YAML and HTML before
        error(Client().post(path), 405, "method_not_allowed")


def test_an_unsatisfiable_accept_answers_406_in_the_json_shape(cast: Cast) -> None:
    xml = "application/xml"
    officer = client_for(cast.officer_a1.user)
    error(officer.get("/api/v1/me", HTTP_ACCEPT=xml), 406, "not_acceptable")
    error(Client().get("/api/schema/", HTTP_ACCEPT=xml), 406, "not_acceptable")
    error(Client().get("/api/docs/", HTTP_ACCEPT="application/json"), 406, "not_acceptable")


def test_djangos_own_400s_answer_the_json_shape_under_api_only(cast: Cast) -> None:
    """A disallowed Host and too many query fields reach Django's 400 handler (and its
    django.security log), not the API's views."""
    many = "&".join(f"f{n}=1" for n in range(1001))
    for response in (
        Client().get("/api/v1/me", HTTP_HOST="evil.example"),
        client_for(cast.admin).get(f"/api/v1/exposures/?{many}"),
    ):
        assert error(response, 400, "bad_request") == BAD_REQUEST
    page = Client().get("/login", HTTP_HOST="evil.example")
    assert page.status_code == 400
    assert page["Content-Type"].startswith("text/html")


def test_the_web_app_keeps_its_redirects_and_pages(db: None) -> None:
    client = Client()
    moved = client.get("/oh/cases")
    assert (moved.status_code, moved["Location"]) == (301, "/oh/cases/")
    for path in ("/apis", "/nope"):
        page = client.get(path)
        assert page.status_code == 404
        assert page["Content-Type"].startswith("text/html")


# --- 413 and 500 through the WSGI application ----------------------------------------------


@dataclass
class Answer:
    """What the WSGI application answered, read like a test client's response."""

    status_code: int
    headers: dict[str, str]
    content: bytes

    def __getitem__(self, header: str) -> str:
        return self.headers[header]

    def json(self) -> Any:
        return json.loads(self.content)


def wsgi(
    method: str, path: str, body: bytes = b"", content_type: str = "", **headers: str
) -> Answer:
    """One request to backend.wsgi.application, as gunicorn would send it."""
    path, _, query = path.partition("?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        **headers,
    }
    setup_testing_defaults(environ)
    started: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], *args: Any) -> None:
        started.update(status=int(status.split()[0]), headers=dict(response_headers))

    with connection_kept():
        result = application(environ, start_response)
        try:
            content = b"".join(result)
        finally:
            result.close()  # type: ignore[attr-defined]
    return Answer(started["status"], started["headers"], content)


@pytest.fixture
def small_bodies(settings: Any) -> int:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    return 1024


def test_too_large_bodies_answer_413_or_the_routes_own_refusal(
    cast: Cast, small_bodies: int
) -> None:
    admin = {"HTTP_AUTHORIZATION": f"Bearer {token_issue(user=cast.admin, otp_verified=True)[0]}"}
    big = "a" * (small_bodies * 2)
    too_large = TOO_LARGE.format(limit=small_bodies)
    as_json = f'{{"username": "{big}", "password": "x"}}'.encode()
    login = wsgi("POST", "/api/v1/auth/login", as_json, "application/json")
    assert error(login, 413, "too_large") == too_large
    # multipart read by Django's parser for the import: its RequestDataTooBig, as a 413
    form = encode_multipart(BOUNDARY, {"sha256": big})
    preview = wsgi("POST", "/api/v1/imports/preview", form, MULTIPART_CONTENT, **admin)
    assert error(preview, 413, "too_large") == too_large
    # a form where the route takes JSON only: refused by its type, before it is read
    urlencoded = f"username={big}".encode()
    typed = wsgi("POST", "/api/v1/auth/login", urlencoded, "application/x-www-form-urlencoded")
    error(typed, 415, "unsupported_media_type")
    # no route at all: the 404, the body never read
    nowhere = wsgi("POST", "/api/nope", urlencoded, "application/x-www-form-urlencoded")
    assert error(nowhere, 404, "not_found") == NOT_FOUND
    # the web app keeps Django's pages (here its CSRF refusal, before the form is read)
    page = wsgi("POST", "/login", urlencoded, "application/x-www-form-urlencoded")
    assert (page.status_code, page["Content-Type"][:9]) == (403, "text/html")


def test_a_body_too_large_for_django_itself_is_a_413_under_api(small_bodies: int) -> None:
    """Django's 400 handler given its RequestDataTooBig (from any middleware that reads a
    form) answers the API's 413 under /api/, its page elsewhere."""
    factory = RequestFactory()
    api = bad_request(factory.post("/api/v1/auth/login"), RequestDataTooBig())
    assert (api.status_code, api["Content-Type"]) == (413, "application/json")
    too_large = TOO_LARGE.format(limit=small_bodies)
    assert json.loads(api.content) == {"detail": too_large, "code": "too_large"}
    page = bad_request(factory.post("/login"), RequestDataTooBig())
    assert page.status_code == 400
    assert page["Content-Type"].startswith("text/html")


def test_a_server_error_under_api_is_the_json_500(cast: Cast, monkeypatch: Any) -> None:
    from welfare.people.api import MeView

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(MeView, "get", broken)
    raw, _ = token_issue(user=cast.officer_a1.user, otp_verified=True)
    answer = wsgi("GET", "/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert error(answer, 500, "server_error", extra=frozenset({"request_id"})) == SERVER_ERROR
    assert answer.json()["request_id"] == answer["X-Request-ID"]
    assert b"boom" not in answer.content
