"""Weekly totals are kept like the daily totals they are summed from (see 0002)."""

from django.db import migrations

TABLE = "exposure_weeklytotal"

SQL = f"""
CREATE TRIGGER {TABLE}_keep BEFORE DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION welfare_keep_until_retention();
CREATE TRIGGER {TABLE}_keep_truncate BEFORE TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION welfare_keep_until_retention();
"""

REVERSE = f"""
DROP TRIGGER IF EXISTS {TABLE}_keep ON {TABLE};
DROP TRIGGER IF EXISTS {TABLE}_keep_truncate ON {TABLE};
"""


class Migration(migrations.Migration):
    dependencies = [
        ("records", "0002_keep_until_retention"),
        ("exposure", "0005_weekly_totals"),
    ]

    operations = [migrations.RunSQL(SQL, REVERSE)]
