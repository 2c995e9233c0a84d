"""`/ws/v1/preprocessed-data/{device}/` (SPEC §8): who may stream, what arrives, reordering,
resume with `since`, and the stream ending when access ends."""

import random
import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken

from devices.services import ownership_release
from tests.streaming.conftest import (
    ACCESS_LOSS_SECONDS,
    Client,
    ingest,
    now_second_ms,
    orm,
    packet_at,
    run,
)

pytestmark = pytest.mark.django_db(transaction=True)


def path_of(device) -> str:
    return f"/ws/v1/preprocessed-data/{device.pk}/"


def gnss_stamps(packets: list[dict]) -> list[int]:
    return [t for p in packets for t in p.get("gnss", {}).get("timestamp", [])]


def test_it_streams_each_new_packet_to_the_owner(vest, alice, token_for):
    token = token_for(alice)
    t0 = now_second_ms() - 30_000
    sent = [packet_at(vest.device_name, t0 + 1000 * s) for s in range(3)]

    async def story():
        client = Client(path_of(vest))
        assert await client.authorize(token) == {"message": "Authorized"}
        await orm(ingest, sent)
        received = [await client.receive() for _ in range(3)]
        again = await orm(ingest, sent)  # a resend stores nothing, so nothing goes out
        nothing_more = await client.quiet(0.5)
        await client.close()
        return received, again, nothing_more

    received, again, nothing_more = run(story)
    assert received == sent  # one message per packet, the SPEC §6 shape, as ingested
    assert again == {"samples": 0, "duplicates": 36}
    assert nothing_more


def test_it_lets_an_admin_stream_any_device(vest, admin, token_for):
    token = token_for(admin)
    t0 = now_second_ms() - 5_000

    async def story():
        client = Client(path_of(vest))
        assert await client.authorize(token) == {"message": "Authorized"}
        await orm(ingest, [packet_at(vest.device_name, t0)])
        received = await client.receive()
        await client.close()
        return received

    assert run(story)["gnss"]["timestamp"][0] == t0


@pytest.mark.parametrize("who", ["mallory", "unknown"])
def test_it_answers_4004_alike_for_unknown_and_other_peoples_devices(vest, mallory, token_for, who):
    token = token_for(mallory)
    path = path_of(vest) if who == "mallory" else "/ws/v1/preprocessed-data/987654/"

    async def story():
        client = Client(path)
        result = await client.rejected(token)
        await client.close()
        return result

    assert run(story) == ({"message": "Not found"}, 4004)


def test_it_answers_4003_to_a_past_owner_who_sees_the_device(handed, trent, token_for):
    token = token_for(trent)

    async def story():
        client = Client(path_of(handed))
        result = await client.rejected(token)
        await client.close()
        return result

    assert run(story) == ({"message": "Forbidden"}, 4003)


def test_it_reorders_shuffled_packets_with_a_buffer(vest, alice, token_for):
    token = token_for(alice)
    t0 = now_second_ms() - 60_000
    sent = [packet_at(vest.device_name, t0 + 1000 * s) for s in range(20)]
    shuffled = sent[:]
    random.Random(7).shuffle(shuffled)

    async def story():
        client = Client(path_of(vest))
        params = {"buffer_size": 20, "flush_timeout": 22}
        assert await client.authorize(token, params) == {"message": "Authorized"}
        for p in shuffled:  # one request per packet, in the wrong order
            await orm(ingest, [p])
        held = await client.quiet(0.5)  # 20 held, none released yet
        await orm(ingest, [packet_at(vest.device_name, t0 + 20_000)])
        first = await client.receive()
        await client.close()
        return held, first

    held, first = run(story)
    assert held
    assert first == sent[0]


def test_it_flushes_the_buffer_after_flush_timeout_of_silence(vest, alice, token_for):
    token = token_for(alice)
    t0 = now_second_ms() - 60_000
    sent = [packet_at(vest.device_name, t0 + 1000 * s) for s in (2, 0, 1)]

    async def story():
        client = Client(path_of(vest))
        params = {"buffer_size": 5, "flush_timeout": 7}
        assert await client.authorize(token, params) == {"message": "Authorized"}
        await orm(ingest, sent)  # one request, three packets out of order
        started = time.monotonic()
        first = await client.receive(timeout=10)
        waited = time.monotonic() - started
        rest = [await client.receive(), await client.receive()]
        await client.close()
        return waited, [first, *rest]

    waited, received = run(story)
    assert 6.5 <= waited < 8.5
    assert [p["gnss"]["timestamp"][0] for p in received] == [t0, t0 + 1000, t0 + 2000]


