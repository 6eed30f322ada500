"""One helper for both "no overlap per officer" constraints (postings here, exposure
sessions in exposure/0011).

PostgreSQL needs the btree_gist extension to exclude overlapping ranges per officer, and
the embedded server ships without it (its extension folder holds plpgsql and vector
only). So the officer is folded into the range itself: `welfare_officer_span(officer, lo,
hi)` is `int8range(officer * 10^11 + lo, officer * 10^11 + hi)`, with lo and hi counted
from 2000-01-01 (days for postings, seconds for sessions). Ranges of different officers
never meet as long as every position stays below 10^11: seconds up to 3000-01-01 are
31,556,908,800, so dates are held to the years 2000-2999 (a check constraint each), and
officer ids to 92 million (int8's 9.2 * 10^18 / 10^11). tests/test_officer_span.py proves
the limits.
"""

from django.db import migrations

SPAN = """
CREATE FUNCTION welfare_officer_span(officer bigint, lo bigint, hi bigint) RETURNS int8range
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT int8range(officer * 100000000000 + lo, officer * 100000000000 + hi) $$;
"""

POSTINGS = """
ALTER TABLE people_posting DROP CONSTRAINT posting_no_overlap;
ALTER TABLE people_posting ADD CONSTRAINT posting_in_span_years
    CHECK (started_on >= DATE '2000-01-01' AND started_on < DATE '3000-01-01'
           AND (ended_on IS NULL OR ended_on < DATE '3000-01-01'));
ALTER TABLE people_posting ADD CONSTRAINT posting_no_overlap EXCLUDE USING gist (
    welfare_officer_span(
        officer_id,
        started_on - DATE '2000-01-01',
        COALESCE(ended_on + 1, DATE '3000-01-01') - DATE '2000-01-01'
    ) WITH &&
);
"""

POSTINGS_BEFORE = """
ALTER TABLE people_posting DROP CONSTRAINT posting_no_overlap;
ALTER TABLE people_posting DROP CONSTRAINT posting_in_span_years;
ALTER TABLE people_posting ADD CONSTRAINT posting_no_overlap EXCLUDE USING gist (
    int8range(
        officer_id * 1000000 + (started_on - DATE '2000-01-01'),
        officer_id * 1000000 + COALESCE(ended_on - DATE '2000-01-01' + 1, 999999)
    ) WITH &&
);
"""


class Migration(migrations.Migration):
    dependencies = [("people", "0004_default_rotation_policies")]

    operations = [
        migrations.RunSQL(SPAN, "DROP FUNCTION welfare_officer_span(bigint, bigint, bigint);"),
        migrations.RunSQL(POSTINGS, POSTINGS_BEFORE),
    ]
