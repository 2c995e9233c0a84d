"""Builders for gateway packets and the devices they come from, shared by the device-data tests."""

import time
from collections.abc import Callable

import pytest
from django.db import connection

from devices.models import Device
from devices.samples import TABLE, channels_cache_clear
from devices.services import device_create, ownership_take
from users.models import User

INGEST_URL = "/api/v1/preprocessed-data/"


def now_ms() -> int:
    return int(time.time() * 1000)


def packet(
    device_name: str, t0: int, *, fixes: int = 10, hr: float = 150, lat: float = 51.5
) -> dict:
    """One second of a device: `fixes` GNSS fixes at 10 Hz, one heart rate, one status."""
    return {
        "device_name": device_name,
        "gnss": {
            "timestamp": [t0 + 100 * k for k in range(fixes)],
            "latitude": [lat + k * 1e-5 for k in range(fixes)],
            "longitude": [-0.1 - k * 1e-5 for k in range(fixes)],
            "speed": [3.5] * fixes,
            "altitude": [12.0] * fixes,
        },
        "ecg": {"timestamp": t0, "hr": hr},
        "device": {"timestamp": t0, "standstill": 0, "Bat_lvl": 90},
    }


def packets(device_name: str, t0: int, seconds: int, **kwargs) -> list[dict]:
    return [packet(device_name, t0 + 1000 * s, **kwargs) for s in range(seconds)]


def stored_rows() -> list[tuple]:
    """Every row of the samples table, for "nothing changed" assertions."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT t_first, t_last, device_id, channel_id, ts, vals FROM {TABLE}")
        return sorted((a, b, c, d, bytes(e), bytes(f)) for a, b, c, d, e, f in cursor.fetchall())


def stored_samples() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(sum(length(ts)), 0) / 4 FROM {TABLE}")
        return int(cursor.fetchone()[0])


@pytest.fixture(autouse=True)
def _sample_channels_cache():
    """Each test's transaction rolls back the channels it registered: forget them after it."""
    yield
    channels_cache_clear()


@pytest.fixture
def make_owned_device(db) -> Callable[..., Device]:
    """`make_owned_device(name, manager=None)`: a device, owned from now by `manager` if given."""
    counter = iter(range(1, 1000))

    def make(device_name: str, manager: User | None = None) -> Device:
        device = device_create(device_name=device_name, serial_number=f"SN-{next(counter):04d}")
        if manager is not None:
            ownership_take(
                manager=manager,
                device=device,
                serial_number=device.serial_number,
                device_name=device.device_name,
            )
            device.refresh_from_db()
        return device

    return make


@pytest.fixture
def gateway(api, token_for):
    """An APIClient with a gateway's client-credentials token (scope `ingest`)."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(None, scope='ingest')}")
    return client