def test_it_drops_older_packets_with_drop_older(vest, alice, token_for):
    token = token_for(alice)
    t0 = now_second_ms() - 60_000

    async def story():
        client = Client(path_of(vest))
        assert await client.authorize(token, {"drop_older": True}) == {"message": "Authorized"}
        await orm(ingest, [packet_at(vest.device_name, t0 + 5000)])
        newer = await client.receive()
        await orm(ingest, [packet_at(vest.device_name, t0)])  # older than what went out
        dropped = await client.quiet(0.5)
        await orm(ingest, [packet_at(vest.device_name, t0 + 6000)])
        newest = await client.receive()
        await client.close()
        return newer, dropped, newest

    newer, dropped, newest = run(story)
    assert newer["gnss"]["timestamp"][0] == t0 + 5000
    assert dropped
    assert newest["gnss"]["timestamp"][0] == t0 + 6000


# --- resume ------------------------------------------------------------------------------------


def test_it_replays_what_was_stored_after_since_then_goes_on_live(vest, alice, token_for):
    token = token_for(alice)
    t0 = now_second_ms() - 120_000
    before = [packet_at(vest.device_name, t0 + 1000 * s) for s in range(10)]
    ingest(before)
    since = t0 + 4_550  # inside the 5th packet: its later fixes come again, the earlier not

    async def story():
        client = Client(path_of(vest))
        assert await client.authorize(token, {"since": since}) == {"message": "Authorized"}
        backlog = [await client.receive() for _ in range(6)]
        await orm(ingest, [packet_at(vest.device_name, t0 + 10_000)])
        live = await client.receive()
        await client.close()
        return backlog, live

    backlog, live = run(story)
    assert gnss_stamps(backlog) == [t for t in gnss_stamps(before) if t > since]
    assert backlog[1:] == before[5:]  # whole seconds come back in the packet shape
    assert live["gnss"]["timestamp"][0] == t0 + 10_000


def test_it_replays_at_most_ten_minutes_and_nothing_from_the_future(vest, alice, token_for):
    token = token_for(alice)
    now = now_second_ms()
    old = packet_at(vest.device_name, now - 11 * 60_000)
    recent = packet_at(vest.device_name, now - 9 * 60_000)
    ingest([old, recent])

    async def story(since: int) -> list[dict]:
        client = Client(path_of(vest))
        assert await client.authorize(token, {"since": since}) == {"message": "Authorized"}
        received = await client.drain(0.7)
        await client.close()
        return received

    async def from_long_ago() -> list[dict]:
        return await story(0)

    async def from_the_future() -> list[dict]:
        return await story(now + 3_600_000)

    assert run(from_long_ago) == [recent]
    assert run(from_the_future) == []


def test_it_replays_nothing_from_before_the_owners_period(handed, alice, token_for):
    token = token_for(alice)
    now = now_second_ms()
    ownership_start = now - 24 * 3_600_000
    trents = packet_at(handed.device_name, ownership_start - 120_000)
    alices = packet_at(handed.device_name, now - 60_000)
    ingest([trents, alices])

    async def story():
        client = Client(path_of(handed))
        assert await client.authorize(token, {"since": 0}) == {"message": "Authorized"}
        received = await client.drain(0.7)
        # Late data of trent's period arriving now is not alice's either.
        await orm(ingest, [packet_at(handed.device_name, ownership_start - 60_000)])
        late = await client.quiet(0.7)
        await client.close()
        return received, late

    received, late = run(story)
    # Only alice's (the last 10 minutes of it; trent's data is 24 h old anyway).
    assert received == [alices]
    assert late


