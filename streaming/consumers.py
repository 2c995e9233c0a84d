"""The WebSocket streams of SPEC §8.

- `PreprocessedDataConsumer` — `/ws/v1/preprocessed-data/{device}/`: every packet of the device
  as ingested (its current owner, admins); `params.since` replays what is stored first.
- `TimeframeComputedConsumer` — `/ws/v1/computed-data/{activity}/{timeframe}/`: the timeframe's
  computed object, snapshot then updates.
- `ActivityComputedConsumer` — `/ws/v1/computed-data/{activity}/`: `{"timeframe", "data"}` for
  every timeframe of the activity the caller may stream, including ones created later.

Every connection is accepted and told `{"message": "Authorization needed"}`; its first message
(`{"token", "params"}` or `{"action": "authorize", "token"}`) must come within 3 s. Then: the
token through DOT's model (`streaming.access.token_authenticate`), the object through the
selectors of the REST API (`streaming.access`), the groups joined *before* any data is read
(`streaming.groups`), `{"message": "Authorized"}`, the snapshot or backlog, then live messages
through the client's reorder buffer (`streaming.buffer`) and a bounded send queue
(`streaming.outbox`). One pass per process re-checks every open stream every 2 s
(`streaming.watch`): a dead token closes with 4001, lost access with 4003.

Database work runs in `db`: a small thread pool of its own, so the streams never queue behind
(or hold up) the HTTP views in daphne's one sync thread, and each call closes stale connections
(`database_sync_to_async`).
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from devices.packets import TS_FUTURE_MS, packets_build, samples_message_packets
from devices.samples import samples_read
from streaming import access
from streaming.buffer import BufferParams, ReorderBuffer, buffer_params_parse
from streaming.groups import activity_group, device_group, groups_leave_later, timeframe_group
from streaming.outbox import Outbox, backlog_wait, transport_of
from streaming.publish import loop_remember
from streaming.watch import watcher

logger = logging.getLogger(__name__)

AUTH_TIMEOUT_SECONDS = 3.0
MAX_CLIENT_MESSAGE_BYTES = 64 * 1024
# `params.since` reaches back at most this far (SPEC §8).
RESUME_MAX_MS = 10 * 60 * 1000
# How long live messages are checked against the `since` backlog: a message committed before
# the backlog read may still be on its way (the ingest announcer, then the channel layer, whose
# messages expire after 60 s).
SEAM_SECONDS = 120.0

WAITING, AUTHORIZING, STREAMING, CLOSED = "waiting", "authorizing", "streaming", "closed"

_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="asi-streams")


def db(func: Callable) -> Callable:
    """`func` as a coroutine function run in the streams' database threads."""
    return database_sync_to_async(func, thread_sensitive=False, executor=_executor)


def _frame(payload: object) -> str:
    return orjson.dumps(payload).decode()


class BadRequest(ValueError):
    """The first message is not what SPEC §8 asks for (4000, with this message)."""


@dataclass(frozen=True)
class AuthRequest:
    token: str
    params: dict


def auth_request_parse(raw: str | bytes) -> AuthRequest:
    """The first client message: `{"token", "params"?}` or `{"action": "authorize", "token",
    "params"?}`. Raises `BadRequest` saying what is wrong; `params` themselves are checked by
    the stream (`buffer_params_parse` and the stream's own keys)."""
    try:
        content = orjson.loads(raw)
    except orjson.JSONDecodeError:
        content = None
    if not isinstance(content, dict):
        raise BadRequest(
            'The first message must be a JSON object: {"token": "<access token>", "params": {}}'
        )
    if "action" in content and content["action"] != "authorize":
        raise BadRequest('Unknown action: the only action is "authorize"')
    token = content.get("token")
    if not isinstance(token, str) or not token:
        raise BadRequest('A token is required: {"token": "<access token>"}')
    params = content.get("params", {})
    if not isinstance(params, dict):
        raise BadRequest("params must be a JSON object")
    return AuthRequest(token=token, params=params)


