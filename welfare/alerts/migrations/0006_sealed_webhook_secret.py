"""A unit webhook's signing secret sealed in the row (AES-256-GCM bound to table, column and
row id, welfare.core.sealed); the clear column dropped."""

from django.db import migrations, models

from welfare.core.sealed import column_sealer


class Migration(migrations.Migration):
    dependencies = [("alerts", "0005_webhook_delivery_errors")]

    operations = [
        migrations.AddField(
            model_name="unitwebhook",
            name="secret_encrypted",
            field=models.BinaryField(null=True),
        ),
        migrations.RunPython(*column_sealer("alerts.UnitWebhook", "secret", "secret_encrypted")),
        migrations.AlterField(
            model_name="unitwebhook", name="secret_encrypted", field=models.BinaryField()
        ),
        # Given a default first, so that migrating back can add the column to existing rows
        # before it is filled in again from the sealed secret.
        migrations.AlterField(
            model_name="unitwebhook",
            name="secret",
            field=models.CharField(default="", max_length=128),
        ),
        migrations.RemoveField(model_name="unitwebhook", name="secret"),
    ]
