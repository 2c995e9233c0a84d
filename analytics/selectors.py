"""Reads of the analytics app (no access rule here: these serve tasks, not users)."""

from datetime import UTC, datetime

from timeframes.models import Timeframe


def timeframes_covering(*, device_id: int, t_min: int, t_max: int) -> list[int]:
    """Ids of the timeframes of `device_id` whose [start_time, end_time) meets [t_min, t_max]
    (epoch ms): those that new samples of the device in that span may change."""
    return list(
        Timeframe.objects.filter(
            device_id=device_id,
            start_time__lte=datetime.fromtimestamp(t_max / 1000, tz=UTC),
            end_time__gt=datetime.fromtimestamp(t_min / 1000, tz=UTC),
        ).values_list("pk", flat=True)
    )
