"""The reorder buffer (`streaming.buffer`): its guarantees as properties, against a simple model.

The model keeps the held messages in a plain list and picks the smallest (key, arrival) with
`min`; the real buffer uses a heap. Each guarantee of the streams' contract is also checked
on its own, so a bug shared by both cannot hide behind their agreement.
"""

import copy
import math
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streaming.buffer import BufferParams, ReorderBuffer, buffer_params_parse


class Clock:
    """An injectable clock, moved by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Model:
    """The buffer's behaviour written as plainly as possible."""

    params: BufferParams
    held: list = field(default_factory=list)  # [(key, arrival, message)]
    last_key: tuple | None = None
    last_arrival: float = 0.0
    arrivals: int = 0
    dropped: int = 0

    def release(self, item: tuple) -> object:
        self.held.remove(item)
        self.last_key = item[0]
        return item[2]

    def poll(self, now: float) -> list:
        if self.held and now - self.last_arrival >= self.params.effective_flush_timeout:
            return [self.release(item) for item in sorted(self.held)]
        return []

    def push(self, now: float, key: tuple, message: object) -> list:
        out = self.poll(now)
        if self.params.drop_older and self.last_key is not None and key < self.last_key:
            self.dropped += 1
            return out
        self.last_arrival = now
        self.held.append((key, self.arrivals, message))
        self.arrivals += 1
        while len(self.held) > self.params.buffer_size:
            out.append(self.release(min(self.held)))
        return out


# --- strategies ------------------------------------------------------------------------------

params_strategy = st.builds(
    lambda n, drop, flush: BufferParams(
        buffer_size=n, drop_older=drop, flush_timeout=None if flush is None else flush + n + 2
    ),
    st.integers(0, 8),
    st.booleans(),
    st.one_of(st.none(), st.integers(0, 6)),
)

# Small key spaces so that equal keys are common: (timestamp,) as on the preprocessed stream,
# (last_timestamp, revision) as on the computed streams.
key_strategy = st.one_of(
    st.tuples(st.integers(0, 20)),
    st.tuples(st.integers(0, 5), st.integers(0, 3)),
)

# ("push", key, seconds since the previous step) or ("poll", None, seconds)
op_strategy = st.tuples(
    st.sampled_from(["push", "push", "push", "poll"]),
    key_strategy,
    st.sampled_from([0.0, 0.0, 0.5, 1.0, 3.0, 11.0, 70.0]),
)


def run(params: BufferParams, ops: list) -> tuple[list, list, ReorderBuffer, list]:
    """Feed `ops` to a buffer; return (output with keys, pushed (key, message), buffer, events).

    Messages are their arrival number, so sets of messages say what was sent, lost or repeated.
    `events` lists (time, kind, released) to check the flush timing.
    """
    clock = Clock()
    buffer = ReorderBuffer(params, clock=clock)
    keys: dict[int, tuple] = {}
    out: list = []
    pushed: list = []
    events: list = []
    for kind, key, delay in ops:
        clock.now += delay
        if kind == "push":
            message = len(pushed)
            keys[message] = key
            pushed.append((key, message))
            released = buffer.push(key, message)
        else:
            released = buffer.poll()
        events.append((clock.now, kind, released))
        out.extend((keys[m], m) for m in released)
    return out, pushed, buffer, events


# --- properties ------------------------------------------------------------------------------


@settings(max_examples=400)
@given(params=params_strategy, ops=st.lists(op_strategy, max_size=60))
def test_it_behaves_like_the_model(params, ops):
    clock = Clock()
    buffer = ReorderBuffer(params, clock=clock)
    model = Model(params)
    for i, (kind, key, delay) in enumerate(ops):
        clock.now += delay
        if kind == "push":
            assert buffer.push(key, i) == model.push(clock.now, key, i)
        else:
            assert buffer.poll() == model.poll(clock.now)
        assert buffer.dropped == model.dropped
        assert len(buffer) == len(model.held)
    assert buffer.flush() == [m for _, _, m in sorted(model.held)]


