"""The activities scene, with the cast and builders of tests/conftest.py: alice owns the tennis
match; carol plays in it, in a timeframe on device `band` on 30 May 2020 20:00–22:00; trent holds
READ on carol where a story gives it; mallory has nothing; bob has no timeframe.

Timeframe rows are made with the ORM: these tests are about activities, not timeframe rules.
"""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from activities.models import Activity, JsonSchema
from asi_api import events
from devices.models import Device
from timeframes.models import Timeframe
from users.models import User

MATCH_START = datetime(2020, 5, 30, 20, 0, tzinfo=UTC)
MATCH_END = datetime(2020, 5, 30, 22, 0, tzinfo=UTC)


@pytest.fixture
def soccer(db) -> JsonSchema:
    return JsonSchema.objects.get(name="soccer", version=1)


@pytest.fixture
def match(make_activity) -> Activity:
    return make_activity()


@pytest.fixture
def band(make_device) -> Device:
    return make_device(device_name="a1b2c3d4e5f6", serial_number="SN-D1-0001")


@pytest.fixture
def make_timeframe(band, carol, params_schema) -> Callable[..., Timeframe]:
    def make(activity: Activity, athlete: User = carol, start=MATCH_START, end=MATCH_END):
        return Timeframe.objects.create(
            activity=activity,
            athlete=athlete,
            owner=activity.owner,
            device=band,
            start_time=start,
            end_time=end,
            json_schema=params_schema,
        )

    return make


@pytest.fixture
def recorded() -> Iterator[dict[str, list]]:
    """Registers one handler per phase for the test; yields what each received."""
    seen: dict[str, list] = {"in_transaction": [], "on_commit": []}

    def in_transaction(event: events.DomainEvent) -> None:
        seen["in_transaction"].append(event)

    def on_commit(event: events.DomainEvent) -> None:
        seen["on_commit"].append(event)

    events.handler_register(in_transaction, phase=events.IN_TRANSACTION)
    events.handler_register(on_commit, phase=events.ON_COMMIT)
    yield seen
    events.handler_unregister(in_transaction)
    events.handler_unregister(on_commit)
