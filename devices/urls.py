from django.urls import path
from rest_framework.routers import SimpleRouter

from devices import views

router = SimpleRouter()
router.register("devices", views.DeviceViewSet, basename="device")
router.register("device-ownerships", views.DeviceOwnershipViewSet, basename="device-ownership")

urlpatterns = [
    *router.urls,
    # Device data (SPEC §6).
    path(
        "preprocessed-data/",
        views.PreprocessedDataIngestView.as_view(),
        name="preprocessed-data-ingest",
    ),
    path(
        "devices/<int:pk>/preprocessed/",
        views.DevicePreprocessedView.as_view(),
        name="device-preprocessed",
    ),
    path(
        "devices/<int:pk>/preprocessed-ranges/",
        views.DevicePreprocessedRangesView.as_view(),
        name="device-preprocessed-ranges",
    ),
    path(
        "devices/<int:pk>/latest-preprocessed-data/",
        views.DeviceLatestPreprocessedView.as_view(),
        name="device-latest-preprocessed-data",
    ),
]
