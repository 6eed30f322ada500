"""A restriction's clinical reason sealed in the row (AES-256-GCM bound to table, column and
row id, welfare.core.sealed); the clear column dropped."""

from django.db import migrations, models

from welfare.core.sealed import column_sealer


class Migration(migrations.Migration):
    dependencies = [("exposure", "0011_officer_span")]

    operations = [
        migrations.AddField(
            model_name="restriction",
            name="reason_encrypted",
            field=models.BinaryField(blank=True, null=True),
        ),
        migrations.RunPython(*column_sealer("exposure.Restriction", "reason", "reason_encrypted")),
        migrations.RemoveField(model_name="restriction", name="reason"),
    ]
