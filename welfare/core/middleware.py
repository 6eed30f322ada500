from __future__ import annotations

import ipaddress
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from welfare.core.context import request_context


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


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with request_context(ip=client_ip_of(request)):
            return self.get_response(request)
