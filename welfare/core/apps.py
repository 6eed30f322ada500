from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "welfare.core"
    label = "core"
    verbose_name = "Core"
