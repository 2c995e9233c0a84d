from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from asi_api.errors import NotFound
from asi_api.permissions import IsAdmin, IsManager, IsManagerOrAdmin
from devices import services
from devices.filters import DeviceFilter, OwnershipFilter
from devices.models import Device, DeviceOwnership
from devices.selectors import devices_visible_to, ownerships_visible_to
from devices.serializers import (
    CustomNameSerializer,
    DeviceCreateSerializer,
    DeviceOwnershipSerializer,
    DeviceProofSerializer,
    DeviceSerializer,
)


@extend_schema_view(
    list=extend_schema(
        description=(
            "Admins: every device. Managers: devices they own now or owned before "
            "(`current=true`: only now), plus a device nobody owns when both its exact "
            "`serial_number` and `device_name` are given."
        ),
        parameters=[
            OpenApiParameter("activity", OpenApiTypes.INT, description="Activity id"),
            OpenApiParameter("current", OpenApiTypes.BOOL),
        ],
    ),
)
@extend_schema(tags=["devices"])
class DeviceViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, GenericViewSet
):
    """Devices and their ownership actions (SPEC §4)."""

    required_scopes = ["all"]
    serializer_class = DeviceSerializer
    filterset_class = DeviceFilter
    search_fields = ["device_name", "serial_number", "custom_name"]
    ordering_fields = ["id", "device_name", "serial_number", "custom_name", "created_at"]
    ordering = ["id"]
    lookup_value_regex = r"\d+"

    def get_permissions(self) -> list:
        role = {"create": IsAdmin, "list": IsManagerOrAdmin, "retrieve": IsManagerOrAdmin}
        return [*super().get_permissions(), role.get(self.action, IsManager)()]

    def get_queryset(self) -> QuerySet[Device]:
        params = self.request.query_params
        return devices_visible_to(
            self.request.user,
            serial_number=params.get("serial_number"),
            device_name=params.get("device_name"),
        )

    def _any_device(self) -> Device:
        # Taking and releasing address devices the caller may not see yet (an unowned device, or
        # one he lost): SPEC §4 fixes their answers (400/409/403/404) in the services.
        device = Device.objects.filter(pk=self.kwargs["pk"]).first()
        if device is None:
            raise NotFound("No device matches the given query.")
        return device

    @extend_schema(request=DeviceCreateSerializer, responses={201: DeviceSerializer})
    def create(self, request: Request) -> Response:
        data = DeviceCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        device = services.device_create(**data.validated_data)
        return Response(DeviceSerializer(device).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=DeviceProofSerializer, responses={201: DeviceOwnershipSerializer})
    @action(detail=True, methods=["post"], url_path="take-ownership")
    def take_ownership(self, request: Request, pk: str) -> Response:
        device = self._any_device()
        proof = DeviceProofSerializer(data=request.data)
        proof.is_valid(raise_exception=True)
        ownership = services.ownership_take(
            manager=request.user, device=device, **proof.validated_data
        )
        return Response(DeviceOwnershipSerializer(ownership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: DeviceOwnershipSerializer})
    @action(detail=True, methods=["post"], url_path="release-ownership")
    def release_ownership(self, request: Request, pk: str) -> Response:
        ownership = services.ownership_release(manager=request.user, device=self._any_device())
        return Response(DeviceOwnershipSerializer(ownership).data)

    @extend_schema(request=CustomNameSerializer, responses={200: DeviceSerializer})
    @action(detail=True, methods=["post"], url_path="set-custom-name")
    def set_custom_name(self, request: Request, pk: str) -> Response:
        device = self.get_object()
        data = CustomNameSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        device = services.device_set_custom_name(
            manager=request.user, device=device, **data.validated_data
        )
        return Response(DeviceSerializer(device).data)


@extend_schema(
    tags=["devices"],
    parameters=[OpenApiParameter("current", OpenApiTypes.BOOL)],
)
class DeviceOwnershipViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """Ownership periods: a manager's own, or all for admins (SPEC §4)."""

    required_scopes = ["all"]
    permission_classes = [*GenericViewSet.permission_classes, IsManagerOrAdmin]
    serializer_class = DeviceOwnershipSerializer
    filterset_class = OwnershipFilter
    search_fields = ["device__device_name", "device__serial_number", "device__custom_name"]
    ordering_fields = ["id", "start_time", "end_time"]
    ordering = ["-start_time", "-id"]
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[DeviceOwnership]:
        return ownerships_visible_to(self.request.user).select_related("device")
