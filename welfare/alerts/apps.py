from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "welfare.alerts"
    label = "alerts"
    verbose_name = "Alerts and notifications"

    def ready(self) -> None:
        from welfare.alerts.services import incident_recorded_told, self_referral_told
        from welfare.checkins.services import incident_listeners, self_referral_listeners

        if self_referral_told not in self_referral_listeners:
            self_referral_listeners.append(self_referral_told)
        if incident_recorded_told not in incident_listeners:
            incident_listeners.append(incident_recorded_told)
