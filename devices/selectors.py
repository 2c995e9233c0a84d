"""Device ownership questions (SPEC §4), asked by ingestion, reads, timeframes and streams.

Windows are half-open [start, end). "Owner of a device at time t" is the manager whose ownership
period contains t; "current" means the period contains now. An ongoing ownership ends at
OPEN_END, so it covers the future.
"""

from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from devices.models import Device, DeviceOwnership
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


def ownerships_current(at: datetime | None = None) -> QuerySet[DeviceOwnership]:
    """Ownerships whose period contains `at` (default now): at most one per device."""
    at = at or timezone.now()
    return DeviceOwnership.objects.filter(start_time__lte=at, end_time__gt=at)


def device_current_ownership(*, device_id: int) -> DeviceOwnership | None:
    """The ownership of `device_id` that contains now, or None when nobody owns it."""
    return ownerships_current().filter(device_id=device_id).select_related("manager").first()


def device_current_owner(*, device_id: int) -> User | None:
    """The manager owning `device_id` now (e.g. the live stream's and latest-data's rule)."""
    ownership = device_current_ownership(device_id=device_id)
    return ownership.manager if ownership else None


def devices_visible_to(
    user: User, *, serial_number: str | None = None, device_name: str | None = None
) -> QuerySet[Device]:
    """Devices `user` may see (SPEC §4).

    Admins: all. Managers: those they own now or owned before (a period that has started).
    Given both the exact `serial_number` and `device_name` of a device nobody owns now, a
    manager sees that device too: holding it is the proof. Athletes and anyone else: none.
    """
    if not user.is_authenticated:
        return Device.objects.none()
    if user.is_admin:
        return Device.objects.all()
    if not user.is_manager:
        return Device.objects.none()
    now = timezone.now()
    owned = DeviceOwnership.objects.filter(device=OuterRef("pk"), manager=user, start_time__lte=now)
    visible = Q(Exists(owned))
    if serial_number and device_name:
        owned_now = ownerships_current(now).filter(device=OuterRef("pk"))
        visible |= Q(serial_number=serial_number, device_name=device_name) & ~Q(Exists(owned_now))
    return Device.objects.filter(visible)


def devices_owned_now_q(user: User | None = None) -> Q:
    """A filter for devices with a current owner (that owner being `user` when given)."""
    owned_now = ownerships_current().filter(device=OuterRef("pk"))
    if user is not None:
        owned_now = owned_now.filter(manager=user)
    return Q(Exists(owned_now))


def ownerships_visible_to(user: User) -> QuerySet[DeviceOwnership]:
    """Ownerships `user` may see: admins all, managers their own, anyone else none."""
    if not user.is_authenticated:
        return DeviceOwnership.objects.none()
    if user.is_admin:
        return DeviceOwnership.objects.all()
    if user.is_manager:
        return DeviceOwnership.objects.filter(manager=user)
    return DeviceOwnership.objects.none()
