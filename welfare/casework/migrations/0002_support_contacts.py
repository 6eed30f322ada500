"""Where to get help now: the national lines, as defaults an administrator can change. A
force adds its own employee assistance line and occupational health duty number."""

from django.db import migrations, models

from welfare.casework.rules import DEFAULT_SUPPORT_CONTACTS


def create_defaults(apps, schema_editor):
    contact = apps.get_model("casework", "SupportContact")
    if not contact.objects.exists():
        contact.objects.bulk_create([contact(**row) for row in DEFAULT_SUPPORT_CONTACTS])


class Migration(migrations.Migration):
    dependencies = [
        ("casework", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="SupportContact",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100)),
                (
                    "how",
                    models.CharField(
                        help_text='How to reach them, e.g. "Call 116 123" or "Text BLUELIGHT to 85258".',
                        max_length=200,
                    ),
                ),
                (
                    "phone",
                    models.CharField(
                        blank=True,
                        help_text="The number to dial, digits only (for a tap-to-call link), for a phone line.",
                        max_length=32,
                    ),
                ),
                (
                    "hours",
                    models.CharField(
                        blank=True, help_text="When, e.g. 24 hours, every day.", max_length=100
                    ),
                ),
                ("note", models.CharField(blank=True, max_length=300)),
                (
                    "position",
                    models.PositiveSmallIntegerField(default=100, help_text="Lower comes first."),
                ),
                ("active", models.BooleanField(default=True)),
            ],
            options={
                "ordering": ["position", "id"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("phone__regex", "^[0-9]*$")),
                        name="support_phone_digits",
                    )
                ],
            },
        ),
        migrations.RunPython(create_defaults, migrations.RunPython.noop),
    ]
