"""Small database helpers shared by the apps."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.db import IntegrityError, connection, models, transaction

from welfare.core.errors import NotFound

M = TypeVar("M", bound=models.Model)


@contextmanager
def one_snapshot() -> Iterator[None]:
    """Every read inside sees one snapshot: a REPEATABLE READ, READ ONLY transaction of its
    own, or the caller's transaction when already inside one (a test's, say)."""
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def get_or_404(queryset: models.QuerySet[M], pk: object) -> M:
    """One row of an already-scoped queryset: "not found" and "not yours" are the same 404."""
    try:
        return queryset.get(pk=int(str(pk)))
    except (ObjectDoesNotExist, ValueError) as exc:
        raise NotFound() from exc


def create_once(model: type[M], unique: dict[str, Any], **values: Any) -> tuple[M, bool]:
    """Insert a row unless one with the same unique key exists; the database's unique
    constraint decides under concurrency (the read first only spares a failed insert)."""
    existing = model._default_manager.filter(**unique).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return model._default_manager.create(**unique, **values), True
    except IntegrityError:
        return model._default_manager.get(**unique), False


class AnyLookup(models.Lookup):  # type: ignore[type-arg]
    """`field__any=[...]`: `field = ANY(%s)` with the whole list as one array parameter.

    Unlike `__in`, the statement's text does not grow with the list, so filtering by
    thousands of ids (a sweep over a force) costs no more to build than by ten.
    """

    lookup_name = "any"
    prepare_rhs = False

    def get_db_prep_lookup(self, value: Any, connection: Any) -> tuple[str, list[Any]]:
        field = self.lhs.output_field
        return "%s", [[field.get_db_prep_value(v, connection, prepared=False) for v in value]]

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]
