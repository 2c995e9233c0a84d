from rest_framework.routers import SimpleRouter

from devices import views

router = SimpleRouter()
router.register("devices", views.DeviceViewSet, basename="device")
router.register("device-ownerships", views.DeviceOwnershipViewSet, basename="device-ownership")

urlpatterns = router.urls
