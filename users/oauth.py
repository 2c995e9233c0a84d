"""django-oauth-toolkit wiring: per-application scopes, PKCE policy, password-grant policy, CORS.

DOT's models are used unswapped; these rules key off each `Application`'s one grant type, so
they hold however the application was registered (Django admin or `manage.py createapplication`).
"""

from oauth2_provider.models import AbstractApplication, get_application_model
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.scopes import SettingsScopes

INGEST = "ingest"
ALL = "all"


def scopes_for(application: AbstractApplication | None) -> list[str]:
    """Client-credentials applications (gateways) may hold only `ingest`; the others only `all`."""
    if application is None:
        return []
    if application.authorization_grant_type == AbstractApplication.GRANT_CLIENT_CREDENTIALS:
        return [INGEST]
    return [ALL]


class ApplicationScopes(SettingsScopes):
    def get_available_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        return scopes_for(application)

    def get_default_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        return scopes_for(application)


class Validator(OAuth2Validator):
    def is_pkce_required(self, client_id: str, request) -> bool:
        """PKCE (S256) is required of public clients only (SPEC §2)."""
        application = get_application_model().objects.filter(client_id=client_id).first()
        return application is None or application.client_type == AbstractApplication.CLIENT_PUBLIC

    def authenticate_client_id(self, client_id: str, request, *args, **kwargs) -> bool:
        # Called for clients that do not authenticate with a secret. The password grant is for
        # confidential clients only: a public application of that type gets `invalid_client`.
        if not super().authenticate_client_id(client_id, request, *args, **kwargs):
            return False
        return request.client.authorization_grant_type != AbstractApplication.GRANT_PASSWORD

    def validate_code_challenge_method(self, client_id, challenge_method, request) -> bool:
        return challenge_method == "S256"


def cors_origin_allowed(sender, request, **kwargs) -> bool:
    """django-cors-headers hook: the API answers CORS for origins some application allows."""
    origin = request.headers.get("Origin")
    if not origin:
        return False
    for allowed in (
        get_application_model()
        .objects.exclude(allowed_origins="")
        .values_list("allowed_origins", flat=True)
    ):
        if origin in allowed.split():
            return True
    return False
