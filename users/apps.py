from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "users"

    def ready(self) -> None:
        from corsheaders.signals import check_request_enabled

        from users.oauth import cors_origin_allowed

        check_request_enabled.connect(cors_origin_allowed, dispatch_uid="users.cors")
