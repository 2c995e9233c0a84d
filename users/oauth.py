"""django-oauth-toolkit wiring: per-application scopes, client policy, CORS, and the HTML pages.

DOT's models are used unswapped; these rules key off each `Application`'s one grant type and
client type, so they hold however the application was registered (Django admin or
`manage.py createapplication`).
"""

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote_plus

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, QueryDict
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider import oauth2_backends
from oauth2_provider import views as dot_views
from oauth2_provider.compat import login_not_required
from oauth2_provider.exceptions import FatalClientError, OAuthToolkitError
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
from oauthlib.common import Request as OAuthLibRequest
from oauthlib.oauth2 import Server as OAuthLibServer
from oauthlib.oauth2.rfc6749 import errors

from users.login_throttle import client_address, login_wait_seconds
from users.models import User

INGEST = "ingest"
ALL = "all"

# Grants in which the client itself must prove who it is with a secret: a public client (a
# browser or mobile app) cannot keep one, so these grants are refused to it as `invalid_client`
# even when it presents an (empty) secret that happens to match.
CONFIDENTIAL_ONLY_GRANTS = frozenset({"password", "client_credentials"})

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# RFC 8707 lets a client repeat `resource`; any other parameter appears at most once (RFC 6749
# §3.1, §3.2).
REPEATABLE_PARAMETERS = frozenset({"resource"})
# RFC 6749 §5.1, §5.2: token endpoint answers, errors included, are JSON and never cached.
JSON_NO_STORE = {
    "Content-Type": "application/json",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
}


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


class Server(OAuthLibServer):
    """oauthlib's server with only the flows SPEC §2 offers.

    oauthlib's `Server` also dispatches the device-code grant (DOT's token view then answers a
    request without `device_code` with a 500) and the implicit response type. Without them,
    oauthlib itself answers `unsupported_grant_type` and `unsupported_response_type`.
    """

    def __init__(self, request_validator, *args, **kwargs) -> None:
        super().__init__(request_validator, *args, **kwargs)
        del self._grant_types[DEVICE_CODE_GRANT]
        del self._response_types["token"]


class OAuthLibCore(oauth2_backends.OAuthLibCore):
    """DOT's bridge to oauthlib: RFC 6749 error bodies always, bearer tokens only in a header."""

    def create_token_response(self, request: HttpRequest):
        uri, headers, body, status = super().create_token_response(request)
        return uri, _json_error_headers(headers, status), body, status

    def create_revocation_response(self, request: HttpRequest):
        uri, headers, body, status = super().create_revocation_response(request)
        return uri, _json_error_headers(headers, status), body, status

    def verify_request(self, request: HttpRequest, scopes: list[str]):
        # RFC 6750 §2.2 and §2.3 (a token in the form body or the URL query) are optional, and
        # tokens in URLs end up in access logs: only the Authorization header carries a token.
        # (DOT's COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT covers the query, not the body.)
        scheme, _, _ = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return False, None
        return super().verify_request(request, scopes)

    def authenticate_client(self, request: HttpRequest) -> bool:
        """DOT's client authentication, remembering the client on `request.oauth2_client`.

        The introspection view needs to know who asks (DOT drops the client it found).
        """
        uri, http_method, body, headers = self._extract_params(request)
        oauthlib_request = OAuthLibRequest(uri, http_method, body, headers)
        authenticated = self.server.request_validator.authenticate_client(oauthlib_request)
        request.oauth2_client = oauthlib_request.client if authenticated else None
        return authenticated


def _json_error_headers(headers: dict[str, str], status: int) -> dict[str, str]:
    # oauthlib sets the JSON headers only on the errors a grant type raises; those raised by the
    # endpoint itself (query parameters on a POST, a wrong method) and those DOT catches come
    # without, and an HTML-typed error is replaced by JsonApiErrorsMiddleware's generic body.
    return {**JSON_NO_STORE, **headers} if status >= 400 else headers


