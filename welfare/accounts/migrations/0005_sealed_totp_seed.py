"""TOTP seeds sealed in the device's `key` column (AES-256-GCM bound to table, column and row
id: welfare.accounts.models.SealedTOTPDevice) instead of clear hex."""

from typing import Any

from django.db import migrations


def seal_seeds(apps: Any, schema_editor: Any) -> None:
    from welfare.accounts.models import SEALED_SEED_PREFIX, seal_seed

    device_model = apps.get_model("otp_totp", "TOTPDevice")
    rows = device_model.objects.exclude(key__startswith=SEALED_SEED_PREFIX).values_list("pk", "key")
    for pk, key in rows.iterator(chunk_size=500):
        device_model.objects.filter(pk=pk).update(key=seal_seed(key, device_id=pk))


def unseal_seeds(apps: Any, schema_editor: Any) -> None:
    from welfare.accounts.models import SEALED_SEED_PREFIX, SealedTOTPDevice, UnreadableSeed

    device_model = apps.get_model("otp_totp", "TOTPDevice")
    rows = device_model.objects.filter(key__startswith=SEALED_SEED_PREFIX).values_list("pk", "key")
    for pk, key in rows.iterator(chunk_size=500):
        try:
            seed = SealedTOTPDevice(pk=pk, key=key).seed
        except UnreadableSeed:
            raise RuntimeError(
                f"The TOTP seed of device {pk} cannot be read with FIELD_ENCRYPTION_KEYS: "
                "configure the key it was sealed with before migrating back."
            ) from None
        device_model.objects.filter(pk=pk).update(key=seed)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_separation_of_duties"),
        ("otp_totp", "0003_add_timestamps"),
    ]

    operations = [
        migrations.CreateModel(
            name="SealedTOTPDevice",
            fields=[],
            options={
                "verbose_name": "TOTP device",
                "proxy": True,
                "indexes": [],
                "constraints": [],
            },
            bases=("otp_totp.totpdevice",),
        ),
        migrations.RunPython(seal_seeds, unseal_seeds),
    ]
