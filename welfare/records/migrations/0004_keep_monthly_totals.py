"""Monthly totals are kept like the daily totals they are summed from (see 0002, 0003)."""

from django.db import migrations

TABLE = "exposure_monthlytotal"

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
        ("records", "0003_keep_weekly_totals"),
        ("exposure", "0013_monthly_totals"),
    ]

    operations = [migrations.RunSQL(SQL, REVERSE)]
