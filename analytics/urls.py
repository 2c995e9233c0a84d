# The computed-data paths of SPEC §7 sit under the timeframes and activities they belong to;
# the routers of those apps match only `<id>/` there, so these do not collide with them.
from django.urls import path

from analytics import views

urlpatterns = [
    path(
        "timeframes/<int:pk>/computed/",
        views.TimeframeComputedView.as_view(),
        name="timeframe-computed",
    ),
    path(
        "activities/<int:pk>/computed/",
        views.ActivityComputedView.as_view(),
        name="activity-computed",
    ),
    path(
        "timeframes/<int:pk>/export/",
        views.TimeframeExportView.as_view(),
        name="timeframe-export",
    ),
    path(
        "activities/<int:pk>/export/",
        views.ActivityExportView.as_view(),
        name="activity-export",
    ),
]
