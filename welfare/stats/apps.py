from django.apps import AppConfig


class StatsConfig(AppConfig):
    name = "welfare.stats"
    label = "stats"
    verbose_name = "Anonymised statistics"
