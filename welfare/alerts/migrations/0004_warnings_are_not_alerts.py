"""Limit warnings are shown (to the officer and on the supervisor's page), no longer raised as
alerts (DOMAIN.md, second release): those still open are resolved, with a note saying why, so
that a supervisor's list holds what needs action. Nothing is deleted."""

from django.db import migrations

NOTE = (
    "Closed when limit warnings stopped being raised as alerts: a warning is shown on the "
    "officer's and the supervisor's pages; only a limit gone past raises an alert."
)


class Migration(migrations.Migration):
    dependencies = [("alerts", "0003_occurrences_and_digests")]

    operations = [
        migrations.RunSQL(
            [
                (
                    "UPDATE alerts_alert SET status = 'resolved', resolved_at = now(), "
                    "acknowledged_at = COALESCE(acknowledged_at, now()), resolution_note = %s "
                    "WHERE kind = 'exposure_limit' AND status IN ('open', 'acknowledged') "
                    "AND detail->>'state' = 'warning'",
                    [NOTE],
                )
            ],
            migrations.RunSQL.noop,
        )
    ]
