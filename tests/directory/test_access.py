"""Deny by default on /scim/v2: every path, every method, refused (SCIM's 401) to anyone
without the directory's secret, users' tokens and sessions included; all of it 404 while
SCIM_BEARER_TOKEN is unset. A new SCIM path without a row here fails."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import URLPattern

from tests.conftest import Cast, client_for, web_client_for
from tests.directory.conftest import SECRET, Scim
from welfare.accounts.models import User
from welfare.audit.models import AuditEvent
from welfare.directory import urls as scim_urls

# URL name -> a path under /scim/v2 that reaches it.
ROWS = {
    "config": "ServiceProviderConfig",
    "resource-types": "ResourceTypes",
    "resource-type": "ResourceTypes/User",
    "schemas": "Schemas",
    "schema": "Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
    "users": "Users",
    "users-search": "Users/.search",
    "user": "Users/1",
    "groups": "Groups",
    "groups-search": "Groups/.search",
    "group": "Groups/1",
    "search": ".search",
    "bulk": "Bulk",
    "me": "Me",
    "not-found": "no/such/thing",
}
METHODS = ("get", "post", "put", "patch", "delete")


def test_every_scim_path_has_a_row() -> None:
    names = {p.name for p in scim_urls.urlpatterns if isinstance(p, URLPattern)}
    assert names == set(ROWS)


def _callers(cast: Cast) -> dict[str, Any]:
    wrong = Scim(token="x" * 40)
    nobody = Scim(token=None)
    admin_api = client_for(cast.admin)
    admin_web = web_client_for(cast.admin)
    return {
        "nobody": nobody.client,
        "wrong secret": wrong,
        "admin token": admin_api,
        "admin session": admin_web,
    }


def _call(caller: Any, method: str, path: str) -> Any:
    url = f"/scim/v2/{path}"
    if isinstance(caller, Scim):
        return caller.call(method, url, body={} if method in ("post", "put", "patch") else None)
    return caller.generic(method.upper(), url, data="{}", content_type="application/scim+json")


@pytest.mark.parametrize("name", sorted(ROWS))
def test_no_secret_no_access(name: str, scim_on: None, cast: Cast) -> None:
    counts = (User.objects.count(), AuditEvent.objects.count())
    for label, caller in _callers(cast).items():
        for method in METHODS:
            response = _call(caller, method, ROWS[name])
            assert response.status_code == 401, (label, method, name, response.content[:200])
            assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
            assert response["WWW-Authenticate"].startswith("Bearer")
    assert (User.objects.count(), AuditEvent.objects.count()) == counts


@pytest.mark.parametrize("name", sorted(ROWS))
def test_off_until_a_secret_is_configured(name: str, db: None) -> None:
    scim = Scim(token=SECRET)  # the right secret, but none is configured
    for method in METHODS:
        response = _call(scim, method, ROWS[name])
        assert response.status_code == 404, (method, name)
        assert response.json()["status"] == "404"


def test_errors_are_scim_json_never_html(scim: Scim) -> None:
    cases = [
        (scim.call("get", "/scim/v2/Users/1"), 404),
        (scim.call("get", "/scim/v2/anything/else"), 404),
        (scim.call("delete", "/scim/v2/Users"), 405),
        (scim.call("post", "/scim/v2/Bulk", body={}), 501),
        (
            scim.client.post(
                "/scim/v2/Users",
                data="{not json",
                content_type="application/scim+json",
                headers=scim.headers,
            ),
            400,
        ),
        (scim.patch("Users/1"), 404),
        (scim.call("get", "/scim/"), 404),
        (scim.call("get", "/scim/v2"), 404),
    ]
    for response, status in cases:
        assert response.status_code == status, response.content
        assert response["Content-Type"].startswith("application/scim+json")
        assert response.json()["status"] == str(status)


def test_discovery_describes_what_is_offered(scim: Scim) -> None:
    config = scim.get("ServiceProviderConfig").json()
    assert config["patch"]["supported"]
    assert config["filter"]["supported"]
    assert not any(config[f]["supported"] for f in ("bulk", "sort", "etag", "changePassword"))
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    user = scim.get("Schemas/urn:ietf:params:scim:schemas:core:2.0:User").json()
    external = next(a for a in user["attributes"] if a["name"] == "externalId")
    assert (external["required"], external["mutability"]) == (True, "immutable")
    assert "password" not in {a["name"] for a in user["attributes"]}


def test_an_unexpected_failure_is_scim_json_and_changes_nothing(
    scim: Scim, monkeypatch: pytest.MonkeyPatch
) -> None:
    from welfare.directory import services

    def broken(**kwargs: Any) -> None:
        services.user_create(actor=None, username="half.done", role="officer", directory_id="oid-h")
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "directory_user_create", broken)
    from tests.directory.conftest import user_body

    response = scim.post("Users", user_body("oid-h", "half.done"))
    assert response.status_code == 500
    assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert not User.objects.filter(directory_id="oid-h").exists()


def test_the_secret_and_peoples_details_are_in_no_log_line(
    scim: Scim, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import logging

    from tests.directory.conftest import user_body
    from welfare.core.logs import JsonFormatter
    from welfare.directory import services

    for name in ("", "welfare.access", "welfare.directory", "django.request", "django_scim"):
        caplog.set_level(logging.DEBUG, logger=name)
    body = user_body("oid-secret-person", "pat.private", email="pat.private@force.example")
    assert scim.post("Users", body).status_code == 201
    assert scim.post("Users", {**body, "active": "maybe"}).status_code == 400
    assert Scim(token="y" * 40).post("Users", body).status_code == 401

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "directory_user_update", broken)
    user_id = User.objects.get(directory_id="oid-secret-person").pk
    assert scim.put(f"Users/{user_id}", body).status_code == 500
    assert any(r.name == "welfare.directory" for r in caplog.records)
    formatter = JsonFormatter()
    for record in caplog.records:
        text = record.getMessage() + formatter.format(record)
        for secret in (SECRET, "y" * 40, "pat.private", "oid-secret-person"):
            assert secret not in text, (record.name, secret)
