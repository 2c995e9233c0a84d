from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from asi_api.permissions import IsManagerOrAdmin, TokenHasRequiredScopes
from timeframes import services
from timeframes.filters import TimeframeFilter
from timeframes.models import Timeframe
from timeframes.selectors import timeframes_visible_to
from timeframes.serializers import (
    EMBEDS,
    EmbedQuerySerializer,
    TimeframeInputSerializer,
    TimeframeSerializer,
)


class CreatesTimeframes(IsManagerOrAdmin):
    message = "Only managers (and admins) may create timeframes."


EMBED_PARAMETERS = [
    OpenApiParameter(flag, OpenApiTypes.BOOL, description=f"Embed `{name}`.")
    for flag, name in EMBEDS.items()
]
# The rows each embed reads, joined into the page query instead of one query per row.
EMBED_RELATED = {
    "with_device": ["device"],
    "with_athlete": ["athlete__athlete_profile"],
    "with_activity": ["activity"],
}


@extend_schema_view(
    list=extend_schema(parameters=EMBED_PARAMETERS),
    retrieve=extend_schema(parameters=EMBED_PARAMETERS),
    create=extend_schema(request=TimeframeInputSerializer, responses={201: TimeframeSerializer}),
    update=extend_schema(request=TimeframeInputSerializer, responses=TimeframeSerializer),
    partial_update=extend_schema(request=TimeframeInputSerializer, responses=TimeframeSerializer),
)
@extend_schema(tags=["timeframes"])
class TimeframeViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    GenericViewSet,
):
    """Timeframes (SPEC §5): visible to their owner, admins, their athlete and managers whose READ
    covers their span; changed only by their owner or admins (others who see one get 403)."""

    required_scopes = ["all"]
    # For the OpenAPI generator only (path parameter types); requests use get_queryset().
    queryset = Timeframe.objects.none()
    serializer_class = TimeframeSerializer
    filterset_class = TimeframeFilter
    search_fields = [
        "activity__name",
        "athlete__athlete_profile__first_name",
        "athlete__athlete_profile__last_name",
    ]
    ordering_fields = ["start_time", "end_time", "id"]
    ordering = ["start_time", "id"]

    def get_permissions(self) -> list:
        if self.action == "create":
            return [TokenHasRequiredScopes(), CreatesTimeframes()]
        return super().get_permissions()

    def get_embed(self) -> set[str]:
        if not hasattr(self, "_embed"):
            query = EmbedQuerySerializer(data=self.request.query_params)
            query.is_valid(raise_exception=True)
            self._embed = {flag for flag, wanted in query.validated_data.items() if wanted}
        return self._embed

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        if getattr(self, "request", None) is not None:
            context["embed"] = self.get_embed()
        return context

    def get_queryset(self) -> QuerySet[Timeframe]:
        related = [path for flag in self.get_embed() for path in EMBED_RELATED[flag]]
        timeframes = timeframes_visible_to(self.request.user)
        return timeframes.select_related(*related) if related else timeframes

    def _output(self, timeframe: Timeframe, status_code: int = status.HTTP_200_OK) -> Response:
        # Reload through the queryset so the embeds are joined exactly as in list/retrieve.
        timeframe = self.get_queryset().get(pk=timeframe.pk)
        return Response(self.get_serializer(timeframe).data, status=status_code)

    def create(self, request: Request, *args, **kwargs) -> Response:
        data = TimeframeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        timeframe = services.timeframe_create(actor=request.user, **data.validated_data)
        return self._output(timeframe, status.HTTP_201_CREATED)

    def update(self, request: Request, *args, **kwargs) -> Response:
        timeframe = self._writable_object()
        data = TimeframeInputSerializer(data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        timeframe = services.timeframe_update(
            actor=request.user, timeframe=timeframe, **data.validated_data
        )
        return self._output(timeframe)

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        # No body to check first: the service's gate answers a read-only caller (403).
        services.timeframe_delete(actor=request.user, timeframe=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _writable_object(self) -> Timeframe:
        # Visible but read-only (the athlete, a manager with READ): 403, before the body is
        # even looked at. Invisible: 404 from get_object.
        timeframe = self.get_object()
        services.timeframe_writable_check(actor=self.request.user, timeframe=timeframe)
        return timeframe
