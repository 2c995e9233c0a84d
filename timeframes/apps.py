from django.apps import AppConfig


class TimeframesConfig(AppConfig):
    name = "timeframes"

    def ready(self) -> None:
        # Reactions to the events of devices, activities and users (asi_api.events), registered
        # after theirs (INSTALLED_APPS order) and before those of analytics and webhooks, so a
        # timeframe's "timeframe-deleted" is heard before its activity's "activity-deleted".
        from activities.events import ACTIVITY_DELETED
        from asi_api.events import IN_TRANSACTION, handler_register
        from devices.events import OWNERSHIP_ENDED
        from timeframes import services
        from users.events import USER_DELETING

        for reaction, name in [
            (services.on_ownership_ended, OWNERSHIP_ENDED),
            (services.on_activity_deleted, ACTIVITY_DELETED),
            (services.on_user_deleting, USER_DELETING),
        ]:
            handler_register(reaction, phase=IN_TRANSACTION, names={name})
