from django.apps import AppConfig


class CaseworkConfig(AppConfig):
    name = "welfare.casework"
    label = "casework"
    verbose_name = "Occupational health casework"
