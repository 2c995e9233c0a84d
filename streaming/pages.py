"""The live session page (HTML, session login): `/live/activities/{id}/`.

The page itself is a reference client of the public API: it gets a short-lived access token from
`POST /live/token/` (users.page_token), reads the activity's timeframes over REST and opens the
WebSocket streams of SPEC §8 with that token. This view only decides who gets the page: managers
and admins (the streams serve nobody else; an athlete gets 403), and only for an activity they
see (`activities_visible_to`, as over REST; any other is the 404 page). What the streams then
allow is the streams' own rule.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from activities.selectors import activities_visible_to


@login_required
def live_activity(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    if not (user.is_manager or user.is_admin):
        context = {"role_error": "The live page is for managers and admins."}
        return render(request, "streaming/live.html", context, status=403)
    activity = get_object_or_404(activities_visible_to(user), pk=pk)
    context = {
        "activity": activity,
        "config": {
            "activity": activity.pk,
            "user": user.pk,
            "tokenUrl": "/live/token/",
        },
    }
    return render(request, "streaming/live.html", context)
