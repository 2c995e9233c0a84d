from rest_framework.routers import SimpleRouter

from webhooks import views

ACTIVITY = r"activities/(?P<activity_id>[0-9]+)"

router = SimpleRouter()
router.register(f"{ACTIVITY}/webhooks", views.WebhookViewSet, basename="webhook")
router.register(
    rf"{ACTIVITY}/webhooks/(?P<webhook_id>[0-9]+)/deliveries",
    views.DeliveryViewSet,
    basename="webhook-delivery",
)

urlpatterns = router.urls
