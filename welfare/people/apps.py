from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "welfare.people"
    label = "people"
    verbose_name = "People and units"

    def ready(self) -> None:
        from welfare.accounts.services import role_change_guards
        from welfare.people.services import role_change_guard

        if role_change_guard not in role_change_guards:
            role_change_guards.append(role_change_guard)
