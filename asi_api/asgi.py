"""ASGI entry point: HTTP through Django, WebSocket through the streaming app's routes.

No Origin check on the WebSocket routes (no `AllowedHostsOriginValidator`), on purpose: the
streams authenticate with an access token in the first message, never with the session cookie,
so a page on another site gains nothing by opening one (cross-site WebSocket hijacking needs
ambient credentials). Browser AMS applications on their own origins (SPEC §2) must be able to
connect, and gateways and server-side clients send no Origin at all.
"""

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
