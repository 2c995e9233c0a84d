"""A stream connection's bounded send queue (SPEC §8: oldest dropped, counted).

Messages for one socket go through an `Outbox` and one sender task. The consumer's handlers
only append (they never wait on the socket), so the consumer keeps draining its channel-layer
channel whatever the client does: a client that stops reading loses its own oldest messages
and nobody else's (channels-redis would otherwise fill that channel and drop the *newest*).

daphne's `send` never waits either: it hands the frame to Twisted, which buffers without bound
for a client that does not read (daphne #170). So the sender also looks at what the socket's
transport still holds (`transport_backlog`) and waits while that is over `HIGH_WATER_BYTES`;
meanwhile the outbox fills and drops its oldest. What one non-reading client can cost the
server is then bounded: the kernel's socket buffers, `HIGH_WATER_BYTES` plus one message in
Twisted, and `OUTBOX_MAX` messages here — until daphne's ping timeout closes the socket.
"""

import asyncio
import functools
from collections import deque

# Messages queued per connection: a few seconds of the busiest stream (an activity stream of
# 22 timeframes updating once a second) — more would only be stale by the time it is read.
OUTBOX_MAX = 200
# Bytes the transport may hold for a socket before the sender waits.
HIGH_WATER_BYTES = 256 * 1024
BACKLOG_POLL_SECONDS = 0.05


class Outbox:
    """FIFO of frames for one socket; when full, the oldest frame is dropped and counted."""

    def __init__(self, maxlen: int = OUTBOX_MAX) -> None:
        self.maxlen = maxlen
        self.dropped = 0
        self._frames: deque[str] = deque()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._frames)

    def put(self, frame: str) -> None:
        if len(self._frames) >= self.maxlen:
            self._frames.popleft()
            self.dropped += 1
        self._frames.append(frame)
        self._ready.set()

    def clear(self) -> None:
        self._frames.clear()

    async def get(self) -> str:
        while not self._frames:
            self._ready.clear()
            await self._ready.wait()
        return self._frames.popleft()


def transport_of(send: object) -> object | None:
    """The Twisted transport behind daphne's ASGI `send`, or None under another server.

    daphne gives each application `functools.partial(server.handle_reply, protocol)`; the
    protocol's `transport` is the socket's Twisted transport. Anything else (the test
    communicator, another ASGI server) has no transport to look at.
    """
    if isinstance(send, functools.partial) and send.args:
        return getattr(send.args[0], "transport", None)
    return None


def transport_backlog(transport: object | None) -> int:
    """Bytes written to `transport` and not yet handed to the kernel (0 when unknown).

    Twisted's `FileDescriptor` keeps them in `dataBuffer` (from `offset` on) and in
    `_tempDataBuffer` (`_tempDataLen` bytes); a TLS wrapper is not looked into.
    """
    if transport is None:
        return 0
    try:
        held = len(transport.dataBuffer) - transport.offset + transport._tempDataLen
    except (AttributeError, TypeError):
        return 0
    return max(held, 0)


async def backlog_wait(transport: object | None, high_water: int = HIGH_WATER_BYTES) -> None:
    """Return once `transport` holds at most `high_water` bytes (at once when unknown)."""
    while transport_backlog(transport) > high_water:
        if getattr(transport, "disconnected", False):
            return
        await asyncio.sleep(BACKLOG_POLL_SECONDS)
