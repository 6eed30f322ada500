"""Sessions' "no overlap per officer" constraint through the one helper both such
constraints use, `welfare_officer_span` (see people/0005 for the encoding and its
limits): seconds since 2000-01-01, so sessions are held to the years 2000-2999."""

from django.db import migrations

SESSIONS = """
ALTER TABLE exposure_exposuresession DROP CONSTRAINT exposure_no_overlap;
ALTER TABLE exposure_exposuresession ADD CONSTRAINT exposure_in_span_years
    CHECK (started_at >= TIMESTAMPTZ '2000-01-01 00:00:00+00'
           AND ended_at <= TIMESTAMPTZ '3000-01-01 00:00:00+00');
ALTER TABLE exposure_exposuresession ADD CONSTRAINT exposure_no_overlap EXCLUDE USING gist (
    welfare_officer_span(
        officer_id,
        welfare_epoch_seconds(started_at) - 946684800,
        welfare_epoch_seconds(ended_at) - 946684800
    ) WITH &&
) WHERE (state = 'current');
"""

SESSIONS_BEFORE = """
ALTER TABLE exposure_exposuresession DROP CONSTRAINT exposure_no_overlap;
ALTER TABLE exposure_exposuresession DROP CONSTRAINT exposure_in_span_years;
ALTER TABLE exposure_exposuresession ADD CONSTRAINT exposure_no_overlap EXCLUDE USING gist (
    int8range(
        officer_id * 10000000000 + welfare_epoch_seconds(started_at),
        officer_id * 10000000000 + welfare_epoch_seconds(ended_at)
    ) WITH &&
) WHERE (state = 'current');
"""


class Migration(migrations.Migration):
    dependencies = [
        ("exposure", "0010_drop_log_function"),
        ("people", "0005_officer_span"),
    ]

    operations = [migrations.RunSQL(SESSIONS, SESSIONS_BEFORE)]