@settings(max_examples=400)
@given(params=params_strategy, ops=st.lists(op_strategy, max_size=60))
def test_it_sends_nothing_twice_and_loses_nothing_but_counted_drops(params, ops):
    out, pushed, buffer, _ = run(params, ops)
    out += [(None, m) for m in buffer.flush()]
    sent = [m for _, m in out]
    assert len(sent) == len(set(sent)), "a message was sent twice"
    assert set(sent) <= {m for _, m in pushed}
    assert len(sent) + buffer.dropped == len(pushed), "a message was lost"
    if not params.drop_older:
        assert buffer.dropped == 0


@settings(max_examples=400)
@given(params=params_strategy, ops=st.lists(op_strategy, max_size=60))
def test_it_never_goes_back_in_time_with_drop_older(params, ops):
    params = BufferParams(params.buffer_size, True, params.flush_timeout)
    out, pushed, buffer, _ = run(params, ops)
    keys = [key for key, _ in out]
    keys += [dict((m, k) for k, m in pushed)[m] for m in buffer.flush()]
    assert keys == sorted(keys)


@settings(max_examples=400)
@given(params=params_strategy, ops=st.lists(op_strategy, max_size=60))
def test_it_holds_at_most_buffer_size(params, ops):
    clock = Clock()
    buffer = ReorderBuffer(params, clock=clock)
    for kind, key, delay in ops:
        clock.now += delay
        buffer.push(key, None) if kind == "push" else buffer.poll()
        assert len(buffer) <= params.buffer_size


@st.composite
def displaced(draw: st.DrawFn) -> tuple[int, list[tuple]]:
    """(n, keys in arrival order) where no key arrives more than n places from its sorted place.

    Sorting indexes i by i + r_i with 0 ≤ r_i ≤ n moves each by at most n positions.
    """
    n = draw(st.integers(0, 8))
    keys = sorted(draw(st.lists(key_strategy, max_size=60)))
    jitter = [draw(st.integers(0, n)) for _ in keys]
    order = sorted(range(len(keys)), key=lambda i: (i + jitter[i], i))
    return n, [keys[i] for i in order]


def max_displacement(keys: list[tuple]) -> int:
    """How far, at most, a message arrives from its place in the stable sorted order."""
    ranked = sorted(range(len(keys)), key=lambda i: keys[i])  # stable: equal keys by arrival
    return max((abs(place - i) for place, i in enumerate(ranked)), default=0)


@settings(max_examples=400)
@given(case=displaced(), drop_older=st.booleans())
def test_it_sorts_when_nothing_is_displaced_by_more_than_n(case, drop_older):
    n, keys = case
    assert max_displacement(keys) <= n  # the strategy keeps its promise
    buffer = ReorderBuffer(BufferParams(buffer_size=n, drop_older=drop_older), clock=Clock())
    sent = [m for i, key in enumerate(keys) for m in buffer.push(key, i)] + buffer.flush()
    assert sent == sorted(range(len(keys)), key=lambda i: keys[i])
    assert buffer.dropped == 0


@settings(max_examples=400)
@given(n=st.integers(0, 8), keys=st.lists(key_strategy, max_size=40))
def test_it_sorts_any_input_displaced_by_at_most_n(n, keys):
    buffer = ReorderBuffer(BufferParams(buffer_size=n), clock=Clock())
    sent = [m for i, key in enumerate(keys) for m in buffer.push(key, i)] + buffer.flush()
    if max_displacement(keys) <= n:
        assert sent == sorted(range(len(keys)), key=lambda i: keys[i])


@settings(max_examples=400)
@given(params=params_strategy, ops=st.lists(op_strategy, max_size=60))
def test_it_flushes_after_flush_timeout_of_silence_and_not_before(params, ops):
    clock = Clock()
    buffer = ReorderBuffer(params, clock=clock)
    timeout = params.effective_flush_timeout
    last_arrival = None
    for kind, key, delay in ops:
        clock.now += delay
        dropped_before = buffer.dropped
        if kind == "push":
            buffer.push(key, None)
            if buffer.dropped == dropped_before:
                last_arrival = clock.now
        else:
            was_held = len(buffer)
            released = buffer.poll()
            if was_held and clock.now - last_arrival >= timeout:
                assert len(released) == was_held and len(buffer) == 0
            else:
                assert released == []
        if len(buffer):
            assert buffer.deadline() == last_arrival + timeout
            # On a copy: just before the deadline nothing moves; at it everything goes.
            probe, probe_clock = copy.deepcopy((buffer, clock))
            probe_clock.now = probe.deadline() - 0.001
            assert probe.poll() == []
            probe_clock.now = probe.deadline()
            assert len(probe.poll()) == len(buffer)
            assert probe.deadline() is None
        else:
            assert buffer.deadline() is None


