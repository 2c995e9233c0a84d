from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"

    def ready(self) -> None:
        from analytics.tasks import samples_arrived_enqueue
        from devices.ingestion import samples_stored_subscribe

        samples_stored_subscribe(samples_arrived_enqueue)
