"""Base classes for API views: authentication and deny-by-default role permission."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from django.db import connections, transaction
from django.db.models import Model, QuerySet
from django.utils.decorators import method_decorator
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from welfare.core.permissions import RolePermission

if TYPE_CHECKING:  # types only: core sits below accounts
    from welfare.accounts.models import AuthToken, User


def caller(request: Request) -> User:
    """The signed-in user of a request that passed RolePermission."""
    return cast("User", request.user)


def caller_token(request: Request) -> AuthToken:
    return cast("AuthToken", request.auth)


class ApiView(APIView):
    """One operation. Subclasses set `roles` (see welfare.core.permissions)."""

    permission_classes = [RolePermission]
    roles: Any = None
    allow_unverified = False


@method_decorator(transaction.non_atomic_requests, name="dispatch")
class SelfCommittingApiView(ApiView):
    """An operation whose service owns its transaction: it commits what must survive a
    refusal (a failed log-in counts toward the lock-out; a wrong code toward the device's
    throttle), or it must see its own commit fail to answer for it (a screening with a
    critical answer that could not be stored still gives the officer the support message).

    The request is not wrapped in a transaction, and a refusal is answered without
    marking any transaction for rollback.
    """

    def handle_exception(self, exc: Exception) -> Response:
        return handled_without_rollback(super().handle_exception, exc)


def handled_without_rollback(handle: Callable[[Exception], Response], exc: Exception) -> Response:
    """A refusal answered by a view that owns no transaction: there is nothing for the error
    handler to mark for rollback, and an enclosing block (a test's) must not be marked.
    Django's public `get_rollback`/`set_rollback` keep the enclosing blocks' flags."""
    aliases = [conn.alias for conn in connections.all() if conn.in_atomic_block]
    marked = {alias: transaction.get_rollback(using=alias) for alias in aliases}
    response = handle(exc)
    for alias, flag in marked.items():
        transaction.set_rollback(flag, using=alias)
    return response


class ApiViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    """A small viewset whose queryset comes from a selector scoped to the caller.

    Subclasses set `model` and implement `scoped_queryset()` with a selector.
    """

    permission_classes = [RolePermission]
    roles: Any = None
    allow_unverified = False
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    model: type[Model]

    def scoped_queryset(self) -> QuerySet[Any]:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no caller
            return self.model._default_manager.none()
        return self.scoped_queryset()


class ScopedListRetrieveMixin:
    """`list` and `retrieve` over the scoped queryset, rendered with `serializer_class`."""

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        view: Any = self
        page = view.paginate_queryset(view.filter_queryset(view.get_queryset()))
        rows = view.get_serializer(
            page if page is not None else view.filter_queryset(view.get_queryset()), many=True
        ).data
        return view.get_paginated_response(rows) if page is not None else Response(rows)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        view: Any = self
        return Response(view.get_serializer(view.get_object()).data)


class ReadOnlyApiViewSet(ScopedListRetrieveMixin, ApiViewSet):
    pass


@method_decorator(transaction.non_atomic_requests, name="dispatch")
class SelfCommittingApiViewSet(ApiViewSet):
    """A viewset whose every write is one service call that owns its transaction, so the
    transaction (and the locks it holds: the officer's, the audit chain's) ends before the
    response is rendered. Reads run in autocommit; a refusal is answered without marking
    any transaction for rollback, as SelfCommittingApiView does."""

    def handle_exception(self, exc: Exception) -> Response:
        return handled_without_rollback(super().handle_exception, exc)
