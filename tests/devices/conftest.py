"""Devices of the stories, with the cast and builders of tests/conftest.py.

- `vest`: alice has owned it since yesterday.
- `handed_over`: trent owned it from ten days ago until two days ago; alice owns it since then.
- `spare`: nobody ever owned it (inactive).
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from devices.models import Device
from tests.devices.packets_factory import (  # noqa: F401 (fixtures)
    _sample_channels_cache,
    gateway,
    make_owned_device,
)

DAY = timedelta(days=1)


@pytest.fixture
def vest(make_device, own, alice) -> Device:
    device = make_device(device_name="a1b2c3d4e5f6", serial_number="ASI-0001", custom_name="Vest")
    own(device, alice, timezone.now() - DAY)
    return device


@pytest.fixture
def handed_over(make_device, own, alice, trent) -> Device:
    device = make_device(device_name="a1b2c3d4e5f7", serial_number="ASI-0002")
    now = timezone.now()
    own(device, trent, now - 10 * DAY, now - 2 * DAY)
    own(device, alice, now - 2 * DAY)
    return device


@pytest.fixture
def spare(make_device) -> Device:
    return make_device(device_name="a1b2c3d4e5f8", serial_number="ASI-0003")
