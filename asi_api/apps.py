from django.apps import AppConfig


class AsiApiConfig(AppConfig):
    name = "asi_api"
    verbose_name = "ASI API"
