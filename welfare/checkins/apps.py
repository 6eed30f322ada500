from django.apps import AppConfig


class CheckinsConfig(AppConfig):
    name = "welfare.checkins"
    label = "checkins"
    verbose_name = "Check-ins"
