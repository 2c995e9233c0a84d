import logging

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from asi_api.errors import DomainError

logger = logging.getLogger(__name__)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, plus the project's `DomainError` and Django's `ValidationError`; every
    error is rendered as JSON, whatever renderer the request negotiated (SPEC §1).

    Anything else propagates to `JsonApiErrorsMiddleware`, which answers a JSON 500.
    """
    request = context.get("request")
    if isinstance(exc, DomainError):
        set_rollback()
        response = Response(exc.as_body(), status=exc.status_code)
    elif isinstance(exc, DjangoValidationError):
        set_rollback()
        response = Response(as_serializer_error(exc), status=status.HTTP_400_BAD_REQUEST)
    else:
        if isinstance(exc, Http404):
            exc = exceptions.NotFound()
        elif isinstance(exc, PermissionDenied):
            exc = exceptions.PermissionDenied()
        elif isinstance(exc, exceptions.NotAuthenticated):
            exc = _token_refusal(exc, request)
        response = drf_exception_handler(exc, context)
    if response is not None and request is not None:
        # The browsable API would render the error as an HTML page, which the JSON error
        # middleware then replaced by a bare `{"detail": "Bad request."}`, losing the field
        # errors. An error is JSON for every client.
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type
    return response


def _token_refusal(exc: exceptions.NotAuthenticated, request) -> exceptions.APIException:
    """A bearer token that was sent but is unknown, revoked or expired: say so (401), instead of
    DRF's "Authentication credentials were not provided."

    django-oauth-toolkit's authentication leaves the request anonymous and records why on it
    (`oauth2_error`, also used for the `WWW-Authenticate` header), so endpoints open to
    anonymous callers (registration) still work with a stale token.
    """
    oauth2_error = getattr(request, "oauth2_error", None) or {}
    if oauth2_error.get("error") != "invalid_token":
        return exc
    refusal = exceptions.AuthenticationFailed(
        oauth2_error.get("error_description") or "The access token is invalid or has expired."
    )
    # DRF's view has already chosen the status (401 with a challenge) and the header.
    refusal.status_code = exc.status_code
    refusal.auth_header = getattr(exc, "auth_header", None)
    return refusal
