"""Per-request context that services and log lines read without threading it through every
call: the caller's address, the request's id, who is calling."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class RequestInfo:
    ip: str | None = None
    request_id: str | None = None
    user_id: int | None = None
    role: str | None = None


_NONE = RequestInfo()  # frozen: safe to share as the default
_current: ContextVar[RequestInfo | None] = ContextVar("request_info", default=None)


def current() -> RequestInfo:
    return _current.get() or _NONE


def client_ip() -> str | None:
    """The caller's IP address for the request being served, if any."""
    return current().ip


def set_caller(*, user_id: int | None, role: str | None) -> None:
    """Record who is calling, once authentication has said so (for the log lines)."""
    _current.set(replace(current(), user_id=user_id, role=role))


@contextmanager
def request_context(*, ip: str | None, request_id: str | None = None) -> Iterator[None]:
    token = _current.set(RequestInfo(ip=ip, request_id=request_id))
    try:
        yield
    finally:
        _current.reset(token)
