"""`packets_ingest`: the one write path of device samples (the API, simulate_match, import_recording).

Validate the whole request first (devices.packets, vectorised), then one transaction stores
what is new (devices.samples.samples_store). Only after commit, the apps above subscribe
(`samples_stored_subscribe`, from their `AppConfig.ready()`: devices never imports them):
streaming publishes one channel-layer message per device with the newly stored samples,
analytics enqueues one task for the whole request. They run on the process's announcer thread,
so the answer does not wait for Redis. Neither the channel layer nor the broker being down fails
or loses an ingest: the samples are committed before either is tried; failures are logged and
counted.
"""

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

from asi_api.counters import Counter
from asi_api.scheduling import is_embedded
from devices.models import Device
from devices.packets import MAX_ERRORS, PacketsInvalid, ParsedPackets, packets_parse
from devices.samples import (
    Channel,
    DevicesChanged,
    NewSamples,
    StoreResult,
    channels_resolve,
    samples_store,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    packets: int
    samples: int  # newly stored
    duplicates: int  # already stored (or repeated within the request): ignored


def packets_ingest(*, body: object, now_ms: int | None = None) -> IngestResult:
    """Store the packets of one gateway request (SPEC §6); all or nothing.

    Raises `PacketsInvalid` (400, naming packet index, field and rule) before anything is
    stored. Idempotent per sample (device, channel, timestamp): the first write wins; a resend
    is counted in `duplicates`, stores nothing and publishes nothing.
    """
    parsed = packets_parse(body, now_ms=now_ms if now_ms is not None else int(time.time() * 1000))
    ids = _device_ids(parsed, cached=True)
    channels = channels_resolve({name: s.values.keys() for name, s in parsed.channels.items()})
    try:
        result = _store(parsed, ids, channels)
    except DevicesChanged:
        # A cached device was renamed or deleted meanwhile; the transaction rolled back.
        _device_ids_cache.clear()
        result = _store(parsed, _device_ids(parsed, cached=False), channels)
    return IngestResult(packets=parsed.count, samples=result.stored, duplicates=result.duplicates)


# device_name → id of devices ingested through this process. Devices are few (a club's) and
# rarely change; a stale entry cannot do harm: `samples_store` checks every id against its name
# in the request's transaction (in a round trip it makes anyway) and a mismatch is retried with
# fresh lookups. Unknown names are always asked for, so a new device works at once.
_device_ids_cache: dict[str, int] = {}
DEVICE_IDS_CACHE_MAX = 100_000


def _device_ids(parsed: ParsedPackets, *, cached: bool) -> dict[str, int]:
    """The ids of the request's devices; `PacketsInvalid` names each packet of an unknown one."""
    names = set(parsed.device_names)
    ids = {n: _device_ids_cache[n] for n in names if n in _device_ids_cache} if cached else {}
    missing = names - ids.keys()
    if missing:
        found = dict(
            Device.objects.filter(device_name__in=missing).values_list("device_name", "id")
        )
        if len(_device_ids_cache) + len(found) > DEVICE_IDS_CACHE_MAX:
            _device_ids_cache.clear()
        _device_ids_cache.update(found)
        ids.update(found)
    if len(ids) < len(names):
        errors: dict[str, list[str]] = {}
        for index, name in enumerate(parsed.device_names):
            if name not in ids and len(errors) < MAX_ERRORS:
                errors.setdefault(f"packets[{index}].device_name", ["Unknown device."])
        raise PacketsInvalid(errors)
    return ids


def _store(parsed: ParsedPackets, ids: dict[str, int], channels: dict[str, Channel]) -> StoreResult:
    """One transaction: store, and announce after commit (`DevicesChanged` rolls it back)."""
    names_by_id = {device_id: name for name, device_id in ids.items()}
    with transaction.atomic():
        result = samples_store(
            parsed=parsed,
            device_ids=[ids[n] for n in parsed.device_names],
            channels=channels,
            device_names=names_by_id,
        )
        if result.new:
            transaction.on_commit(lambda: _after_commit(result.new, names_by_id), robust=True)
    return result


SamplesStoredHandler = Callable[[list[NewSamples], dict[int, str]], None]
_subscribers: list[SamplesStoredHandler] = []


def samples_stored_subscribe(
    handler: SamplesStoredHandler, *, first: bool = False
) -> SamplesStoredHandler:
    """Call `handler(new_samples, device_names_by_id)` after every ingest that stored something.

    For the apps above devices (streaming, analytics), from their `AppConfig.ready()`: devices
    never imports them. Handlers run after commit, on the announcer thread (service mode) or
    inline (embedded mode); one that raises is logged and counted, and the others still run.
    `first`: run before the handlers subscribed so far (the live streams, whose latency counts
    from the ingest response, go before the analytics enqueue).
    """
    if handler not in _subscribers:
        if first:
            _subscribers.insert(0, handler)
        else:
            _subscribers.append(handler)
    return handler


# Announcements (stream publish, analytics enqueue) that failed or were dropped in this process.
announce_failures = Counter()


class Announcer:
    """One daemon thread per process that runs the after-commit announcements in order.

    An ingest's answer then waits for its commit only, not for the channel layer and the broker
    (22 device messages and a task cost ~13 ms of round trips per request). The thread owns an
    event loop (`loop`), so channel-layer connections persist across jobs. The queue is bounded:
    when Redis cannot keep up, the newest job is dropped and counted, like channels-redis does
    for a full channel; the samples are in the database whatever happens here.
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
                self._thread = threading.Thread(target=self._run, name="asi-announcer", daemon=True)
                self._thread.start()
        try:
            self.jobs.put_nowait(job)
        except queue.Full:
            announce_failures.increment()
            logger.warning("announcer queue full: an ingest announcement was dropped")

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every job submitted so far has run (tests; commands before they exit)."""
        if self._thread is None:
            return
        done = threading.Event()
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
                logger.exception("ingest announcement failed")
            finally:
                self.jobs.task_done()


announcer = Announcer()


def announcements_flush(timeout: float = 10.0) -> None:
    """Wait for the announcements submitted so far to have run."""
    announcer.flush(timeout)


def _after_commit(new: list[NewSamples], names_by_id: dict[int, str]) -> None:
    if is_embedded():
        # The in-memory channel layer lives on the server's event loop: publish from here
        # (async_to_sync reaches that loop); tasks go to the embedded runner anyway.
        _announce(new, names_by_id)
    else:
        announcer.submit(lambda: _announce(new, names_by_id))


def _announce(new: list[NewSamples], names_by_id: dict[int, str]) -> None:
    for handler in list(_subscribers):
        try:
            handler(new, names_by_id)
        except Exception:
            announce_failures.increment()
            logger.warning(
                "after-ingest handler %s failed",
                getattr(handler, "__qualname__", handler),
                exc_info=True,
            )
