from django import forms
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from asi_api.errors import DomainError, NotFound
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
    queryset = Device.objects.none()  # the model, for the schema; rows come from get_queryset
    serializer_class = DeviceSerializer
    filterset_class = DeviceFilter
    search_fields = ["device_name", "serial_number", "custom_name"]
    ordering_fields = ["id", "device_name", "serial_number", "custom_name", "created_at"]
    ordering = ["id"]
    lookup_value_regex = r"\d+"

    def get_permissions(self) -> list:
        # Ownership actions are for managers only; reads for managers and admins (athletes 403).
        role = {
            "create": IsAdmin,
            "take_ownership": IsManager,
            "release_ownership": IsManager,
            "set_custom_name": IsManager,
        }.get(self.action, IsManagerOrAdmin)
        return [*super().get_permissions(), role()]

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
    queryset = DeviceOwnership.objects.none()  # the model, for the schema
    serializer_class = DeviceOwnershipSerializer
    filterset_class = OwnershipFilter
    search_fields = ["device__device_name", "device__serial_number", "device__custom_name"]
    ordering_fields = ["id", "start_time", "end_time"]
    ordering = ["-start_time", "-id"]
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[DeviceOwnership]:
        return ownerships_visible_to(self.request.user).select_related("device")


# --- HTML: the device activation page (SPEC §4) -------------------------------------------------


class ActivationForm(forms.Form):
    serial_number = forms.CharField(max_length=64, strip=True)
    device_name = forms.CharField(max_length=12, strip=True)


@login_required
def device_activation(request: HttpRequest) -> HttpResponse:
    """Form with serial number and device name → take ownership → status page.

    The device is looked up by serial number; a wrong device name then fails the same proof
    check as the API's take-ownership, so both paths answer alike.
    """
    if not request.user.is_manager:
        context = {"form": None, "role_error": "Only managers can activate devices."}
        return render(request, "devices/activation.html", context, status=403)
    form = ActivationForm(request.POST if request.method == "POST" else None)
    if request.method != "POST" or not form.is_valid():
        status_code = 400 if request.method == "POST" else 200
        return render(request, "devices/activation.html", {"form": form}, status=status_code)

    serial_number = form.cleaned_data["serial_number"]
    device = Device.objects.filter(serial_number=serial_number).first()
    context: dict = {"serial_number": serial_number, "device": device}
    try:
        if device is None:
            raise NotFound("No device has this serial number.", field="serial_number")
        context["ownership"] = services.ownership_take(
            manager=request.user, device=device, **form.cleaned_data
        )
    except DomainError as error:
        context["error"] = error
        return render(request, "devices/activation_status.html", context, status=error.status_code)
    return render(request, "devices/activation_status.html", context)
