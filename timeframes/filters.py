"""Query filters of the timeframe list (SPEC §5). Malformed values are a 400, never ignored."""

import django_filters

from asi_api.filters import DateTimeFilter, IdFilter
from timeframes.models import Timeframe


class TimeframeFilter(django_filters.FilterSet):
    activity = IdFilter(field_name="activity_id")
    athlete = IdFilter(field_name="athlete_id")
    device = IdFilter(field_name="device_id")
    owner = IdFilter(field_name="owner_id")
    # Half-open like every window: start_from ≤ start_time < start_to.
    start_from = DateTimeFilter(field_name="start_time", lookup_expr="gte")
    start_to = DateTimeFilter(field_name="start_time", lookup_expr="lt")

    class Meta:
        model = Timeframe
        fields = ["activity", "athlete", "device", "owner", "start_from", "start_to"]
