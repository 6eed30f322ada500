"""Small database helpers shared by the apps."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import pandas as pd
import psycopg
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ObjectDoesNotExist
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    connections,
    models,
    transaction,
)
from django.db.backends.utils import CursorDebugWrapper

from welfare.core import rules
from welfare.core.errors import NotFound

M = TypeVar("M", bound=models.Model)
T = TypeVar("T")


@contextmanager
def one_snapshot(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Every read inside sees one snapshot: a REPEATABLE READ, READ ONLY transaction of its
    own, or the caller's transaction when already inside one (a test's, say)."""
    db = connections[using]
    if db.in_atomic_block:
        yield
        return
    with transaction.atomic(using=using):
        with db.cursor() as cursor:
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


def create_many_once(objs: Sequence[M], *, key: Sequence[str], batch_size: int = 1000) -> list[M]:
    """Insert many rows unless they exist, as `create_once` does one: INSERT .. ON CONFLICT
    DO NOTHING, a statement per `batch_size` rows. Returns the rows this call inserted, in
    the given order, with their primary keys set; under concurrency the unique constraint
    gives each row to one caller only. `key` names the fields (attnames) of the unique key
    the inserted rows are matched back by; of rows repeating a key, the first counts.

    Each column is bound as one array parameter and the rows are unnested from them in the
    given order (`WITH ORDINALITY`): the statement's text is the same whatever the number of
    rows. A VALUES list with a placeholder per value cost more to build and to parse than to
    insert, which made a catch-up that tells a hundred thousand notifications slow."""
    if not objs:
        return []
    meta = type(objs[0])._meta
    fields = [
        f
        for f in meta.concrete_fields
        if f is not meta.auto_field and not getattr(f, "generated", False)
    ]
    db = connections[DEFAULT_DB_ALIAS]  # once: each use of the `connection` proxy looks it up
    quote = db.ops.quote_name
    table = quote(meta.db_table)
    columns = ", ".join(quote(f.column) for f in fields)
    column_of = {f.attname: f.column for f in meta.concrete_fields}
    returning = ", ".join(quote(column_of[name]) for name in [meta.pk.attname, *key])
    arrays = ", ".join(f"%s::{f.db_type(db)}[]" for f in fields)
    names = ", ".join(f"c{i}" for i in range(len(fields)))
    insert = (
        f"INSERT INTO {table} ({columns}) SELECT {names} FROM unnest({arrays})"  # noqa: S608 - columns from the model, values are parameters
        f" WITH ORDINALITY AS r({names}, n) ORDER BY n"
        f" ON CONFLICT DO NOTHING RETURNING {returning}"
    )
    rows: dict[tuple[Any, ...], M] = {}
    for obj in objs:
        rows.setdefault(tuple(getattr(obj, name) for name in key), obj)
    pending = list(rows.values())
    inserted: dict[tuple[Any, ...], Any] = {}
    with db.cursor() as cursor:
        for start in range(0, len(pending), batch_size):
            batch = pending[start : start + batch_size]
            params = [
                [f.get_db_prep_save(f.pre_save(obj, add=True), db) for obj in batch] for f in fields
            ]
            cursor.execute(insert, params)
            inserted.update((tuple(unique), pk) for pk, *unique in cursor.fetchall())
    created = []
    for unique, obj in rows.items():
        if unique in inserted:
            obj.pk = inserted[unique]
            obj._state.adding = False
            obj._state.db = db.alias
            created.append(obj)
    return created


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


def id_array(ids: Iterable[int]) -> str:
    """Whole numbers as one PostgreSQL array literal ('{1,2,3}'), to be cast in SQL
    (`%s::bigint[]`). psycopg's list adapter quotes element by element in Python, which
    costs milliseconds for the thousands of ids a sweep passes; this is one join."""
    return "{" + ",".join(str(int(i)) for i in ids) + "}"


class _PreparingCursor(psycopg.Cursor[Any]):
    """Binds on the server and prepares what it runs at once (Django's wrapper calls
    `execute` without psycopg's `prepare` argument)."""

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        kwargs.setdefault("prepare", True)
        return super().execute(query, params, **kwargs)


class _PreparedDebugWrapper(CursorDebugWrapper):
    """Logs a prepared statement's text as written (Django cannot rebuild it with its
    values from a server-side cursor, and would log None)."""

    def execute(self, sql: Any, params: Any = None) -> Any:
        with self.debug_sql(sql, params):
            return self._execute_with_wrappers(sql, params, many=False, executor=self._execute)


