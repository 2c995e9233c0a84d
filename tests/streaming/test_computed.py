"""`/ws/v1/computed-data/{activity}/{timeframe}/` and `/ws/v1/computed-data/{activity}/`
(SPEC §8): who may stream (the computed-data rule of SPEC §7 plus READ covering now), the
snapshot then updates, timeframes created after connecting, and READ lost mid-stream."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.services import timeframe_recompute
from tests.streaming.conftest import (
    ACCESS_LOSS_SECONDS,
    HOUR,
    Client,
    ingest,
    now_second_ms,
    orm,
    packet_at,
    run,
)
from timeframes.services import timeframe_create
from users.models import PermissionKind
from users.services import permission_update

pytestmark = pytest.mark.django_db(transaction=True)


def timeframe_path(timeframe) -> str:
    return f"/ws/v1/computed-data/{timeframe.activity_id}/{timeframe.pk}/"


def activity_path(activity) -> str:
    return f"/ws/v1/computed-data/{activity.pk}/"


def play(device, seconds: int = 5) -> None:
    """`seconds` of the device's data, ending a few seconds ago."""
    t0 = now_second_ms() - (seconds + 5) * 1000
    ingest([packet_at(device.device_name, t0 + 1000 * s) for s in range(seconds)])


# --- one timeframe -------------------------------------------------------------------------------


def test_it_sends_the_empty_object_then_each_update(live_timeframe, reads, alice, token_for):
    token = token_for(alice)

    async def story():
        client = Client(timeframe_path(live_timeframe))
        assert await client.authorize(token) == {"message": "Authorized"}
        snapshot = await client.receive()
        await orm(play, live_timeframe.device)
        await orm(timeframe_recompute, timeframe_id=live_timeframe.pk)
        update = await client.receive()
        await orm(timeframe_recompute, timeframe_id=live_timeframe.pk)  # unchanged: nothing
        nothing = await client.quiet(0.5)
        await client.close()
        return snapshot, update, nothing

    snapshot, update, nothing = run(story)
    assert (snapshot["revision"], snapshot["samples"], snapshot["computed_at"]) == (0, 0, None)
    assert snapshot["status"] == "live"
    assert update["revision"] == 1
    assert update["samples"] > 0
    assert nothing


def test_its_snapshot_is_the_stored_object(live_timeframe, reads, alice, token_for, api):
    play(live_timeframe.device)
    timeframe_recompute(timeframe_id=live_timeframe.pk)
    over_rest = api(alice).get(f"/api/v1/timeframes/{live_timeframe.pk}/computed/").json()
    token = token_for(alice)

    async def story():
        client = Client(timeframe_path(live_timeframe))
        assert await client.authorize(token) == {"message": "Authorized"}
        snapshot = await client.receive()
        await client.close()
        return snapshot

    snapshot = run(story)
    assert snapshot == over_rest
    assert snapshot["revision"] == 1


@pytest.mark.parametrize("path", ["timeframe", "activity"])
def test_a_reorder_buffer_does_not_hold_the_snapshot_back(
    live_timeframe, reads, alice, token_for, path
):
    # The snapshot comes right after `Authorized`, not after `flush_timeout` (10 s here).
    token = token_for(alice)
    url = (
        timeframe_path(live_timeframe)
        if path == "timeframe"
        else activity_path(live_timeframe.activity)
    )

    async def story():
        client = Client(url)
        assert await client.authorize(token, {"buffer_size": 3}) == {"message": "Authorized"}
        snapshot = await client.receive(timeout=2.0)
        await client.close()
        return snapshot

    snapshot = run(story)
    document = snapshot if path == "timeframe" else snapshot["data"]
    assert document["revision"] == 0


def test_an_admin_streams_any_timeframe(live_timeframe, admin, token_for):
    token = token_for(admin)

    async def story():
        client = Client(timeframe_path(live_timeframe))
        result = await client.authorize(token), await client.receive()
        await client.close()
        return result

    authorized, snapshot = run(story)
    assert authorized == {"message": "Authorized"}
    assert snapshot["revision"] == 0


