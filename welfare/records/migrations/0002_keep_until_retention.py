"""PostgreSQL refuses DELETE and TRUNCATE on the exposure, check-in, screening and case-note
tables, except inside the retention job's transaction (which sets `welfare.retention`)."""

from django.db import migrations

TABLES = (
    "exposure_exposuresession",
    "exposure_dailytotal",
    "checkins_checkin",
    "checkins_screening",
    "casework_casenote",
)

FUNCTION = """
CREATE FUNCTION welfare_keep_until_retention() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('welfare.retention', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '% refused on %: records are kept until their retention is over',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""

SQL = FUNCTION + "".join(
    f"""
CREATE TRIGGER {table}_keep BEFORE DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION welfare_keep_until_retention();
CREATE TRIGGER {table}_keep_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION welfare_keep_until_retention();
"""
    for table in TABLES
)

REVERSE = (
    "".join(
        f"DROP TRIGGER IF EXISTS {table}_keep ON {table};\n"
        f"DROP TRIGGER IF EXISTS {table}_keep_truncate ON {table};\n"
        for table in TABLES
    )
    + "DROP FUNCTION IF EXISTS welfare_keep_until_retention();\n"
)


class Migration(migrations.Migration):
    dependencies = [
        ("records", "0001_initial"),
        ("exposure", "0003_daily_total_spans_and_indexes"),
        ("checkins", "0003_adjustments_and_screenings"),
        ("casework", "0001_initial"),
    ]

    operations = [migrations.RunSQL(SQL, REVERSE)]
