"""Clinical text and secrets sealed in their row (AES-256-GCM, `welfare.core.crypto`).

A model keeps the token in a BinaryField `<name>_encrypted` and declares
`<name> = sealed_text("<name>_encrypted")`: reading the attribute gives the plaintext (or
`crypto.UNREADABLE`), assigning to it seals. The token is bound to table, column and row id,
so a token copied into another row or column does not read. Sealing needs the row's id
before the INSERT: an instance without one takes the next value of its sequence
(`welfare.core.db.reserve_id`), and the service then inserts it with `create(...)` or
`save(force_insert=True)`.

An empty text is stored as NULL (nothing to seal).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction

from welfare.core import crypto
from welfare.core.db import reserve_id


def binding(instance: models.Model, column: str) -> bytes:
    """What a token in `column` of this row is bound to."""
    field = instance._meta.get_field(column)
    assert isinstance(field, models.Field)
    return crypto.aad(instance._meta.db_table, field.column, instance.pk)


def seal_into(instance: models.Model, column: str, text: str) -> None:
    """Seal `text` into the instance's `column` (NULL when empty), taking an id first."""
    if not text:
        setattr(instance, column, None)
        return
    reserve_id(instance)
    setattr(instance, column, crypto.seal(text, bound_to=binding(instance, column)))


def unseal_from(instance: models.Model, column: str) -> str:
    """The plaintext in the instance's `column`: "" when NULL, UNREADABLE when it cannot be
    read (key gone, altered, or a token of another row or column)."""
    token = getattr(instance, column)
    if not token:
        return ""
    if instance.pk is None:
        return crypto.UNREADABLE
    return crypto.unseal(token, bound_to=binding(instance, column))


def sealed_text(column: str, *, doc: str = "") -> Any:
    """A model attribute reading and writing sealed text in the BinaryField `column`. A
    `property`, so it can be passed to the model's constructor and `objects.create()`."""

    def get(instance: models.Model) -> str:
        return unseal_from(instance, column)

    def put(instance: models.Model, text: str) -> None:
        seal_into(instance, column, text)

    return property(get, put, doc=doc or f"The plaintext sealed in `{column}`.")


@dataclass(frozen=True)
class Resealed:
    """What rotation did to one table: rows rewritten under the current key, and tokens left
    as they were because no configured key reads them (or they belong to another row)."""

    rows: int = 0
    unreadable: int = 0


def reseal_table(
    model: type[models.Model],
    columns: tuple[str, ...],
    *,
    batch: int = 500,
    reseal: Callable[[models.Model, str], bytes | str | None] | None = None,
) -> Resealed:
    """Reseal every token in `columns` of `model` under the current key, bound to its row (a
    legacy Fernet token gains the binding), `batch` rows per transaction, each batch locked
    FOR UPDATE so that a concurrent write is not overwritten with the old text. Tokens
    current already are left alone, so a rotation cut short is simply run again.

    `reseal(instance, column)` gives the new value, None to leave it (default: the sealed
    BinaryField tokens of this module); it raises `Unreadable` for a token no key reads."""
    reseal = reseal or _reseal_token
    rows = unreadable = 0
    last: Any = 0
    manager = model._default_manager
    while True:
        with transaction.atomic():
            chunk = list(
                manager.select_for_update()
                .filter(pk__gt=last)
                .order_by("pk")
                .only("pk", *columns)[:batch]
            )
            for instance in chunk:
                values: dict[str, Any] = {}
                for column in columns:
                    try:
                        value = reseal(instance, column)
                    except Unreadable:
                        unreadable += 1
                        continue
                    if value is not None:
                        values[column] = value
                if values:
                    manager.filter(pk=instance.pk).update(**values)
                    rows += 1
        if len(chunk) < batch:
            return Resealed(rows=rows, unreadable=unreadable)
        last = chunk[-1].pk


class Unreadable(Exception):
    """A token that no configured key reads (rotation leaves it as it is)."""


def _reseal_token(instance: models.Model, column: str) -> bytes | None:
    token = getattr(instance, column)
    if not token or crypto.is_current(token):
        return None
    new = crypto.reseal(token, bound_to=binding(instance, column))
    if new is None:
        raise Unreadable(column)
    return new


# --- Migrations ---------------------------------------------------------------------------


def column_sealer(model_label: str, clear: str, sealed: str) -> tuple[Any, Any]:
    """RunPython functions (forward, reverse) that seal the text of column `clear` into the
    BinaryField `sealed` of every row of `model_label` ("app.Model"), bound to the row, and
    back. The reverse refuses (rather than writing a marker over the text) when a token
    cannot be read with the keys configured."""

    def forward(apps: Any, schema_editor: Any) -> None:
        model = apps.get_model(model_label)
        table = model._meta.db_table
        rows = model._default_manager.exclude(**{clear: ""}).values_list("pk", clear)
        for pk, text in rows.iterator(chunk_size=500):
            token = crypto.seal(text, bound_to=crypto.aad(table, sealed, pk))
            model._default_manager.filter(pk=pk).update(**{sealed: token})

    def reverse(apps: Any, schema_editor: Any) -> None:
        model = apps.get_model(model_label)
        table = model._meta.db_table
        rows = model._default_manager.exclude(**{f"{sealed}__isnull": True}).values_list(
            "pk", sealed
        )
        for pk, token in rows.iterator(chunk_size=500):
            text = crypto.unseal(token, bound_to=crypto.aad(table, sealed, pk))
            if text == crypto.UNREADABLE:
                raise RuntimeError(
                    f"{table}.{sealed} of row {pk} cannot be read with FIELD_ENCRYPTION_KEYS: "
                    "configure the key it was sealed with before migrating back."
                )
            model._default_manager.filter(pk=pk).update(**{clear: text})

    return forward, reverse