# --- examples --------------------------------------------------------------------------------


def test_it_forwards_at_once_with_buffer_size_zero():
    buffer = ReorderBuffer(BufferParams(), clock=Clock())
    assert buffer.push((3,), "c") == ["c"]
    assert buffer.push((1,), "a") == ["a"]  # no reordering without a buffer, and no drop
    assert buffer.deadline() is None and buffer.dropped == 0


def test_it_drops_older_even_with_buffer_size_zero():
    buffer = ReorderBuffer(BufferParams(drop_older=True), clock=Clock())
    assert buffer.push((3,), "c") == ["c"]
    assert buffer.push((1,), "a") == []
    assert buffer.push((3,), "c2") == ["c2"]  # an equal key is not older
    assert buffer.dropped == 1


def test_it_releases_the_oldest_when_more_than_n_are_held():
    buffer = ReorderBuffer(BufferParams(buffer_size=2), clock=Clock())
    assert buffer.push((5,), "e") == []
    assert buffer.push((2,), "b") == []
    assert buffer.push((9,), "i") == ["b"]
    assert buffer.push((1,), "a") == ["a"]
    assert buffer.flush() == ["e", "i"]


def test_it_keeps_equal_keys_in_arrival_order():
    buffer = ReorderBuffer(BufferParams(buffer_size=3, drop_older=True), clock=Clock())
    for message in ["x", "y", "z"]:
        buffer.push((7, 1), message)
    assert buffer.push((7, 1), "w") == ["x"]
    assert buffer.flush() == ["y", "z", "w"]
    assert buffer.dropped == 0


def test_it_flushes_on_poll_after_the_default_timeout():
    clock = Clock(0.0)
    buffer = ReorderBuffer(BufferParams(buffer_size=3), clock=clock)
    buffer.push((2,), "b")
    clock.now = 4.0
    buffer.push((1,), "a")
    assert buffer.deadline() == 14.0  # max(10, 3 + 2) after the last arrival
    clock.now = 13.9
    assert buffer.poll() == []
    clock.now = 14.0
    assert buffer.poll() == ["a", "b"]
    assert buffer.poll() == [] and buffer.deadline() is None


def test_it_flushes_what_is_overdue_before_taking_a_late_push():
    clock = Clock(0.0)
    buffer = ReorderBuffer(BufferParams(buffer_size=5, drop_older=True), clock=clock)
    buffer.push((10,), "j")
    buffer.push((20,), "t")
    clock.now = 60.0  # nobody polled at 10 s
    assert buffer.push((15,), "o") == ["j", "t"]  # as if poll had run on time: 15 < 20 dropped
    assert buffer.dropped == 1 and len(buffer) == 0


def test_a_dropped_message_does_not_hold_back_the_flush():
    clock = Clock(0.0)
    buffer = ReorderBuffer(BufferParams(buffer_size=1, drop_older=True), clock=clock)
    buffer.push((5,), "e")
    buffer.push((6,), "f")  # releases e, holds f
    clock.now = 9.0
    assert buffer.push((1,), "stale") == []
    assert buffer.deadline() == 10.0
    clock.now = 10.0
    assert buffer.poll() == ["f"]


def test_the_default_flush_timeout_follows_buffer_size():
    assert BufferParams().effective_flush_timeout == 10
    assert BufferParams(buffer_size=8).effective_flush_timeout == 10
    assert BufferParams(buffer_size=9).effective_flush_timeout == 11
    assert BufferParams(buffer_size=60).effective_flush_timeout == 62
    assert BufferParams(buffer_size=4, flush_timeout=6).effective_flush_timeout == 6


