"""The timeframes scene, with the cast and builders of tests/conftest.py: alice owns device
`band` since 2020 and the tennis `match`; carol gives her WRITE and READ for 2020; trent gets
READ on carol's 30 May evening only where a story says so; mallory has nothing; bob is another
athlete. Timeframes themselves are made through the service (`make_timeframe(..., actor=alice)`).
"""

from datetime import UTC, datetime, timedelta

import pytest

from devices.models import Device
from timeframes.models import Timeframe
from users.models import PermissionKind

YEAR_START = datetime(2020, 1, 1, tzinfo=UTC)
YEAR_END = datetime(2021, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def band2(make_device) -> Device:
    return make_device(custom_name="Band 2")


@pytest.fixture
def setting(alice, carol, band, match, grant, own) -> None:
    """alice owns band (ongoing since 2020) and holds WRITE and READ on carol for 2020."""
    own(band, alice, YEAR_START)
    grant(carol, alice, PermissionKind.WRITE, YEAR_START, YEAR_END)
    grant(carol, alice, PermissionKind.READ, YEAR_START, YEAR_END)


@pytest.fixture
def evening(setting, make_timeframe, alice, band, match) -> Timeframe:
    """carol wears band during alice's match, 30 May 2020 20:00–22:00."""
    return make_timeframe(band, match, actor=alice)


def body(**overrides) -> dict:
    """A POST body for carol on band in alice's match (ids filled by the test)."""
    data = {
        "start_time": "2020-05-30T20:00:00.000Z",
        "end_time": "2020-05-30T22:00:00.000Z",
        "params": {},
    }
    data.update(overrides)
    return data