class LoginThrottledError(errors.OAuth2Error):
    """429 from the password grant while the login is throttled (users.login_throttle).

    `slow_down` (RFC 8628 §3.5, registered for token endpoint responses) is the registered error
    code closest to "too many attempts: wait"; `Retry-After` says how long.
    """

    error = "slow_down"
    status_code = 429

    def __init__(self, retry_after: int, request=None) -> None:
        super().__init__(
            description=f"Too many failed logins: try again in {retry_after} seconds.",
            request=request,
        )
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


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

    def get_default_redirect_uri(self, client_id: str, request, *args, **kwargs) -> None:
        """No default: the authorization request and the code exchange both name the URI.

        RFC 6749 §4.1.3 requires `redirect_uri` at the exchange when the authorization request
        had one, and oauthlib fills in the registered URI when it is missing, hiding the
        omission. Required in both, "omitted at the exchange" is always `invalid_request`, and
        an authorization request without it gets the error page before any consent.
        """
        return None

    def validate_redirect_uri(self, client_id: str, redirect_uri: str, request, *args, **kwargs):
        # Exact string comparison (SPEC §2, RFC 9700 §2.1). DOT lets a loopback redirect URI
        # use any port (RFC 8252 §7.3, for native apps on ephemeral ports): not on this server.
        return redirect_uri in request.client.redirect_uris.split()

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, request, *args, **kwargs):
        # RFC 6749 §5.2: a redirect URI that differs from the authorization request's is
        # `invalid_grant`; oauthlib would raise `invalid_request`.
        if not super().confirm_redirect_uri(client_id, code, redirect_uri, client, request):
            raise errors.InvalidGrantError(description="Mismatching redirect URI.", request=request)
        return True

    def validate_refresh_token(self, refresh_token: str, client, request, *args, **kwargs) -> bool:
        """Lock the refresh token's row, then let DOT check it.

        DOT reads the token, finds it live, and locks its row only when saving the rotation:
        concurrent requests with one token all pass the check, and each mints a pair. Locked
        first, they queue, and each reads what the one before committed: exactly one rotates,
        the others are replays of a used token and revoke its family, the pair just minted
        included. The lock lasts until the token request's transaction ends (`TokenView`).
        """
        if not transaction.get_connection().in_atomic_block:
            raise ImproperlyConfigured(
                "A refresh token is validated inside TokenView's transaction."
            )
        checksum = hashlib.sha256(refresh_token.encode("utf-8")).hexdigest()
        locked = (
            get_refresh_token_model().objects.select_for_update().filter(token_checksum=checksum)
        )
        list(locked.values_list("pk", flat=True))
        return super().validate_refresh_token(refresh_token, client, request, *args, **kwargs)

    def validate_user(self, username: str, password: str, client, request, *args, **kwargs):
        # RFC 6749 §4.3.2 asks for brute-force protection of the password grant. The
        # authentication backend counts failures (users.login_throttle); here a throttled
        # login is answered 429 before its password is checked.
        wait = login_wait_seconds(username=username, address=client_address(request.headers))
        if wait:
            raise LoginThrottledError(wait, request=request)
        return super().validate_user(username, password, client, request, *args, **kwargs)


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


# --- the endpoints --------------------------------------------------------------------------


def oauth_parameters_problem(*parameter_sets: QueryDict) -> str | None:
    """What makes these OAuth parameters unacceptable, or None.

    A NUL character has no place in any OAuth parameter, and PostgreSQL refuses it in text (a
    500 wherever one reaches a query). RFC 6749 §3.1 and §3.2 forbid repeating a parameter;
    oauthlib checks a few of them and DOT keeps the last value of the others. The sets are
    judged together: a name in the query and again in the body is repeated.
    """
    seen: set[str] = set()
    for parameters in parameter_sets:
        for name, values in parameters.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                return "Parameters must not contain NUL characters."
            if name in REPEATABLE_PARAMETERS:
                continue
            if len(values) > 1 or name in seen:
                return f"Repeated parameter: {name[:64]}."
            seen.add(name)
    return None


def _basic_credentials_problem(request: HttpRequest) -> str | None:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None  # DOT answers it: invalid_client
    # RFC 6749 §2.3.1: the client id and secret are form-encoded inside the Basic credentials.
    return (
        "Parameters must not contain NUL characters." if "\x00" in unquote_plus(decoded) else None
    )


def oauth_error_response(error: errors.OAuth2Error, headers: dict[str, str] | None = None):
    """An RFC 6749 §5.2 error answer: `{"error", "error_description"}`, JSON, never cached."""
    response = HttpResponse(error.json, status=error.status_code)
    for name, value in {**JSON_NO_STORE, **error.headers, **(headers or {})}.items():
        response[name] = value
    return response


