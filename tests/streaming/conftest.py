"""The streams of SPEC §8 at consumer level: Channels' `WebsocketCommunicator` against the real
ASGI application, the real channel layer (Redis) and PostgreSQL.

Tests are plain functions that run one coroutine each (`run`); ORM work inside goes through
`orm` (thread-sensitive `sync_to_async`: the test's own thread and connection). Tests use
`transaction=True`: the consumers read in threads of their own, which must see the commits.

The scene: `vest`, owned by alice since an hour ago; `handed`, owned by trent before alice; and
the match: alice's activity with carol's timeframe on the vest, over [an hour ago, in an hour).
"""

import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.utils import timezone

from activities.default_schemas import default_schemas_install
from activities.models import JsonSchema
from asi_api.asgi import application
from devices.ingestion import announcements_flush, packets_ingest
from devices.models import Device
from devices.samples import channels_cache_clear
from timeframes.models import Timeframe
from users.models import PermissionKind

HOUR = timedelta(hours=1)
# SPEC §8: access lost while streaming closes within 5 s.
ACCESS_LOSS_SECONDS = 5.0


def run(coroutine_function: Callable[[], Awaitable[object]]) -> object:
    return async_to_sync(coroutine_function)()


def orm(func: Callable, *args, **kwargs) -> Awaitable:
    return sync_to_async(func)(*args, **kwargs)


def ingest(packets: list[dict]) -> dict:
    """Store packets as a gateway's request would, and wait until they are announced."""
    result = packets_ingest(body={"packets": packets})
    announcements_flush()
    return {"samples": result.samples, "duplicates": result.duplicates}


class Client:
    """A stream client: a `WebsocketCommunicator` with the SPEC §8 handshake."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.communicator = WebsocketCommunicator(application, path)

    async def open(self) -> dict:
        connected, _ = await self.communicator.connect()
        assert connected
        return await self.receive()

    async def authorize(self, token: str, params: dict | None = None, **extra) -> dict:
        """Open, send the first message and return the server's answer to it."""
        assert await self.open() == {"message": "Authorization needed"}
        first = {"token": token, **extra}
        if params is not None:
            first["params"] = params
        await self.communicator.send_json_to(first)
        return await self.receive()

    async def send_text(self, text: str) -> None:
        await self.communicator.send_to(text_data=text)

    async def receive(self, timeout: float = 5.0) -> dict:
        output = await self.communicator.receive_output(timeout)
        assert output["type"] == "websocket.send", output
        import json

        return json.loads(output["text"])

    async def closed(self, timeout: float = 5.0) -> int:
        """The close code the server closes with next (data messages before it are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            output = await self.communicator.receive_output(max(deadline - time.monotonic(), 0))
            if output["type"] == "websocket.close":
                return output.get("code")

    async def rejected(self, token: str, params: dict | None = None, **extra) -> tuple[dict, int]:
        """(the server's last message, close code) for a first message that fails."""
        answer = await self.authorize(token, params, **extra)
        return answer, await self.closed()

    async def quiet(self, seconds: float = 0.5) -> bool:
        return await self.communicator.receive_nothing(seconds)

    async def drain(self, quiet_for: float = 1.0) -> list[dict]:
        """Every message until none came for `quiet_for` seconds."""
        # Not `receive` with a timeout: the communicator cancels the application on a timeout.
        messages = []
        while not await self.communicator.receive_nothing(quiet_for):
            messages.append(await self.receive())
        return messages

    async def close(self) -> None:
        await self.communicator.disconnect()


@pytest.fixture
def streaming_db(transactional_db):
    """The database of a `transaction=True` story, with the shipped JSON schemas (an earlier
    such test's flush removed the rows their migration installed)."""
    default_schemas_install(JsonSchema)
    yield
    channels_cache_clear()


@pytest.fixture
def tennis(streaming_db) -> JsonSchema:
    return JsonSchema.objects.get(name="tennis", version=1)


@pytest.fixture
def params_schema(streaming_db) -> JsonSchema:
    return JsonSchema.objects.get(name="timeframe-analytics-params", version=1)


@pytest.fixture(autouse=True)
def _stream_connections_closed():
    """Close the database connections of the streams' threads after each test.

    Channels' test communicator turns `close_old_connections` into a no-op while it runs the
    application (channels.testing.application), so they would outlive the test database.
    """
    yield
    from streaming.consumers import _executor

    workers = _executor._max_workers
    barrier = threading.Barrier(workers)

    def close() -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(2)  # one job per thread
        connections.close_all()

    for future in [_executor.submit(close) for _ in range(workers)]:
        future.result(10)


@pytest.fixture
def vest(streaming_db, make_device, own, alice) -> Device:
    device = make_device(device_name="a1b2c3d4e5f6", serial_number="ASI-0001")
    own(device, alice, timezone.now() - HOUR)
    return device


@pytest.fixture
def handed(streaming_db, make_device, own, alice, trent) -> Device:
    """trent owned it until yesterday; alice owns it since."""
    device = make_device(device_name="a1b2c3d4e5f7", serial_number="ASI-0002")
    now = timezone.now()
    own(device, trent, now - 48 * HOUR, now - 24 * HOUR)
    own(device, alice, now - 24 * HOUR)
    return device


@pytest.fixture
def live_span():
    now = timezone.now()
    return now - HOUR, now + HOUR


@pytest.fixture
def reads(grant, carol, alice, live_span):
    """carol lets alice READ (and WRITE) over the whole day around the match."""
    start, end = live_span
    grant(carol, alice, PermissionKind.WRITE, start - HOUR, end + HOUR)
    return grant(carol, alice, PermissionKind.READ, start - HOUR, end + HOUR)


@pytest.fixture
def live_timeframe(make_timeframe, match, vest, live_span) -> Timeframe:
    """carol wears the vest in alice's match, from an hour ago to an hour from now."""
    start, end = live_span
    return make_timeframe(vest, match, start, end)


def packet_at(device_name: str, t0: int, fixes: int = 10) -> dict:
    from tests.devices.packets_factory import packet

    return packet(device_name, t0, fixes=fixes)


def now_second_ms() -> int:
    return int(time.time()) * 1000
