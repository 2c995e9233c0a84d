from django import forms
from django.contrib import admin, messages
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest

from asi_api.admin import DeletesThroughService, form_error_add
from asi_api.errors import DomainError
from devices import services
from devices.models import Device, DeviceOwnership
from devices.selectors import devices_owned_now_q, ownerships_current


class OwnedNowFilter(admin.SimpleListFilter):
    """Devices with a current owner, or ownerships whose period contains now."""

    title = "owned now"
    parameter_name = "owned_now"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        if self.value() not in ("yes", "no"):
            return queryset
        if queryset.model is DeviceOwnership:
            current = Q(pk__in=ownerships_current().values("pk"))
        else:
            current = devices_owned_now_q()
        return queryset.filter(current) if self.value() == "yes" else queryset.exclude(current)


class DeviceForm(forms.ModelForm):
    class Meta:
        model = Device
        fields = ["device_name", "serial_number", "custom_name"]


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    form = DeviceForm
    list_display = [
        "device_name",
        "serial_number",
        "custom_name",
        "current_owner",
        "is_active",
        "activated_at",
        "created_at",
    ]
    list_filter = [OwnedNowFilter, "is_active", "created_at"]
    search_fields = ["device_name", "serial_number", "custom_name"]
    readonly_fields = ["is_active", "activated_at", "created_at"]
    ordering = ["device_name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Device]:
        # One subquery instead of a query per row for the "current owner" column.
        owner = ownerships_current().filter(device=OuterRef("pk")).values("manager__username")
        return super().get_queryset(request).annotate(current_owner_name=Subquery(owner[:1]))

    @admin.display(description="current owner", ordering="current_owner_name")
    def current_owner(self, device: Device) -> str:
        return device.current_owner_name or "—"


class OwnershipForm(forms.ModelForm):
    class Meta:
        model = DeviceOwnership
        fields = ["device", "manager", "start_time", "end_time"]

    def clean(self) -> dict:
        data = super().clean()
        if {"device", "manager", "start_time", "end_time"} <= data.keys():
            try:
                services.ownership_period_check(
                    device=data["device"],
                    manager=data["manager"],
                    start_time=data["start_time"],
                    end_time=data["end_time"],
                    exclude_pk=self.instance.pk,
                )
            except DomainError as error:
                form_error_add(self, error)
        return data


@admin.register(DeviceOwnership)
class DeviceOwnershipAdmin(DeletesThroughService, admin.ModelAdmin):
    form = OwnershipForm
    list_display = ["device", "manager", "start_time", "end_time", "is_ongoing"]
    list_filter = [OwnedNowFilter, "start_time"]
    search_fields = [
        "device__device_name",
        "device__serial_number",
        "device__custom_name",
        "manager__username",
    ]
    raw_id_fields = ["device", "manager"]
    list_select_related = ["device", "manager"]
    date_hierarchy = "start_time"
    actions = ["release"]

    @admin.display(boolean=True, description="ongoing")
    def is_ongoing(self, ownership: DeviceOwnership) -> bool:
        return ownership.is_ongoing

    def save_model(self, request, obj: DeviceOwnership, form, change: bool) -> None:
        # Through the service: the device row is locked, the device activated, and what a
        # changed period no longer covers cuts its owner's timeframes, as a release does.
        saved = services.ownership_period_set(
            ownership=obj if change else None,
            device=obj.device,
            manager=obj.manager,
            start_time=obj.start_time,
            end_time=obj.end_time,
        )
        obj.pk = saved.pk

    def delete_model(self, request, obj: DeviceOwnership) -> None:
        services.ownership_delete(ownership=obj)

    @admin.action(description="Release the selected ownerships now (cuts the owners' timeframes)")
    def release(self, request: HttpRequest, queryset: QuerySet[DeviceOwnership]) -> None:
        released = 0
        for ownership in queryset.filter(pk__in=ownerships_current().values("pk")):
            services.ownership_release(manager=ownership.manager, device=ownership.device)
            released += 1
        self.message_user(request, f"{released} ownership(s) released.", messages.SUCCESS)
