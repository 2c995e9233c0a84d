"""Device ownership questions (SPEC §4), asked by ingestion, reads, timeframes and streams."""

from datetime import datetime

from django.db.models import QuerySet

from devices.models import DeviceOwnership
from users.models import User


def ownerships_covering(
    *, manager: User, device_id: int, start: datetime, end: datetime
) -> QuerySet[DeviceOwnership]:
    """Ownerships of `device_id` by `manager` covering the whole window [start, end).

    Ownership periods of one device never overlap and a manager's consecutive periods are
    separate rows, so "owned during the whole window" means one period covers it. An ongoing
    ownership ends at OPEN_END, so it covers the future.
    """
    return DeviceOwnership.objects.filter(
        manager=manager, device_id=device_id, start_time__lte=start, end_time__gte=end
    )


def device_owned_during(*, manager: User, device_id: int, start: datetime, end: datetime) -> bool:
    """Did manager M own device D during the whole window [start, end)?"""
    return ownerships_covering(manager=manager, device_id=device_id, start=start, end=end).exists()
