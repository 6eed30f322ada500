"""welfare_longest_run(spans, gap): the day's longest viewing a pause shorter than `gap`
did not break, as rules.longest_run_seconds computes it, for the sweep's attention floor
(so the database can leave out days whose viewing was well spread)."""

from django.db import migrations

CREATE = """
CREATE FUNCTION welfare_longest_run(spans float8[], gap float8) RETURNS float8
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    longest float8 := 0;
    block_start float8;
    block_end float8;
BEGIN
    -- spans: [start, end] pairs in order of start then end (as the daily totals keep them)
    FOR i IN 1 .. coalesce(array_length(spans, 1), 0) LOOP
        IF block_end IS NOT NULL AND spans[i][1] - block_end < gap THEN
            block_end := greatest(block_end, spans[i][2]);
        ELSE
            block_start := spans[i][1];
            block_end := spans[i][2];
        END IF;
        longest := greatest(longest, block_end - block_start);
    END LOOP;
    RETURN longest;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("exposure", "0005_weekly_totals")]

    operations = [
        migrations.RunSQL(CREATE, "DROP FUNCTION welfare_longest_run(float8[], float8);"),
    ]
