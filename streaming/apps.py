from django.apps import AppConfig


class StreamingConfig(AppConfig):
    name = "streaming"

    def ready(self) -> None:
        from analytics.publish import computed_stored_subscribe
        from asi_api.events import ON_COMMIT, handler_register
        from devices.ingestion import samples_stored_subscribe
        from streaming.publish import (
            computed_publish,
            preprocessed_publish,
            timeframe_created_publish,
        )
        from timeframes.events import TIMEFRAME_CREATED

        # First: the preprocessed streams' latency counts from the ingest response; the
        # analytics enqueue (a broker round trip) can wait a few milliseconds.
        samples_stored_subscribe(preprocessed_publish, first=True)
        # After commit, so a stream never hears of a timeframe that was rolled back.
        handler_register(timeframe_created_publish, phase=ON_COMMIT, names=[TIMEFRAME_CREATED])
        # Computed objects go out after analytics stored them (its own after-commit hook).
        computed_stored_subscribe(computed_publish)
