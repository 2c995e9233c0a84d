"""The analytics scene, with the cast and builders of tests/conftest.py.

alice owns `band` since 2020 and the tennis `match`; carol wears band in `evening`, alice's
timeframe over the match evening [MATCH_START, MATCH_END). carol gives alice WRITE only (she
may schedule, not read results); a story gives READ to whoever should read. The gateway's
packets are stored through `devices.ingestion.packets_ingest`, as the HTTP endpoint does.
"""

from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import pytest

from devices.ingestion import packets_ingest
from devices.models import Device
from tests.conftest import MATCH_END, MATCH_START
from tests.devices.packets_factory import _sample_channels_cache  # noqa: F401 (fixture)
from timeframes.models import Timeframe
from users.models import PermissionKind

YEAR_START = datetime(2020, 1, 1, tzinfo=UTC)
YEAR_END = datetime(2021, 1, 1, tzinfo=UTC)
T_START = int(MATCH_START.timestamp() * 1000)
T_END = int(MATCH_END.timestamp() * 1000)


@pytest.fixture
def scene(alice, carol, band, own, grant) -> None:
    own(band, alice, YEAR_START)
    grant(carol, alice, PermissionKind.WRITE, YEAR_START, YEAR_END)


@pytest.fixture
def evening(scene, band, match, make_timeframe) -> Timeframe:
    return make_timeframe(band, match)


@pytest.fixture
def ingest(band) -> Callable[..., list[dict]]:
    """`ingest(t0, seconds, device=band)`: store `seconds` one-second packets from epoch ms
    `t0`: a run north at 2.5 m/s (10 GNSS fixes at 10 Hz), with a heart rate each second."""

    def store(t0: int, seconds: int, device: Device = band) -> list[dict]:
        sent = [packet(device.device_name, t0 + 1000 * s) for s in range(seconds)]
        packets_ingest(body={"packets": sent})
        return sent

    return store


def packet(device_name: str, t0: int) -> dict:
    ts = [t0 + 100 * k for k in range(10)]
    # 0.25 m per 0.1 s at this latitude, from wherever the run is at `t`: packets join up
    lat = [51.5 + (t - T_START) / 100 * 0.25 / 111_200 for t in ts]
    return {
        "device_name": device_name,
        "gnss": {
            "timestamp": ts,
            "latitude": lat,
            "longitude": [-0.1] * 10,
            "speed": [2.5] * 10,
        },
        "ecg": {"timestamp": t0, "hr": 150 + (t0 // 1000) % 20},
    }


def engine_input(sent: list[dict], start: int = T_START, end: int = T_END) -> dict:
    """The arrays the engine gets for the packets `sent`, restricted to [start, end)."""
    gnss = {k: np.concatenate([p["gnss"][k] for p in sent]) for k in sent[0]["gnss"]}
    hr_ts = np.array([p["ecg"]["timestamp"] for p in sent], dtype=np.int64)
    hr = np.array([p["ecg"]["hr"] for p in sent], dtype=float)
    inside = (gnss["timestamp"] >= start) & (gnss["timestamp"] < end)
    hr_inside = (hr_ts >= start) & (hr_ts < end)
    return {
        "ts": gnss["timestamp"][inside],
        "latitude": gnss["latitude"][inside],
        "longitude": gnss["longitude"][inside],
        "speed": gnss["speed"][inside],
        "hr_ts": hr_ts[hr_inside],
        "hr": hr[hr_inside],
    }
