from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self) -> None:
        # The outbox: deliveries are written inside the transaction of the change (SPEC §9), so
        # they commit or roll back with it. Registered last (INSTALLED_APPS order), after the
        # timeframes' reaction to "activity-deleted" announces each timeframe's deletion.
        from asi_api.events import IN_TRANSACTION, handler_register
        from webhooks.events import WEBHOOK_ACTIVITY_EVENTS, WEBHOOK_TIMEFRAME_EVENTS
        from webhooks.services import events_record

        handler_register(
            events_record,
            phase=IN_TRANSACTION,
            names=WEBHOOK_ACTIVITY_EVENTS | WEBHOOK_TIMEFRAME_EVENTS,
        )
