from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "welfare.directory"
    label = "directory"
    verbose_name = "Provisioning from the directory (SCIM)"
