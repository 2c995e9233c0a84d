"""Publishing to the channel layer: best effort, never the reason a write fails.

The database is the source of truth; the channel layer is at-most-once (channels-redis drops
messages for a full channel) and may be down. A publish that fails is logged and counted, and
the caller goes on: the data is committed, and a reconnecting stream client catches up from the
database (SPEC §8 `params.since`).

Ingestion publishes only to groups that have a member (`publish_watched`): most devices have
no subscriber, and asking once per request is far cheaper than a `group_send` per device. For a
subscriber that joins while data is being ingested to miss nothing, **every consumer joins its
group before it reads the database** (its `since` backlog or snapshot) and re-joins before the
layer's `group_expiry`; `streaming.groups.groups_with_members` explains why that is enough.
"""

import asyncio
import logging
from collections.abc import Callable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from asi_api.counters import Counter
from devices.ingestion import announcer
from devices.packets import samples_columns
from devices.samples import NewSamples
from streaming.groups import activity_group, device_group, groups_with_members, timeframe_group

logger = logging.getLogger(__name__)

PREPROCESSED_MESSAGE_TYPE = "preprocessed.packets"
COMPUTED_MESSAGE_TYPE = "computed.update"
TIMEFRAME_CREATED_MESSAGE_TYPE = "timeframe.created"

# The event loop the stream consumers of this process run on (daphne's). The in-memory layer of
# embedded mode lives on it and is not thread-safe: a publish from another thread (the embedded
# task runner) must run there, not in a loop of its own as `async_to_sync` would make.
_server_loop: asyncio.AbstractEventLoop | None = None


def loop_remember() -> None:
    """Called by each stream consumer on connect: remember the loop the consumers run on."""
    global _server_loop
    _server_loop = asyncio.get_running_loop()


# Publishes that failed in this process since it started (exposed for health/metrics).
publish_failures = Counter()


def publish(group: str, message: dict) -> bool:
    """Send `message` to `group` from sync code; False (logged, counted) when the layer fails."""
    return publish_many([(group, message)]) == 1


def publish_many(messages: list[tuple[str, dict]]) -> int:
    """Send each (group, message) from sync code, concurrently, in one hop to the event loop.

    Under daphne, `async_to_sync` runs the coroutine on the server's loop, where the layer's
    connections live: one hop per request instead of one per message (22 devices cost ~4 ms
    each one by one). Returns how many were sent; each failure is logged and counted.
    """
    return _send([(group, lambda m=message: m) for group, message in messages], watched_only=False)


def publish_watched(builders: list[tuple[str, Callable[[], dict]]]) -> int:
    """Send `build()` to each (group, build) whose group has a member; build only those.

    One round trip asks the layer which groups have a member (`streaming.groups.
    groups_with_members`, whose comment states the contract consumers follow so that nothing
    is missed); each `group_send`, even to an empty group, would cost two Redis round trips.
    Returns how many were sent; failures (a failed presence check counts once per group) are
    logged and counted.
    """
    return _send(builders, watched_only=True)


def _send(builders: list[tuple[str, Callable[[], dict]]], *, watched_only: bool) -> int:
    layer = get_channel_layer()
    if layer is None or not builders:
        return 0
    attempted = builders

    async def send_all() -> list:
        nonlocal attempted
        if watched_only:
            watched = await groups_with_members(layer, list({g for g, _ in builders}))
            attempted = [(g, build) for g, build in builders if g in watched]
        send_many = getattr(layer, "group_send_many", None)
        if send_many is not None and attempted:
            # streaming.layers: every group in two round trips, not four per group.
            try:
                await send_many([(group, build()) for group, build in attempted])
            except Exception as error:
                return [error] * len(attempted)
            return [None] * len(attempted)
        return await asyncio.gather(
            *(layer.group_send(group, build()) for group, build in attempted),
            return_exceptions=True,
        )

    try:
        if _in_memory_elsewhere(layer):
            outcomes = asyncio.run_coroutine_threadsafe(send_all(), _server_loop).result(10)
        elif announcer.owns_current_thread():
            # The ingestion announcer's own loop, where this thread's layer connections live.
            outcomes = announcer.loop.run_until_complete(send_all())
        else:
            outcomes = async_to_sync(send_all)()
    except Exception as error:
        outcomes = [error] * len(attempted)
    sent = 0
    for (group, _), outcome in zip(attempted, outcomes, strict=True):
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


def _in_memory_elsewhere(layer: object) -> bool:
    from channels.layers import InMemoryChannelLayer

    return (
        isinstance(layer, InMemoryChannelLayer)
        and _server_loop is not None
        and _server_loop.is_running()
        and asyncio._get_running_loop() is None  # a sync thread, not the loop's own
    )


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


def preprocessed_publish(new: list[NewSamples], names_by_id: dict[int, str]) -> None:
    """After an ingest commits: one message per watched device with its newly stored samples.

    Subscribed to `devices.ingestion` from `StreamingConfig.ready()`. A device whose group has
    no member gets nothing, and its message is not even built: see `streaming.groups` for the
    join-before-read contract that makes skipping safe for a subscriber that joins meanwhile.
    """

    def builder(device: NewSamples) -> Callable[[], dict]:
        def build() -> dict:
            return samples_message(
                device_id=device.device_id,
                device_name=names_by_id[device.device_id],
                channels=samples_columns(device.channels),
            )[1]

        return build

    publish_watched([(device_group(device.device_id), builder(device)) for device in new])


def computed_publish(stored: list) -> None:
    """After analytics stored computed objects: each to its timeframe's and its activity's
    stream groups (`computed.update`), only to groups with a member.

    Subscribed to `analytics.services.computed_stored_subscribe` from `StreamingConfig.ready()`;
    `stored` holds `ComputedStored(timeframe_id, activity_id, document)` items, after commit.
    """
    builders: list[tuple[str, Callable[[], dict]]] = []
    for item in stored:

        def build(item: object = item) -> dict:
            return {
                "type": COMPUTED_MESSAGE_TYPE,
                "timeframe_id": item.timeframe_id,
                "activity_id": item.activity_id,
                "document": item.document,
            }

        builders.append((timeframe_group(item.timeframe_id), build))
        builders.append((activity_group(item.activity_id), build))
    publish_watched(builders)


def timeframe_created_publish(event: object) -> None:
    """`timeframe-created` (ON_COMMIT reaction): tell the activity's streams, which pick the
    timeframe up if their user may read it (SPEC §8: timeframes created after connecting)."""

    def build() -> dict:
        return {
            "type": TIMEFRAME_CREATED_MESSAGE_TYPE,
            "timeframe_id": event.timeframe_id,
            "activity_id": event.activity_id,
        }

    publish_watched([(activity_group(event.activity_id), build)])
