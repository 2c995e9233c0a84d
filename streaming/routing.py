"""WebSocket routes (SPEC §8). Device ids are the numeric ids of the REST API (SPEC §4)."""

from django.urls import path, re_path

from streaming.consumers import (
    ActivityComputedConsumer,
    NotFoundConsumer,
    PreprocessedDataConsumer,
    TimeframeComputedConsumer,
)

websocket_urlpatterns: list = [
    path("ws/v1/preprocessed-data/<int:device_id>/", PreprocessedDataConsumer.as_asgi()),
    path(
        "ws/v1/computed-data/<int:activity_id>/<int:timeframe_id>/",
        TimeframeComputedConsumer.as_asgi(),
    ),
    path("ws/v1/computed-data/<int:activity_id>/", ActivityComputedConsumer.as_asgi()),
    # Any other path (also a non-numeric id): accepted and closed with 4004, never a 500.
    re_path(r"", NotFoundConsumer.as_asgi()),
]
