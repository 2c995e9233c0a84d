"""Channel-layer group names, shared by the publishers (ingestion, analytics) and the consumers.

Group names may hold ASCII letters, digits, hyphens, underscores and periods (< 100 chars).
"""

import asyncio
import logging
import time

logger = logging.getLogger(__name__)


def device_group(device_id: int) -> str:
    """The group of a device's preprocessed stream (SPEC §8 `/ws/v1/preprocessed-data/{device}/`)."""
    return f"preprocessed.device.{device_id}"


def timeframe_group(timeframe_id: int) -> str:
    """The group of a timeframe's computed stream (`/ws/v1/computed-data/{activity}/{timeframe}/`)."""
    return f"computed.timeframe.{timeframe_id}"


def activity_group(activity_id: int) -> str:
    """The group of an activity's computed stream (`/ws/v1/computed-data/{activity}/`): every
    computed update of its timeframes, and `timeframe.created` notices so a connected client
    sees timeframes created after it connected."""
    return f"computed.activity.{activity_id}"


# --- presence: which groups have a member ----------------------------------------------------------
#
# Publishing to a group nobody is in still costs the publisher a round trip per group
# (channels-redis prunes and reads the member set before it can tell), and most ingested devices
# have no stream subscriber. So the publisher asks first, in one round trip per Redis shard,
# which groups have a member, and sends (and builds) only those messages.
#
# The contract that keeps this correct — consumers of a group MUST follow it:
#   1. join the group (`group_add`) BEFORE reading anything from the database (a `since` backlog,
#      a snapshot), and
#   2. re-join before the layer's `group_expiry` (settings CHANNEL_GROUP_EXPIRY) runs out.
# The publisher checks presence after the data's commit. If the consumer's join came first, the
# check sees the member and the message goes out; if it came after, the commit preceded the join,
# so the consumer's database read (step 1) already holds the data. Either way nothing falls in
# between. The membership asked about is the channel layer's own (no second registry that could
# drift from it), with the layer's own expiry rule, so "has a member" means exactly "group_send
# would deliver to someone".


async def groups_with_members(layer: object, groups: list[str]) -> set[str]:
    """The subset of `groups` with at least one live member in `layer`.

    channels-redis: one pipelined ZCOUNT per shard over the layer's group keys, counting the
    members that `group_send` would not prune (joined within `group_expiry`). The in-memory
    layer: its group table. Another layer: every group (publish unconditionally).
    Raises what the layer raises (Redis down): the caller counts that as failed publishes.
    """
    from channels.layers import InMemoryChannelLayer
    from channels_redis.core import RedisChannelLayer

    if isinstance(layer, RedisChannelLayer):
        by_shard: dict[int, list[str]] = {}
        for group in groups:
            by_shard.setdefault(layer.consistent_hash(group), []).append(group)
        oldest = int(time.time()) - layer.group_expiry
        watched: set[str] = set()
        for shard, shard_groups in by_shard.items():
            pipe = layer.connection(shard).pipeline(transaction=False)
            for group in shard_groups:
                # Scores are join times; group_send prunes scores ≤ now - group_expiry.
                pipe.zcount(layer._group_key(group), f"({oldest}", "+inf")
            counts = await pipe.execute()
            watched.update(g for g, n in zip(shard_groups, counts, strict=True) if n)
        return watched
    if isinstance(layer, InMemoryChannelLayer):
        return {group for group in groups if layer.groups.get(group)}
    return set(groups)


# --- leaving groups when the layer failed --------------------------------------------------------

# Seconds between the attempts to leave a group after a failed `group_discard`.
LEAVE_RETRY_DELAYS = (1.0, 5.0, 15.0, 60.0, 120.0)
_leaving: set[asyncio.Task] = set()


def groups_leave_later(layer: object, channel: str, groups: list[str]) -> None:
    """Retry leaving `groups` with `channel` in the background (the layer failed just now).

    A member that is never removed stays until the layer's `group_expiry` (a day): every message
    to the group goes to its dead channel and the group counts as watched (`groups_with_members`).
    Meanwhile harmless — the layer drops what arrives for a closed channel
    (`streaming.layers.BatchedRedisChannelLayer.channel_closed`) — but wasteful, so retry.
    """
    task = asyncio.get_running_loop().create_task(_leave(layer, channel, list(groups)))
    _leaving.add(task)
    task.add_done_callback(_leaving.discard)


async def _leave(layer: object, channel: str, groups: list[str]) -> None:
    error: BaseException | None = None
    for delay in LEAVE_RETRY_DELAYS:
        await asyncio.sleep(delay)
        remaining = []
        for group in groups:
            try:
                await layer.group_discard(group, channel)
            except Exception as failure:
                error = failure
                remaining.append(group)
        groups = remaining
        if not groups:
            return
    logger.warning(
        "channel %s could not leave %d groups (%s); it stays a member until the layer's "
        "group_expiry: %r",
        channel,
        len(groups),
        ", ".join(groups[:5]),
        error,
    )
