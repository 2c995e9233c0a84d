"""The timeframe cast: alice (manager) owns device `band` since 2020 and the tennis activity;
carol (athlete) gives her WRITE and READ for 2020; bob (manager) gets READ on carol's 30 May
evening only where a story says so; mallory has nothing; dave is another athlete."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from activities.models import Activity, JsonSchema
from asi_api import events
from devices.models import OPEN_END, Device, DeviceOwnership
from timeframes.models import Timeframe
from timeframes.services import timeframe_create
from users.models import AthletePermission, PermissionKind, User

YEAR_START = datetime(2020, 1, 1, tzinfo=UTC)
YEAR_END = datetime(2021, 1, 1, tzinfo=UTC)
MATCH_START = datetime(2020, 5, 30, 20, 0, tzinfo=UTC)
MATCH_END = datetime(2020, 5, 30, 22, 0, tzinfo=UTC)


def grant(
    athlete: User, manager: User, permission: str, start=YEAR_START, end=YEAR_END
) -> AthletePermission:
    return AthletePermission.objects.create(
        athlete=athlete,
        manager=manager,
        permission=permission,
        start_time=start,
        expiration_time=end,
        granted_by=athlete,
    )


def own(manager: User, device: Device, start=YEAR_START, end=OPEN_END) -> DeviceOwnership:
    return DeviceOwnership.objects.create(
        manager=manager, device=device, start_time=start, end_time=end
    )


@pytest.fixture
def tennis(db) -> JsonSchema:
    return JsonSchema.objects.get(name="tennis", type="activity")


@pytest.fixture
def band(db) -> Device:
    return Device.objects.create(device_name="a1b2c3d4e5f8", serial_number="SN-0001")


@pytest.fixture
def band2(db) -> Device:
    return Device.objects.create(device_name="a1b2c3d4e5f9", serial_number="SN-0002")


@pytest.fixture
def match(alice, tennis) -> Activity:
    return Activity.objects.create(
        name="Tennis match at Wimbledon",
        json={"sport": "tennis", "type": "match"},
        json_schema=tennis,
        owner=alice,
    )


@pytest.fixture
def setting(alice, carol, band, match) -> None:
    """alice owns band (ongoing since 2020) and holds WRITE and READ on carol for 2020."""
    own(alice, band)
    grant(carol, alice, PermissionKind.WRITE)
    grant(carol, alice, PermissionKind.READ)


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


@pytest.fixture
def emitted() -> list[events.DomainEvent]:
    """Every domain event emitted during the test, in order."""
    seen: list[events.DomainEvent] = []
    handler = seen.append
    events.handler_register(handler, phase=events.IN_TRANSACTION)
    yield seen
    events.handler_unregister(handler)


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
