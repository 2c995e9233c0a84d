import logging
from collections.abc import Callable

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework.response import Response

from asi_api.parsers import body_limit_for

logger = logging.getLogger(__name__)

API_PREFIXES = ("/api/", "/oauth2/", "/healthz/")
# HTML pages under /oauth2/ (the consent page and its error page, authorized applications) are
# for people in a browser: their errors stay HTML.
HTML_PAGES = ("/oauth2/authorize/", "/oauth2/authorized-tokens/")


ERROR_DETAILS = {
    400: "Bad request.",
    403: "You do not have permission to perform this action.",
    404: "Not found.",
    405: "Method not allowed.",
    413: "Request body too large.",
    500: "Internal server error.",
}


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES) and not path.startswith(HTML_PAGES)


def api_error(request: HttpRequest, status: int) -> JsonResponse:
    """The JSON body for an error Django itself produced on an API path."""
    detail = ERROR_DETAILS.get(status, "Request failed.")
    if status == 404 and not request.path.endswith("/"):
        detail = "Not found. Every API path ends with a slash."
    return JsonResponse({"detail": detail}, status=status)


class BodySizeLimitMiddleware:
    """413 from `Content-Length` before anything reads the body (SPEC §1).

    Django answers an oversized body with a 400 (`RequestDataTooBig`), and DRF's JSON parser reads
    the stream, which Django's check does not cover; looking at the header first is both cheaper
    and gives the status SPEC fixes. A chunked body with no length is still bounded by
    `DATA_UPLOAD_MAX_MEMORY_SIZE` for form data and by the limit reader of the JSON parser.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = body_limit_for(request.path)
        raw = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw)
        except ValueError:
            return JsonResponse({"detail": "Malformed Content-Length header."}, status=400)
        if length > limit:
            return JsonResponse(
                {"detail": f"Request body too large: {length} bytes, the limit is {limit}."},
                status=413,
            )
        return self.get_response(request)


class QueryNulMiddleware:
    """400 for a NUL character in a query parameter (name or value) under `/api/`.

    PostgreSQL's text cannot hold NUL, so `?username=a%00` reaching a query was a 500. Filtersets'
    form fields refuse it, but views also read parameters by hand (`?username=` on managers,
    `serial_number`/`device_name` on devices, the paging and embed flags, and whatever endpoints
    come next): one check of the parsed query string covers them all. `/oauth2/` checks its
    own parameters (users.oauth).
    """

    message = "Null characters are not allowed."

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")
        if request.path.startswith("/api/") and ("%00" in query or "\x00" in query):
            for name, values in request.GET.lists():
                if "\x00" in name:
                    detail = "Null characters are not allowed in parameter names."
                    return JsonResponse({"detail": detail}, status=400)
                if any("\x00" in value for value in values):
                    return JsonResponse({name: [self.message]}, status=400)
        return self.get_response(request)


class JsonApiErrorsMiddleware:
    """Under the API prefixes, an unhandled exception is a JSON 500, whatever `DEBUG` says.

    The traceback goes to the log (with the request path), never to the client.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # Django's own error pages (the DEBUG 404 page, CSRF failures, RequestDataTooBig) are
        # HTML; under the API prefixes the client always gets JSON.
        if (
            response.status_code >= 400
            and is_api_path(request.path)
            and response.get("Content-Type", "").startswith("text/html")
        ):
            if isinstance(response, Response) and response.data is not None:
                # A DRF error rendered for the browsable API: keep its body (the field errors).
                return JsonResponse(response.data, status=response.status_code, safe=False)
            return api_error(request, response.status_code)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api_path(request.path):
            return None
        if isinstance(exception, Http404 | PermissionDenied | SuspiciousOperation):
            return None  # Django answers these through handler404/403/400 (JSON here too)
        logger.exception("Unhandled error on %s %s", request.method, request.path)
        return api_error(request, 500)
