"""HTML pages of the streaming app (included at the site root): the live session page and the
endpoint its token comes from (users.page_token)."""

from django.urls import path

from streaming import pages
from users.page_token import page_token

urlpatterns = [
    path("live/activities/<int:pk>/", pages.live_activity, name="live-activity"),
    path("live/token/", page_token, name="page-token"),
]
