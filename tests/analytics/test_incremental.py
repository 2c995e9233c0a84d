"""The live form of the engine: `MetricsState` fed in chunks equals one full computation."""

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.metrics import LATE_MS, Athlete, MetricsState, metrics_compute, params_effective
from tests.analytics.builders import LAT0, LON0, T0, track

ATHLETE = Athlete(max_heart_rate=195, resting_heart_rate=55, gender="F")


def assert_same(full, live, path="$"):
    """Equal structure; floats equal within float tolerance (sums may add in another order)."""
    if isinstance(full, dict):
        assert full.keys() == live.keys(), path
        for key in full:
            assert_same(full[key], live[key], f"{path}.{key}")
    elif isinstance(full, list):
        assert len(full) == len(live), f"{path}: {len(full)} != {len(live)}"
        for i, (a, b) in enumerate(zip(full, live, strict=True)):
            assert_same(a, b, f"{path}[{i}]")
    elif isinstance(full, float) and isinstance(live, float):
        assert math.isclose(full, live, rel_tol=1e-9, abs_tol=1e-6), f"{path}: {full} != {live}"
    else:
        assert full == live, f"{path}: {full!r} != {live!r}"


def random_stream(seed: int, n: int, hz_mode: int) -> dict:
    """n GNSS fixes (irregular steps, gaps, NaN speeds, speed glitches, position jumps) and
    heart rates (some out of range) — everything the engine must survive."""
    rng = np.random.default_rng(seed)
    base = [100, 1000][hz_mode]
    dts = rng.choice([base, base, base, base - 10, base + 10, 3 * base, 2500, 70_000], size=n)
    dts[0] = 0
    ts = T0 + np.cumsum(dts).astype(np.int64)
    # speeds held for runs of 1–40 fixes, so efforts and sprints of every length occur
    levels = rng.choice([0.0, 1.0, 3.0, 5.5, 7.0], size=n) + rng.uniform(0, 2.5, size=n)
    speed = np.repeat(levels, rng.integers(1, 41, size=n))[:n] + rng.normal(0, 0.1, size=n)
    speed = np.abs(speed)
    speed[rng.random(n) < 0.05] = np.nan
    speed[rng.random(n) < 0.02] = 14.0  # above the team sports' plausible speed
    step = np.minimum(np.diff(ts, prepend=ts[0]) / 1000, 2) * np.nan_to_num(speed, nan=3.0)
    north_m = np.cumsum(step * rng.uniform(0.6, 1.0, size=n))
    lat = LAT0 + np.degrees(north_m / 6_371_008.8)
    lon = np.full(n, LON0) + rng.normal(0, 2e-6, size=n)
    jumps = rng.random(n) < 0.02
    lat[jumps] += 0.002  # 220 m off for one fix
    k = max(n // [10, 1][hz_mode], 0)
    hr_ts = T0 + np.sort(rng.choice(np.arange(0, max(int(ts[-1] - T0), 1) + 1, 500), size=k))
    hr = rng.integers(20, 240, size=k).astype(float)
    return {"ts": ts, "latitude": lat, "longitude": lon, "speed": speed, "hr_ts": hr_ts, "hr": hr}


PARAM_CHOICES = st.fixed_dictionaries(
    {
        "max_gap": st.sampled_from([1.0, 2.0, 60.0]),
        "speed_smoothing": st.sampled_from([0.0, 0.5, 1.3]),
        "max_speed_min_duration": st.sampled_from([0.0, 0.5, 2.0]),
        "acceleration_min_duration": st.sampled_from([0.0, 0.5]),
        "sprint_min_duration": st.sampled_from([0.0, 1.0]),
        "peak_windows": st.sampled_from([[1], [1, 2]]),
        "intensity_slice": st.sampled_from([10, 300]),
    }
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 400),
    hz_mode=st.integers(0, 1),
    params=PARAM_CHOICES,
    chunking=st.integers(0, 2**32 - 1),
    speed_channel=st.booleans(),
)
def test_incremental_equals_full_over_random_streams_chunkings_and_orders(
    seed, n, hz_mode, params, chunking, speed_channel
):
    data = random_stream(seed, n, hz_mode) if n else random_stream(seed, 1, hz_mode)
    if not n:
        data = {k: v[:0] for k, v in data.items()}
    if not speed_channel:
        data["speed"] = None
    p = params_effective(params)
    full = metrics_compute(params=p, start_ms=T0, end_ms=None, athlete=ATHLETE, **data)

    rng = np.random.default_rng(chunking)
    gnss = {k: v for k, v in data.items() if k[:2] != "hr"}
    delivered = np.zeros(n, dtype=bool)
    hr_done = np.zeros(len(data["hr_ts"]), dtype=bool)
    state = MetricsState(p, start_ms=T0, athlete=ATHLETE)
    newest = -math.inf

    def deliver(idx: np.ndarray, hr_sel: np.ndarray) -> None:
        nonlocal state, newest
        chunk = {k: (None if v is None else v[idx]) for k, v in gnss.items()}
        merged = state.update(**chunk, hr_ts=data["hr_ts"][hr_sel], hr=data["hr"][hr_sel])
        if len(idx):
            newest = max(newest, int(data["ts"][idx].max()))
        delivered[idx] = True
        hr_done[hr_sel] = True
        if len(idx) and data["ts"][idx].min() >= newest - LATE_MS:
            assert merged, "samples at most 5 s behind the newest must merge"
        if not merged:  # the caller recomputes from storage: a fresh state over what is stored
            state = MetricsState(p, start_ms=T0, athlete=ATHLETE)
            stored = {k: (None if v is None else v[delivered]) for k, v in gnss.items()}
            assert state.update(**stored, hr_ts=data["hr_ts"][hr_done], hr=data["hr"][hr_done])
        if rng.random() < 0.2:  # stored in PostgreSQL and loaded by another worker
            state = MetricsState.from_dict(json.loads(json.dumps(state.to_dict())))

    # chunks of 1–30 fixes, each shuffled (out of order inside a gateway request); now and then
    # a fix is held back to the next chunk (arriving late, merged or recomputed)
    bounds = np.cumsum(rng.integers(1, 31, size=n + 1))
    bounds = np.r_[0, bounds[bounds < n], n]
    held: list[int] = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        if lo == hi:
            continue
        idx = list(rng.permutation(np.arange(lo, hi))) + held
        held = [idx.pop()] if len(idx) > 1 and rng.random() < 0.3 else []
        hr_sel = (data["hr_ts"] > (T0 - 1 if lo == 0 else data["ts"][lo - 1])) & (
            data["hr_ts"] <= (data["ts"][hi - 1] if hi < n else math.inf)
        )
        deliver(np.array(idx, dtype=np.int64), hr_sel)
    deliver(np.array(held, dtype=np.int64), ~hr_done)

    assert_same(full, state.result())


