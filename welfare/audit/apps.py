from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "welfare.audit"
    label = "audit"
    verbose_name = "Audit trail"
