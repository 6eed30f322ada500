from django.apps import AppConfig
from django.db import models


class CoreConfig(AppConfig):
    name = "welfare.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from welfare.core.db import AnyLookup

        models.Field.register_lookup(AnyLookup)
        models.ForeignObject.register_lookup(AnyLookup)