@pytest.mark.parametrize("case", ["unknown timeframe", "other activity", "unknown activity"])
def test_it_answers_4004_for_what_does_not_exist_or_does_not_match(
    live_timeframe, reads, alice, token_for, make_activity, case
):
    other = make_activity(name="Another match")
    path = {
        "unknown timeframe": f"/ws/v1/computed-data/{live_timeframe.activity_id}/987654/",
        "other activity": f"/ws/v1/computed-data/{other.pk}/{live_timeframe.pk}/",
        "unknown activity": f"/ws/v1/computed-data/987654/{live_timeframe.pk}/",
    }[case]
    token = token_for(alice)

    async def story():
        client = Client(path)
        result = await client.rejected(token)
        await client.close()
        return result

    assert run(story) == ({"message": "Not found"}, 4004)


def test_it_answers_4004_alike_for_other_peoples_timeframes(live_timeframe, mallory, token_for):
    token = token_for(mallory)

    async def story():
        client = Client(timeframe_path(live_timeframe))
        one = await client.rejected(token)
        await client.close()
        client = Client(f"/ws/v1/computed-data/{live_timeframe.activity_id}/987654/")
        other = await client.rejected(token)
        await client.close()
        return one, other

    one, other = run(story)
    assert one == other == ({"message": "Not found"}, 4004)


def test_it_answers_4003_to_the_owner_without_read(
    live_timeframe, grant, carol, alice, token_for, live_span
):
    # alice scheduled the timeframe (WRITE) and sees it, but carol never let her read it.
    start, end = live_span
    grant(carol, alice, PermissionKind.WRITE, start, end)
    token = token_for(alice)

    async def story():
        client = Client(timeframe_path(live_timeframe))
        result = await client.rejected(token)
        await client.close()
        return result

    assert run(story) == ({"message": "Forbidden"}, 4003)


def test_it_answers_4003_when_read_covers_the_timeframe_but_not_now(
    make_timeframe, match, vest, grant, carol, alice, token_for
):
    # Yesterday's session, readable over REST; live streaming needs READ covering now.
    yesterday = timezone.now() - 24 * HOUR
    timeframe = make_timeframe(vest, match, yesterday, yesterday + HOUR)
    grant(carol, alice, PermissionKind.READ, yesterday, yesterday + HOUR)
    token = token_for(alice)

    async def story():
        client = Client(timeframe_path(timeframe))
        result = await client.rejected(token)
        await client.close()
        return result

    assert run(story) == ({"message": "Forbidden"}, 4003)


def test_it_closes_4003_within_5_s_when_read_is_revoked(
    live_timeframe, reads, carol, alice, token_for
):
    token = token_for(alice)

    async def story():
        client = Client(timeframe_path(live_timeframe))
        assert await client.authorize(token) == {"message": "Authorized"}
        await client.receive()  # the snapshot
        await orm(permission_update, actor=carol, grant=reads, expiration_time=timezone.now())
        revoked = time.monotonic()
        answer = await client.receive(timeout=ACCESS_LOSS_SECONDS + 1)
        code = await client.closed()
        waited = time.monotonic() - revoked
        await client.close()
        return answer, code, waited

    answer, code, waited = run(story)
    assert (answer, code) == ({"message": "Forbidden"}, 4003)
    assert waited < ACCESS_LOSS_SECONDS


# --- the activity ----------------------------------------------------------------------------------


@pytest.fixture
def bib(streaming_db, make_device, own, alice):
    """A second device of alice's, for the timeframes created during a story."""
    device = make_device(device_name="a1b2c3d4e5f9", serial_number="ASI-0009")
    own(device, alice, timezone.now() - 2 * HOUR)
    return device


def test_the_activity_stream_sends_each_snapshot_then_updates(
    live_timeframe, reads, alice, token_for
):
    token = token_for(alice)

    async def story():
        client = Client(activity_path(live_timeframe.activity))
        assert await client.authorize(token) == {"message": "Authorized"}
        snapshot = await client.receive()
        await orm(play, live_timeframe.device)
        await orm(timeframe_recompute, timeframe_id=live_timeframe.pk)
        update = await client.receive()
        await client.close()
        return snapshot, update

    snapshot, update = run(story)
    assert snapshot["timeframe"] == update["timeframe"] == live_timeframe.pk
    assert snapshot["data"]["revision"] == 0
    assert update["data"]["revision"] == 1
    assert update["data"]["samples"] > 0


