"""Daily totals carry the day's viewing spans (for the break rule), and two indexes for the
sweep and for reads across officers. Existing rows get their spans from their sessions."""

import django.contrib.postgres.fields
from django.conf import settings
from django.db import migrations, models

FILL_SPANS = """
UPDATE exposure_dailytotal t SET spans = s.spans
FROM (
    SELECT d.id,
           array_agg(ARRAY[
               EXTRACT(EPOCH FROM GREATEST(x.started_at, b.lo) - b.lo)::float8,
               EXTRACT(EPOCH FROM LEAST(x.ended_at, b.hi) - b.lo)::float8
           ] ORDER BY x.started_at, x.ended_at) AS spans
    FROM exposure_dailytotal d
    CROSS JOIN LATERAL (
        SELECT (d.day::timestamp AT TIME ZONE %s) AS lo,
               ((d.day + 1)::timestamp AT TIME ZONE %s) AS hi
    ) b
    JOIN exposure_exposuresession x
      ON x.officer_id = d.officer_id AND x.state = 'current'
     AND x.started_at < b.hi AND x.ended_at > b.lo
    GROUP BY d.id
) s
WHERE s.id = t.id
"""


def fill_spans(apps, schema_editor):  # type: ignore[no-untyped-def]
    schema_editor.execute(FILL_SPANS, [settings.TIME_ZONE, settings.TIME_ZONE])


class Migration(migrations.Migration):
    dependencies = [
        ("exposure", "0002_no_overlap_and_force_policy"),
        ("people", "0004_default_rotation_policies"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="dailytotal",
            name="daily_total_updated_idx",
        ),
        migrations.AddField(
            model_name="dailytotal",
            name="spans",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=django.contrib.postgres.fields.ArrayField(
                    base_field=models.FloatField(), size=2
                ),
                blank=True,
                default=list,
                help_text="The day's viewing as [start, end] seconds after local midnight, in order: enough for the break rule without reading sessions.",
                size=None,
            ),
        ),
        migrations.AddIndex(
            model_name="dailytotal",
            index=models.Index(
                fields=["updated_at"], include=("officer", "day"), name="daily_total_updated_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="dailytotal",
            index=models.Index(fields=["day"], name="daily_total_day_idx"),
        ),
        migrations.RunPython(fill_spans, migrations.RunPython.noop),
    ]
