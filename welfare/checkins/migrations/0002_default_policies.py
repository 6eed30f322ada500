"""DOMAIN.md's check-in schedule: pre-posting in the high-risk units, periodic every 6 months
in IIOC and online CSE and every 12 elsewhere, exit with a follow-up 6 months later."""

from django.db import migrations

DEFAULTS = {
    "abusive_images": dict(
        pre_posting=True, periodic_months=6, exit_checkin=True, exit_follow_up_months=6
    ),
    "online_cse": dict(
        pre_posting=True, periodic_months=6, exit_checkin=True, exit_follow_up_months=6
    ),
    "digital_forensics": dict(
        pre_posting=True, periodic_months=12, exit_checkin=True, exit_follow_up_months=6
    ),
    "other": dict(
        pre_posting=False, periodic_months=12, exit_checkin=False, exit_follow_up_months=None
    ),
}


def create(apps, schema_editor):
    policy = apps.get_model("checkins", "CheckinPolicy")
    for kind, values in DEFAULTS.items():
        policy.objects.get_or_create(unit_kind=kind, defaults=values)


class Migration(migrations.Migration):
    dependencies = [("checkins", "0001_initial")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
