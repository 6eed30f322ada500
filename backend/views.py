"""The 500 answer: nothing about the code, the versions or the data, only a reference."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from welfare.core.context import current

SERVER_ERROR = "Something went wrong on our side. It has been logged; please try again later."


def server_error(request: HttpRequest) -> HttpResponse:
    reference = current().request_id or ""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": SERVER_ERROR, "code": "server_error", "request_id": reference}, status=500
        )
    page = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Server error</title>"
        f"<h1>Server error</h1><p>{SERVER_ERROR}</p><p>Reference: {reference}</p></html>"
    )
    return HttpResponse(page, status=500, content_type="text/html; charset=utf-8")