@contextmanager
def prepared_cursor() -> Iterator[Any]:
    """A cursor for the few statements run on every request or every sweep (the daily
    totals' upsert, the officer lock): server-side binding and prepared, so PostgreSQL
    plans each once per connection (planning the totals' upsert cost twice what running
    it did). Django's other cursors bind on the client and are never prepared.
    Queries still go through Django's wrapper, so they are logged and counted as usual.
    """
    db = connections[DEFAULT_DB_ALIAS]  # once: each use of the `connection` proxy looks it up
    db.ensure_connection()
    raw: Any = _PreparingCursor(db.connection)
    wrapped: Any = _PreparedDebugWrapper(raw, db) if db.queries_logged else db.make_cursor(raw)
    try:
        yield wrapped
    finally:
        raw.close()


def next_id(model: type[models.Model]) -> int:
    """The next value of `model`'s id sequence, for a row to be inserted with that id.

    Clinical text is sealed bound to its row (`welfare.core.crypto.aad`), so the id must be
    known before the INSERT: a sealing service takes it here, sets it on the new instance and
    inserts with `create(...)` or `save(force_insert=True)` (a plain `save()` of an instance
    with an id tries an UPDATE first, which the application's role may not run). A value
    taken and not used (the transaction rolled back) is a gap in the ids, as any failed
    insert leaves."""
    meta = model._meta
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s))", [meta.db_table, meta.pk.column]
        )
        (value,) = cursor.fetchone()
    return int(value)


def reserve_id(instance: models.Model) -> int:
    """The instance's id, taken from its sequence (`next_id`) first when it has none yet."""
    if instance.pk is None:
        instance.pk = next_id(type(instance))
    return int(instance.pk)


@dataclass(frozen=True)
class Rows:
    """A statement's result as the apps hand aggregates to each other: column names and
    value tuples, in order (the statistics build their tables from these)."""

    columns: list[str]
    values: list[tuple[Any, ...]]


def fetch_rows(
    sql: str, params: dict[str, Any], *, local_settings: str = "", using: str = DEFAULT_DB_ALIAS
) -> Rows:
    """Run one read and return its rows; `local_settings` (SET LOCAL ...) apply to this
    statement only, in a transaction of its own or the caller's. `using`: the database alias
    (`reporting_alias()` for the statistics)."""
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        if local_settings:
            cursor.execute(local_settings)
        cursor.execute(sql, params)
        return Rows([c.name for c in cursor.description], cursor.fetchall())


def fetch_frame(
    sql: str,
    params: dict[str, Any],
    *,
    local_settings: str = "",
    using: str = DEFAULT_DB_ALIAS,
    batch: int = 5_000,
) -> pd.DataFrame:
    """`fetch_rows` as one pandas frame, read `batch` rows at a time from a server-side
    cursor: a large aggregate (a statistics table over years of a national service) is
    never held whole as Python tuples, nor as the driver's buffer of the whole result."""
    db = connections[using]
    with transaction.atomic(using=using):
        with db.cursor() as cursor:
            # Every row is read: plan for all of them, not for the first tenth (a cursor's
            # default). PostgreSQL runs a cursor's plan without parallel workers.
            cursor.execute(f"SET LOCAL cursor_tuple_fraction = 1; {local_settings}")
        with db.chunked_cursor() as cursor:
            cursor.execute(sql, params)
            columns = [c.name for c in cursor.description]
            parts = []
            while chunk := cursor.fetchmany(batch):
                part = pd.DataFrame.from_records(chunk, columns=columns)
                # Text (names, labels) repeats: one object per distinct value, not per row
                # (measured: 13 MB less at 8,000 officers x 5 years).
                text = part.select_dtypes(include=["object", "string"]).columns
                parts.append(part.astype(dict.fromkeys(text, "category")))
    if not parts:
        return pd.DataFrame(columns=columns)
    whole = pd.concat(parts, ignore_index=True)
    # Plain columns again (a column all NULL in one batch is untyped there: typed anew).
    text = whole.select_dtypes(include="category").columns
    return whole.astype(dict.fromkeys(text, object)).infer_objects()


def grouping_sets(expressions: Sequence[str]) -> str:
    """The cells, each line total and the grand total, in one pass (expressions, not output
    names, so `kind` cannot be mistaken for another table's column)."""
    if len(expressions) == 1:
        return f"GROUPING SETS (({expressions[0]}), ())"
    a, b = expressions
    return f"GROUPING SETS (({a}, {b}), ({a}), ({b}), ())"


# --- The reporting database: a read replica for the statistics ----------------------------------
# Only reads that may be a little stale go there (the HR statistics and the stats packs), each
# through an explicit alias: everything else reads the primary, which holds the request's own
# writes. Audit events of those reads are written on the primary, as every write is.

