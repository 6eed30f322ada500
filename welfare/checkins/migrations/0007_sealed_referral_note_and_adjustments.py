"""The self-referral message and the recommended adjustments sealed in the row (AES-256-GCM
bound to table, column and row id, welfare.core.sealed); the clear columns dropped."""

from django.db import migrations, models

from welfare.core.sealed import column_sealer


class Migration(migrations.Migration):
    dependencies = [("checkins", "0006_incident_retries_and_withdrawal")]

    operations = [
        migrations.AddField(
            model_name="checkin",
            name="referral_note_encrypted",
            field=models.BinaryField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="checkin",
            name="adjustments_encrypted",
            field=models.BinaryField(blank=True, null=True),
        ),
        migrations.RunPython(
            *column_sealer("checkins.CheckIn", "referral_note", "referral_note_encrypted")
        ),
        migrations.RunPython(
            *column_sealer("checkins.CheckIn", "adjustments", "adjustments_encrypted")
        ),
        migrations.RemoveField(model_name="checkin", name="referral_note"),
        migrations.RemoveField(model_name="checkin", name="adjustments"),
    ]
