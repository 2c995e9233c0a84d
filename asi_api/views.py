"""Project-level views: JSON error handlers for the API prefixes, and the health check."""

import asyncio
import logging
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.http import require_GET

from asi_api.middleware import api_error, is_api_path

logger = logging.getLogger(__name__)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_path(request.path):
        return api_error(request, 404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api_path(request.path):
        return api_error(request, 500)
    return defaults.server_error(request)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_path(request.path):
        return api_error(request, 400)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_path(request.path):
        return api_error(request, 403)
    return defaults.permission_denied(request, exception)


async def _channel_layer_round_trip() -> None:
    layer = get_channel_layer()
    # A plain channel name, not `new_channel()`'s process-local one: channels-redis receives
    # those through one shared reader per process, which the stream consumers hold on the
    # server's event loop, and this check runs on another loop (its message never arrived).
    token = uuid.uuid4().hex
    channel = f"healthz.{token}"
    await layer.send(channel, {"type": "healthz", "token": token})
    message = await asyncio.wait_for(layer.receive(channel), timeout=2)
    if message.get("token") != token:
        raise RuntimeError("channel layer returned another message")


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the channel layer both answer, 503 naming what failed."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
        logger.warning("healthz: database check failed: %s", exc)
        checks["database"] = "unavailable"
    try:
        async_to_sync(_channel_layer_round_trip)()
        checks["channel_layer"] = "ok"
    except Exception as exc:  # noqa: BLE001
        logger.warning("healthz: channel layer check failed: %s", exc)
        checks["channel_layer"] = "unavailable"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503
    )
