from django.urls import path
from rest_framework.routers import SimpleRouter

from users import views

router = SimpleRouter(trailing_slash=True)
router.register("athletes", views.AthleteViewSet, basename="athlete")
router.register("managers", views.ManagerViewSet, basename="manager")
router.register("permissions", views.PermissionViewSet, basename="permission")
router.register(
    r"athletes/(?P<athlete_id>[0-9]+)/managers/(?P<manager_id>[0-9]+)/permissions",
    views.AthleteManagerPermissionViewSet,
    basename="athlete-manager-permission",
)

urlpatterns = [
    path("account/", views.AccountView.as_view(), name="account"),
    path(
        "account/change-password/",
        views.PasswordChangeView.as_view(),
        name="account-change-password",
    ),
    *router.urls,
]
