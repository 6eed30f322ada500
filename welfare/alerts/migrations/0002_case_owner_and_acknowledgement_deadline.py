"""Case ownership, a deadline to acknowledge urgent alerts, and confidential notifications.

Urgent alerts open before this migration get a deadline four hours after they became
urgent (raised, or escalated to occupational health): earlier than a working-hours
deadline could be, so none of them waits longer than it would have after the change."""

from datetime import timedelta

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def backfill_deadlines(apps, schema_editor):
    alert = apps.get_model("alerts", "Alert")
    for row in alert.objects.filter(status="open", ack_due_at__isnull=True).filter(
        models.Q(severity="urgent") | models.Q(escalated_at__isnull=False)
    ):
        became_urgent = row.escalated_at or row.raised_at
        row.ack_due_at = became_urgent + timedelta(hours=4)
        row.save(update_fields=["ack_due_at"])


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0001_initial"),
        ("checkins", "0004_self_check_screenings"),
        ("people", "0004_default_rotation_policies"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="CaseOwner",
            fields=[
                (
                    "officer",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="people.officer",
                    ),
                ),
                ("assigned_at", models.DateTimeField()),
            ],
        ),
        migrations.AddField(
            model_name="alert",
            name="ack_due_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="alert",
            name="ack_escalated_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="notification",
            name="confidential",
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddIndex(
            model_name="alert",
            index=models.Index(
                condition=models.Q(("ack_escalated_at__isnull", True), ("status", "open")),
                fields=["ack_due_at"],
                name="alert_ack_due_idx",
            ),
        ),
        migrations.AddField(
            model_name="caseowner",
            name="assigned_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="caseowner",
            name="clinician",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(backfill_deadlines, migrations.RunPython.noop),
    ]
