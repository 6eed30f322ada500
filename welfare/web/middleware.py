from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation

# Everything the pages need is served by the app itself: no inline script or style, no CDN.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
# Swagger UI and the Django admin carry some inline script and style of their own.
TOOL_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'; "
    "form-action 'self'"
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response and response.get(
            "Content-Type", ""
        ).startswith("text/html"):
            tool = request.path.startswith(("/admin/", "/api/docs"))
            response["Content-Security-Policy"] = TOOL_POLICY if tool else PAGE_POLICY
        return response


class MethodNotAllowedPageMiddleware:
    """A page's address opened the wrong way (a form's address typed in, or a bookmarked
    POST) gets a page that says so, not a blank 405. The API keeps its own answers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code != 405 or request.path.startswith(("/api/", "/admin/", "/scim/")):
            return response
        if getattr(response, "streaming", False) or response.content:
            return response
        page = render(
            request,
            "web/error.html",
            {"title": "This address is for a form", "status": 405},
            status=405,
        )
        if "Allow" in response:
            page["Allow"] = response["Allow"]
        return page


class UserLanguageMiddleware:
    """The pages in the language the signed-in person chose (English until they choose);
    the API always answers in English."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = "en-gb"
        if not request.path.startswith(("/api/", "/scim/")):  # no session user for API calls
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                language = getattr(user, "language", "en-gb") or "en-gb"
        with translation.override(language):
            request.LANGUAGE_CODE = language  # type: ignore[attr-defined]
            response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        return response