# --- parameter validation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (None, BufferParams()),
        ({}, BufferParams()),
        ({"since": 1597924127000, "other": "x"}, BufferParams()),  # not ours: ignored
        ({"buffer_size": 0}, BufferParams()),
        ({"buffer_size": 60}, BufferParams(buffer_size=60)),
        ({"buffer_size": 5.0}, BufferParams(buffer_size=5)),  # JSON Schema's "integer"
        ({"drop_older": True}, BufferParams(drop_older=True)),
        ({"drop_older": False}, BufferParams()),
        ({"flush_timeout": 2}, BufferParams(flush_timeout=2)),
        ({"flush_timeout": 62}, BufferParams(flush_timeout=62)),
        ({"flush_timeout": 30.0}, BufferParams(flush_timeout=30)),
        ({"buffer_size": 10, "flush_timeout": 12}, BufferParams(10, False, 12)),
        ({"buffer_size": 60, "flush_timeout": 62}, BufferParams(60, False, 62)),
        (
            {"buffer_size": 3, "drop_older": True, "flush_timeout": 5, "since": 0},
            BufferParams(3, True, 5),
        ),
    ],
)
def test_it_parses_valid_params(params, expected):
    assert buffer_params_parse(params) == expected


@pytest.mark.parametrize(
    ("params", "names"),
    [
        # not a JSON object
        ([], "params"),
        ("buffer_size=3", "params"),
        (3, "params"),
        (True, "params"),
        # buffer_size: wrong type
        ({"buffer_size": True}, "buffer_size"),
        ({"buffer_size": False}, "buffer_size"),
        ({"buffer_size": "3"}, "buffer_size"),
        ({"buffer_size": None}, "buffer_size"),
        ({"buffer_size": [3]}, "buffer_size"),
        ({"buffer_size": {"n": 3}}, "buffer_size"),
        ({"buffer_size": 2.5}, "buffer_size"),
        ({"buffer_size": math.nan}, "buffer_size"),
        ({"buffer_size": math.inf}, "buffer_size"),
        # buffer_size: out of range
        ({"buffer_size": -1}, "buffer_size"),
        ({"buffer_size": 61}, "buffer_size"),
        ({"buffer_size": 10**30}, "buffer_size"),
        ({"buffer_size": -0.5}, "buffer_size"),
        # drop_older: wrong type (an int is not a bool)
        ({"drop_older": 1}, "drop_older"),
        ({"drop_older": 0}, "drop_older"),
        ({"drop_older": "true"}, "drop_older"),
        ({"drop_older": None}, "drop_older"),
        ({"drop_older": 1.0}, "drop_older"),
        ({"drop_older": []}, "drop_older"),
        # flush_timeout: wrong type
        ({"flush_timeout": True}, "flush_timeout"),
        ({"flush_timeout": "10"}, "flush_timeout"),
        ({"flush_timeout": None}, "flush_timeout"),
        ({"flush_timeout": 10.5}, "flush_timeout"),
        ({"flush_timeout": math.nan}, "flush_timeout"),
        ({"flush_timeout": -math.inf}, "flush_timeout"),
        ({"flush_timeout": {}}, "flush_timeout"),
        # flush_timeout: out of range, alone and against buffer_size
        ({"flush_timeout": 1}, "flush_timeout"),
        ({"flush_timeout": 0}, "flush_timeout"),
        ({"flush_timeout": -5}, "flush_timeout"),
        ({"flush_timeout": 63}, "flush_timeout"),
        ({"flush_timeout": 3600}, "flush_timeout"),
        ({"buffer_size": 10, "flush_timeout": 11}, "flush_timeout"),
        ({"buffer_size": 60, "flush_timeout": 61}, "flush_timeout"),
        ({"buffer_size": 1, "flush_timeout": 2}, "flush_timeout"),
    ],
)
def test_it_refuses_bad_params_naming_the_param_and_the_range(params, names):
    with pytest.raises(ValueError) as error:
        buffer_params_parse(params)
    message = str(error.value)
    assert message.startswith(names)
    if names == "buffer_size":
        assert "0 to 60" in message
    if names == "flush_timeout":
        assert "to 62" in message and "buffer_size + 2" in message


def test_it_states_the_flush_timeout_range_that_applies():
    with pytest.raises(ValueError, match="from 12 to 62 seconds"):
        buffer_params_parse({"buffer_size": 10, "flush_timeout": 11})


@pytest.mark.parametrize(
    "kwargs",
    [{"buffer_size": -1}, {"buffer_size": 61}, {"flush_timeout": 1}, {"flush_timeout": 63}]
    + [{"buffer_size": 5, "flush_timeout": 6}],
)
def test_params_built_directly_are_checked_too(kwargs):
    with pytest.raises(ValueError):
        BufferParams(**kwargs)