def test_the_activity_stream_picks_up_timeframes_created_after_connecting(
    live_timeframe, reads, bib, bob, grant, carol, alice, token_for, live_span
):
    start, end = live_span
    grant(bob, alice, PermissionKind.WRITE, start, end)  # bob lets alice schedule, not read
    token = token_for(alice)

    def schedule(athlete) -> int:
        device = bib if athlete == carol else bib_for_bob()
        return timeframe_create(
            actor=alice,
            start_time=start,
            end_time=end,
            device=device,
            activity=live_timeframe.activity,
            athlete=athlete,
        ).pk

    def bib_for_bob():
        from devices.models import Device, DeviceOwnership

        device = Device.objects.create(device_name="a1b2c3d4e5fa", serial_number="ASI-0010")
        DeviceOwnership.objects.create(device=device, manager=alice, start_time=start - HOUR)
        return device

    async def story():
        client = Client(activity_path(live_timeframe.activity))
        assert await client.authorize(token) == {"message": "Authorized"}
        first = await client.receive()
        bobs = await orm(schedule, bob)  # alice may not read bob's: skipped
        skipped = await client.quiet(0.7)
        carols = await orm(schedule, carol)
        second = await client.receive()
        await orm(timeframe_recompute, timeframe_id=bobs)
        bobs_update_skipped = await client.quiet(0.7)
        await orm(play, bib)
        await orm(timeframe_recompute, timeframe_id=carols)
        update = await client.receive()
        still_open = await client.quiet(2.5)  # a watch pass: bob's timeframe is no reason to close
        await client.close()
        return first, skipped, carols, second, bobs_update_skipped, update, still_open

    first, skipped, carols, second, bobs_update_skipped, update, still_open = run(story)
    assert first["timeframe"] == live_timeframe.pk
    assert skipped
    assert second == {"timeframe": carols, "data": second["data"]}
    assert second["data"]["revision"] in (0, 1)  # its first recompute may already be stored
    assert bobs_update_skipped
    assert update["timeframe"] == carols
    assert update["data"]["samples"] > 0
    assert still_open


def test_the_activity_stream_answers_4003_when_one_timeframe_is_not_readable(
    live_timeframe, reads, bib, bob, make_timeframe, alice, token_for
):
    make_timeframe(bib, live_timeframe.activity, athlete=bob)  # alice holds nothing on bob
    token = token_for(alice)

    async def story():
        client = Client(activity_path(live_timeframe.activity))
        result = await client.rejected(token)
        await client.close()
        return result

    assert run(story) == ({"message": "Forbidden"}, 4003)


@pytest.mark.parametrize("whose", ["alice's", "unknown"])
def test_the_activity_stream_answers_4004_alike(live_timeframe, mallory, token_for, whose):
    token = token_for(mallory)
    path = (
        activity_path(live_timeframe.activity)
        if whose == "alice's"
        else "/ws/v1/computed-data/987654/"
    )

    async def story():
        client = Client(path)
        result = await client.rejected(token)
        await client.close()
        return result

    assert run(story) == ({"message": "Not found"}, 4004)


def test_a_manager_with_read_streams_an_activity_he_does_not_own(
    live_timeframe, grant, carol, trent, token_for, live_span
):
    start, end = live_span
    grant(carol, trent, PermissionKind.READ, start - HOUR, end + timedelta(days=1))
    token = token_for(trent)

    async def story():
        client = Client(activity_path(live_timeframe.activity))
        result = await client.authorize(token), await client.receive()
        await client.close()
        return result

    authorized, snapshot = run(story)
    assert authorized == {"message": "Authorized"}
    assert snapshot["timeframe"] == live_timeframe.pk


def test_the_activity_stream_closes_4003_when_read_is_revoked(
    live_timeframe, reads, carol, alice, token_for
):
    token = token_for(alice)

    async def story():
        client = Client(activity_path(live_timeframe.activity))
        assert await client.authorize(token) == {"message": "Authorized"}
        await client.receive()
        await orm(permission_update, actor=carol, grant=reads, expiration_time=timezone.now())
        answer = await client.receive(timeout=ACCESS_LOSS_SECONDS + 1)
        code = await client.closed()
        await client.close()
        return answer, code

    assert run(story) == ({"message": "Forbidden"}, 4003)
