from rest_framework.routers import SimpleRouter

from activities import views

router = SimpleRouter()
router.register("json-schemas", views.JsonSchemaViewSet, basename="json-schema")
router.register("activities", views.ActivityViewSet, basename="activity")

urlpatterns = router.urls
