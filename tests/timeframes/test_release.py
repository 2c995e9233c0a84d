"""Releasing a device cuts its releaser's timeframes at that instant (SPEC §4)."""

import pytest
import time_machine

from tests.conftest import MATCH_END, MATCH_START
from timeframes.models import Timeframe
from timeframes.services import timeframes_cut_at_release
from users.models import PermissionKind

from .conftest import HOUR, YEAR_END, YEAR_START

pytestmark = pytest.mark.django_db

MIDDLE = MATCH_START + HOUR


@pytest.fixture
def day(setting, make_timeframe, alice, band, match):
    """carol on band: a morning session (over), the evening match, a late session (not started)."""
    return {
        "before": make_timeframe(
            band, match, MATCH_START - 3 * HOUR, MATCH_START - 2 * HOUR, actor=alice
        ),
        "evening": make_timeframe(band, match, actor=alice),
        "late": make_timeframe(band, match, MATCH_END + HOUR, MATCH_END + 2 * HOUR, actor=alice),
    }


def test_it_cuts_the_running_timeframe_when_the_device_is_released(api, day, alice, band, emitted):
    client = api(alice)
    with time_machine.travel(MIDDLE, tick=False):
        response = client.post(f"/api/v1/devices/{band.pk}/release-ownership/")

    assert response.status_code == 200, response.json()
    day["evening"].refresh_from_db()
    assert (day["evening"].start_time, day["evening"].end_time) == (MATCH_START, MIDDLE)
    assert not Timeframe.objects.filter(pk=day["late"].pk).exists()
    day["before"].refresh_from_db()
    assert day["before"].end_time == MATCH_START - 2 * HOUR
    assert [(e.name, e.timeframe_id) for e in emitted] == [
        ("timeframe-updated", day["evening"].pk),
        ("timeframe-deleted", day["late"].pk),
        ("ownership-ended", None),
    ]
    shown = client.get(f"/api/v1/timeframes/{day['evening'].pk}/").json()
    assert shown["end_time"] == "2020-05-30T21:00:00Z"


def test_it_deletes_a_timeframe_starting_at_the_release_instant(day, alice, band):
    timeframes_cut_at_release(manager=alice, device_id=band.pk, at=MATCH_START)

    assert not Timeframe.objects.filter(pk=day["evening"].pk).exists()
    assert not Timeframe.objects.filter(pk=day["late"].pk).exists()
    assert Timeframe.objects.filter(pk=day["before"].pk).exists()


def test_it_leaves_other_managers_and_devices_alone(
    day, make_timeframe, alice, trent, carol, bob, band, band2, match, grant, own
):
    own(band2, alice, YEAR_START)
    grant(bob, alice, PermissionKind.WRITE, YEAR_START, YEAR_END)
    on_band2 = make_timeframe(band2, match, athlete=bob, actor=alice)

    timeframes_cut_at_release(manager=alice, device_id=band2.pk, at=MIDDLE)
    timeframes_cut_at_release(manager=trent, device_id=band.pk, at=MIDDLE)

    on_band2.refresh_from_db()
    assert on_band2.end_time == MIDDLE
    day["evening"].refresh_from_db()
    assert day["evening"].end_time == MATCH_END
    assert Timeframe.objects.filter(pk=day["late"].pk).exists()


def test_a_released_device_no_longer_takes_new_timeframes(api, day, alice, carol, band, match):
    client = api(alice)
    with time_machine.travel(MIDDLE, tick=False):
        assert client.post(f"/api/v1/devices/{band.pk}/release-ownership/").status_code == 200
    response = client.post(
        "/api/v1/timeframes/",
        {
            "start_time": "2020-05-30T21:30:00Z",
            "end_time": "2020-05-30T21:45:00Z",
            "device": band.pk,
            "activity": match.pk,
            "athlete": carol.pk,
        },
    )
    assert response.status_code == 403
    assert "not owned" in response.json()["detail"]
