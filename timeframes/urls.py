from rest_framework.routers import SimpleRouter

from timeframes.views import TimeframeViewSet

router = SimpleRouter()
router.register("timeframes", TimeframeViewSet, basename="timeframe")

urlpatterns = router.urls
