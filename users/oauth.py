"""django-oauth-toolkit wiring: per-application scopes, client policy, CORS, and the HTML pages.

DOT's models are used unswapped; these rules key off each `Application`'s one grant type and
client type, so they hold however the application was registered (Django admin or
`manage.py createapplication`).
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.http import HttpResponseRedirect
from oauth2_provider import views as dot_views
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.models import (
    AbstractApplication,
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_refresh_token_model,
    revoke_access_token,
)
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.scopes import SettingsScopes, get_scopes_backend
from oauthlib.oauth2.rfc6749.errors import UnsupportedCodeChallengeMethodError

from users.models import User

INGEST = "ingest"
ALL = "all"

# Grants in which the client itself must prove who it is with a secret: a public client (a
# browser or mobile app) cannot keep one, so these grants are refused to it as `invalid_client`
# even when it presents an (empty) secret that happens to match.
CONFIDENTIAL_ONLY_GRANTS = frozenset({"password", "client_credentials"})


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


def _grant_allowed_for_client(request) -> bool:
    client = request.client
    return not (
        client.client_type == AbstractApplication.CLIENT_PUBLIC
        and request.grant_type in CONFIDENTIAL_ONLY_GRANTS
    )


class Validator(OAuth2Validator):
    def is_pkce_required(self, client_id: str, request) -> bool:
        """PKCE (S256) is required of public clients only (SPEC §2)."""
        application = get_application_model().objects.filter(client_id=client_id).first()
        return application is None or application.client_type == AbstractApplication.CLIENT_PUBLIC

    def authenticate_client(self, request, *args, **kwargs) -> bool:
        # A public client may send `client_id:` with an empty secret in a Basic header; DOT then
        # checks "" against the stored hash of "", which matches for a public client registered
        # without a secret. That must not open the password grant to it.
        if not super().authenticate_client(request, *args, **kwargs):
            return False
        return _grant_allowed_for_client(request)

    def authenticate_client_id(self, client_id: str, request, *args, **kwargs) -> bool:
        # Called for clients that do not authenticate with a secret (public ones). The password
        # grant is for confidential clients only: a public application of that type gets
        # `invalid_client`.
        if not super().authenticate_client_id(client_id, request, *args, **kwargs):
            return False
        return _grant_allowed_for_client(request)


def cors_origin_allowed(sender, request, **kwargs) -> bool:
    """django-cors-headers hook: the API answers CORS for origins some application allows."""
    origin = request.headers.get("Origin")
    if not origin:
        return False
    candidates = (
        get_application_model()
        .objects.filter(allowed_origins__contains=origin)
        .values_list("allowed_origins", flat=True)
    )
    # `contains` narrows in SQL; the exact match on whole whitespace-separated entries keeps
    # `https://ams.example` from allowing `https://ams.example.evil`.
    return any(origin in allowed.split() for allowed in candidates)


# --- the user's authorizations ------------------------------------------------------------


@dataclass(frozen=True)
class AuthorizedApplication:
    application: AbstractApplication
    scopes: dict[str, str]
    last_authorized: datetime
    token_pk: int  # the newest access token: the revoke URL names it (DOT's URL shape)


def authorized_applications_of(user: User) -> list[AuthorizedApplication]:
    """Applications holding an access token for `user`, newest authorization first.

    One entry per application however many tokens it holds (a user who authorized an AMS twice
    sees it once). Expired access tokens count: their refresh token may still be live.
    """
    tokens = (
        get_access_token_model()
        .objects.filter(user=user, application__isnull=False)
        .select_related("application")
        .order_by("-created")
    )
    all_scopes = get_scopes_backend().get_all_scopes()
    seen: dict[int, AuthorizedApplication] = {}
    for token in tokens:
        if token.application_id in seen:
            continue
        names = token.scope.split()
        seen[token.application_id] = AuthorizedApplication(
            application=token.application,
            scopes={name: all_scopes.get(name, name) for name in names},
            last_authorized=token.created,
            token_pk=token.pk,
        )
    return list(seen.values())


@transaction.atomic
def authorizations_revoke(*, user: User, application: AbstractApplication) -> int:
    """Revoke everything `application` holds for `user`: access tokens, refresh tokens, codes.

    Returns the number of access tokens revoked. Unused authorization codes go too, so a code
    issued just before the revocation cannot be exchanged after it.
    """
    access_tokens = list(
        get_access_token_model().objects.filter(user=user, application=application)
    )
    for token in access_tokens:
        revoke_access_token(token)
    for refresh_token in get_refresh_token_model().objects.filter(
        user=user, application=application, revoked__isnull=True
    ):
        refresh_token.revoke()
    get_grant_model().objects.filter(user=user, application=application).delete()
    return len(access_tokens)


class AuthorizationView(dot_views.AuthorizationView):
    """DOT's consent page, with each scope's name beside its description, refusing PKCE `plain`.

    oauthlib accepts `plain` (the default when a challenge comes without a method) and DOT only
    refuses it when storing the code, after the user has consented; refusing it here, once the
    client and its redirect URI are known good, sends the client its error before any consent.
    """

    def validate_authorization_request(self, request):
        scopes, credentials = super().validate_authorization_request(request)
        method = credentials.get("code_challenge_method")
        if method is not None and method != "S256":
            error = UnsupportedCodeChallengeMethodError(
                description='Unsupported code_challenge_method; only "S256" is accepted.',
                state=credentials.get("state"),
            )
            raise OAuthToolkitError(error=error, redirect_uri=credentials["redirect_uri"])
        return scopes, credentials

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["scope_items"] = list(
            zip(context.get("scopes", []), context.get("scopes_descriptions", []), strict=False)
        )
        return context


class AuthorizedApplicationsView(dot_views.AuthorizedTokensListView):
    """`/oauth2/authorized-tokens/`: the applications the user authorized (one row each)."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["authorized_applications"] = authorized_applications_of(self.request.user)
        return context


class AuthorizedApplicationRevokeView(dot_views.AuthorizedTokenDeleteView):
    """Revoking from the list ends the whole authorization of that application, not one token.

    The URL names one of the user's tokens (DOT's URL shape); another user's token is a 404
    because DOT's queryset holds only the caller's.
    """

    def form_valid(self, form):
        authorizations_revoke(user=self.request.user, application=self.object.application)
        return HttpResponseRedirect(self.get_success_url())
