"""DOMAIN.md: a rotation review at 21 months in post, escalated at 24, in the specialist
units. No source sets a maximum tenure: the alert asks for a review, never a move."""

from django.db import migrations

DEFAULTS = {
    "abusive_images": (21, 24),
    "online_cse": (21, 24),
    "digital_forensics": (21, 24),
}


def create(apps, schema_editor):
    policy = apps.get_model("people", "RotationPolicy")
    for kind, (review, tenure) in DEFAULTS.items():
        policy.objects.get_or_create(
            unit_kind=kind, defaults={"review_months": review, "tenure_months": tenure}
        )


class Migration(migrations.Migration):
    dependencies = [("people", "0003_rotationpolicy_rotationreview")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