def feed(state: MetricsState, data: dict, lo: int, hi: int) -> bool:
    return state.update(**{k: v[lo:hi] for k, v in data.items()})


def test_a_sample_five_seconds_late_merges_and_an_older_one_asks_for_a_recompute():
    data = track(np.r_[np.zeros(100), np.full(200, 7.5), np.zeros(300)])  # 60 s at 10 Hz
    p = params_effective()
    state = MetricsState(p, start_ms=T0)
    late = 549  # 54.9 s, 5.0 s before the newest (59.9 s)
    keep = np.ones(600, dtype=bool)
    keep[late] = False
    assert state.update(**{k: v[keep] for k, v in data.items()})
    before = state.to_dict()

    assert state.update(**{k: v[late : late + 1] for k, v in data.items()})  # 5 s behind
    assert_same(metrics_compute(params=p, start_ms=T0, **data), state.result())

    older = track([1.0], t0=T0 + 54_850)  # 5.05 s behind
    assert not state.update(**older)
    assert json.dumps(state.to_dict()) != json.dumps(before)  # the merged one changed it
    assert_same(metrics_compute(params=p, start_ms=T0, **data), state.result())  # untouched


def test_the_state_stays_small_however_long_the_match():
    v = np.tile(np.r_[np.zeros(50), np.linspace(0, 8, 30), np.full(40, 8.0), np.zeros(30)], 200)
    data = track(v)  # 50 minutes at 10 Hz, a sprint every 15 s
    state = MetricsState(params_effective(), start_ms=T0)
    sizes = []
    for lo in range(0, len(v), 10):
        assert feed(state, data, lo, lo + 10)
        if lo in (12_000, 29_990):  # after 20 and 50 minutes
            sizes.append((len(state.buf[0]), len(state.agg.p_t), len(state.agg.m_t)))
    assert sizes[0] == sizes[1]  # buffer and histories do not grow with the match
    assert sizes[1][0] < 150  # ~LATE + 2·horizon at 10 Hz
    assert sizes[1][1] <= 5 * 600 + 1  # the longest peak window
    assert sizes[1][2] <= 16  # max_speed_min_duration + max_gap


@pytest.mark.parametrize("chunk", [1, 7, 100])
def test_it_equals_the_full_computation_on_a_sprint_split_across_chunks(chunk):
    v = np.r_[np.zeros(30), np.linspace(0, 8, 25), np.full(300, 8.2), np.linspace(8, 0, 25)]
    data = track(v)
    p = params_effective()
    state = MetricsState(p, start_ms=T0)
    for lo in range(0, len(v), chunk):
        assert feed(state, data, lo, lo + chunk)
    full = metrics_compute(params=p, start_ms=T0, **data)

    assert_same(full, state.result())
    assert full["sprint"]["count"] == 1
