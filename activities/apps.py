from django.apps import AppConfig


class ActivitiesConfig(AppConfig):
    name = "activities"

    def ready(self) -> None:
        # Reactions to users' events (asi_api.events), after devices' (INSTALLED_APPS order).
        from activities import services
        from asi_api.events import IN_TRANSACTION, handler_register
        from users.events import USER_DELETING

        handler_register(services.on_user_deleting, phase=IN_TRANSACTION, names={USER_DELETING})
