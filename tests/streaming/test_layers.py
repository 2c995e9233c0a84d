"""`streaming.layers.BatchedRedisChannelLayer` against the real Redis of the test settings:
batches keep each channel's order, nothing is lost or doubled, groups and capacity behave as
channels-redis's, and a burst of group operations beyond the pool waits instead of failing."""

import asyncio
import contextlib
import uuid

from asgiref.sync import async_to_sync
from django.conf import settings

from streaming.layers import BatchedRedisChannelLayer


def _layer(**config: object) -> BatchedRedisChannelLayer:
    hosts = [{"address": settings.REDIS_URL, "socket_timeout": 15} | config.pop("host", {})]
    return BatchedRedisChannelLayer(hosts=hosts, prefix=f"test-{uuid.uuid4().hex[:8]}", **config)


def test_a_burst_is_received_in_batches_in_order_once() -> None:
    async def scenario() -> None:
        layer = _layer(receive_batch=7)
        channels = [await layer.new_channel() for _ in range(3)]
        group = "g"
        for channel in channels[:2]:
            await layer.group_add(group, channel)
        for i in range(40):
            await layer.group_send(group, {"type": "m", "i": i})
            await layer.send(channels[2], {"type": "m", "i": i})
        got = {c: [] for c in channels}

        async def read(channel: str) -> None:
            while len(got[channel]) < 40:
                got[channel].append((await layer.receive(channel))["i"])

        await asyncio.wait_for(asyncio.gather(*(read(c) for c in channels)), 10)
        assert all(values == list(range(40)) for values in got.values())
        await layer.flush()

    async_to_sync(scenario)()


def test_capacity_and_group_presence_are_channels_redis_s() -> None:
    async def scenario() -> None:
        layer = _layer(capacity=5)
        channel = await layer.new_channel()
        await layer.group_add("g", channel)
        for i in range(8):
            await layer.group_send("g", {"type": "m", "i": i})  # over capacity: newest dropped
        received = [(await layer.receive(channel))["i"] for _ in range(5)]
        assert received == [0, 1, 2, 3, 4]
        await layer.group_discard("g", channel)
        assert await layer.connection(0).zcard(layer._group_key("g")) == 0
        await layer.flush()

    async_to_sync(scenario)()


def test_many_group_operations_at_once_wait_for_a_pooled_connection() -> None:
    async def scenario() -> None:
        layer = _layer(host={"max_connections": 5})
        channels = [await layer.new_channel() for _ in range(300)]
        await asyncio.gather(*(layer.group_add("g", c) for c in channels))
        await asyncio.gather(*(layer.group_discard("g", c) for c in channels))
        assert await layer.connection(0).zcard(layer._group_key("g")) == 0
        assert layer.connection(0).connection_pool.max_connections == 5
        await layer.flush()

    async_to_sync(scenario)()


def test_a_closed_channel_s_messages_are_dropped_and_the_others_still_flow() -> None:
    async def scenario() -> None:
        layer = _layer()
        gone, alive = await layer.new_channel(), await layer.new_channel()
        for channel in (gone, alive):
            await layer.group_add("g", channel)
        # Both wait in `receive`, as consumers do; one closes, its receive is cancelled.
        waiting = asyncio.ensure_future(layer.receive(gone))
        reading = asyncio.ensure_future(layer.receive(alive))
        await asyncio.sleep(0.1)
        layer.channel_closed(gone, left_groups=False)  # it could not leave the group
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        for i in range(3):
            await layer.group_send("g", {"type": "m", "i": i})
        assert (await asyncio.wait_for(reading, 5))["i"] == 0
        assert [(await layer.receive(alive))["i"] for _ in range(2)] == [1, 2]
        assert gone not in layer.receive_buffer or layer.receive_buffer[gone].empty()
        await layer.flush()

    async_to_sync(scenario)()


def test_group_send_many_delivers_each_group_s_messages_in_order() -> None:
    async def scenario() -> None:
        layer = _layer(capacity=45)
        a, b, c = [await layer.new_channel() for _ in range(3)]
        await layer.group_add("one", a)
        await layer.group_add("one", b)
        await layer.group_add("two", c)
        for i in range(0, 40, 2):
            over = await layer.group_send_many(
                [
                    ("one", {"type": "m", "i": i}),
                    ("two", {"type": "m", "i": i}),
                    ("nobody", {"type": "m", "i": i}),
                    ("one", {"type": "m", "i": i + 1}),
                ]
            )
            # Three entries per call in the process's channel (a and b share one), 45 at most.
            assert over == (0 if i < 30 else 3)

        async def read(channel: str, count: int) -> list[int]:
            return [(await layer.receive(channel))["i"] for _ in range(count)]

        assert await read(a, 30) == list(range(30))
        assert await read(b, 30) == list(range(30))
        assert await read(c, 15) == list(range(0, 30, 2))
        assert layer.receive_buffer[a].empty()
        await layer.flush()

    async_to_sync(scenario)()
