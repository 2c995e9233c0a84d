"""Query filters of the device and ownership lists (SPEC §4). Malformed values are a 400."""

import django_filters
from django.db.models import Exists, OuterRef, QuerySet

from asi_api.filters import BooleanFilter, IdFilter
from devices.models import Device, DeviceOwnership
from devices.selectors import devices_owned_now_q, ownerships_current


class DeviceFilter(django_filters.FilterSet):
    current = BooleanFilter(method="filter_current")
    serial_number = django_filters.CharFilter()
    device_name = django_filters.CharFilter()
    custom_name = django_filters.CharFilter(lookup_expr="icontains")
    activity = IdFilter(method="filter_activity")

    class Meta:
        model = Device
        fields = ["current", "serial_number", "device_name", "custom_name", "activity"]

    def filter_current(self, queryset: QuerySet[Device], name: str, value: bool) -> QuerySet:
        # A manager's "current" devices are those *he* owns now; an admin's, those anyone owns.
        user = self.request.user
        owned_now = devices_owned_now_q(None if user.is_admin else user)
        return queryset.filter(owned_now if value else ~owned_now)

    def filter_activity(self, queryset: QuerySet[Device], name: str, value: int) -> QuerySet:
        """Devices worn in a timeframe of that activity, if the caller can see the activity."""
        # Upward on purpose (SPEC §4 `?activity=`); local so devices loads before them.
        from activities.selectors import activities_visible_to
        from timeframes.models import Timeframe

        in_activity = Timeframe.objects.filter(
            device=OuterRef("pk"),
            activity_id=value,
            activity__in=activities_visible_to(self.request.user),
        )
        return queryset.filter(Exists(in_activity))


class OwnershipFilter(django_filters.FilterSet):
    device = IdFilter(field_name="device_id")
    current = BooleanFilter(method="filter_current")

    class Meta:
        model = DeviceOwnership
        fields = ["device", "current"]

    def filter_current(
        self, queryset: QuerySet[DeviceOwnership], name: str, value: bool
    ) -> QuerySet:
        current_ids = ownerships_current().values("pk")
        if value:
            return queryset.filter(pk__in=current_ids)
        return queryset.exclude(pk__in=current_ids)
