from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "welfare.alerts"
    label = "alerts"
    verbose_name = "Alerts and notifications"