class StreamConsumer(AsyncWebsocketConsumer):
    """Handshake, first-message auth, buffers, bounded sending and watching (SPEC §8).

    Subclasses name their object (`stream_open`, sync, in `db`), start the stream
    (`stream_start`: join groups, then snapshot or backlog) and judge it on each watch pass
    (`stream_check`, sync).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state = WAITING
        self.user = None
        self.token_id: int | None = None
        self.params = BufferParams()
        self.stream_groups: list[str] = []
        self.buffers: dict[object, ReorderBuffer] = {}
        self.outbox = Outbox()
        self._tasks: list[asyncio.Task] = []
        self._buffer_pushed = asyncio.Event()

    # --- Channels plumbing ---------------------------------------------------------------------

    async def dispatch(self, message: dict) -> None:
        # Channels' own dispatch first runs `close_old_connections` in the main sync thread for
        # every message: for a stream that is a thread hop per data frame, queued with the HTTP
        # views. The streams touch the database only through `db`, which does it itself.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def websocket_connect(self, message: dict) -> None:
        loop_remember()
        await self.accept()
        await self._send_now({"message": "Authorization needed"})
        self._spawn(self._auth_deadline())

    async def websocket_receive(self, message: dict) -> None:
        raw = message.get("text")
        if raw is not None:
            # Characters ≤ bytes ≤ 4 × characters in UTF-8: encode only when it may matter.
            too_large = len(raw) > MAX_CLIENT_MESSAGE_BYTES or (
                len(raw) * 4 > MAX_CLIENT_MESSAGE_BYTES
                and len(raw.encode("utf-8", "surrogatepass")) > MAX_CLIENT_MESSAGE_BYTES
            )
        else:
            raw = message.get("bytes") or b""
            too_large = len(raw) > MAX_CLIENT_MESSAGE_BYTES
        if too_large:
            await self.close_with(4009, "Message too large: at most 64 KiB")
            return
        if self.state != WAITING:
            return  # SPEC §8: client messages after authentication are ignored
        self.state = AUTHORIZING
        await self._authorize(raw)

    async def websocket_disconnect(self, message: dict) -> None:
        await self._stop()
        await super().websocket_disconnect(message)

    # --- the handshake -------------------------------------------------------------------------

    async def _auth_deadline(self) -> None:
        await asyncio.sleep(AUTH_TIMEOUT_SECONDS)
        if self.state == WAITING:
            await self.close_with(4001)

    async def _authorize(self, raw: str | bytes) -> None:
        try:
            request = auth_request_parse(raw)
            self.params = buffer_params_parse(request.params)
            self.stream_params(request.params)
        except ValueError as error:
            await self.close_with(4000, str(error))
            return
        token = await db(access.token_authenticate)(request.token)
        if token is None:
            await self.close_with(4001, "Unauthorized")
            return
        if self.state != AUTHORIZING:
            return  # the client went away meanwhile
        self.user, self.token_id = token.user, token.pk
        code = await db(self.stream_open)()
        if code == access.NOT_FOUND:
            await self.close_with(4004, "Not found")
            return
        if code == access.FORBIDDEN:
            await self.close_with(4003, "Forbidden")
            return
        if self.state != AUTHORIZING:
            return
        await self._send_now({"message": "Authorized"})
        self.state = STREAMING
        self._spawn(self._sender())
        if self.params.buffer_size:
            self._spawn(self._flusher())
        await self.stream_start()
        if self.state == STREAMING:
            watcher().add(self)

    # --- hooks of the streams --------------------------------------------------------------------

    def stream_params(self, params: dict) -> None:
        """Check the stream's own `params` keys (raise ValueError); none by default."""

    def stream_open(self) -> int:
        """Sync: may `self.user` stream this object? `access.OK` or the close code."""
        raise NotImplementedError

    async def stream_start(self) -> None:
        """Join the groups (before reading data), then send the snapshot or backlog."""
        raise NotImplementedError

    def stream_check(self, memo: access.Memo) -> object:
        """Sync, on every watch pass: `access.OK`, a close code, or the stream's own verdict."""
        raise NotImplementedError

    async def stream_verdict(self, verdict: object) -> None:
        """Act on a verdict other than a close code (the activity stream's timeframe set)."""

    # --- watching ------------------------------------------------------------------------------

    def watch_check(self, memo: access.Memo) -> object:
        if self.token_id not in memo.answers[("tokens-live",)]:
            return access.UNAUTHORIZED
        return self.stream_check(memo)

    async def watch_verdict(self, verdict: object) -> None:
        if self.state != STREAMING:
            return
        if verdict == access.UNAUTHORIZED:
            await self.close_with(4001, "Unauthorized")
        elif verdict == access.FORBIDDEN:
            await self.close_with(4003, "Forbidden")
        elif verdict == access.NOT_FOUND:
            await self.close_with(4004, "Not found")
        elif verdict != access.OK:
            await self.stream_verdict(verdict)

    async def groups_join(self, *groups: str) -> None:
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
            if group not in self.stream_groups:
                self.stream_groups.append(group)

    async def groups_rejoin(self) -> None:
        """Refresh the membership before channels-redis's `group_expiry` forgets it."""
        if self.state == STREAMING:
            for group in self.stream_groups:
                await self.channel_layer.group_add(group, self.channel_name)

    # --- sending -------------------------------------------------------------------------------

    def push(self, buffer_key: object, order_key: tuple, message: object) -> None:
        """Offer one data message to the stream's reorder buffer `buffer_key`; send what it
        releases."""
        buffer = self.buffers.get(buffer_key)
        if buffer is None:
            buffer = self.buffers[buffer_key] = ReorderBuffer(self.params)
        for released in buffer.push(order_key, message):
            self.outbox.put(_frame(released))
        if self.params.buffer_size:
            self._buffer_pushed.set()

    async def _flusher(self) -> None:
        """Release what the buffers held through `flush_timeout` of silence."""
        while self.state == STREAMING:
            deadlines = [d for b in self.buffers.values() if (d := b.deadline()) is not None]
            self._buffer_pushed.clear()
            if deadlines:
                timeout = max(min(deadlines) - time.monotonic(), 0.0)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._buffer_pushed.wait(), timeout)
            else:
                await self._buffer_pushed.wait()
            for buffer in list(self.buffers.values()):
                for released in buffer.poll():
                    self.outbox.put(_frame(released))

    async def _sender(self) -> None:
        transport = transport_of(self.base_send)
        while self.state == STREAMING:
            frame = await self.outbox.get()
            await backlog_wait(transport)
            if self.state != STREAMING:
                return
            await self.send(text_data=frame)

    async def _send_now(self, payload: object) -> None:
        await self.send(text_data=_frame(payload))

    async def close_with(self, code: int, message: str | None = None) -> None:
        """Send `{"message": message}` (when given) and close with `code`; once."""
        if self.state == CLOSED:
            return
        await self._stop()
        if message is not None:
            await self._send_now({"message": message})
        await self.close(code)

    async def _stop(self) -> None:
        if self.state == CLOSED:
            return
        was_streaming = self.state == STREAMING
        self.state = CLOSED
        watcher().discard(self)
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        self.outbox.clear()
        failed = []
        for group in self.stream_groups:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:
                failed.append(group)
        if failed:
            groups_leave_later(self.channel_layer, self.channel_name, failed)
        closed = getattr(self.channel_layer, "channel_closed", None)
        if closed is not None and self.stream_groups:
            # What still arrives for this channel is dropped, not buffered for nobody.
            closed(self.channel_name, left_groups=not failed)
        dropped = sum(b.dropped for b in self.buffers.values())
        if was_streaming and (self.outbox.dropped or dropped):
            logger.info(
                "stream %s of user %s closed: %d messages dropped by the send queue, "
                "%d by drop_older",
                self.scope.get("path"),
                getattr(self.user, "pk", None),
                self.outbox.dropped,
                dropped,
            )

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.append(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            logger.error("stream task failed", exc_info=task.exception())


# --- /ws/v1/preprocessed-data/{device}/ -----------------------------------------------------------


def _packet_start(packet: dict) -> int:
    """The packet's earliest sample timestamp: its ordering key (SPEC §8)."""
    stamps = [
        (ts[0] if isinstance(ts, list) else ts)
        for channel, data in packet.items()
        if channel != "device_name" and (ts := data.get("timestamp")) not in (None, [])
    ]
    return min(stamps)


def _columns_keep(channels: dict, keep: Callable[[str, np.ndarray], np.ndarray]) -> dict:
    """The columnar `channels` of a stream message with only the samples `keep` marks."""
    kept = {}
    for channel, data in channels.items():
        ts = np.asarray(data["timestamp"], dtype=np.int64)
        mask = keep(channel, ts)
        if mask.all():
            kept[channel] = data
        elif mask.any():
            index = np.flatnonzero(mask).tolist()
            kept[channel] = {name: [values[i] for i in index] for name, values in data.items()}
    return kept


class PreprocessedDataConsumer(StreamConsumer):
    """Every packet of a device as ingested, in SPEC §6 packet shape, one message per packet."""

    since: int | None = None
    stream: access.DeviceStream
    # The `since` backlog: channel → its sample timestamps, checked until `_seam_until`.
    _seen: dict[str, np.ndarray] | None = None
    _seam_until = 0.0

    def stream_params(self, params: dict) -> None:
        since = params.get("since")
        if since is not None and (isinstance(since, bool) or not isinstance(since, int)):
            raise ValueError("since must be an integer: epoch milliseconds")
        self.since = since

    def stream_open(self) -> int:
        device_id = self.scope["url_route"]["kwargs"]["device_id"]
        opened = access.device_stream_open(self.user, device_id)
        if isinstance(opened, int):
            return opened
        self.stream = opened
        return access.OK

    def stream_check(self, memo: access.Memo) -> object:
        return access.device_stream_check(self.user, self.stream, memo)

    async def stream_start(self) -> None:
        await self.groups_join(device_group(self.stream.device_id))
        if self.since is None:
            return
        now_ms = int(time.time() * 1000)
        after = min(max(self.since, now_ms - RESUME_MAX_MS), now_ms)
        if self.stream.since_ms is not None:
            after = max(after, self.stream.since_ms - 1)
        frame = await db(samples_read)(
            device_id=self.stream.device_id, start=after + 1, stop=now_ms + TS_FUTURE_MS + 1
        )
        self._seen = {channel: ts for channel, (ts, _) in frame.channels.items()}
        self._seam_until = time.monotonic() + SEAM_SECONDS
        for packet in packets_build(self.stream.device_name, frame.channels):
            self.push(None, (_packet_start(packet),), packet)

    async def preprocessed_packets(self, event: dict) -> None:
        """A channel-layer message of `streaming.publish.samples_message`: new samples."""
        if self.state != STREAMING:
            return
        channels = event["channels"]
        if self._seen is not None and time.monotonic() > self._seam_until:
            self._seen = None
        if self._seen is not None or self.stream.since_ms is not None:
            channels = _columns_keep(channels, self._keep)
            if not channels:
                return
            packets = samples_message_packets(
                {"device_name": self.stream.device_name, "channels": channels}
            )
        else:
            # The layer hands the same message to every subscriber of the device in this
            # process: regroup it into packets once for all of them (nobody mutates them).
            built = event.setdefault("_packets", {})
            packets = built.get(self.stream.device_name)
            if packets is None:
                packets = built[self.stream.device_name] = samples_message_packets(
                    {"device_name": self.stream.device_name, "channels": channels}
                )
        for packet in packets:
            self.push(None, (_packet_start(packet),), packet)

    def _keep(self, channel: str, ts: np.ndarray) -> np.ndarray:
        keep = np.ones(len(ts), dtype=bool)
        if self.stream.since_ms is not None:
            # Recorded before the caller's ownership began: not his (SPEC §4).
            keep &= ts >= self.stream.since_ms
        if self._seen is not None and channel in self._seen:
            # Already sent from the backlog: stored before the read, announced after the join.
            keep &= ~np.isin(ts, self._seen[channel])
        return keep


# --- /ws/v1/computed-data/{activity}/{timeframe}/ and /ws/v1/computed-data/{activity}/ -----------


class ComputedConsumer(StreamConsumer):
    """What the two computed streams share: snapshots, then updates, each revision once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.revisions: dict[int, int] = {}  # timeframe → the newest revision offered
        self.starts: dict[int, int] = {}  # timeframe → its start (epoch ms), for the key

    @property
    def activity_id(self) -> int:
        return self.scope["url_route"]["kwargs"]["activity_id"]

    def offer(self, timeframe_id: int, document: dict) -> None:
        """One computed object: skipped when its revision was already offered (a snapshot and
        an update of the same commit), else pushed with the SPEC §8 ordering key."""
        revision = document.get("revision", 0)
        if revision <= self.revisions.get(timeframe_id, -1):
            return
        self.revisions[timeframe_id] = revision
        last = document.get("last_timestamp")
        key = (last if last is not None else self.starts.get(timeframe_id, 0), revision)
        self.push(timeframe_id, key, self.message(timeframe_id, document))

    def message(self, timeframe_id: int, document: dict) -> object:
        return document

    async def snapshots_send(self, ids: set[int]) -> None:
        """The current object of each timeframe, sent right away (a reorder buffer does not hold
        a snapshot back): offered like any object, then its timeframe's buffer is released, so
        an update that arrived during the read still comes out in key order, and with
        `drop_older` nothing older follows."""
        for snapshot in await db(access.timeframes_snapshots)(self.user, ids):
            self.starts[snapshot.timeframe_id] = snapshot.start_ms
            self.offer(snapshot.timeframe_id, snapshot.document)
            buffer = self.buffers.get(snapshot.timeframe_id)
            for released in buffer.flush() if buffer else []:
                self.outbox.put(_frame(released))


class TimeframeComputedConsumer(ComputedConsumer):
    """The computed object of one timeframe: the snapshot, then each update."""

    @property
    def timeframe_id(self) -> int:
        return self.scope["url_route"]["kwargs"]["timeframe_id"]

    def stream_open(self) -> int:
        return access.timeframe_stream_open(self.user, self.activity_id, self.timeframe_id)

    def stream_check(self, memo: access.Memo) -> object:
        return access.timeframe_stream_check(self.user, self.timeframe_id, memo)

    def watch_prefetch(self, memo: access.Memo) -> None:
        # Note this stream's timeframe; the first check of the pass asks for all of them.
        wanted = memo.answers.setdefault(("timeframes-wanted",), {})
        wanted.setdefault(self.user.pk, (self.user, set()))[1].add(self.timeframe_id)

    def watch_check(self, memo: access.Memo) -> object:
        wanted = memo.answers.pop(("timeframes-wanted",), None)
        if wanted:
            access.timeframes_streamable_prefetch(memo, wanted)
        return super().watch_check(memo)

    async def stream_start(self) -> None:
        await self.groups_join(timeframe_group(self.timeframe_id))
        await self.snapshots_send({self.timeframe_id})

    async def computed_update(self, event: dict) -> None:
        if self.state == STREAMING and event["timeframe_id"] == self.timeframe_id:
            self.offer(self.timeframe_id, event["document"])


class ActivityComputedConsumer(ComputedConsumer):
    """`{"timeframe": id, "data": {...}}` for each timeframe of the activity the caller may
    stream, one reorder buffer per timeframe; timeframes created later join in (those he may
    not read are skipped)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.streamed: set[int] = set()
        self.skipped: set[int] = set()  # not streamable when last asked (until the next pass)

    def message(self, timeframe_id: int, document: dict) -> object:
        return {"timeframe": timeframe_id, "data": document}

    def stream_open(self) -> int:
        opened = access.activity_stream_open(self.user, self.activity_id)
        if isinstance(opened, int):
            return opened
        self.streamed = opened
        return access.OK

    def stream_check(self, memo: access.Memo) -> object:
        return access.activity_stream_check(self.user, self.activity_id, memo)

    async def stream_start(self) -> None:
        await self.groups_join(activity_group(self.activity_id))
        await self.snapshots_send(self.streamed)

    async def stream_verdict(self, verdict: object) -> None:
        streamable, every = verdict
        if (self.streamed - streamable) & every:
            # A timeframe he was streaming still exists but is no longer his to read.
            await self.close_with(4003, "Forbidden")
            return
        for gone in self.streamed - every:
            self.streamed.discard(gone)
            buffer = self.buffers.pop(gone, None)
            for released in buffer.flush() if buffer else []:
                self.outbox.put(_frame(released))
        self.skipped = set()
        await self.timeframes_adopt(streamable - self.streamed)

    async def timeframes_adopt(self, ids: set[int]) -> None:
        """Start streaming the timeframes `ids` (created after connecting) that the caller may
        stream: their snapshot first; the others are skipped."""
        ids = ids - self.streamed - self.skipped
        if not ids:
            return
        streamable = await db(access.activity_streamable_ids)(
            self.user, self.activity_id, access.Memo()
        )
        allowed = ids & streamable
        self.skipped |= ids - allowed
        if allowed and self.state == STREAMING:
            self.streamed |= allowed
            await self.snapshots_send(allowed)

    async def timeframe_created(self, event: dict) -> None:
        if self.state == STREAMING:
            await self.timeframes_adopt({event["timeframe_id"]})

    async def computed_update(self, event: dict) -> None:
        if self.state != STREAMING or event["activity_id"] != self.activity_id:
            return
        timeframe_id = event["timeframe_id"]
        if timeframe_id not in self.streamed:
            # Its `timeframe.created` notice may come later, or never (at-most-once layer).
            await self.timeframes_adopt({timeframe_id})
            if timeframe_id not in self.streamed:
                return
        self.offer(timeframe_id, event["document"])


class NotFoundConsumer(AsyncWebsocketConsumer):
    """Any other WebSocket path: accepted, told `Not found`, closed with 4004 (not a 500)."""

    async def dispatch(self, message: dict) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is not None:
            await handler(message)

    async def websocket_connect(self, message: dict) -> None:
        await self.accept()
        await self.send(text_data=_frame({"message": "Not found"}))
        await self.close(4004)

    async def websocket_receive(self, message: dict) -> None:
        pass
