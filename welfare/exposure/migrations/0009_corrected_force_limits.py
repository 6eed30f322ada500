"""The force policy's week and 28-day limits as corrected for the second release (DOMAIN.md):
25 h and 100 h, the most a compliant week (5 days x 5 h) and four compliant weeks hold. The
earlier 20 h and 70 h put an officer who kept the daily limit in breach every week. A force
that set its own values keeps them: only the shipped defaults are changed."""

from django.db import migrations

OLD = {"week_minutes": 1200, "rolling_28d_minutes": 4200}
NEW = {"week_minutes": 1500, "rolling_28d_minutes": 6000}


def correct(apps, schema_editor, old=OLD, new=NEW):
    ExposurePolicy = apps.get_model("exposure", "ExposurePolicy")
    for name in OLD:
        ExposurePolicy.objects.filter(unit__isnull=True, **{name: old[name]}).update(
            **{name: new[name]}
        )


def restore(apps, schema_editor):
    correct(apps, schema_editor, old=NEW, new=OLD)


class Migration(migrations.Migration):
    dependencies = [("exposure", "0008_log_function")]

    operations = [migrations.RunPython(correct, restore)]
