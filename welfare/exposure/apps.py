from django.apps import AppConfig


class ExposureConfig(AppConfig):
    name = "welfare.exposure"
    label = "exposure"
    verbose_name = "Exposure"
