from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "users"

    def ready(self) -> None:
        from corsheaders.signals import check_request_enabled

        from users.oauth import cors_origin_allowed

        check_request_enabled.connect(cors_origin_allowed, dispatch_uid="users.cors")

        from django.contrib.auth.signals import user_logged_out

        from users.page_token import page_tokens_revoke_on_logout

        user_logged_out.connect(page_tokens_revoke_on_logout, dispatch_uid="users.page_tokens")
