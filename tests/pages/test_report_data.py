"""`analytics.report`: what the report draws, reduced on the server (pure numpy, no database)."""

import math

import numpy as np
import pytest

from analytics.metrics import EARTH_RADIUS_M
from analytics.report import (
    MAX_POINTS,
    TRACK_GAP_MS,
    gnss_speed,
    scale_length,
    series_downsample,
    track_project,
)

T0 = 1_780_171_200_000


def fixes(seconds: float, hz: float = 10.0, speed: float = 3.0, t0: int = T0) -> dict:
    n = int(seconds * hz)
    ts = t0 + np.round(np.arange(n) * 1000 / hz).astype(np.int64)
    north = np.arange(n) * speed / hz
    return {
        "ts": ts,
        "lat": 51.5 + np.degrees(north / EARTH_RADIUS_M),
        "lon": np.full(n, -0.1),
        "speed": np.full(n, speed),
    }


def downsample(f: dict, hr_ts=None, hr=None, end_ms=None, **kwargs):
    return series_downsample(
        start_ms=T0,
        end_ms=end_ms or T0 + 6 * 3600_000,
        gnss_ts=f["ts"],
        speed=f["speed"],
        hr_ts=np.zeros(0, np.int64) if hr_ts is None else hr_ts,
        hr=np.zeros(0) if hr is None else hr,
        max_plausible_speed=12.5,
        **kwargs,
    )


def test_90_minutes_at_10_hz_become_at_most_2000_whole_second_buckets():
    series = downsample(fixes(90 * 60))

    assert len(series.t) <= MAX_POINTS
    assert series.bucket_s == 3.0
    assert series.t[0] == T0 / 1000
    assert set(series.speed) == {3.0}


def test_a_short_timeframe_keeps_one_second_buckets():
    series = downsample(fixes(60))

    assert series.bucket_s == 1.0
    assert len(series.t) == 60


def test_a_gap_stays_a_gap():
    f = fixes(30)
    later = fixes(30, t0=T0 + 60_000)
    both = {k: np.concatenate([f[k], later[k]]) for k in f}

    series = downsample(both)

    assert series.speed[:30] == [3.0] * 30
    assert series.speed[30:60] == [None] * 30
    assert series.speed[60:] == [3.0] * 30


def test_glitches_and_implausible_heart_rates_are_left_out():
    f = fixes(10)
    f["speed"][5] = 40.0
    hr_ts = T0 + np.arange(10) * 1000
    hr = np.array([150, 151, 300, 152, 10, 153, 154, 155, 156, 157], dtype=float)

    series = downsample(f, hr_ts, hr)

    assert max(s for s in series.speed if s is not None) == 3.0
    assert series.hr[2] is None and series.hr[4] is None
    assert series.hr[0] == 150


def test_no_samples_is_an_empty_series():
    empty = {"ts": np.zeros(0, np.int64), "speed": np.zeros(0)}

    series = downsample(empty)

    assert series.t == series.speed == series.hr == []


def test_without_a_speed_channel_the_speed_is_the_step_speed():
    f = fixes(5, hz=1, speed=4.0)

    speed = gnss_speed(f["ts"], f["lat"], f["lon"], None)

    assert math.isnan(speed[0])
    assert speed[1:] == pytest.approx([4.0] * 4)


@pytest.mark.parametrize(
    ("width", "length"), [(5, 1), (120, 20), (1591, 200), (2600, 500), (9000, 1000)]
)
def test_the_scale_bar_is_a_round_fifth_of_the_width(width, length):
    assert scale_length(width) == length


def test_the_track_is_projected_in_metres_north_up_and_thinned():
    f = fixes(90 * 60, speed=0.02)  # 108 m north in 90 minutes

    track = track_project(
        ts=f["ts"], lat=f["lat"], lon=f["lon"], speed=f["speed"], max_plausible_speed=12.5
    )

    assert len(track.lines) == 1
    assert len(track.lines[0]) <= 3001
    xs, ys = zip(*track.lines[0], strict=True)
    assert max(ys) - min(ys) == pytest.approx(108, abs=0.5)
    assert ys[0] < ys[-1]  # north is up
    assert max(abs(x) for x in xs) < 0.5
    assert track.height_m == pytest.approx(108, abs=0.5)


def test_a_long_gap_splits_the_track():
    f = fixes(10)
    later = fixes(10, t0=T0 + 10_000 + TRACK_GAP_MS + 1)
    both = {k: np.concatenate([f[k], later[k]]) for k in f}

    track = track_project(
        ts=both["ts"],
        lat=both["lat"],
        lon=both["lon"],
        speed=both["speed"],
        max_plausible_speed=12.5,
    )

    assert [len(line) for line in track.lines] == [100, 100]


def test_no_fixes_is_no_track():
    empty = np.zeros(0)
    assert (
        track_project(
            ts=np.zeros(0, np.int64), lat=empty, lon=empty, speed=empty, max_plausible_speed=12.5
        )
        is None
    )
