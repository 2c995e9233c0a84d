"""Access tokens for the project's own HTML pages (the live page of `streaming/`).

A page logged in with a Django session still needs an OAuth access token to open the WebSocket
streams of SPEC §8 (their first message carries one). `POST /live/token/` issues one for the
session's user: scope `all`, a few minutes long, for the first-party application
`PAGES_CLIENT_ID` (created on first use; `skip_authorization`, no grant flow can use it: it has
no redirect URI and nobody knows its secret). The page asks again before the token expires; the
streams close a connection whose token expires (4001), so it reconnects with the new one.

CSRF-protected like every POST of a session (Django's middleware: a cross-site page cannot make
the browser mint a token). Managers and admins only: the streams serve nobody else. Logging out
revokes every page token of the user (`page_tokens_revoke`, on `user_logged_out`).
"""

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from oauth2_provider.models import (
    AbstractApplication,
    get_access_token_model,
    get_application_model,
    revoke_access_token,
)

from users.models import User
from users.oauth import ALL

PAGES_CLIENT_ID = "asi-pages"
PAGES_APPLICATION_NAME = "ASI API pages (live session page)"


def pages_application() -> AbstractApplication:
    """The first-party application the page tokens belong to, created on first use."""
    application, _ = get_application_model().objects.get_or_create(
        client_id=PAGES_CLIENT_ID,
        defaults={
            "name": PAGES_APPLICATION_NAME,
            # Authorization-code type so the scopes backend gives it `all` (users.oauth); with
            # no redirect URI and an unknown secret no flow can obtain a token from it.
            "client_type": AbstractApplication.CLIENT_CONFIDENTIAL,
            "authorization_grant_type": AbstractApplication.GRANT_AUTHORIZATION_CODE,
            "client_secret": secrets.token_urlsafe(32),
            "redirect_uris": "",
            "skip_authorization": True,
        },
    )
    return application


def page_token_issue(*, user: User) -> tuple[str, int]:
    """A new access token (scope `all`, `settings.PAGE_TOKEN_SECONDS` long — minutes, not
    hours) for `user`; (token, seconds)."""
    seconds = settings.PAGE_TOKEN_SECONDS
    token = get_access_token_model().objects.create(
        user=user,
        application=pages_application(),
        token=secrets.token_urlsafe(30),
        scope=ALL,
        expires=timezone.now() + timedelta(seconds=seconds),
    )
    return token.token, seconds


@transaction.atomic
def page_tokens_revoke(*, user: User) -> int:
    """Revoke every page token of `user` (DOT deletes revoked access tokens); how many."""
    tokens = list(
        get_access_token_model().objects.filter(user=user, application__client_id=PAGES_CLIENT_ID)
    )
    for token in tokens:
        revoke_access_token(token)
    return len(tokens)


def page_tokens_revoke_on_logout(sender, request, user: User | None, **kwargs) -> None:
    """`user_logged_out` receiver (users.apps): a logged-out session's pages lose their streams."""
    if user is not None and user.is_authenticated:
        page_tokens_revoke(user=user)


@never_cache
@require_POST
def page_token(request: HttpRequest) -> JsonResponse:
    """`POST /live/token/` → `{"access_token", "token_type", "expires_in", "scope"}`."""
    user = request.user
    if not user.is_authenticated:
        return JsonResponse({"detail": "Log in first."}, status=401)
    if not (user.is_manager or user.is_admin):
        return JsonResponse({"detail": "The live streams are for managers and admins."}, status=403)
    token, seconds = page_token_issue(user=user)
    return JsonResponse(
        {"access_token": token, "token_type": "Bearer", "expires_in": seconds, "scope": ALL}
    )
