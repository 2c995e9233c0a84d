"""Devices of the stories, beside the shared cast (alice, bob, mallory managers; carol athlete).

- `vest`: alice has owned it since yesterday.
- `handed_over`: bob owned it from ten days ago until two days ago; alice owns it since then.
- `spare`: nobody ever owned it (inactive).
"""

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from devices.models import OPEN_END, Device, DeviceOwnership
from tests.devices.packets_factory import gateway, make_owned_device  # noqa: F401 (fixtures)
from users.models import User

DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # The cast's passwords are hashed at every setup; these tests never exercise hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def make_device(db) -> Callable[..., Device]:
    counter = iter(range(1, 10_000))

    def make(device_name: str | None = None, serial_number: str | None = None, **fields) -> Device:
        n = next(counter)
        return Device.objects.create(
            device_name=device_name or f"{0xA00000000000 + n:012x}",
            serial_number=serial_number or f"SN-{n:05d}",
            **fields,
        )

    return make


@pytest.fixture
def own(db) -> Callable[..., DeviceOwnership]:
    """`own(device, manager, start, end=OPEN_END)`: record an ownership period directly."""

    def make(
        device: Device, manager: User, start: datetime, end: datetime = OPEN_END
    ) -> DeviceOwnership:
        ownership = DeviceOwnership.objects.create(
            device=device, manager=manager, start_time=start, end_time=end
        )
        if not device.is_active:
            Device.objects.filter(pk=device.pk).update(is_active=True, activated_at=start)
            device.refresh_from_db()
        return ownership

    return make


@pytest.fixture
def vest(make_device, own, alice) -> Device:
    device = make_device(device_name="a1b2c3d4e5f6", serial_number="ASI-0001", custom_name="Vest")
    own(device, alice, timezone.now() - DAY)
    return device


@pytest.fixture
def handed_over(make_device, own, alice, bob) -> Device:
    device = make_device(device_name="a1b2c3d4e5f7", serial_number="ASI-0002")
    now = timezone.now()
    own(device, bob, now - 10 * DAY, now - 2 * DAY)
    own(device, alice, now - 2 * DAY)
    return device


@pytest.fixture
def spare(make_device) -> Device:
    return make_device(device_name="a1b2c3d4e5f8", serial_number="ASI-0003")
