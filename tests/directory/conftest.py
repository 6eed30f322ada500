"""The directory's side of SCIM: a bearer secret set for the test, and a client that
speaks SCIM JSON to /scim/v2 the way Entra ID's provisioning does."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from django.test import Client

SECRET = "test-directory-secret-0123456789abcdef"
BASE = "/scim/v2"
SCIM_JSON = "application/scim+json"


class Scim:
    def __init__(self, token: str | None = SECRET) -> None:
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def call(self, method: str, path: str, body: Any = None, **params: str) -> Any:
        url = path if path.startswith("/") else f"{BASE}/{path}"
        kwargs: dict[str, Any] = {"headers": self.headers}
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type=SCIM_JSON)
        elif params:
            kwargs["data"] = params
        return getattr(self.client, method)(url, **kwargs)

    def get(self, path: str, **params: str) -> Any:
        return self.call("get", path, **params)

    def post(self, path: str, body: Any) -> Any:
        return self.call("post", path, body)

    def put(self, path: str, body: Any) -> Any:
        return self.call("put", path, body)

    def patch(self, path: str, *operations: dict[str, Any]) -> Any:
        body = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": list(operations),
        }
        return self.call("patch", path, body)

    def delete(self, path: str) -> Any:
        return self.call("delete", path)


@pytest.fixture
def scim_on(settings: Any) -> None:
    settings.SCIM_BEARER_TOKEN_SHA256 = hashlib.sha256(SECRET.encode()).hexdigest()


@pytest.fixture
def scim(scim_on: None, db: None) -> Scim:
    return Scim()


def user_body(
    external_id: str,
    username: str,
    *,
    staff: str | None = "D1001",
    name: str = "Test Person",
    active: bool = True,
    email: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        ],
        "externalId": external_id,
        "userName": username,
        "displayName": name,
        "active": active,
    }
    if email:
        body["emails"] = [{"value": email, "type": "work", "primary": True}]
    if staff:
        body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] = {
            "employeeNumber": staff
        }
    return body
