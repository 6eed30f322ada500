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
# Who acts when no user does: "system" (jobs, commands) unless a block says otherwise.
_system_actor: ContextVar[str | None] = ContextVar("system_actor", default=None)


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


def system_actor() -> str:
    """The actor role recorded for events with no user as actor."""
    return _system_actor.get() or "system"


@contextmanager
def acting_as(actor_role: str) -> Iterator[None]:
    """Inside this block, events with no user as actor name `actor_role` (the force's
    directory, provisioning accounts) instead of the system."""
    token = _system_actor.set(actor_role)
    try:
        yield
    finally:
        _system_actor.reset(token)
