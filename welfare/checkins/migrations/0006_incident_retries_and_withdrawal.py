"""Incidents: a client_ref that makes a retried recording return the stored one, withdrawal
of one recorded in error, and PostgreSQL's refusal to delete them outside the retention job
(as records/0002 does for check-ins)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

TABLE = "checkins_incident"

KEEP = f"""
CREATE TRIGGER {TABLE}_keep BEFORE DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION welfare_keep_until_retention();
CREATE TRIGGER {TABLE}_keep_truncate BEFORE TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION welfare_keep_until_retention();
"""

KEEP_REVERSE = f"""
DROP TRIGGER IF EXISTS {TABLE}_keep ON {TABLE};
DROP TRIGGER IF EXISTS {TABLE}_keep_truncate ON {TABLE};
"""


class Migration(migrations.Migration):
    dependencies = [
        ("checkins", "0005_incidents_contacts_confidential"),
        ("people", "0004_default_rotation_policies"),
        ("records", "0002_keep_until_retention"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="incident",
            name="client_ref",
            field=models.UUIDField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="incident",
            name="withdraw_reason",
            field=models.CharField(blank=True, max_length=280),
        ),
        migrations.AddField(
            model_name="incident",
            name="withdrawn_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="incident",
            name="withdrawn_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddConstraint(
            model_name="incident",
            constraint=models.UniqueConstraint(
                condition=models.Q(("client_ref__isnull", False)),
                fields=("officer", "client_ref"),
                name="incident_client_ref_unique",
            ),
        ),
        migrations.RunSQL(KEEP, KEEP_REVERSE),
    ]
