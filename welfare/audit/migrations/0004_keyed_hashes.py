"""Keyed hashes from here on: each event records the HMAC key its hash was made with
(empty for the plain SHA-256 events written before), and one keyed record says where the
unkeyed events end, so an owner without the key can neither rehash the chain unkeyed nor
move that boundary."""

from typing import Any

from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

from welfare.audit.rules import keyed_from_mac, keyring

# The same lock audit_record takes: no event is written between reading the newest and
# recording it as the boundary.
_CHAIN_LOCK_KEY = 0x_A0D1_7C4A

SQL = """
CREATE FUNCTION audit_keying_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit keying is append-only: % refused on %', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_keying_no_change
    BEFORE UPDATE OR DELETE ON audit_auditkeying
    FOR EACH ROW EXECUTE FUNCTION audit_keying_refuse_change();

CREATE TRIGGER audit_keying_no_truncate
    BEFORE TRUNCATE ON audit_auditkeying
    FOR EACH STATEMENT EXECUTE FUNCTION audit_keying_refuse_change();
"""

REVERSE = """
DROP TRIGGER IF EXISTS audit_keying_no_truncate ON audit_auditkeying;
DROP TRIGGER IF EXISTS audit_keying_no_change ON audit_auditkeying;
DROP FUNCTION IF EXISTS audit_keying_refuse_change();
"""


def record_boundary(apps: Any, schema_editor: Any) -> None:
    """Record the newest unkeyed event, keyed; with no events there is nothing unkeyed."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
        cursor.execute("SELECT id, hash FROM audit_auditevent ORDER BY id DESC LIMIT 1")
        newest = cursor.fetchone()
    if newest is None:
        return
    keys = keyring(settings.AUDIT_HMAC_KEYS)
    apps.get_model("audit", "AuditKeying").objects.create(
        at=timezone.now(),
        legacy_through_id=newest[0],
        legacy_through_hash=newest[1],
        key_id=keys.current,
        mac=keyed_from_mac(keys.current_key, int(newest[0]), str(newest[1])),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0003_checkpoint"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditKeying",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("at", models.DateTimeField()),
                ("legacy_through_id", models.BigIntegerField()),
                ("legacy_through_hash", models.CharField(max_length=64)),
                ("key_id", models.CharField(max_length=16)),
                ("mac", models.CharField(max_length=64)),
            ],
            options={
                "ordering": ["id"],
            },
        ),
        migrations.AddField(
            model_name="auditevent",
            name="key_id",
            field=models.CharField(
                blank=True,
                default="",
                help_text="The HMAC key the hash was made with; empty: plain SHA-256, written "
                "before keyed hashing began (accepted only up to the AuditKeying boundary).",
                max_length=16,
            ),
        ),
        migrations.RunSQL(SQL, REVERSE),
        migrations.RunPython(record_boundary, migrations.RunPython.noop),
    ]
