from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "welfare.web"
    label = "web"
    verbose_name = "Web app"
