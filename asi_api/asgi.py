"""ASGI entry point: HTTP through Django, WebSocket through the streaming app's routes."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asi_api.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from asi_api.scheduling import EmbeddedRunner  # noqa: E402
from streaming.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)

if settings.EMBEDDED_BROKER:
    # No broker and no Celery processes: tasks and the periodic sweep run in this process.
    EmbeddedRunner.instance()
