from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "welfare.records"
    label = "records"
    verbose_name = "Records: backups, retention, subject access"
