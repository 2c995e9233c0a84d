"""Query filters of the timeframe list (SPEC §5). Malformed values are a 400, never ignored."""

import django_filters
from django import forms

from timeframes.models import Timeframe


class IdFilter(django_filters.NumberFilter):
    # NumberFilter accepts decimals ("1.5"); an id is an integer.
    field_class = forms.IntegerField


class TimeframeFilter(django_filters.FilterSet):
    activity = IdFilter(field_name="activity_id")
    athlete = IdFilter(field_name="athlete_id")
    device = IdFilter(field_name="device_id")
    owner = IdFilter(field_name="owner_id")
    # Half-open like every window: start_from ≤ start_time < start_to.
    start_from = django_filters.IsoDateTimeFilter(field_name="start_time", lookup_expr="gte")
    start_to = django_filters.IsoDateTimeFilter(field_name="start_time", lookup_expr="lt")

    class Meta:
        model = Timeframe
        fields = ["activity", "athlete", "device", "owner", "start_from", "start_to"]
