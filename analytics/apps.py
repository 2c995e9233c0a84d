from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"

    def ready(self) -> None:
        from activities.events import ACTIVITY_UPDATED
        from analytics.reactions import (
            activity_changed,
            athlete_profile_changed,
            timeframe_changed,
        )
        from analytics.tasks import samples_arrived_enqueue
        from asi_api.events import ON_COMMIT, handler_register
        from devices.ingestion import samples_stored_subscribe
        from timeframes.events import TIMEFRAME_CREATED, TIMEFRAME_UPDATED
        from users.events import ATHLETE_PROFILE_UPDATED

        samples_stored_subscribe(samples_arrived_enqueue)
        # After commit: a change that rolls back recomputes nothing. Deleted timeframes need
        # nothing: their ComputedData goes with them (CASCADE).
        handler_register(
            timeframe_changed, phase=ON_COMMIT, names=[TIMEFRAME_CREATED, TIMEFRAME_UPDATED]
        )
        handler_register(activity_changed, phase=ON_COMMIT, names=[ACTIVITY_UPDATED])
        handler_register(athlete_profile_changed, phase=ON_COMMIT, names=[ATHLETE_PROFILE_UPDATED])
