"""The bounded send queue of a stream connection (SPEC §8: oldest dropped, counted) and the
transport backlog it waits on (daphne's Twisted transport buffers without bound, daphne #170)."""

import asyncio
import functools

from streaming.outbox import Outbox, backlog_wait, transport_backlog, transport_of


def test_it_keeps_order_and_drops_the_oldest_when_full():
    outbox = Outbox(maxlen=3)
    for frame in "abcde":
        outbox.put(frame)

    async def take_all() -> list[str]:
        return [await outbox.get() for _ in range(len(outbox))]

    assert asyncio.run(take_all()) == ["c", "d", "e"]
    assert outbox.dropped == 2


def test_a_getter_waits_for_the_next_frame():
    async def story() -> str:
        outbox = Outbox()
        getter = asyncio.create_task(outbox.get())
        await asyncio.sleep(0.01)
        assert not getter.done()
        outbox.put("late")
        return await asyncio.wait_for(getter, 1)

    assert asyncio.run(story()) == "late"


class TwistedLikeTransport:
    """The attributes of Twisted's `FileDescriptor` that `transport_backlog` reads."""

    def __init__(self, buffered: int, offset: int = 0, temp: int = 0) -> None:
        self.dataBuffer = b"x" * buffered
        self.offset = offset
        self._tempDataLen = temp
        self.disconnected = False


class DaphneLikeProtocol:
    def __init__(self, transport: object) -> None:
        self.transport = transport


async def handle_reply(protocol: object, message: dict) -> None:  # daphne's Server.handle_reply
    pass


def test_it_finds_the_transport_behind_daphnes_send():
    transport = TwistedLikeTransport(10)
    send = functools.partial(handle_reply, DaphneLikeProtocol(transport))
    assert transport_of(send) is transport
    assert transport_of(handle_reply) is None  # another server (or the test communicator)


def test_it_counts_what_the_transport_still_holds():
    assert transport_backlog(TwistedLikeTransport(1000, offset=400, temp=50)) == 650
    assert transport_backlog(None) == 0
    assert transport_backlog(object()) == 0


def test_the_sender_waits_while_the_transport_is_over_its_high_water_mark():
    transport = TwistedLikeTransport(1000)

    async def story() -> tuple[bool, bool]:
        waiting = asyncio.create_task(backlog_wait(transport, high_water=500))
        await asyncio.sleep(0.2)
        blocked = not waiting.done()
        transport.dataBuffer = b"x" * 100  # the client read: the kernel took the bytes
        await asyncio.wait_for(waiting, 1)
        return blocked, waiting.done()

    assert asyncio.run(story()) == (True, True)
