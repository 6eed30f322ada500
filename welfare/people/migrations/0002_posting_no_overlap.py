"""No two postings of one officer overlap, enforced by PostgreSQL.

The embedded server has no btree_gist, so the officer is folded into the range
itself: officer_id * 10^6 + days since 2000-01-01. Ranges of different officers
never meet, and GiST on int8range needs no extension.
"""

from django.db import migrations

SQL = """
ALTER TABLE people_posting ADD CONSTRAINT posting_no_overlap EXCLUDE USING gist (
    int8range(
        officer_id * 1000000 + (started_on - DATE '2000-01-01'),
        officer_id * 1000000 + COALESCE(ended_on - DATE '2000-01-01' + 1, 999999)
    ) WITH &&
);
"""

REVERSE = "ALTER TABLE people_posting DROP CONSTRAINT IF EXISTS posting_no_overlap;"


class Migration(migrations.Migration):
    dependencies = [("people", "0001_initial")]

    operations = [migrations.RunSQL(SQL, REVERSE)]
