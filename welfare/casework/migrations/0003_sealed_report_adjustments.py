"""A management report's adjustments sealed in the row (AES-256-GCM bound to table, column
and row id, welfare.core.sealed); the clear column dropped."""

from django.db import migrations, models

from welfare.core.sealed import column_sealer


class Migration(migrations.Migration):
    dependencies = [("casework", "0002_support_contacts")]

    operations = [
        migrations.AddField(
            model_name="managementreport",
            name="adjustments_encrypted",
            field=models.BinaryField(blank=True, null=True),
        ),
        migrations.RunPython(
            *column_sealer("casework.ManagementReport", "adjustments", "adjustments_encrypted")
        ),
        migrations.RemoveField(model_name="managementreport", name="adjustments"),
    ]
