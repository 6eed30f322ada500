"""PostgreSQL refuses overlapping current sessions of one officer; the force policy row.

The embedded server has no btree_gist, so the officer is folded into the range:
officer_id * 10^10 + epoch seconds. Ranges of different officers never meet, and
GiST on int8range needs no extension. Voided and superseded versions are outside the
constraint's WHERE, so they never block anything.
"""

from datetime import time

from django.db import migrations

SQL = """
CREATE FUNCTION welfare_epoch_seconds(timestamptz) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT floor(extract(epoch FROM $1))::bigint $$;

ALTER TABLE exposure_exposuresession ADD CONSTRAINT exposure_no_overlap EXCLUDE USING gist (
    int8range(
        officer_id * 10000000000 + welfare_epoch_seconds(started_at),
        officer_id * 10000000000 + welfare_epoch_seconds(ended_at)
    ) WITH &&
) WHERE (state = 'current');
"""

REVERSE = """
ALTER TABLE exposure_exposuresession DROP CONSTRAINT IF EXISTS exposure_no_overlap;
DROP FUNCTION IF EXISTS welfare_epoch_seconds(timestamptz);
"""

# DOMAIN.md defaults (IWF limits and the inferences recorded there).
FORCE_DEFAULTS = {
    "daily_minutes": 300,
    "week_minutes": 1200,
    "rolling_28d_minutes": 4200,
    "break_after_minutes": 60,
    "break_minutes": 10,
    "latest_end": time(16, 0),
    "max_consecutive_days": 5,
    "warning_ratio": 0.8,
    "weights": {
        "medium": {
            "image": 1.0,
            "text": 0.5,
            "audio": 1.5,
            "video": 1.5,
            "video_with_audio": 2.0,
            "live": 2.5,
        },
        "category": {"A": 1.5, "B": 1.2, "C": 1.0, "none": 1.0, "unknown": 1.0},
        "violent": 1.5,
    },
}


def create_force_policy(apps, schema_editor):
    from django.utils import timezone

    policy = apps.get_model("exposure", "ExposurePolicy")
    if not policy.objects.filter(unit__isnull=True).exists():
        policy.objects.create(unit=None, updated_at=timezone.now(), **FORCE_DEFAULTS)


class Migration(migrations.Migration):
    dependencies = [("exposure", "0001_initial")]

    operations = [
        migrations.RunSQL(SQL, REVERSE),
        migrations.RunPython(create_force_policy, migrations.RunPython.noop),
    ]
