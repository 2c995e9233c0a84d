"""The channel layer of service mode: channels-redis, receiving a batch per round trip.

channels-redis keeps every message for the consumers of one process in one sorted set (the
process's `specific.<prefix>!` channel) and its `receive` takes them out one at a time: a Lua
cleanup script, `BZPOPMIN` and a `ZADD` to the in-flight backup, three round trips per message,
run one after the other by whichever consumer holds the process's receive lock. An ingest
request fans out at once (one message per watched device, per timeframe, per activity), so the
last message of a burst waited for all the round trips of those before it: with 100
subscribers under load that was most of the preprocessed latency (p50 52 ms, p99 148 ms).

`BatchedRedisChannelLayer` changes only how a process-specific channel is read: one Lua script
puts back what an interrupted receive left in the backup (as channels-redis's cleanup does),
pops up to `receive_batch` messages, oldest first, and copies them to the backup; when there is
none, it blocks in `BZPOPMIN` as channels-redis does. The popped messages go to the consumers'
per-channel buffers in the order they were sent. Everything else is channels-redis's own:
sending, groups and their expiry (so `streaming.groups.groups_with_members` still holds),
capacity per channel (the newest dropped when full, `ChannelFull`), message expiry, the
bounded per-channel receive buffers (`capacity`, the oldest dropped) and at-most-once
delivery.

Connections: channels-redis builds a redis-py `ConnectionPool`, which *raises* ("Too many
connections") past `max_connections` (redis-py 8 caps it at 100): when 1,000 sockets closed at
once, ~890 `group_discard` calls failed and their members stayed in the groups until
`group_expiry`. A host given by `address` gets a `BlockingConnectionPool` here instead, of
`max_connections` (settings CHANNEL_REDIS_MAX_CONNECTIONS) connections per process and event
loop: a burst waits up to `pool_timeout` seconds for a free connection instead of failing.
"""

import asyncio
import time

from channels_redis.core import RedisChannelLayer
from channels_redis.utils import create_pool
from redis import asyncio as aioredis

# KEYS[1]: the channel's sorted set; KEYS[2]: its in-flight backup; ARGV[1]: how many to pop.
_POP_BATCH_LUA = """
local backed_up = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
for i = #backed_up, 1, -2 do
    redis.call('ZADD', KEYS[1], backed_up[i], backed_up[i - 1])
end
redis.call('DEL', KEYS[2])
local popped = redis.call('ZPOPMIN', KEYS[1], ARGV[1])
for i = 1, #popped, 2 do
    redis.call('ZADD', KEYS[2], popped[i + 1], popped[i])
end
return popped
"""


# KEYS: channel keys (one may repeat); ARGV: the messages, then their capacities, then their
# scores, then the expiry. As channels-redis's group_send script, for many groups at once.
_SEND_MANY_LUA = """
local n = #KEYS
local expiry = tonumber(ARGV[3 * n + 1])
local over = 0
for i = 1, n do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, tonumber(ARGV[2 * n + i]) - expiry)
    if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[n + i]) then
        redis.call('ZADD', KEYS[i], ARGV[2 * n + i], ARGV[i])
        redis.call('EXPIRE', KEYS[i], expiry)
    else
        over = over + 1
    end
end
return over
"""


