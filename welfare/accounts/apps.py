from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "welfare.accounts"
    label = "accounts"
    verbose_name = "Accounts"
