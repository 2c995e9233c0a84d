"""The timeframes scene, with the cast and builders of tests/conftest.py: alice owns device
`band` since 2020 and the tennis activity; carol gives her WRITE and READ for 2020; trent gets
READ on carol's 30 May evening only where a story says so; mallory has nothing; bob is another
athlete. Timeframes themselves are made through the service (`make_timeframe`)."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from activities.models import Activity
from devices.models import Device
from timeframes.models import Timeframe
from timeframes.services import timeframe_create
from users.models import PermissionKind

YEAR_START = datetime(2020, 1, 1, tzinfo=UTC)
YEAR_END = datetime(2021, 1, 1, tzinfo=UTC)
MATCH_START = datetime(2020, 5, 30, 20, 0, tzinfo=UTC)
MATCH_END = datetime(2020, 5, 30, 22, 0, tzinfo=UTC)


@pytest.fixture
def band(make_device) -> Device:
    return make_device(device_name="a1b2c3d4e5f8", serial_number="SN-0001")


@pytest.fixture
def band2(make_device) -> Device:
    return make_device(device_name="a1b2c3d4e5f9", serial_number="SN-0002")


@pytest.fixture
def match(make_activity) -> Activity:
    return make_activity()


@pytest.fixture
def setting(alice, carol, band, match, grant, own) -> None:
    """alice owns band (ongoing since 2020) and holds WRITE and READ on carol for 2020."""
    own(band, alice, YEAR_START)
    grant(carol, alice, PermissionKind.WRITE, YEAR_START, YEAR_END)
    grant(carol, alice, PermissionKind.READ, YEAR_START, YEAR_END)


@pytest.fixture
def make_timeframe(setting, alice, carol, band, match) -> Callable[..., Timeframe]:
    def make(start=MATCH_START, end=MATCH_END, **kwargs) -> Timeframe:
        fields = {"device": band, "activity": match, "athlete": carol, "actor": alice}
        fields.update(kwargs)
        return timeframe_create(start_time=start, end_time=end, **fields)

    return make


@pytest.fixture
def evening(make_timeframe) -> Timeframe:
    """carol wears band during alice's match, 30 May 2020 20:00–22:00."""
    return make_timeframe()


def body(**overrides) -> dict:
    """A POST body for carol on band in alice's match (ids filled by the test)."""
    data = {
        "start_time": "2020-05-30T20:00:00.000Z",
        "end_time": "2020-05-30T22:00:00.000Z",
        "params": {},
    }
    data.update(overrides)
    return data


HOUR = timedelta(hours=1)
