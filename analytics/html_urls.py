"""HTML pages of the analytics app (included at the site root): the post-session reports."""

from django.urls import path

from analytics import pages

urlpatterns = [
    path("reports/", pages.reports_index, name="reports"),
    path("reports/timeframes/<int:pk>/", pages.timeframe_report, name="report-timeframe"),
    path("reports/activities/<int:pk>/", pages.activity_report, name="report-activity"),
]
