"""Per-request context that services read without threading it through every call."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_client_ip: ContextVar[str | None] = ContextVar("client_ip", default=None)


def client_ip() -> str | None:
    """The caller's IP address for the request being served, if any."""
    return _client_ip.get()


@contextmanager
def request_context(*, ip: str | None) -> Iterator[None]:
    token = _client_ip.set(ip)
    try:
        yield
    finally:
        _client_ip.reset(token)
