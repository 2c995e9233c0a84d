from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "devices"

    def ready(self) -> None:
        # Reactions to users' events (asi_api.events): devices never import from higher apps.
        from asi_api.events import IN_TRANSACTION, handler_register
        from devices import services
        from users.events import USER_DELETING

        handler_register(services.on_user_deleting, phase=IN_TRANSACTION, names={USER_DELETING})
