"""The reorder buffer of the live streams (SPEC §8): pure, no Django, clock injectable.

A stream client may ask, in the `params` of its auth message, for messages to be held back a
little and released in order of their ordering key:

- `buffer_size` n (0–60): hold the last n messages; when more than n are held, release the
  oldest by key. 0 forwards every message at once.
- `drop_older`: drop (and count) a message whose key is older than the last one forwarded,
  instead of sending it, so the output never goes back in time.
- `flush_timeout` (2–62 s, ≥ n + 2; default max(10, n + 2)): when no message has arrived for
  that long, release everything held, in order.

Keys are tuples compared as tuples (the preprocessed stream uses the packet's earliest sample
timestamp, the computed streams (`last_timestamp` or the timeframe start, `revision`)). Equal
keys keep their arrival order, and an equal key is *not older*: `drop_older` drops only keys
strictly below the last one forwarded, so two packets with the same first timestamp both go out.

Guarantees (proved against a simple model in tests/streaming/test_buffer.py):
- nothing is sent twice, and nothing is lost except the counted `drop_older` drops;
- with `drop_older` the output keys never decrease;
- when no message arrives more than n positions away from its place in the (stable) sorted
  order, and no flush intervenes, the output is exactly that sorted order;
- once `flush_timeout` has passed since the last message arrived, `poll()` releases all.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

BUFFER_SIZE_MAX = 60
FLUSH_TIMEOUT_MIN = 2
FLUSH_TIMEOUT_MAX = 62
FLUSH_TIMEOUT_DEFAULT = 10


@dataclass(frozen=True)
class BufferParams:
    """A stream's reorder-buffer parameters; `buffer_params_parse` builds one from client input.

    Construction checks the ranges (ValueError); `flush_timeout` None means the default.
    """

    buffer_size: int = 0
    drop_older: bool = False
    flush_timeout: float | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.buffer_size <= BUFFER_SIZE_MAX:
            raise ValueError(f"buffer_size must be an integer from 0 to {BUFFER_SIZE_MAX}")
        low = max(FLUSH_TIMEOUT_MIN, self.buffer_size + 2)
        if self.flush_timeout is not None and not low <= self.flush_timeout <= FLUSH_TIMEOUT_MAX:
            raise ValueError(
                f"flush_timeout must be from {low} to {FLUSH_TIMEOUT_MAX} seconds"
                f" (from {FLUSH_TIMEOUT_MIN}, and at least buffer_size + 2)"
            )

    @property
    def effective_flush_timeout(self) -> float:
        """Seconds of silence after which everything held is released."""
        if self.flush_timeout is not None:
            return self.flush_timeout
        return max(FLUSH_TIMEOUT_DEFAULT, self.buffer_size + 2)


def _integer(params: dict, name: str, low: int, high: int, unit: str = "") -> int | None:
    """`params[name]` as an int in [low, high], None when absent.

    Like JSON Schema's "integer", a number with no fractional part counts (5.0 is 5): a client's
    JSON encoder may write one. A bool is not an integer, though Python says it is.
    """
    if name not in params:
        return None
    value = params[name]
    message = f"{name} must be an integer from {low} to {high}{unit}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(message)
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise ValueError(message)
        value = int(value)
    if not low <= value <= high:
        raise ValueError(message)
    return value


def buffer_params_parse(params: object) -> BufferParams:
    """The reorder-buffer parameters from the `params` value of a stream's auth message.

    None (no `params`) gives the defaults. Otherwise `params` must be a JSON object; unknown
    keys are ignored (`since` belongs to the consumer). A wrong type or an out-of-range value
    raises ValueError with a message fit to send to the client, naming the parameter and the
    allowed values. An explicit null is a wrong type, not "the default".
    """
    if params is None:
        return BufferParams()
    if not isinstance(params, dict):
        raise ValueError("params must be a JSON object")
    buffer_size = _integer(params, "buffer_size", 0, BUFFER_SIZE_MAX)
    buffer_size = 0 if buffer_size is None else buffer_size
    drop_older = params.get("drop_older", False)
    if not isinstance(drop_older, bool):
        raise ValueError("drop_older must be true or false")
    flush_low = max(FLUSH_TIMEOUT_MIN, buffer_size + 2)
    unit = f" seconds (from {FLUSH_TIMEOUT_MIN}, and at least buffer_size + 2)"
    flush_timeout = _integer(params, "flush_timeout", flush_low, FLUSH_TIMEOUT_MAX, unit)
    return BufferParams(buffer_size=buffer_size, drop_older=drop_older, flush_timeout=flush_timeout)


class ReorderBuffer:
    """Holds up to `buffer_size` messages and releases them in order of their keys.

    `push` returns what to send now; the owner calls `poll` (at `deadline()`, or on a periodic
    tick) to release what has waited through `flush_timeout` of silence. Not thread-safe: one
    buffer per connection (per timeframe on the activity stream), used from one task.

    "Arrived" means pushed and not dropped: a `drop_older` drop is as if the message never came,
    so a stream of stale messages cannot hold back what is buffered. A push after the deadline
    first flushes what is overdue (as a timely `poll` would have), so a late tick changes
    nothing.
    """

    def __init__(self, params: BufferParams, clock: Callable[[], float] = time.monotonic) -> None:
        self.params = params
        self.dropped = 0
        self._clock = clock
        self._timeout = params.effective_flush_timeout
        # (key, arrival number, message): the arrival number keeps equal keys in arrival order
        # and means messages themselves are never compared.
        self._held: list[tuple[tuple, int, object]] = []
        self._arrivals = itertools.count()
        self._last_key: tuple | None = None
        self._last_arrival = 0.0

    def __len__(self) -> int:
        """How many messages are held."""
        return len(self._held)

    def push(self, key: tuple, message: object) -> list[object]:
        """Take one message; return the messages to send now, in order (maybe none)."""
        out = self.poll()
        if self.params.drop_older and self._last_key is not None and key < self._last_key:
            self.dropped += 1
            return out
        self._last_arrival = self._clock()
        heapq.heappush(self._held, (key, next(self._arrivals), message))
        while len(self._held) > self.params.buffer_size:
            out.append(self._release())
        return out

    def poll(self) -> list[object]:
        """Everything held, in order, if nothing has arrived for `flush_timeout`; else []."""
        if self._held and self._clock() - self._last_arrival >= self._timeout:
            return self.flush()
        return []

    def flush(self) -> list[object]:
        """Everything held, in order, now (e.g. before the stream closes normally)."""
        return [self._release() for _ in range(len(self._held))]

    def deadline(self) -> float | None:
        """The clock time at which `poll` will flush; None when nothing is held."""
        if not self._held:
            return None
        return self._last_arrival + self._timeout

    def _release(self) -> object:
        key, _, message = heapq.heappop(self._held)
        # With drop_older, every key held is ≥ the last one forwarded (older ones are dropped on
        # arrival) and the smallest goes first, so this never goes back in time.
        self._last_key = key
        return message
