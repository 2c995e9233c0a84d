from django.apps import AppConfig


class TimeframesConfig(AppConfig):
    name = "timeframes"