REPLICA_DB_ALIAS = "replica"
_log = logging.getLogger("welfare.db.replica")

# Cheap on a standby: no table is read. The WAL receiver's row shows its pid to any role.
_SYSTEM_ID = "(SELECT system_identifier FROM pg_control_system())"
_REPLICA_PROBE = """
    SELECT (SELECT system_identifier FROM pg_control_system()),
           pg_is_in_recovery(),
           EXISTS (SELECT FROM pg_stat_wal_receiver),
           pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn(),
           EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8
"""
_UNCHECKED = "unchecked"


@dataclass
class _ReplicaState:
    checked_at: float | None = None
    refusal: str | None = _UNCHECKED
    logged: str | None = _UNCHECKED
    primary_system_id: int | None = None


_replica = _ReplicaState()
_replica_lock = threading.Lock()


def replica_state_reset() -> None:
    """Forget the last check (the next `reporting_alias()` checks again) and what was logged."""
    with _replica_lock:
        _replica.checked_at = None
        _replica.refusal = _replica.logged = _UNCHECKED
        _replica.primary_system_id = None


def _primary_system_id() -> int:
    """The primary's cluster identifier (a physical standby of it shares it), read once."""
    if _replica.primary_system_id is None:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute(f"SELECT {_SYSTEM_ID}")
            _replica.primary_system_id = int(cursor.fetchone()[0])
    return _replica.primary_system_id


def _probe_replica() -> str | None:
    """Why the replica may not serve the statistics now, or None when it may."""
    primary = _primary_system_id()
    db = connections[REPLICA_DB_ALIAS]
    try:
        with transaction.atomic(using=REPLICA_DB_ALIAS), db.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 2000")
            cursor.execute(_REPLICA_PROBE)
            system_id, in_recovery, receiving, caught_up, lag = cursor.fetchone()
    except (DatabaseError, ImproperlyConfigured) as error:  # down, refused, a superuser...
        db.close()
        return f"unreachable ({type(error).__name__})"
    return rules.replica_refusal(
        same_cluster=int(system_id) == primary,
        in_recovery=bool(in_recovery),
        receiving=bool(receiving),
        caught_up=bool(caught_up),
        lag_seconds=None if lag is None else float(lag),
        max_lag=settings.DATABASE_REPLICA_MAX_LAG_SECONDS,
    )


def _log_verdict(refusal: str | None) -> None:
    """Log a change of verdict once, not every check."""
    if refusal == _replica.logged:
        return
    _replica.logged = refusal
    if refusal is None:
        _log.info("replica_in_use statistics read the read replica")
    else:
        _log.warning("replica_not_used statistics read the primary: the replica is %s", refusal)


def reporting_alias() -> str:
    """The database alias the statistics read from: the read replica (DATABASE_REPLICA_URL)
    while it is a standby streaming from the primary and at most
    DATABASE_REPLICA_MAX_LAG_SECONDS behind, checked at most every
    DATABASE_REPLICA_CHECK_SECONDS; otherwise (none configured, down, lagging) the primary."""
    if REPLICA_DB_ALIAS not in settings.DATABASES:
        return DEFAULT_DB_ALIAS
    with _replica_lock:
        checked_at = _replica.checked_at
        if checked_at is None or (
            time.monotonic() - checked_at >= settings.DATABASE_REPLICA_CHECK_SECONDS
        ):
            _replica.refusal = _probe_replica()
            _replica.checked_at = time.monotonic()
            _log_verdict(_replica.refusal)
        return DEFAULT_DB_ALIAS if _replica.refusal is not None else REPLICA_DB_ALIAS


def reporting_read(read: Callable[[str], T]) -> T:
    """`read(alias)` on the reporting database (`reporting_alias()`), all of it in one
    snapshot. Should the replica fail during it (gone, or the statement cancelled by a
    conflict with recovery), the read runs again on the primary and the replica is checked
    again before its next use: a read has no side effects, so running it twice is safe."""
    alias = reporting_alias()
    if alias == DEFAULT_DB_ALIAS:
        with one_snapshot():
            return read(alias)
    try:
        with one_snapshot(using=alias):
            return read(alias)
    except (OperationalError, InterfaceError) as error:
        connections[alias].close()
        with _replica_lock:
            _replica.checked_at = None
        _log.warning(
            "replica_read_failed a statistics read failed on the replica (%s): read again "
            "on the primary",
            type(error).__name__,
        )
    with one_snapshot():
        return read(DEFAULT_DB_ALIAS)
