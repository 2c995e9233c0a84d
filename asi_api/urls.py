from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from asi_api import views
from users import login_throttle

admin.site.site_header = "ASI API administration"
admin.site.site_title = "ASI API admin"

handler400 = "asi_api.views.bad_request"
handler403 = "asi_api.views.permission_denied"
handler404 = "asi_api.views.not_found"
handler500 = "asi_api.views.server_error"

api_v1 = [
    path("", include("users.urls")),
    path("", include("devices.urls")),
    path("", include("activities.urls")),
    path("", include("timeframes.urls")),
    path("", include("analytics.urls")),
    path("", include("webhooks.urls")),
]

urlpatterns = [
    path("", include("users.html_urls")),
    path("", include("devices.html_urls")),
    path("", include("analytics.html_urls")),
    path("", include("streaming.html_urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("oauth2/", include("users.oauth_urls")),
    # Django's login page, throttled against password guessing (users/login_throttle.py).
    path("accounts/login/", login_throttle.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("healthz/", views.healthz, name="healthz"),
]
