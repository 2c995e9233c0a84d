from django.apps import AppConfig


class StreamingConfig(AppConfig):
    name = "streaming"

    def ready(self) -> None:
        from devices.ingestion import samples_stored_subscribe
        from streaming.publish import preprocessed_publish

        samples_stored_subscribe(preprocessed_publish)
