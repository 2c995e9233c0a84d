from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from activities import services
from activities.filters import ActivityFilter, JsonSchemaFilter
from activities.models import Activity, JsonSchema
from activities.selectors import (
    activities_visible_to,
    json_schemas_visible_to,
)
from activities.serializers import (
    ActivityInputSerializer,
    ActivitySerializer,
    JsonSchemaCreateSerializer,
    JsonSchemaSerializer,
)
from asi_api.permissions import IsAdmin, IsManagerOrAdmin


@extend_schema(tags=["json-schemas"])
class JsonSchemaViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, GenericViewSet
):
    """JSON schemas (SPEC §5): read by anyone signed in, created by admins, never changed —
    a change is a new version (`parent` = the latest version); PUT/PATCH/DELETE are 405.
    """

    required_scopes = ["all"]
    queryset = JsonSchema.objects.none()  # for the OpenAPI generator; get_queryset decides
    serializer_class = JsonSchemaSerializer
    filterset_class = JsonSchemaFilter
    search_fields = ["name"]
    ordering_fields = ["id", "name", "version", "created_at"]
    ordering = ["name", "version"]
    lookup_value_regex = r"\d+"

    def get_permissions(self) -> list:
        extra = [IsAdmin()] if self.action == "create" else []
        return [*super().get_permissions(), *extra]

    def get_queryset(self) -> QuerySet[JsonSchema]:
        return json_schemas_visible_to(self.request.user)

    @extend_schema(request=JsonSchemaCreateSerializer, responses={201: JsonSchemaSerializer})
    def create(self, request: Request) -> Response:
        data = JsonSchemaCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        json_schema = services.json_schema_create(actor=request.user, **data.validated_data)
        return Response(JsonSchemaSerializer(json_schema).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["activities"])
class ActivityViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    GenericViewSet,
):
    """Activities (SPEC §5): managers create; visible to the owner, admins, managers with READ on
    one of its timeframes and athletes with a timeframe in it (read-only); the owner and admins
    change and delete (deleting takes its timeframes along).
    """

    required_scopes = ["all"]
    queryset = Activity.objects.none()  # for the OpenAPI generator; get_queryset decides
    serializer_class = ActivitySerializer
    filterset_class = ActivityFilter
    search_fields = ["name"]
    ordering_fields = ["id", "name", "created_at", "updated_at"]
    ordering = ["id"]
    lookup_value_regex = r"\d+"

    def get_permissions(self) -> list:
        extra = [IsManagerOrAdmin()] if self.action == "create" else []
        return [*super().get_permissions(), *extra]

    def get_queryset(self) -> QuerySet[Activity]:
        return activities_visible_to(self.request.user)

    def _writable_object(self) -> Activity:
        # Visible but read-only is a 403 (the caller knows it exists), checked before the body
        # so a read-only caller is not told about his input's mistakes first.
        activity = self.get_object()
        services.activity_writable_check(actor=self.request.user, activity=activity)
        return activity

    @extend_schema(request=ActivityInputSerializer, responses={201: ActivitySerializer})
    def create(self, request: Request) -> Response:
        data = ActivityInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        activity = services.activity_create(actor=request.user, **data.validated_data)
        return Response(ActivitySerializer(activity).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ActivityInputSerializer, responses={200: ActivitySerializer})
    def update(self, request: Request, *args, partial: bool = False, **kwargs) -> Response:
        activity = self._writable_object()
        data = ActivityInputSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        activity = services.activity_update(
            actor=request.user, activity=activity, **data.validated_data
        )
        return Response(ActivitySerializer(activity).data)

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        # No body to check first: the service's gate answers a read-only caller (403).
        services.activity_delete(actor=request.user, activity=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
