"""Publishing to the channel layer: best effort, never the reason a write fails.

The database is the source of truth; the channel layer is at-most-once (channels-redis drops
messages for a full channel) and may be down. A publish that fails is logged and counted, and
the caller goes on: the data is committed, and a reconnecting stream client catches up from the
database (SPEC §8 `params.since`).
"""

import asyncio
import logging
import queue
import threading
from collections.abc import Callable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from streaming.groups import device_group

logger = logging.getLogger(__name__)

PREPROCESSED_MESSAGE_TYPE = "preprocessed.packets"


class _Counter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def increment(self) -> None:
        with self._lock:
            self.value += 1


# Publishes that failed in this process since it started (exposed for health/metrics).
publish_failures = _Counter()


class Publisher:
    """One daemon thread per process that runs after-commit announcements in order.

    A request's answer then waits for its commit only, not for the channel layer and the broker
    (22 device messages and a task cost ~13 ms of round trips per request). The thread owns an
    event loop, so the channel layer's connections persist across jobs. The queue is bounded:
    when the layer cannot keep up, the newest job is dropped and counted, like channels-redis
    does for a full channel. Not used in embedded mode, whose in-memory layer lives on the
    server's own event loop (see `announce`).
    """

    def __init__(self, maxsize: int = 2000) -> None:
        self.jobs: queue.Queue[Callable[[], object]] = queue.Queue(maxsize=maxsize)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def owns_current_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def submit(self, job: Callable[[], object]) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="asi-publisher", daemon=True)
                self._thread.start()
        try:
            self.jobs.put_nowait(job)
        except queue.Full:
            publish_failures.increment()
            logger.warning("publisher queue full: an announcement was dropped")

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every submitted job has run (tests, and commands before they exit)."""
        done = threading.Event()
        if self._thread is None:
            return
        self.submit(done.set)
        done.wait(timeout)

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        while True:
            job = self.jobs.get()
            try:
                job()
            except Exception:
                logger.exception("after-commit announcement failed")
            finally:
                self.jobs.task_done()


_publisher = Publisher()


def announce(job: Callable[[], object]) -> None:
    """Run `job` (publishing, enqueueing) off the request: on the publisher thread in service
    mode, inline in embedded mode (the in-memory layer must be used from the server's loop)."""
    from django.conf import settings

    if settings.EMBEDDED_BROKER:
        job()
    else:
        _publisher.submit(job)


def announcements_flush(timeout: float = 10.0) -> None:
    """Wait for the announcements submitted so far to have run."""
    _publisher.flush(timeout)


def publish(group: str, message: dict) -> bool:
    """Send `message` to `group` from sync code; False (logged, counted) when the layer fails."""
    return publish_many([(group, message)]) == 1


def publish_many(messages: list[tuple[str, dict]]) -> int:
    """Send each (group, message) from sync code, concurrently, in one hop to the event loop.

    Under daphne, `async_to_sync` runs the coroutine on the server's loop, where the layer's
    connections live: one hop per request instead of one per message (22 devices cost ~4 ms
    each one by one). Returns how many were sent; each failure is logged and counted.
    """
    layer = get_channel_layer()
    if layer is None or not messages:
        return 0

    async def send_all() -> list:
        return await asyncio.gather(
            *(layer.group_send(group, message) for group, message in messages),
            return_exceptions=True,
        )

    try:
        if _publisher.owns_current_thread():
            outcomes = _publisher.loop.run_until_complete(send_all())
        else:
            outcomes = async_to_sync(send_all)()
    except Exception as error:
        outcomes = [error] * len(messages)
    sent = 0
    for (group, _), outcome in zip(messages, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            publish_failures.increment()
            logger.warning(
                "channel layer publish to %s failed (%d so far): %r",
                group,
                publish_failures.value,
                outcome,
            )
        else:
            sent += 1
    return sent


def samples_message(
    *, device_id: int, device_name: str, channels: dict[str, dict[str, list]]
) -> tuple[str, dict]:
    """The one message carrying a request's newly stored samples of one device.

    Columnar and cheap to build: `channels` maps a channel to {"timestamp": [...], field: [...]}
    (sorted by time; None where a reading lacks the field). The stream consumer regroups them
    into SPEC §6 packets with `devices.packets.packets_build` (`samples_message_packets`), so the
    cost is paid per subscriber that exists, not by every ingest request.
    """
    return (
        device_group(device_id),
        {
            "type": PREPROCESSED_MESSAGE_TYPE,
            "device_id": device_id,
            "device_name": device_name,
            "channels": channels,
        },
    )
