"""Deleting accounts: what goes with an athlete, and with a manager (SPEC §3)."""

from datetime import UTC, datetime

import pytest

from activities.events import ACTIVITY_DELETED
from activities.models import Activity
from devices.models import Device, DeviceOwnership
from timeframes.events import TIMEFRAME_DELETED
from timeframes.models import Timeframe
from users.events import USER_DELETING
from users.models import (
    AthletePermission,
    AthleteProfile,
    ManagerProfile,
    PermissionKind,
    Role,
    User,
)

pytestmark = pytest.mark.django_db

SINCE = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.fixture
def season(
    cast, alice, carol, bob, sybil, trent, grant, window, band, match, own, make_device,
    make_timeframe,
) -> dict:  # fmt: skip
    """alice owns a band and a match where carol and bob wore it; sybil shared READ to trent."""
    own(band, alice, SINCE)
    # Stored directly: bob wears a device nobody owns, and neither gave alice WRITE.
    frames = {
        "carol": make_timeframe(band, match, athlete=carol),
        "bob": make_timeframe(make_device(), match, athlete=bob),
    }
    derived = grant(
        carol, trent, PermissionKind.READ, *window, granted_by=sybil, derived_from=cast["share"]
    )
    return {"band": band, "match": match, "frames": frames, "derived": derived}


def test_it_deletes_an_athlete_with_grants_and_timeframes(api, season, carol, bob, emitted):
    carol_frame = season["frames"]["carol"]
    assert api(carol).delete("/api/v1/account/").status_code == 204
    assert not User.objects.filter(username="carol").exists()
    assert not AthleteProfile.objects.filter(user_id=carol.pk).exists()
    # Every permission of the cast was carol's, the derived one included.
    assert not AthletePermission.objects.exists()
    assert not Timeframe.objects.filter(pk=carol_frame.pk).exists()
    # The device, the activity and bob's timeframe stay.
    assert Device.objects.filter(pk=season["band"].pk).exists()
    assert Activity.objects.filter(pk=season["match"].pk).exists()
    assert Timeframe.objects.filter(athlete=bob).exists()
    # The apps' reactions run inside the announcement: a later listener hears them first.
    assert [(e.name, e.user_id, e.timeframe_id) for e in emitted] == [
        (TIMEFRAME_DELETED, None, carol_frame.pk),
        (USER_DELETING, carol.pk, None),
    ]


def test_it_deletes_a_manager_with_devices_activities_and_grants(
    api, season, alice, carol, make_user, emitted
):
    frank = make_user("frank", Role.ATHLETE, managed_by=alice)
    assert api(alice).delete("/api/v1/account/").status_code == 204

    assert not User.objects.filter(username="alice").exists()
    assert not ManagerProfile.objects.filter(user_id=alice.pk).exists()
    assert not DeviceOwnership.objects.filter(device=season["band"]).exists()
    assert Device.objects.filter(pk=season["band"].pk).exists()
    assert not Activity.objects.filter(pk=season["match"].pk).exists()
    assert not Timeframe.objects.exists()
    assert not AthletePermission.objects.filter(manager_id=alice.pk).exists()
    # trent's, sybil's and the derived one.
    assert AthletePermission.objects.filter(athlete=carol).count() == 3
    # The activity's events were recorded before it went.
    names = [e.name for e in emitted]
    assert names.count(TIMEFRAME_DELETED) == 2
    assert names[-2:] == [ACTIVITY_DELETED, USER_DELETING]
    # frank stays, no longer managed.
    frank.refresh_from_db()
    assert frank.athlete_profile.managed_by is None


def test_it_deletes_a_sharers_derived_grants_with_him(api, season, sybil):
    assert api(sybil).delete("/api/v1/account/").status_code == 204
    assert not AthletePermission.objects.filter(pk=season["derived"].pk).exists()


def test_it_lets_an_admin_delete_his_account(api, admin):
    assert api(admin).delete("/api/v1/account/").status_code == 204
    assert not User.objects.filter(pk=admin.pk).exists()
