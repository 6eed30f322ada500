from django.apps import AppConfig
from django.db import models


class CoreConfig(AppConfig):
    name = "welfare.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from welfare.core.db import AnyLookup
        from welfare.core.logs import install_record_factory

        install_record_factory()
        models.Field.register_lookup(AnyLookup)
        models.ForeignObject.register_lookup(AnyLookup)
