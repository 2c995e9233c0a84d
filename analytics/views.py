from django.core.cache import cache
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from activities.selectors import activities_visible_to
from analytics.serializers import TimeframeComputedSerializer, timeframe_document
from analytics.tasks import timeframe_recompute_task
from asi_api.scheduling import enqueue_on_commit
from timeframes.models import Timeframe
from timeframes.selectors import timeframes_computed_readable_by

# A timeframe read before it was ever computed asks for one recompute per this many seconds,
# however often it is read meanwhile.
RECOMPUTE_REQUEST_SECONDS = 10


def _computed_readable(request: Request) -> QuerySet[Timeframe]:
    # `state` (the live path's engine state) can be large and is never served.
    return (
        timeframes_computed_readable_by(request.user)
        .select_related("activity", "computed")
        .defer("computed__state")
    )


@extend_schema(tags=["analytics"], responses={200: OpenApiTypes.OBJECT})
class TimeframeComputedView(APIView):
    """SPEC §7: the computed data of a timeframe, for admins, its athlete and managers whose
    READ covers its span (anyone else: 404, also its owner without READ).

    Not computed yet (a timeframe created before analytics ran, or its recompute still
    queued): the empty document — every metric zero, empty or null, `status` "live",
    `revision` 0, `computed_at` null — and a recompute is enqueued.
    """

    required_scopes = ["all"]

    def get(self, request: Request, pk: int) -> Response:
        timeframe = get_object_or_404(_computed_readable(request), pk=pk)
        if getattr(timeframe, "computed", None) is None and cache.add(
            f"analytics:recompute-asked:{timeframe.pk}", 1, RECOMPUTE_REQUEST_SECONDS
        ):
            enqueue_on_commit(timeframe_recompute_task, timeframe.pk)
        return Response(timeframe_document(timeframe))


@extend_schema(tags=["analytics"])
class ActivityComputedView(ListAPIView):
    """SPEC §7: the computed data of an activity's timeframes that the caller may read, as
    `{"timeframe": id, "data": {...}}` by start time (an activity he may not see: 404)."""

    required_scopes = ["all"]
    serializer_class = TimeframeComputedSerializer
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[Timeframe]:
        if getattr(self, "swagger_fake_view", False):
            return Timeframe.objects.none()
        activity = get_object_or_404(activities_visible_to(self.request.user), pk=self.kwargs["pk"])
        return (
            _computed_readable(self.request).filter(activity=activity).order_by("start_time", "id")
        )
