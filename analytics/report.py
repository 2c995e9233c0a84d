"""What the post-session report draws from a timeframe's samples (pure numpy, no Django).

A 90-minute timeframe at 10 Hz holds 54,000 fixes; a browser draws 2,000 points as fast as it
draws 200, but 54,000 make the page slow and heavy. So the series are reduced here, on the
server, to at most `MAX_POINTS` time buckets (means per bucket, `None` where a bucket holds no
reading, so gaps stay gaps), and the track to at most `MAX_TRACK_POINTS` positions in a local
projection (metres east and north of the track's centre: no map tiles needed).

Speeds above the effective `max_plausible_speed` are GNSS glitches (SPEC §7) and are left out;
without a speed channel (some 10 Hz exports) the speed is the position step speed.
"""

import math
from dataclasses import dataclass

import numpy as np

from analytics.metrics import EARTH_RADIUS_M, HR_VALID, haversine_m

MAX_POINTS = 2000
MAX_TRACK_POINTS = 3000
# The track is drawn as one line across short gaps (a player standing still unrecorded moves
# little); a longer gap starts a new line.
TRACK_GAP_MS = 10_000


@dataclass
class Series:
    """Speed and heart rate per time bucket: `t` in epoch seconds (uPlot's time unit)."""

    bucket_s: float
    t: list[float]
    speed: list[float | None]
    hr: list[float | None]


@dataclass
class Track:
    """Projected positions (metres east, north of the centre), one list of (x, y) per line."""

    lines: list[list[tuple[float, float]]]
    width_m: float
    height_m: float
    scale_m: float  # a round length for the scale bar, about a fifth of the width


def _bucket_means(
    ts: np.ndarray, values: np.ndarray, origin: int, bucket_ms: int, n: int
) -> list[float | None]:
    ok = np.isfinite(values)
    index = (ts[ok] - origin) // bucket_ms
    inside = (index >= 0) & (index < n)
    index, vals = index[inside], values[ok][inside]
    sums = np.bincount(index, weights=vals, minlength=n)
    counts = np.bincount(index, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    return [None if c == 0 else round(float(m), 2) for m, c in zip(means, counts, strict=True)]


def gnss_speed(ts: np.ndarray, lat: np.ndarray, lon: np.ndarray, speed: np.ndarray | None):
    """The reported speed where there is one, else the speed of the step ending at the fix."""
    if speed is not None and np.isfinite(speed).any():
        return speed
    out = np.full(len(ts), np.nan)
    if len(ts) > 1:
        dt = np.diff(ts) / 1000.0
        with np.errstate(invalid="ignore", divide="ignore"):
            step = haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:]) / dt
        out[1:] = np.where(dt > 0, step, np.nan)
    return out


def series_downsample(
    *,
    start_ms: int,
    end_ms: int,
    gnss_ts: np.ndarray,
    speed: np.ndarray,
    hr_ts: np.ndarray,
    hr: np.ndarray,
    max_plausible_speed: float,
    max_points: int = MAX_POINTS,
) -> Series:
    """Mean speed and heart rate per bucket over [first reading, last reading], at most
    `max_points` buckets of a whole number of seconds, aligned to the timeframe start."""
    speed = np.where(speed <= max_plausible_speed, speed, np.nan)
    hr = np.where((hr >= HR_VALID[0]) & (hr <= HR_VALID[1]), hr, np.nan)
    stamps = [a[[0, -1]] for a in (gnss_ts, hr_ts) if len(a)]
    if not stamps:
        return Series(bucket_s=1.0, t=[], speed=[], hr=[])
    first = max(int(min(s[0] for s in stamps)), start_ms)
    last = min(int(max(s[-1] for s in stamps)), end_ms - 1)
    span_ms = max(last - first, 1)
    bucket_ms = max(1000, math.ceil(span_ms / max_points / 1000) * 1000)
    origin = start_ms + (first - start_ms) // bucket_ms * bucket_ms
    n = (last - origin) // bucket_ms + 1
    return Series(
        bucket_s=bucket_ms / 1000,
        t=[(origin + k * bucket_ms) / 1000 for k in range(n)],
        speed=_bucket_means(gnss_ts, speed, origin, bucket_ms, n),
        hr=_bucket_means(hr_ts, hr, origin, bucket_ms, n),
    )


def scale_length(width_m: float) -> float:
    """A round length (1, 2 or 5 × 10^k m) of about a fifth of `width_m`."""
    target = max(width_m / 5, 1.0)
    power = 10 ** math.floor(math.log10(target))
    return max(f * power for f in (1, 2, 5) if f * power <= target)


def track_project(
    *,
    ts: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    speed: np.ndarray,
    max_plausible_speed: float,
    max_points: int = MAX_TRACK_POINTS,
) -> Track | None:
    """The fixes in an equirectangular projection about the track's centre (exact enough over
    a pitch or a town), without glitches, thinned to at most `max_points`; None: no fixes."""
    ok = np.isfinite(lat) & np.isfinite(lon) & ~(speed > max_plausible_speed)
    ts, lat, lon = ts[ok], lat[ok], lon[ok]
    if not len(ts):
        return None
    lat0 = (lat.min() + lat.max()) / 2
    lon0 = (lon.min() + lon.max()) / 2
    x = np.radians(lon - lon0) * EARTH_RADIUS_M * math.cos(math.radians(lat0))
    y = np.radians(lat - lat0) * EARTH_RADIUS_M
    step = max(1, math.ceil(len(ts) / max_points))
    keep = np.zeros(len(ts), dtype=bool)
    keep[::step] = True
    keep[-1] = True
    breaks = np.flatnonzero(np.diff(ts) > TRACK_GAP_MS)
    keep[breaks] = keep[breaks + 1] = True  # both ends of every gap
    line_id = np.concatenate([[0], np.cumsum(np.diff(ts) > TRACK_GAP_MS)])[keep]
    xs, ys = np.round(x[keep], 1), np.round(y[keep], 1)
    lines: list[list[tuple[float, float]]] = []
    for k in np.unique(line_id):
        at = line_id == k
        lines.append(list(zip(xs[at].tolist(), ys[at].tolist(), strict=True)))
    width = float(x.max() - x.min())
    height = float(y.max() - y.min())
    return Track(lines=lines, width_m=width, height_m=height, scale_m=scale_length(width))
