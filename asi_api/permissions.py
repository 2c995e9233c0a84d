from django.core.exceptions import ImproperlyConfigured
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from rest_framework.permissions import BasePermission


class TokenHasRequiredScopes(BasePermission):
    """A request authenticated by an OAuth2 token must carry every scope the view requires.

    Every API view declares `required_scopes` (a test walks the URL conf to prove it): a view
    that forgets fails loudly here instead of letting any token through, which is what DOT's own
    `TokenHasScope` would do. Session-authenticated requests (browsable API, admin, HTML pages)
    carry no token and are judged by the other permission classes only.
    """

    message = "This token does not have the scope this endpoint requires."

    def has_permission(self, request, view) -> bool:
        required = getattr(view, "required_scopes", None)
        if not required:
            raise ImproperlyConfigured(f"{type(view).__name__} does not declare required_scopes.")
        if not isinstance(request.successful_authenticator, OAuth2Authentication):
            return True
        token = request.auth
        return token is not None and token.is_valid(list(required))


class IsAdmin(BasePermission):
    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_admin)


class IsManager(BasePermission):
    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_manager)


class IsManagerOrAdmin(BasePermission):
    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and (user.is_manager or user.is_admin))
