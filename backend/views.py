"""The answers Django gives outside the API's own views: the 500, the 400 (a bad Host, too
many fields, a body past the limit read by Django), and the 404 of a path under /api/ that
matches no route. Under /api/ each is the API's one error shape `{"detail", "code"}`; the web
app keeps its pages.

The 500 says nothing about the code, the versions or the data, only a reference."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from welfare.core.context import current
from welfare.core.errors import (
    BAD_REQUEST,
    NOT_FOUND,
    NOT_FOUND_WITH_SLASH,
    NOT_FOUND_WITHOUT_SLASH,
    request_too_large,
)

SERVER_ERROR = "Something went wrong on our side. It has been logged; please try again later."
API_NOT_FOUND = "api-not-found"  # the name of the route that answers every unmatched /api/ path


def is_api(request: HttpRequest) -> bool:
    return request.path_info == "/api" or request.path_info.startswith("/api/")


def api_error(detail: str, code: str, status: int, **extra: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code, **extra}, status=status)


def server_error(request: HttpRequest) -> HttpResponse:
    reference = current().request_id or ""
    if is_api(request):
        return api_error(SERVER_ERROR, "server_error", 500, request_id=reference)
    page = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Server error</title>"
        f"<h1>Server error</h1><p>{SERVER_ERROR}</p><p>Reference: {reference}</p></html>"
    )
    return HttpResponse(page, status=500, content_type="text/html; charset=utf-8")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's answer to a SuspiciousOperation that reached it (logged by Django under
    django.security): a disallowed Host, too many fields in the query string or a form, a
    body past DATA_UPLOAD_MAX_MEMORY_SIZE read by Django rather than the API's parsers."""
    if not is_api(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        too_large = request_too_large()
        return api_error(str(too_large.detail), "too_large", too_large.status_code)
    return api_error(BAD_REQUEST, "bad_request", 400)


@csrf_exempt  # never reads the body, and a CSRF refusal would hide the 404
def api_not_found(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    """Every path under /api/ that matches no route, whatever the method: the JSON 404, never
    Django's HTML page, and never a redirect to the path with its trailing slash toggled.

    Why not redirect (Django's APPEND_SLASH, which this route keeps from acting under /api/
    because the path now resolves): a 301 or 302 turns a POST into a GET in many clients, so
    the action would silently not happen; a 307 or 308 would have the client resend its
    bearer token and body to another address without being told. A 404 that names the one
    right address changes nothing and tells the developer what to fix. The web app outside
    /api/ keeps APPEND_SLASH's redirect."""
    path, path_info = request.path, request.path_info
    toggled = path_info[:-1] if path_info.endswith("/") else f"{path_info}/"
    try:
        served = resolve(toggled, getattr(request, "urlconf", None)).url_name != API_NOT_FOUND
    except Resolver404:
        served = False
    if not served:
        return api_error(NOT_FOUND, "not_found", 404)
    if path.endswith("/"):
        detail = NOT_FOUND_WITHOUT_SLASH.format(path=path[:-1])
    else:
        detail = NOT_FOUND_WITH_SLASH.format(path=f"{path}/")
    return api_error(detail, "not_found", 404)


class JsonErrorsView(APIView):
    """Errors in the API's JSON shape from a view whose answers are another format: without
    this the schema view answers a 405 or 406 in YAML, the docs view in HTML."""

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response


class SchemaView(JsonErrorsView, SpectacularAPIView):
    pass


class DocsView(JsonErrorsView, SpectacularSwaggerView):
    pass
