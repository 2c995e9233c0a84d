"""WebSocket routes (SPEC §8). The consumers arrive with the live-streaming issue."""

websocket_urlpatterns: list = []
