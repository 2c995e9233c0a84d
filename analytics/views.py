from django.core.cache import cache
from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from activities.selectors import activities_visible_to
from analytics.exports import (
    activity_csv_lines,
    timeframe_csv_lines,
    timeframe_gpx_lines,
)
from analytics.serializers import TimeframeComputedSerializer, timeframe_document
from analytics.tasks import timeframe_recompute_task
from asi_api.errors import DomainError
from asi_api.filters import OrderingFilter
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
    # SPEC §1: every list takes `ordering` (an unknown field is a 400); these are the
    # timeframes' own ordering fields (SPEC §5).
    filter_backends = [OrderingFilter]
    ordering_fields = ["start_time", "end_time", "id"]
    ordering = ["start_time", "id"]

    def get_queryset(self) -> QuerySet[Timeframe]:
        if getattr(self, "swagger_fake_view", False):
            return Timeframe.objects.none()
        activity = get_object_or_404(activities_visible_to(self.request.user), pk=self.kwargs["pk"])
        return _computed_readable(self.request).filter(activity=activity)


# --- exports -----------------------------------------------------------------------------------


class ExportView(APIView):
    """`?format=` names the export, not a DRF renderer: content negotiation always picks JSON
    (for the errors), and the view answers the export itself."""

    required_scopes = ["all"]
    formats: tuple[str, ...] = ()

    def perform_content_negotiation(self, request, force=False):
        return JSONRenderer(), JSONRenderer.media_type

    def export_format(self, request: Request) -> str:
        wanted = request.query_params.get("format")
        if wanted not in self.formats:
            choices = " or ".join(f'"{f}"' for f in self.formats)
            raise DomainError(f"Required: {choices}.", field="format")
        return wanted


def _attachment(response: HttpResponse, filename: str) -> HttpResponse:
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@extend_schema(
    tags=["analytics"],
    parameters=[
        OpenApiParameter("format", OpenApiTypes.STR, required=True, enum=["csv", "gpx"]),
    ],
    responses={
        (200, "text/csv"): OpenApiResponse(
            OpenApiTypes.STR,
            description="`format=csv`: `timestamp` (epoch ms), then a `channel.field` column "
            "per field, a row per timestamp, as `/devices/{id}/preprocessed/?format=csv`.",
        ),
        (200, "application/gpx+xml"): OpenApiResponse(
            OpenApiTypes.STR,
            description="`format=gpx`: GPX 1.1, one track, a segment per run of fixes at most "
            "`max_gap` apart, heart rate in the Garmin TrackPointExtension.",
        ),
    },
)
class TimeframeExportView(ExportView):
    """SPEC §7: the samples of the timeframe's device within [start_time, end_time), as CSV or
    GPX; for whoever may read its computed data (anyone else: 404)."""

    formats = ("csv", "gpx")

    def get(self, request: Request, pk: int) -> HttpResponse:
        timeframe = get_object_or_404(_computed_readable(request), pk=pk)
        wanted = self.export_format(request)
        # Both read the samples here, in the request, and write them out as the body streams.
        if wanted == "gpx":
            response = StreamingHttpResponse(
                timeframe_gpx_lines(timeframe), content_type="application/gpx+xml"
            )
        else:
            response = StreamingHttpResponse(
                timeframe_csv_lines(timeframe), content_type="text/csv"
            )
        return _attachment(response, f"timeframe-{timeframe.pk}.{wanted}")


@extend_schema(
    tags=["analytics"],
    parameters=[OpenApiParameter("format", OpenApiTypes.STR, required=True, enum=["csv"])],
    responses={
        (200, "text/csv"): OpenApiResponse(
            OpenApiTypes.STR,
            description="A row of headline metrics per timeframe the caller may read, by start "
            "time; empty cells when not computed yet.",
        ),
    },
)
class ActivityExportView(ExportView):
    """SPEC §7: the headline metrics of the activity's timeframes the caller may read, as CSV
    (an activity he may not see: 404)."""

    formats = ("csv",)

    def get(self, request: Request, pk: int) -> HttpResponse:
        activity = get_object_or_404(activities_visible_to(request.user), pk=pk)
        wanted = self.export_format(request)
        # Read now, inside the request (the rows are written while the response streams).
        timeframes = list(
            _computed_readable(request).filter(activity=activity).order_by("start_time", "id")
        )
        response = StreamingHttpResponse(activity_csv_lines(timeframes), content_type="text/csv")
        return _attachment(response, f"activity-{activity.pk}.{wanted}")