class CheckedOAuthParameters:
    """Refuses NUL characters, repeated parameters and URL queries on a POST, before DOT reads
    anything: 400 `invalid_request`.

    For the JSON endpoints (token, revocation, introspection), whose parameters travel in the
    body: oauthlib already refuses a query on the first two; on the introspection endpoint it
    would carry client credentials or a bearer token in the URL, where access logs keep them.
    """

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        problem = self.oauth_parameters_problem(request)
        if problem is not None:
            return self.oauth_parameters_refused(problem)
        return super().dispatch(request, *args, **kwargs)

    def oauth_parameters_problem(self, request: HttpRequest) -> str | None:
        if request.method == "POST" and request.GET:
            return "URL query parameters are not allowed."
        return _basic_credentials_problem(request) or oauth_parameters_problem(
            request.GET, request.POST
        )

    def oauth_parameters_refused(self, problem: str) -> HttpResponse:
        return oauth_error_response(errors.InvalidRequestError(description=problem))


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class TokenView(CheckedOAuthParameters, dot_views.TokenView):
    """`/oauth2/token/`: one transaction per request, and no device-code grant.

    The transaction holds the lock `Validator.validate_refresh_token` takes until the rotation
    is saved; and a request that fails half-way stores nothing.
    """

    def oauth_parameters_problem(self, request: HttpRequest) -> str | None:
        problem = super().oauth_parameters_problem(request)
        if problem is None and request.method == "POST" and not request.POST.get("grant_type"):
            # RFC 6749 §5.2: a missing parameter is `invalid_request` (oauthlib would answer
            # `unsupported_grant_type`, as for a grant type it does not know).
            return "Missing grant_type parameter."
        return problem

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        with transaction.atomic():
            return self.authorization_flow_token_response(request, *args, **kwargs)


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class RevokeTokenView(CheckedOAuthParameters, dot_views.RevokeTokenView):
    """`/oauth2/revoke-token/` (RFC 7009), DOT's view behind the parameter checks."""


def introspection_allowed(client: AbstractApplication | None, token: str) -> bool:
    """May `client` learn what `token` is? Its own tokens, or any token if it is a resource
    server listed in the `OAUTH_INTROSPECTION_CLIENT_IDS` setting."""
    if client is None:
        return False
    if client.client_id in settings.OAUTH_INTROSPECTION_CLIENT_IDS:
        return True
    checksum = hashlib.sha256(token.encode("utf-8")).hexdigest()
    return (
        get_access_token_model()
        .objects.filter(token_checksum=checksum, application=client)
        .exists()
    )


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class IntrospectTokenView(CheckedOAuthParameters, dot_views.IntrospectTokenView):
    """`/oauth2/introspect/` (RFC 7662) for the token's own client and the listed resource servers.

    DOT answers any authenticated client, so the ingest-only gateway could learn which user an
    AMS's token acts for; RFC 7662 §2.2 lets the server answer `{"active": false}` to a caller
    that may not know about the token. POST only (RFC 7662 §2.1): DOT's GET takes the token in
    the URL, where access logs keep it.
    """

    http_method_names = ["post", "options"]

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        token = request.POST.get("token")
        if token is not None and not introspection_allowed(
            getattr(request, "oauth2_client", None), token
        ):
            return JsonResponse({"active": False})
        return self.get_token_response(token)

    def unauthenticated_response(self, request: HttpRequest, oauthlib_request=None):
        # RFC 7662 §2.3: a caller whose credentials (or bearer token) are not good enough gets a
        # 401, with the challenge of the scheme it tried; DOT answers a bare 403.
        scheme, _, _ = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            return oauth_error_response(
                errors.InvalidTokenError(),
                {"WWW-Authenticate": 'Bearer realm="oauth2", error="invalid_token"'},
            )
        return oauth_error_response(
            errors.InvalidClientError(), {"WWW-Authenticate": 'Basic realm="oauth2"'}
        )


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


class AuthorizationView(CheckedOAuthParameters, dot_views.AuthorizationView):
    """DOT's consent page, with each scope's name beside its description, refusing PKCE `plain`.

    oauthlib accepts `plain` (the default when a challenge comes without a method) and DOT only
    refuses it when storing the code, after the user has consented; refusing it here, once the
    client and its redirect URI are known good, sends the client its error before any consent.

    Parameters with NUL characters or repeated get the error page (400, `invalid_request`),
    never a redirect: the redirect URI itself may be the malformed one.
    """

    def oauth_parameters_problem(self, request: HttpRequest) -> str | None:
        # The consent form posts its hidden fields back to the authorize URL, query included:
        # the query and the form repeat each other by design, each is judged on its own.
        return oauth_parameters_problem(request.GET) or oauth_parameters_problem(request.POST)

    def oauth_parameters_refused(self, problem: str) -> HttpResponse:
        error = errors.InvalidRequestFatalError(description=problem)
        return self.error_response(FatalClientError(error=error), application=None)

    def validate_authorization_request(self, request):
        scopes, credentials = super().validate_authorization_request(request)
        method = credentials.get("code_challenge_method")
        if method is not None and method != "S256":
            error = errors.UnsupportedCodeChallengeMethodError(
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