def test_a_client_reconnecting_mid_match_loses_nothing_and_gets_nothing_twice(
    vest, alice, token_for
):
    """The seam: ingestion runs on while the client reconnects with `since` = the last sample
    it had; what it gets across both connections is exactly what was ingested, once."""
    token = token_for(alice)
    t0 = now_second_ms() - 300_000
    match = [packet_at(vest.device_name, t0 + 1000 * s) for s in range(120)]
    ingested = threading.Event()

    def gateway() -> None:
        for second in range(0, 120, 2):  # a request every ~20 ms, two packets each
            ingest(match[second : second + 2])
            time.sleep(0.02)
        ingested.set()

    async def story():
        first = Client(path_of(vest))
        assert await first.authorize(token) == {"message": "Authorized"}
        runner = threading.Thread(target=gateway)
        runner.start()
        before = [await first.receive() for _ in range(15)]
        await first.close()  # the connection drops mid-match
        since = max(gnss_stamps(before))
        second = Client(path_of(vest))
        assert await second.authorize(token, {"since": since}) == {"message": "Authorized"}
        after = []
        while not ingested.is_set() or not await second.quiet(0.05):
            if not await second.quiet(0):
                after.append(await second.receive())
        after += await second.drain(1.0)
        await second.close()
        runner.join()
        return before, after

    before, after = run(story)
    received = gnss_stamps(before) + gnss_stamps(after)
    assert len(after) > 10, "the reconnection should happen while the match goes on"
    assert received == gnss_stamps(match)  # every fix, once, in order


# --- access lost while streaming -----------------------------------------------------------------


def test_it_closes_4003_within_5_s_when_the_owner_releases_the_device(vest, alice, token_for):
    token = token_for(alice)

    async def story():
        client = Client(path_of(vest))
        assert await client.authorize(token) == {"message": "Authorized"}
        await orm(ownership_release, manager=alice, device=vest)
        released = time.monotonic()
        answer = await client.receive(timeout=ACCESS_LOSS_SECONDS + 1)
        code = await client.closed()
        waited = time.monotonic() - released
        await client.close()
        return answer, code, waited

    answer, code, waited = run(story)
    assert (answer, code) == ({"message": "Forbidden"}, 4003)
    assert waited < ACCESS_LOSS_SECONDS


@pytest.mark.parametrize("how", ["revoked", "expired"])
def test_it_closes_4001_within_5_s_when_the_token_dies(vest, alice, token_for, how):
    token = token_for(alice)

    def kill() -> None:
        if how == "revoked":
            from oauth2_provider.models import revoke_access_token

            revoke_access_token(AccessToken.objects.get(token=token))
        else:
            AccessToken.objects.filter(token=token).update(expires=timezone.now())

    async def story():
        client = Client(path_of(vest))
        assert await client.authorize(token) == {"message": "Authorized"}
        await orm(kill)
        killed = time.monotonic()
        answer = await client.receive(timeout=ACCESS_LOSS_SECONDS + 1)
        code = await client.closed()
        waited = time.monotonic() - killed
        await client.close()
        return answer, code, waited

    answer, code, waited = run(story)
    assert (answer, code) == ({"message": "Unauthorized"}, 4001)
    assert waited < ACCESS_LOSS_SECONDS


def test_it_closes_4001_when_the_token_expires_by_itself(vest, alice, token_for):
    token = token_for(alice)
    AccessToken.objects.filter(token=token).update(expires=timezone.now() + timedelta(seconds=2))

    async def story():
        client = Client(path_of(vest))
        assert await client.authorize(token) == {"message": "Authorized"}
        answer = await client.receive(timeout=2 + ACCESS_LOSS_SECONDS)
        code = await client.closed()
        await client.close()
        return answer, code

    assert run(story) == ({"message": "Unauthorized"}, 4001)


def test_a_stream_rejoins_its_group_before_the_layer_forgets_it(
    vest, alice, token_for, monkeypatch
):
    """channels-redis forgets a member `group_expiry` after it joined: each pass of the watcher
    re-joins once `rejoin_seconds` have passed (here: at once), refreshing the join time."""
    from channels.layers import get_channel_layer

    from streaming import watch
    from streaming.groups import device_group

    monkeypatch.setattr(watch, "rejoin_seconds", lambda: 0.0)
    token = token_for(alice)

    async def joined_at() -> float:
        layer = get_channel_layer()
        key = layer._group_key(device_group(vest.pk))
        members = await layer.connection(layer.consistent_hash(device_group(vest.pk))).zrange(
            key, 0, -1, withscores=True
        )
        return max(score for _, score in members)

    async def story():
        client = Client(path_of(vest))
        assert await client.authorize(token) == {"message": "Authorized"}
        first = await joined_at()
        await client.quiet(watch.CHECK_SECONDS * 2 + 0.5)
        later = await joined_at()
        await client.close()
        return first, later

    first, later = run(story)
    assert later >= first + 2
