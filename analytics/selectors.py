"""Reads of the analytics app (no access rule here: these serve tasks, not users)."""

from datetime import UTC, datetime
from functools import reduce
from operator import or_

from django.db.models import Q

from timeframes.models import Timeframe


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def timeframes_covering(spans: list[list[int]]) -> list[tuple[int, int]]:
    """The timeframes that new samples may change, in one query: for each span
    [device_id, t_min, t_max] (epoch ms), those of the device whose [start_time, end_time) meets
    [t_min, t_max]. Returns (timeframe id, that span's t_min) pairs, by timeframe id."""
    if not spans:
        return []
    t_min = {device_id: low for device_id, low, _ in spans}
    match = reduce(
        or_,
        (
            Q(device_id=device_id, start_time__lte=_at(high), end_time__gt=_at(low))
            for device_id, low, high in spans
        ),
    )
    rows = Timeframe.objects.filter(match).order_by("pk").values_list("pk", "device_id")
    return [(pk, t_min[device_id]) for pk, device_id in rows]
