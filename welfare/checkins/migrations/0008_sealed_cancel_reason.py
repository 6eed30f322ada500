"""Why a check-in was cancelled (occupational health's alone) sealed in the row like the
other clinical text (AES-256-GCM bound to table, column and row id); the clear column
dropped."""

from django.db import migrations, models

from welfare.core.sealed import column_sealer


class Migration(migrations.Migration):
    dependencies = [("checkins", "0007_sealed_referral_note_and_adjustments")]

    operations = [
        migrations.AddField(
            model_name="checkin",
            name="cancel_reason_encrypted",
            field=models.BinaryField(blank=True, null=True),
        ),
        migrations.RunPython(
            *column_sealer("checkins.CheckIn", "cancel_reason", "cancel_reason_encrypted")
        ),
        migrations.RemoveField(model_name="checkin", name="cancel_reason"),
    ]
