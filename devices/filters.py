"""Query filters of the device and ownership lists (SPEC §4). Malformed values are a 400."""

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, QuerySet

from devices.models import Device, DeviceOwnership
from devices.selectors import devices_owned_now_q, ownerships_current


class StrictBooleanField(forms.Field):
    """`true`/`false` (any case) or `1`/`0`; anything else is an error, not silently ignored.

    django-filter's own BooleanWidget maps unknown words to "no filter", which SPEC §1 forbids.
    """

    def to_python(self, value: object) -> bool | None:
        if value in (None, ""):
            return None
        word = str(value).lower()
        if word in ("true", "1"):
            return True
        if word in ("false", "0"):
            return False
        raise ValidationError("Must be true or false.")


class StrictBooleanFilter(django_filters.Filter):
    field_class = StrictBooleanField


class DeviceFilter(django_filters.FilterSet):
    current = StrictBooleanFilter(method="filter_current")
    serial_number = django_filters.CharFilter()
    device_name = django_filters.CharFilter()
    custom_name = django_filters.CharFilter(lookup_expr="icontains")
    activity = django_filters.NumberFilter(method="filter_activity")

    class Meta:
        model = Device
        fields = ["current", "serial_number", "device_name", "custom_name", "activity"]

    def filter_current(self, queryset: QuerySet[Device], name: str, value: bool) -> QuerySet:
        # A manager's "current" devices are those *he* owns now; an admin's, those anyone owns.
        user = self.request.user
        owned_now = devices_owned_now_q(None if user.is_admin else user)
        return queryset.filter(owned_now if value else ~owned_now)

    def filter_activity(self, queryset: QuerySet[Device], name: str, value: float) -> QuerySet:
        """Devices worn in a timeframe of that activity, if the caller can see the activity."""
        from activities.selectors import activities_visible_to
        from timeframes.models import Timeframe

        in_activity = Timeframe.objects.filter(
            device=OuterRef("pk"),
            activity_id=int(value),
            activity__in=activities_visible_to(self.request.user),
        )
        return queryset.filter(Exists(in_activity))


class OwnershipFilter(django_filters.FilterSet):
    device = django_filters.NumberFilter(field_name="device_id")
    current = StrictBooleanFilter(method="filter_current")

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
