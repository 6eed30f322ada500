from __future__ import annotations

import ipaddress
import logging
import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from welfare.core.context import request_context, set_caller
from welfare.core.logs import redact


def client_ip_of(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or the address the trusted proxies saw, never a client-chosen header."""
    remote = request.META.get("REMOTE_ADDR")
    hops = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if hops and forwarded:
        chain = [part.strip() for part in forwarded.split(",") if part.strip()]
        if len(chain) >= hops:
            remote = chain[-hops]
    try:
        return str(ipaddress.ip_address(remote)) if remote else None
    except ValueError:
        return None


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
access_log = logging.getLogger("welfare.access")


def request_id_of(request: HttpRequest) -> str:
    """The id a proxy gave the request (X-Request-ID), if it looks like one; else a new one."""
    given = request.META.get("HTTP_X_REQUEST_ID", "")
    return given if _REQUEST_ID.match(given) else uuid.uuid4().hex


class RequestContextMiddleware:
    """Per request: the caller's address and a request id for services and log lines, the id
    echoed in `X-Request-ID`, `Cache-Control: no-store` on everything but static files
    (every page and response may carry personal data), and one access log line: method,
    path without its query string, status, time, user id and role."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_of(request)
        started = time.perf_counter()
        with request_context(ip=client_ip_of(request), request_id=request_id):
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            static = request.path.startswith(f"/{settings.STATIC_URL.strip('/')}/")
            if not static and "no-store" not in response.get("Cache-Control", ""):
                response["Cache-Control"] = "no-store"
            user = getattr(request, "user", None)
            if user is not None and getattr(user, "is_authenticated", False):
                set_caller(user_id=user.pk, role=getattr(user, "role", None))
            path = redact(request.path)  # a calendar feed's key is its credential
            access_log.info(
                "%s %s %s",
                request.method,
                path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            return response
