"""/scim/v2: the directory's provisioning endpoints (RFC 7644), thin views over the
directory services.

Built on django-scim2's error classes and content type, not on its views: those log
request bodies (people's names and addresses) at DEBUG, answer a failed write with an
error *response* inside ATOMIC_REQUESTS (so half of it would commit), require a filter on
.search and delete the User row on DELETE. Here each request is one transaction that an
error rolls back, every error is SCIM's error JSON, and nothing personal is logged.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django_scim import exceptions as scim
from django_scim.constants import SCIM_CONTENT_TYPE

from welfare.accounts.models import User
from welfare.core.context import acting_as
from welfare.core.errors import Conflict, DomainError, Forbidden, NotFound
from welfare.directory import services
from welfare.directory.rules import (
    ENTERPRISE_SCHEMA,
    ERROR_SCHEMA,
    GROUP_SCHEMA,
    LIST_SCHEMA,
    SEARCH_SCHEMA,
    USER_SCHEMA,
    ScimInvalid,
    apply_patch,
    page,
    project,
    read_group,
    read_user,
)
from welfare.directory.schemas import ALL_SCHEMAS, RESOURCE_TYPES, service_provider_config
from welfare.directory.selectors import (
    directory_unit_get,
    directory_units,
    directory_user_get,
    directory_users,
    unit_members,
    units_matching,
    users_matching,
)
from welfare.people.models import Officer, Unit

log = logging.getLogger("welfare.directory")

UNAUTHORISED = "A valid bearer token is required."
SERVER_ERROR = "The server could not complete the request."
NOT_FOUND = "Resource not found."
NOT_ALLOWED = "This method is not allowed here."
NOT_IMPLEMENTED = "Not offered by this service."
BODY_INVALID = "The body is not valid JSON."
BODY_TOO_LARGE = "The request body is too large."
SEARCH_INVALID = "A search request names the SearchRequest schema."

USER_SCHEMAS = (USER_SCHEMA, ENTERPRISE_SCHEMA)
GROUP_SCHEMAS = (GROUP_SCHEMA,)


def base_url() -> str:
    return settings.SITE_URL.rstrip("/") + "/scim/v2"


def scim_response(document: Any, status: int = 200, location: str | None = None) -> HttpResponse:
    response = HttpResponse(json.dumps(document), status=status, content_type=SCIM_CONTENT_TYPE)
    if location:
        response["Location"] = location
    return response


def error_response(status: int, detail: str, scim_type: str | None = None) -> HttpResponse:
    body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    response = scim_response(body, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="scim"'
    return response


def _domain_error(error: DomainError) -> HttpResponse:
    detail = error.message or "; ".join(
        f"{field}: {message}"
        for field, messages in (error.fields or {}).items()
        for message in messages
    )
    if isinstance(error, NotFound):
        return error_response(404, detail or NOT_FOUND)
    if isinstance(error, Forbidden):
        return error_response(403, detail)
    if isinstance(error, Conflict) or error.code in ("unique", "uniqueness"):
        scim_type = "uniqueness" if error.code in ("unique", "uniqueness") else None
        return error_response(409, detail, scim_type)
    if error.code == "mutability":
        return error_response(400, detail, "mutability")
    return error_response(400, detail, "invalidValue")


def _authorised(request: HttpRequest) -> bool:
    expected = settings.SCIM_BEARER_TOKEN_SHA256
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer" or not token.strip():
        return False
    presented = hashlib.sha256(token.strip().encode()).hexdigest()
    return hmac.compare_digest(presented, expected)


def _location(kind: str, pk: int) -> str:
    return f"{base_url()}/{kind}/{pk}"


def user_document(user: User) -> dict[str, Any]:
    officer: Officer | None = getattr(user, "officer", None)
    document: dict[str, Any] = {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA] if officer else [USER_SCHEMA],
        "id": str(user.pk),
        "externalId": user.directory_id,
        "userName": user.username,
        "displayName": officer.display_name if officer else user.username,
        "active": user.is_active,
        "meta": {
            "resourceType": "User",
            "created": user.date_joined.isoformat(),
            "lastModified": user.date_joined.isoformat(),
            "location": _location("Users", user.pk),
        },
    }
    if user.email:
        document["emails"] = [{"value": user.email, "type": "work"}]
    if officer:
        document[ENTERPRISE_SCHEMA] = {"employeeNumber": officer.staff_number}
    return document


def group_document(unit: Unit, members: list[User] | None = None) -> dict[str, Any]:
    people = unit_members(unit) if members is None else members
    document: dict[str, Any] = {
        "schemas": [GROUP_SCHEMA],
        "id": str(unit.pk),
        "externalId": unit.directory_group,
        "displayName": unit.name,
        "meta": {
            "resourceType": "Group",
            "created": unit.created_at.isoformat(),
            "lastModified": unit.created_at.isoformat(),
            "location": _location("Groups", unit.pk),
        },
    }
    if people:
        document["members"] = [
            {"value": str(user.pk), "$ref": _location("Users", user.pk), "type": "User"}
            for user in people
        ]
    return document


def _body(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body.decode("utf-8") or "null")
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ScimInvalid(BODY_INVALID, "invalidSyntax") from exc


def _list(
    request: HttpRequest,
    params: Mapping[str, Any],
    queryset: QuerySet[Any],
    matching: Callable[[str], QuerySet[Any]],
    document: Callable[[Any], dict[str, Any]],
    schemas: tuple[str, ...],
) -> HttpResponse:
    """A ListResponse: filtered, paged (startIndex, count), projected (attributes)."""
    start, count = page(
        _text(params.get("startIndex")), _text(params.get("count")),
        maximum=settings.SCIM_MAX_RESULTS,
    )  # fmt: skip
    filter_text = params.get("filter")
    if filter_text:
        queryset = matching(str(filter_text))
    total = queryset.count()
    chosen = list(queryset[start - 1 : start - 1 + count]) if count else []
    attributes, excluded = _attribute_lists(params)
    resources = [
        project(document(item), attributes=attributes, excluded=excluded, schemas=schemas)
        for item in chosen
    ]
    return scim_response(
        {
            "schemas": [LIST_SCHEMA],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": len(resources),
            "Resources": resources,
        }
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _attribute_lists(params: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    def names(value: Any) -> list[str]:
        if value is None:
            return []
        if isinstance(value, list):
            return [str(v) for v in value]
        return [part for part in str(value).split(",") if part.strip()]

    return names(params.get("attributes")), names(params.get("excludedAttributes"))


def _one(
    request: HttpRequest, doc: dict[str, Any], schemas: tuple[str, ...], status: int = 200
) -> HttpResponse:
    attributes, excluded = _attribute_lists(request.GET)
    return scim_response(
        project(doc, attributes=attributes, excluded=excluded, schemas=schemas),
        status=status,
        location=doc["meta"]["location"],
    )


@method_decorator(csrf_exempt, name="dispatch")
class ScimView(View):
    """Off (404) without SCIM_BEARER_TOKEN; 401 without the right bearer token; one
    transaction per request, rolled back by any error, which answers SCIM's error JSON."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.SCIM_BEARER_TOKEN_SHA256:
            return error_response(404, NOT_FOUND)
        if not _authorised(request):
            return error_response(401, UNAUTHORISED)
        try:
            with acting_as(services.DIRECTORY), transaction.atomic():
                response = super().dispatch(request, *args, **kwargs)
                assert isinstance(response, HttpResponse)
                return response
        except scim.SCIMException as exc:
            return error_response(exc.status, str(exc.detail), exc.scim_type)
        except ScimInvalid as exc:
            return error_response(400, exc.message, exc.scim_type)
        except DomainError as exc:
            return _domain_error(exc)
        except RequestDataTooBig:
            return error_response(413, BODY_TOO_LARGE)
        except IntegrityError:
            return error_response(409, services.EXTERNAL_ID_TAKEN, "uniqueness")
        except Exception:
            # Never the web app's HTML page; the traceback is logged, the body never is.
            log.exception("SCIM request failed: %s %s", request.method, request.path)
            return error_response(500, SERVER_ERROR)

    def http_method_not_allowed(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        response = error_response(405, NOT_ALLOWED)
        response["Allow"] = ", ".join(m.upper() for m in self.http_method_names if hasattr(self, m))
        return response


class ServiceProviderConfigView(ScimView):
    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse:
        document = service_provider_config(
            max_results=settings.SCIM_MAX_RESULTS,
            documentation=settings.SITE_URL.rstrip("/") + "/api/docs/",
        )
        return scim_response(_absolute(document))


def _absolute(document: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(document)
    result["meta"]["location"] = base_url() + result["meta"]["location"]
    return result


def _listing(documents: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": [LIST_SCHEMA],
        "totalResults": len(documents),
        "startIndex": 1,
        "itemsPerPage": len(documents),
        "Resources": documents,
    }


class ResourceTypesView(ScimView):
    http_method_names = ["get"]

    def get(self, request: HttpRequest, resource_id: str | None = None) -> HttpResponse:
        if resource_id is not None:
            if resource_id not in RESOURCE_TYPES:
                raise scim.SCIMException(NOT_FOUND, status=404)
            return scim_response(_absolute(RESOURCE_TYPES[resource_id]))
        return scim_response(_listing([_absolute(d) for d in RESOURCE_TYPES.values()]))


class SchemasView(ScimView):
    http_method_names = ["get"]

    def get(self, request: HttpRequest, resource_id: str | None = None) -> HttpResponse:
        if resource_id is not None:
            if resource_id not in ALL_SCHEMAS:
                raise scim.SCIMException(NOT_FOUND, status=404)
            return scim_response(_absolute(ALL_SCHEMAS[resource_id]))
        return scim_response(_listing([_absolute(d) for d in ALL_SCHEMAS.values()]))


class UsersView(ScimView):
    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest) -> HttpResponse:
        return _list(
            request, request.GET, directory_users(), users_matching, user_document, USER_SCHEMAS
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        user = services.directory_user_create(fields=read_user(_body(request)))
        user = directory_user_get(str(user.pk))
        return _one(request, user_document(user), USER_SCHEMAS, status=201)


class UserView(ScimView):
    http_method_names = ["get", "put", "patch", "delete"]

    def get(self, request: HttpRequest, resource_id: str) -> HttpResponse:
        return _one(request, user_document(directory_user_get(resource_id)), USER_SCHEMAS)

    def put(self, request: HttpRequest, resource_id: str) -> HttpResponse:
        user = directory_user_get(resource_id)
        services.directory_user_update(user=user, fields=read_user(_body(request)))
        return _one(request, user_document(directory_user_get(resource_id)), USER_SCHEMAS)

    def patch(self, request: HttpRequest, resource_id: str) -> HttpResponse:
        user = directory_user_get(resource_id, lock=True)
        body = _body(request)
        operations = body.get("Operations") if isinstance(body, Mapping) else None
        patched = apply_patch(user_document(user), operations, schemas=USER_SCHEMAS)
        services.directory_user_update(user=user, fields=read_user(patched))
        return _one(request, user_document(directory_user_get(resource_id)), USER_SCHEMAS)

    def delete(self, request: HttpRequest, resource_id: str) -> HttpResponse:
        services.directory_user_remove(user=directory_user_get(resource_id))
        return HttpResponse(status=204)


class GroupsView(ScimView):
    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest) -> HttpResponse:
        return _list(
            request, request.GET, directory_units(), units_matching, group_document, GROUP_SCHEMAS
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        unit = services.directory_group_link(fields=read_group(_body(request)))
        return _one(request, group_document(directory_unit_get(str(unit.pk))), GROUP_SCHEMAS, 201)


class GroupView(ScimView):
    http_method_names = ["get", "put", "patch", "delete"]

    def get(self, request: HttpRequest, resource_id: str) -> HttpResponse:
        return _one(request, group_document(directory_unit_get(resource_id)), GROUP_SCHEMAS)

    def put(self, request: HttpRequest, resource_id: str) -> HttpResponse:
        unit = directory_unit_get(resource_id)
        services.directory_group_update(unit=unit, fields=read_group(_body(request)))
        return _one(request, group_document(directory_unit_get(resource_id)), GROUP_SCHEMAS)

    def patch(self, request: HttpRequest, resource_id: str) -> HttpResponse:
        unit = directory_unit_get(resource_id, lock=True)
        body = _body(request)
        operations = body.get("Operations") if isinstance(body, Mapping) else None
        patched = apply_patch(group_document(unit), operations, schemas=GROUP_SCHEMAS)
        services.directory_group_update(unit=unit, fields=read_group(patched))
        return _one(request, group_document(directory_unit_get(resource_id)), GROUP_SCHEMAS)

    def delete(self, request: HttpRequest, resource_id: str) -> HttpResponse:
        services.directory_group_unlink(unit=directory_unit_get(resource_id))
        return HttpResponse(status=204)


class SearchView(ScimView):
    """POST /Users/.search and /Groups/.search (RFC 7644 §3.4.3)."""

    http_method_names = ["post"]
    kind = "Users"

    def post(self, request: HttpRequest) -> HttpResponse:
        body = _body(request)
        if not isinstance(body, Mapping) or SEARCH_SCHEMA not in (body.get("schemas") or []):
            raise ScimInvalid(SEARCH_INVALID, "invalidSyntax")
        if self.kind == "Users":
            return _list(
                request, body, directory_users(), users_matching, user_document, USER_SCHEMAS
            )
        return _list(
            request, body, directory_units(), units_matching, group_document, GROUP_SCHEMAS
        )


class NotImplementedView(ScimView):
    """/Bulk and /Me, and a search across resource types (/.search): not offered (501;
    ServiceProviderConfig says bulk is not)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        raise scim.NotImplementedError(NOT_IMPLEMENTED)

    post = put = patch = delete = get


class NotFoundView(ScimView):
    """Any other path under /scim/v2: SCIM's 404, not the web app's page."""

    def get(self, request: HttpRequest, rest: str = "") -> HttpResponse:
        raise scim.SCIMException(NOT_FOUND, status=404)

    post = put = patch = delete = get