class BatchedRedisChannelLayer(RedisChannelLayer):
    """channels-redis's `RedisChannelLayer`, reading up to `receive_batch` messages of the
    process's consumers per Redis round trip instead of one."""

    def __init__(self, *args: object, receive_batch: int = 100, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if receive_batch < 1:
            raise ValueError("receive_batch must be at least 1")
        self.receive_batch = receive_batch
        self._scripts: dict[tuple[int, str], object] = {}
        self._last_score = 0.0
        # Channels of this process whose consumer has gone → until when (monotonic) messages
        # for them are dropped on arrival instead of filling a receive buffer nobody reads.
        self._closed: dict[str, float] = {}
        self._closed_pruned = 0.0

    def channel_closed(self, channel: str, *, left_groups: bool = True) -> None:
        """The consumer of `channel` has gone: drop what still arrives for it.

        Messages sent before it left its groups may arrive until they expire (`expiry`); if it
        could not leave a group (`left_groups` False), until the layer forgets the member
        (`group_expiry`).
        """
        now = time.monotonic()
        self._closed[channel] = now + (self.expiry if left_groups else self.group_expiry) + 5
        # Its receive buffer is channels-redis's to delete (when the consumer's pending
        # `receive` is cancelled): deleting it here would break that.
        if now - self._closed_pruned > 10:
            self._closed_pruned = now
            self._closed = {c: until for c, until in self._closed.items() if until > now}

    def _open_targets(self, target: object) -> list[str]:
        names = target if isinstance(target, list) else [target]
        if not self._closed:
            return names
        now = time.monotonic()
        return [n for n in names if self._closed.get(n, 0.0) < now]

    def create_pool(self, index: int) -> object:
        host = dict(self.hosts[index])
        if "address" not in host:
            return create_pool(host)  # sentinel or explicit host/port: channels-redis's pool
        address = host.pop("address")
        host.setdefault("max_connections", 100)
        host["timeout"] = host.pop("pool_timeout", 20)
        return aioredis.BlockingConnectionPool.from_url(address, **host)

    def _script(self, connection: object, lua: str) -> object:
        # redis-py's Script: EVALSHA, loading the script once per server when missing.
        key = (id(connection), lua)
        script = self._scripts.get(key)
        if script is None or script.registered_client is not connection:
            script = self._scripts[key] = connection.register_script(lua)
        return script

    async def group_send_many(self, messages: list[tuple[str, dict]]) -> int:
        """`group_send(group, message)` for each pair, in two round trips per Redis shard
        instead of four per group; the same pruning, capacity and expiry. Returns how many
        channels were over capacity (those messages are dropped, as channels-redis does).

        The messages of one call get increasing scores, later than any earlier call's from
        this layer, so a channel receives them in the order given.
        """
        by_shard: dict[int, list[tuple[str, dict]]] = {}
        for group, message in messages:
            assert self.require_valid_group_name(group), "Group name not valid"
            by_shard.setdefault(self.consistent_hash(group), []).append((group, message))
        oldest = int(time.time()) - self.group_expiry
        sends: dict[int, list[tuple[str, bytes, int]]] = {}
        for shard, items in by_shard.items():
            pipe = self.connection(shard).pipeline(transaction=False)
            for group, _ in items:
                key = self._group_key(group)
                pipe.zremrangebyscore(key, min=0, max=oldest)
                pipe.zrange(key, 0, -1)
            members = (await pipe.execute())[1::2]
            for (_, message), channels in zip(items, members, strict=True):
                if not channels:
                    continue
                names = [c.decode("utf8") for c in channels]
                by_connection, serialized, capacities = self._map_channel_keys_to_connection(
                    names, message
                )
                for index, keys in by_connection.items():
                    sends.setdefault(index, []).extend(
                        (key, serialized[key], capacities[key]) for key in keys
                    )
        over = 0
        for index, entries in sends.items():
            now = max(time.time(), self._last_score + 1e-6)
            scores = [repr(now + i * 1e-6) for i in range(len(entries))]
            self._last_score = now + len(entries) * 1e-6
            connection = self.connection(index)
            over += await self._script(connection, _SEND_MANY_LUA)(
                keys=[key for key, _, _ in entries],
                args=[m for _, m, _ in entries]
                + [c for _, _, c in entries]
                + scores
                + [int(self.expiry)],
            )
        return over

    async def receive_single(self, channel: str) -> tuple[object, dict]:
        if "!" not in channel:
            return await super().receive_single(channel)
        assert self.require_valid_channel_name(channel, receive=True), "Channel name invalid"
        index = self.consistent_hash(channel)
        channel_key = self.prefix + channel
        backup = self._backup_channel_name(channel_key)
        while True:
            unpacked = await self._receive_batch(index, channel, channel_key, backup)
            # No await from here on: the caller (`receive`) buffers the last message, so each
            # channel's messages stay in the order they were sent.
            kept = [(names, m) for target, m in unpacked if (names := self._open_targets(target))]
            if kept:
                break
        for names, message in kept[:-1]:
            for name in names:
                self.receive_buffer[name].put_nowait(message)
        return kept[-1]

    async def _receive_batch(
        self, index: int, channel: str, channel_key: str, backup: str
    ) -> list[tuple[object, dict]]:
        connection = self.connection(index)
        await self.receive_clean_locks.acquire(channel_key)
        try:
            # Cancelled anywhere here, nothing is lost: the popped messages are in the backup,
            # which the next receive puts back first.
            popped = await self._script(connection, _POP_BATCH_LUA)(
                keys=[channel_key, backup], args=[self.receive_batch]
            )
            members = popped[0::2]
            while not members:
                result = await connection.bzpopmin(channel_key, timeout=self.brpop_timeout)
                if result is not None:
                    _, member, score = result
                    await connection.zadd(backup, {member: float(score)})
                    members = [member]
            # Everything in the backup is being handed over now: forget it (the next receive
            # waits for this, like channels-redis's own cleaner).
            cleaner = asyncio.ensure_future(connection.delete(backup))
            self.receive_cleaners.append(cleaner)

            def _cleanup_done(cleaner: asyncio.Future) -> None:
                self.receive_cleaners.remove(cleaner)
                self.receive_clean_locks.release(channel_key)

            cleaner.add_done_callback(_cleanup_done)
        except BaseException:
            self.receive_clean_locks.release(channel_key)
            raise
        return [self._unpack(channel, member) for member in members]

    def _unpack(self, channel: str, content: bytes) -> tuple[object, dict]:
        message = self.deserialize(content)
        target = message.pop("__asgi_channel__", channel)
        return target, message
