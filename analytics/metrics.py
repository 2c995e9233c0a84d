"""The metrics engine of SPEC §7: plain numpy, no Django.

One engine serves both uses. `MetricsState` absorbs samples chunk by chunk (live use);
`metrics_compute` is the same state fed everything at once (final recomputation), so live and
final numbers come from the same code path. docs/metrics.md states every definition with its
reasoning; this module's docstrings state shapes, units and formulas.

Inputs (all optional, any order, duplicates allowed — the first sample of a timestamp wins):
- GNSS: `ts` int64 epoch ms, shape (n,); `latitude`, `longitude` float64 degrees (n,);
  `speed` float64 m/s (n,), NaN where a fix carries none (or `None` for no speed channel).
- Heart rate: `hr_ts` int64 epoch ms (k,), `hr` float64 bpm (k,).

Outputs: the SPEC §7 dict (`metric_version`, effective `params`, every metric). Every timestamp
is an integer epoch ms, distances metres, durations seconds, speeds m/s, accelerations m/s².
`status`, `revision` and `computed_at` belong to the storing layer: `computed_document` adds them.

Incremental rule (live use). Per-sample quantities (glitch decision, segment, step distance,
sample speed, smoothed speed, acceleration) depend only on samples at most
`HORIZON = speed_smoothing/2 + 2·max_gap` away in time (glitch decisions only on earlier ones).
After each update the state folds the GNSS samples at or before the commit point
`P = newest − LATE_MS − HORIZON − 1 ms` into running aggregates (sums, open efforts, short
histories for the windowed metrics) and keeps the later ones raw, with a left context of
`HORIZON + max_gap`. A GNSS sample at or after `newest − LATE_MS` (newest as of the last
update) can only change samples after `P`, so it merges exactly; heart-rate readings follow the
same rule with the 5 s reading duration as horizon. An older sample makes `update` return False
and leaves the state untouched: the caller recomputes from stored samples. Equality with the
full computation is exact for every per-sample decision (their arithmetic never depends on
where a buffer starts); sums may differ in the last bits only (addition order).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

METRIC_VERSION = "1"
EARTH_RADIUS_M = (
    6_371_008.8  # IUGG mean Earth radius R1 (Moritz 2000, Geodetic Reference System 1980)
)
LATE_MS = 5_000  # ARCHITECTURE.md: samples up to 5 s behind the newest merge into the state
HR_VALID = (25.0, 250.0)  # SPEC §7: readings outside are ignored
HR_HOLD_MS = 5_000  # a heart-rate reading lasts until the next one, at most 5 s
DEFAULT_RESTING_HR = 60.0
# Banister (1991) TRIMP weighting, as given by SPEC §7: (k1, k2) per gender.
TRIMP_FACTORS = {"M": (0.64, 1.92), "F": (0.86, 1.67)}

DEFAULT_PARAMS: dict[str, Any] = {
    "max_gap": 1.0,
    "max_plausible_speed": 12.5,
    "speed_smoothing": 0.5,
    "max_speed_min_duration": 0.5,
    "speed_ranges": [0, 2, 4, 5.5, 7],
    "hid_threshold": 5.5,
    "sprint_threshold": 7.0,
    "sprint_min_duration": 1.0,
    "acceleration_thresholds": [2, 3],
    "acceleration_min_duration": 0.5,
    "hr_zones": [50, 60, 70, 80, 90],
    "hr_plot_interval": 5,
    "intensity_slice": 300,
    "peak_windows": [1, 3, 5],
}

_WATCH = {"max_gap": 60.0, "max_speed_min_duration": 0.0}
SPORT_PROFILES: dict[str, dict[str, Any]] = {
    "running": _WATCH,
    "walking": _WATCH,
    "hiking": _WATCH,
    "cycling": {**_WATCH, "max_plausible_speed": 30.0},
}
_LIST_PARAMS = ("speed_ranges", "acceleration_thresholds", "hr_zones", "peak_windows")


def params_effective(params: dict | None = None, sport: str | None = None) -> dict[str, Any]:
    """SPEC §7 defaults, then the sport profile of `sport` (case-insensitive), then `params`.

    Unknown keys of `params` are ignored (the timeframe schema rejects them upstream); list
    parameters are returned sorted ascending, numbers as floats (`peak_windows` stay as given).
    """
    merged = dict(DEFAULT_PARAMS)
    if isinstance(sport, str):
        merged.update(SPORT_PROFILES.get(sport.strip().lower(), {}))
    for key, value in (params or {}).items():
        if key in DEFAULT_PARAMS and value is not None:
            merged[key] = value
    for key in _LIST_PARAMS:
        merged[key] = sorted(merged[key])
    return merged


@dataclass(frozen=True)
class Athlete:
    """The profile values the metrics use (all optional). `gender` is "M" or "F"."""

    max_heart_rate: float | None = None
    resting_heart_rate: float | None = None
    gender: str | None = None
    birth_date: date | None = None

    def max_hr(self, at_ms: int | None) -> float | None:
        """Profile max HR, else 220 − age (whole years) at `at_ms`, else None."""
        if self.max_heart_rate:
            return float(self.max_heart_rate)
        if self.birth_date is None or at_ms is None:
            return None
        day = datetime.fromtimestamp(at_ms / 1000, tz=UTC).date()
        born = self.birth_date
        age = day.year - born.year - ((day.month, day.day) < (born.month, born.day))
        return float(220 - age)


def haversine_m(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Great-circle distance (m) between degree positions, elementwise; R = 6 371 008.8 m."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    h = (
        np.sin((p2 - p1) / 2) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(h, 1.0)))


def _steps_haversine(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    # Same formula as haversine_m between consecutive samples, with cos(lat) computed once per
    # sample rather than twice per step (the hot path of a 54,000-sample timeframe).
    p, lam = np.radians(lat), np.radians(lon)
    cos_p = np.cos(p)
    h = np.sin(np.diff(p) / 2) ** 2 + cos_p[:-1] * cos_p[1:] * np.sin(np.diff(lam) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(h, 1.0)))


# --------------------------------------------------------------------------------------------
# Per-sample quantities


@dataclass
class _Derived:
    """Per kept GNSS sample, shape (m,): the inputs of every aggregate."""

    src: np.ndarray  # int index into the buffer the sample came from
    t: np.ndarray  # int64 ms
    new_seg: np.ndarray  # bool: first sample of a segment
    step_d: np.ndarray  # m, of the step ending here (0 at a segment start)
    step_dt: np.ndarray  # s, of that step (0 at a segment start)
    step_v: np.ndarray  # m/s, step distance / dt (0 at a segment start)
    v: np.ndarray  # m/s sample speed
    a: np.ndarray  # m/s² acceleration of the smoothed speed


def _glitch_keep(
    t: np.ndarray, lat: np.ndarray, lon: np.ndarray, d: np.ndarray, p: dict
) -> np.ndarray:
    """Kept mask after the position-jump rule (SPEC §7), given `d` = haversine of consecutive
    samples. The rule is sequential (a step is measured from the previous *kept* sample), so
    numpy finds the candidates and Python walks only from each candidate until the stream is
    clean again: O(n) vectorised plus O(glitches) scalar work."""
    m = len(t)
    keep = np.ones(m, dtype=bool)
    gap_ms = p["max_gap"] * 1000.0
    vmax = p["max_plausible_speed"]
    dt_ms = np.diff(t)
    bad = (dt_ms <= gap_ms) & (d * 1000.0 > vmax * dt_ms)
    candidates = np.flatnonzero(bad) + 1
    if not len(candidates):
        return keep
    k = int(candidates[0])
    last = k - 1
    while k < m:
        dt = float(t[k] - t[last])
        if dt <= gap_ms:
            step = float(haversine_m(lat[last], lon[last], lat[k], lon[k]))
            if step * 1000.0 > vmax * dt:
                keep[k] = False
        if keep[k]:
            last = k
            nxt = np.searchsorted(candidates, k, side="right")
            if nxt == len(candidates):
                break
            k = int(candidates[nxt])
            last = k - 1
        else:
            k += 1
    return keep


def _derive(t: np.ndarray, lat: np.ndarray, lon: np.ndarray, spd: np.ndarray, p: dict) -> _Derived:
    """Glitch filter, segments, steps, sample speed and acceleration for time-sorted unique
    samples (shapes (n,)). The first sample is taken as kept (the state only starts a buffer on
    a sample already kept)."""
    vmax = p["max_plausible_speed"]
    gap_ms = p["max_gap"] * 1000.0
    src = np.flatnonzero(~(spd > vmax))  # NaN speed compares False: kept
    t, lat, lon, spd = t[src], lat[src], lon[src], spd[src]
    d = _steps_haversine(lat, lon) if len(t) > 1 else np.empty(0)
    keep = _glitch_keep(t, lat, lon, d, p) if len(t) > 1 else np.ones(len(t), dtype=bool)
    if not keep.all():
        src, t, lat, lon, spd = src[keep], t[keep], lat[keep], lon[keep], spd[keep]
        d = _steps_haversine(lat, lon) if len(t) > 1 else np.empty(0)
    m = len(t)
    dt_ms = np.diff(t)
    new_seg = np.ones(m, dtype=bool)
    new_seg[1:] = dt_ms > gap_ms
    step_dt = np.zeros(m)
    step_dt[1:] = dt_ms / 1000.0
    has_v = ~np.isnan(spd)
    step_d = np.zeros(m)
    if m > 1:
        both = has_v[:-1] & has_v[1:]
        # SPEC §7: trapezoidal integration of the speed channel where both ends carry it,
        # haversine otherwise (Doppler speed is far less noisy than position differences).
        step_d[1:] = np.where(both, (spd[:-1] + spd[1:]) / 2 * step_dt[1:], d)
        step_d[new_seg] = 0.0
        step_dt[new_seg] = 0.0
    step_v = np.divide(step_d, step_dt, out=np.zeros(m), where=step_dt > 0)
    # Sample speed: the channel, else the mean of the adjacent step speeds inside the segment.
    in_prev = ~new_seg
    in_next = np.zeros(m, dtype=bool)
    in_next[:-1] = ~new_seg[1:]
    nxt_v = np.zeros(m)
    nxt_v[:-1] = step_v[1:]
    count = in_prev.astype(float) + in_next
    fallback = np.divide(
        step_v * in_prev + nxt_v * in_next, count, out=np.zeros(m), where=count > 0
    )
    v = np.where(has_v, spd, fallback)
    a = _acceleration(t, v, new_seg, in_prev, in_next, p["speed_smoothing"])
    return _Derived(src, t, new_seg, step_d, step_dt, step_v, v, a)


def _acceleration(
    t: np.ndarray,
    v: np.ndarray,
    new_seg: np.ndarray,
    in_prev: np.ndarray,
    in_next: np.ndarray,
    window: float,
) -> np.ndarray:
    """Centred moving average of `v` (m/s, shape (m,)) over the samples of the same segment
    within ± window/2 s, then the central difference (one-sided at segment ends; 0 for a lone
    sample), in m/s². The average adds neighbours offset by ±1, ±2, … in that fixed order, so a
    sample's value depends only on its neighbours — never on where a buffer starts — which
    keeps incremental and full results bitwise equal."""
    m = len(t)
    if m == 0:
        return np.zeros(0)
    half = math.floor(window * 500.0)  # ms; t is integer ms, so the bound is inclusive
    total = v.copy()
    count = np.ones(m)
    seg = np.cumsum(new_seg)
    for off in range(1, m):
        # within reach of sample i: i+off (forward) — then i is within reach of i+off too
        near = (t[off:] - t[:-off] <= half) & (seg[off:] == seg[:-off])
        if not near.any():
            break
        total[:-off] += np.where(near, v[off:], 0.0)
        total[off:] += np.where(near, v[:-off], 0.0)
        count[:-off] += near
        count[off:] += near
    s = total / count
    idx = np.arange(m)
    i_prev = np.where(in_prev, idx - 1, idx)
    i_next = np.where(in_next, np.minimum(idx + 1, m - 1), idx)
    span = (t[i_next] - t[i_prev]) / 1000.0
    return np.divide(s[i_next] - s[i_prev], span, out=np.zeros(m), where=span > 0)


# --------------------------------------------------------------------------------------------
# Aggregates over a stream of final per-sample quantities


@dataclass
class _Chunk:
    t: np.ndarray
    new_seg: np.ndarray
    step_d: np.ndarray
    step_dt: np.ndarray
    step_v: np.ndarray
    v: np.ndarray
    a: np.ndarray

    @classmethod
    def of(cls, d: _Derived, sel: slice) -> _Chunk:
        return cls(
            d.t[sel],
            d.new_seg[sel],
            d.step_d[sel],
            d.step_dt[sel],
            d.step_v[sel],
            d.v[sel],
            d.a[sel],
        )


def _run_kinds(p: dict) -> list[tuple[str, str, float, float]]:
    """(result key, entry key, threshold, min duration s) per kind of effort."""
    kinds = [("sprint", "", float(p["sprint_threshold"]), float(p["sprint_min_duration"]))]
    for k, thr in enumerate(p["acceleration_thresholds"], start=1):
        kinds.append(
            ("accelerations", f"threshold_{k}", float(thr), float(p["acceleration_min_duration"]))
        )
        kinds.append(
            ("decelerations", f"threshold_{k}", float(thr), float(p["acceleration_min_duration"]))
        )
    return kinds


def _sparse_min(values: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """min(values[i..j]) per pair (inclusive, i ≤ j), by a sparse table: O(n log w)."""
    length = j - i + 1
    levels = int(np.log2(max(int(length.max()), 1)))
    table = [values]
    for k in range(1, levels + 1):
        prev, step = table[-1], 1 << (k - 1)
        table.append(np.minimum(prev[:-step], prev[step:]) if len(prev) > step else prev[:0])
    lev = np.floor(np.log2(length)).astype(np.int64)
    out = np.empty(len(i))
    for k in range(levels + 1):
        sel = lev == k
        if not sel.any():
            continue
        row = table[int(k)]
        out[sel] = np.minimum(row[i[sel]], row[j[sel] - (1 << int(k)) + 1])
    return out


class _Aggregates:
    """Running aggregates of the GNSS metrics. Everything here is bounded except the lists of
    efforts and the intensity slices, whose size is the output's own."""

    def __init__(self, p: dict, origin_ms: int) -> None:
        self.p = p
        self.origin = origin_ms
        self.samples = 0
        self.first_t: int | None = None
        self.last_t: int | None = None
        self.duration = 0.0
        self.D = 0.0  # cumulative distance at the last sample (m)
        self.seg = 0  # segment id of the last sample
        self.last_v = 0.0
        n_ranges = len(p["speed_ranges"])
        self.range_d = np.zeros(n_ranges)
        self.range_t = np.zeros(n_ranges)
        self.hid = 0.0
        self.slices: dict[int, float] = {}
        self.max_speed = 0.0
        self.peaks = np.zeros(len(p["peak_windows"]))
        # short histories (t, v, seg, D) for the windowed metrics
        # short histories: (t, v, segment) over max_speed_min_duration + max_gap for max_speed,
        # (t, cumulative distance) over the longest peak window
        self.m_t = np.zeros(0, dtype=np.int64)
        self.m_v = np.zeros(0)
        self.m_seg = np.zeros(0, dtype=np.int64)
        self.p_t = np.zeros(0, dtype=np.int64)
        self.p_D = np.zeros(0)
        self.kinds = _run_kinds(p)
        # open effort per kind: None or [start_t, start_D, start_v, peak]
        self.open: list[list[float] | None] = [None] * len(self.kinds)
        self.efforts: list[list[list[float]]] = [[] for _ in self.kinds]

    # -- state round trip ------------------------------------------------------------------
    _SCALARS = (
        "samples",
        "first_t",
        "last_t",
        "duration",
        "D",
        "seg",
        "last_v",
        "hid",
        "max_speed",
    )

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in self._SCALARS}
        out.update(
            range_d=self.range_d.tolist(),
            range_t=self.range_t.tolist(),
            slices=[[k, v] for k, v in self.slices.items()],
            peaks=self.peaks.tolist(),
            m_t=self.m_t.tolist(),
            m_v=self.m_v.tolist(),
            m_seg=self.m_seg.tolist(),
            p_t=self.p_t.tolist(),
            p_D=self.p_D.tolist(),
            open=self.open,
            efforts=self.efforts,
        )
        return out

    @classmethod
    def from_dict(cls, p: dict, origin: int, data: dict) -> _Aggregates:
        agg = cls(p, origin)
        for k in cls._SCALARS:
            setattr(agg, k, data[k])
        agg.range_d = np.array(data["range_d"], dtype=float)
        agg.range_t = np.array(data["range_t"], dtype=float)
        agg.slices = {int(k): float(v) for k, v in data["slices"]}
        agg.peaks = np.array(data["peaks"], dtype=float)
        agg.m_t = np.array(data["m_t"], dtype=np.int64)
        agg.m_v = np.array(data["m_v"], dtype=float)
        agg.m_seg = np.array(data["m_seg"], dtype=np.int64)
        agg.p_t = np.array(data["p_t"], dtype=np.int64)
        agg.p_D = np.array(data["p_D"], dtype=float)
        agg.open = [None if o is None else list(o) for o in data["open"]]
        agg.efforts = [[list(e) for e in kind] for kind in data["efforts"]]
        return agg

    def copy_small(self) -> _Aggregates:
        """A copy sharing the growing containers (efforts, slices) and the arrays (never
        changed in place) read-only: `absorb` on the copy must be called with `commit=False`."""
        twin = object.__new__(_Aggregates)
        twin.__dict__.update(self.__dict__)
        twin.open = list(self.open)
        return twin

    # -- absorbing final samples -------------------------------------------------------------
    def absorb(self, c: _Chunk, *, close: bool, commit: bool) -> dict:
        """Fold a chunk of final per-sample quantities in; returns the additions to the growing
        outputs (new efforts per kind, intensity slice distances). With `commit`, they are
        stored; otherwise the caller merges them into one result only. `close` ends efforts
        still open at the chunk's last sample (the end of the data)."""
        p = self.p
        n = len(c.t)
        new_efforts: list[list[list[float]]] = [[] for _ in self.kinds]
        slice_add: dict[int, float] = {}
        if n == 0 and not close:
            return {"efforts": new_efforts, "slices": slice_add}
        if n:
            seg = self.seg + np.cumsum(c.new_seg)
            D = np.cumsum(np.r_[self.D, c.step_d])[1:]
            # sums
            self.duration += float(c.step_dt.sum())
            bounds = np.asarray(p["speed_ranges"], dtype=float)
            is_step = ~c.new_seg
            r = np.searchsorted(bounds, c.step_v, side="right") - 1
            ok = is_step & (r >= 0)
            # (not in place: a result's copy shares these arrays with the state)
            self.range_d = self.range_d + np.bincount(
                r[ok], weights=c.step_d[ok], minlength=len(bounds)
            )
            self.range_t = self.range_t + np.bincount(
                r[ok], weights=c.step_dt[ok], minlength=len(bounds)
            )
            self.hid += float(c.step_d[is_step & (c.step_v >= p["hid_threshold"])].sum())
            # intensity graph: each step counts in the slice of its end sample
            sl = (c.t - self.origin) // max(1, int(round(p["intensity_slice"] * 1000)))
            first = np.flatnonzero(np.r_[True, sl[1:] != sl[:-1]])  # sl is sorted
            sums = np.add.reduceat(c.step_d, first)
            slice_add = {int(k): float(s) for k, s in zip(sl[first], sums, strict=True)}
            # windowed metrics over history + chunk; for each chunk sample j as a window's end:
            # max_speed's run starts at the last sample ≥ duration earlier (same segment),
            # a peak window at the first sample ≥ t_j − W
            dur_ms = p["max_speed_min_duration"] * 1000.0
            if dur_ms <= 0:
                self.max_speed = max(self.max_speed, float(c.v.max()))
            else:
                T = np.r_[self.m_t, c.t]
                V = np.r_[self.m_v, c.v]
                S = np.r_[self.m_seg, seg]
                j = np.arange(len(self.m_t), len(T))
                i = np.searchsorted(T, T[j] - math.ceil(dur_ms), side="right") - 1
                ok = i >= 0
                ok[ok] = S[i[ok]] == S[j[ok]]
                if ok.any():
                    best = _sparse_min(V, i[ok], j[ok]).max()
                    self.max_speed = max(self.max_speed, float(best))
                keep = math.ceil(dur_ms + p["max_gap"] * 1000.0)
                cut = min(np.searchsorted(T, T[-1] - keep, side="left"), len(T) - 1)
                self.m_t, self.m_v, self.m_seg = T[cut:], V[cut:], S[cut:]
            T = np.r_[self.p_t, c.t]
            DD = np.r_[self.p_D, D]
            j = np.arange(len(self.p_t), len(T))
            peaks = self.peaks.copy()
            for w, minutes in enumerate(p["peak_windows"]):
                i = np.searchsorted(T, T[j] - math.floor(minutes * 60_000), side="left")
                peaks[w] = max(peaks[w], float((DD[j] - DD[i]).max()))
            self.peaks = peaks
            keep = math.ceil(max(p["peak_windows"]) * 60_000)
            cut = min(np.searchsorted(T, T[-1] - keep, side="left"), len(T) - 1)
            self.p_t, self.p_D = T[cut:], DD[cut:]
        # efforts: the previous (last absorbed) sample leads the chunk, so a run can continue
        had = self.samples > 0
        et = np.r_[self.last_t if had else 0, c.t]
        eseg = np.r_[self.seg if had else -1, seg] if n else np.array([self.seg if had else -1])
        eD = np.r_[self.D, D] if n else np.array([self.D])
        ev = np.r_[self.last_v, c.v]
        ea = np.r_[0.0, c.a]
        same_next = np.zeros(n + 1, dtype=bool)
        same_next[:-1] = eseg[1:] == eseg[:-1]
        same_prev = np.zeros(n + 1, dtype=bool)
        same_prev[1:] = same_next[:-1]
        for k, (key, _, thr, min_dur) in enumerate(self.kinds):
            run = self.open[k]
            if key == "sprint":
                val = ev
                cond = ev >= thr
            elif key == "accelerations":
                val = ea
                cond = ea >= thr
            else:
                val = -ea
                cond = ea <= -thr
            cond[0] = run is not None
            if not cond.any():
                continue
            prev_c = np.zeros(n + 1, dtype=bool)
            prev_c[1:] = cond[:-1]
            next_c = np.zeros(n + 1, dtype=bool)
            next_c[:-1] = cond[1:]
            starts = np.flatnonzero(cond & ~(prev_c & same_prev))
            lasts = np.flatnonzero(cond & ~(next_c & same_next))
            masked = np.where(cond, val, -np.inf)
            if run is not None:
                masked[0] = run[3]
            peaks = np.maximum.reduceat(masked, starts)
            ends = np.where(same_next[lasts], lasts + 1, lasts)
            s_t = et[starts].astype(float)
            s_D = eD[starts]
            s_v = ev[starts]
            if run is not None:  # the run through the leading sample began earlier
                s_t[0], s_D[0], s_v[0] = run[0], run[1], run[2]
            count = len(starts)
            if not close and cond[-1]:
                count -= 1
                self.open[k] = [s_t[-1], s_D[-1], s_v[-1], float(peaks[-1])]
            else:
                self.open[k] = None
            if count:
                e = ends[:count]
                span = et[e] - s_t[:count]
                good = span >= round(min_dur * 1000.0, 6)
                for q in np.flatnonzero(good):
                    new_efforts[k].append(
                        [
                            int(s_t[q]),
                            float(span[q]) / 1000.0,
                            float(eD[e[q]] - s_D[q]),
                            float(peaks[q]),
                            float(s_v[q]),
                            float(ev[e[q]]),
                        ]
                    )
        if n:
            self.samples += n
            if self.first_t is None:
                self.first_t = int(c.t[0])
            self.last_t = int(c.t[-1])
            self.D = float(D[-1])
            self.seg = int(seg[-1])
            self.last_v = float(c.v[-1])
        if commit:
            for k, add in enumerate(new_efforts):
                self.efforts[k].extend(add)
            for key, dist in slice_add.items():
                self.slices[key] = self.slices.get(key, 0.0) + dist
        return {"efforts": new_efforts, "slices": slice_add}


class _HeartRate:
    """Running heart-rate aggregates over readings whose duration is final."""

    def __init__(
        self, p: dict, origin: int, max_hr: float | None, rest: float, gender: str | None
    ) -> None:
        self.p = p
        self.origin = origin
        self.max_hr = max_hr
        self.rest = rest
        self.factors = TRIMP_FACTORS.get((gender or "").upper()[:1])
        self.count = 0
        self.wsum = 0.0
        self.wtot = 0.0
        self.lo: float | None = None
        self.hi: float | None = None
        self.zones = np.zeros(len(p["hr_zones"]))
        self.trimp = 0.0
        self.buckets: dict[int, list[float]] = {}

    def to_dict(self) -> dict:
        return {
            "count": self.count,
            "wsum": self.wsum,
            "wtot": self.wtot,
            "lo": self.lo,
            "hi": self.hi,
            "zones": self.zones.tolist(),
            "trimp": self.trimp,
            "buckets": [[k, s, n] for k, (s, n) in self.buckets.items()],
        }

    def load(self, data: dict) -> None:
        self.count, self.wsum, self.wtot = data["count"], data["wsum"], data["wtot"]
        self.lo, self.hi, self.trimp = data["lo"], data["hi"], data["trimp"]
        self.zones = np.array(data["zones"], dtype=float)
        self.buckets = {int(k): [float(s), float(n)] for k, s, n in data["buckets"]}

    def absorb(self, t: np.ndarray, hr: np.ndarray, w_ms: np.ndarray, *, commit: bool) -> dict:
        """Fold readings (t ms, hr bpm, duration ms; shapes (k,)) in; returns the plot bucket
        additions. Without `commit` only the scalars change (call it on a copy)."""
        if not len(t):
            return {}
        self.count += len(t)
        self.wsum += float((hr * w_ms).sum())
        self.wtot += float(w_ms.sum())
        lo, hi = float(hr.min()), float(hr.max())
        self.lo = lo if self.lo is None else min(self.lo, lo)
        self.hi = hi if self.hi is None else max(self.hi, hi)
        if self.max_hr:
            bounds = np.asarray(self.p["hr_zones"], dtype=float) * self.max_hr
            z = np.searchsorted(bounds, hr * 100.0, side="right") - 1  # exact on integer bpm
            ok = z >= 0
            self.zones = (
                self.zones + np.bincount(z[ok], weights=w_ms[ok], minlength=len(bounds)) / 1000.0
            )
            if self.factors and self.max_hr > self.rest:
                k1, k2 = self.factors
                hrr = np.maximum((hr - self.rest) / (self.max_hr - self.rest), 0.0)
                self.trimp += float((w_ms / 60_000.0 * hrr * k1 * np.exp(k2 * hrr)).sum())
        b = (t - self.origin) // max(1, int(round(self.p["hr_plot_interval"] * 1000)))
        first = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])  # b is sorted
        sums = np.add.reduceat(hr, first)
        counts = np.diff(np.r_[first, len(b)])
        add = {int(k): [float(s), float(n)] for k, s, n in zip(b[first], sums, counts, strict=True)}
        if commit:
            for k, (s, n) in add.items():
                cur = self.buckets.setdefault(k, [0.0, 0.0])
                cur[0] += s
                cur[1] += n
        return add

    def copy_small(self) -> _HeartRate:
        twin = object.__new__(_HeartRate)
        twin.__dict__.update(self.__dict__)
        return twin


# --------------------------------------------------------------------------------------------
# The state


def _clean_gnss(ts, lat, lon, speed, start, end) -> tuple[np.ndarray, ...]:
    ts = np.asarray(ts, dtype=np.int64).ravel()
    lat = np.asarray(lat, dtype=float).ravel()
    lon = np.asarray(lon, dtype=float).ravel()
    spd = (
        np.full(len(ts), np.nan) if speed is None else np.asarray(speed, dtype=float).ravel().copy()
    )
    n = min(len(ts), len(lat), len(lon), len(spd))
    ts, lat, lon, spd = ts[:n], lat[:n], lon[:n], spd[:n]
    spd[~np.isfinite(spd) | (spd < 0)] = np.nan  # a reading we cannot use is a missing one
    ok = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    if start is not None:
        ok &= ts >= start
    if end is not None:
        ok &= ts < end
    return ts[ok], lat[ok], lon[ok], spd[ok]


def _merge(old: tuple[np.ndarray, ...], new: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """Sorted union by timestamp (column 0); the first occurrence of a timestamp wins (stored
    samples before new ones, then arrival order), as storage's first write does."""
    if not len(new[0]):
        return old
    cols = [np.concatenate([o, n]) for o, n in zip(old, new, strict=True)]
    order = np.argsort(cols[0], kind="stable")
    t = cols[0][order]
    first = np.ones(len(t), dtype=bool)
    first[1:] = t[1:] != t[:-1]
    pick = order[first]
    return tuple(c[pick] for c in cols)


class MetricsState:
    """Incremental SPEC §7 metrics of one timeframe (see the module docstring for the rule).

    `update` costs O(new samples + buffer), the buffer being the samples of the last
    `LATE_MS + 2·HORIZON + max_gap` (~10 s at 10 Hz with the team defaults, ~5 min with a
    60 s `max_gap`);
    `result()` adds the not-yet-committed tail to a copy of the aggregates. `to_dict` /
    `from_dict` round-trip the state through plain JSON values.
    """

    def __init__(
        self,
        params: dict,
        *,
        start_ms: int,
        end_ms: int | None = None,
        athlete: Athlete | None = None,
    ) -> None:
        self.params = params
        self.start = int(start_ms)
        self.end = None if end_ms is None else int(end_ms)
        self.athlete = athlete or Athlete()
        p = params
        # how far (ms) a sample's per-sample quantities reach: its smoothing window, and one
        # step either side for the sample speed and the central difference
        self.horizon_ms = p["speed_smoothing"] * 500.0 + 2 * p["max_gap"] * 1000.0
        self.context_ms = self.horizon_ms + p["max_gap"] * 1000.0 + 1
        self.max_hr = self.athlete.max_hr(self.start)
        rest = float(self.athlete.resting_heart_rate or DEFAULT_RESTING_HR)
        self.agg = _Aggregates(p, self.start)
        self.hr = _HeartRate(p, self.start, self.max_hr, rest, self.athlete.gender)
        empty_f = np.zeros(0)
        self.buf = (np.zeros(0, dtype=np.int64), empty_f, empty_f, empty_f)  # t, lat, lon, spd
        self.commit_t: float = -math.inf  # P: samples at or before it are folded in
        self.hr_buf = (np.zeros(0, dtype=np.int64), empty_f)
        self.hr_commit_t: float = -math.inf
        self._derived: _Derived | None = None

    # -- absorbing ---------------------------------------------------------------------------
    def update(
        self,
        *,
        ts: Any = (),
        latitude: Any = (),
        longitude: Any = (),
        speed: Any = None,
        hr_ts: Any = (),
        hr: Any = (),
    ) -> bool:
        """Absorb new samples (any order; shapes as in the module docstring).

        Returns False — and changes nothing — when a sample is more than `LATE_MS` behind the
        newest of its channel as of the previous update (see the module docstring): the caller
        recomputes from storage. Duplicated timestamps keep the sample seen first.
        """
        g = _clean_gnss(ts, latitude, longitude, speed, self.start, self.end)
        h_t = np.asarray(hr_ts, dtype=np.int64).ravel()
        h_v = np.asarray(hr, dtype=float).ravel()[: len(h_t)]
        h_t = h_t[: len(h_v)]
        ok = np.isfinite(h_v) & (h_v >= HR_VALID[0]) & (h_v <= HR_VALID[1]) & (h_t >= self.start)
        if self.end is not None:
            ok &= h_t < self.end
        h_t, h_v = h_t[ok], h_v[ok]
        # commit_t + 1 + horizon = (newest − LATE_MS) at the last commit: see `_commit_gnss`
        if (len(g[0]) and g[0].min() < self.commit_t + 1 + self.horizon_ms) or (
            len(h_t) and h_t.min() < self.hr_commit_t + HR_HOLD_MS
        ):
            return False
        if len(g[0]):
            self.buf = _merge(self.buf, g)
            self._commit_gnss()
        if len(h_t):
            self.hr_buf = _merge(self.hr_buf, (h_t, h_v))
            self._commit_hr()
        return True

    def _commit_gnss(self) -> None:
        # Samples at or before `point` can no longer change (a sample merging later is newer
        # than point + horizon, see `update`): fold them into the aggregates.
        t = self.buf[0]
        d = _derive(*self.buf, self.params)
        point = float(t[-1]) - LATE_MS - self.horizon_ms - 1
        lo = (
            np.searchsorted(d.t, math.floor(self.commit_t), side="right")
            if self.commit_t > -math.inf
            else 0
        )
        hi = np.searchsorted(d.t, math.floor(point), side="right")
        if hi > lo:
            self.agg.absorb(_Chunk.of(d, slice(lo, hi)), close=False, commit=True)
        if point > self.commit_t:
            self.commit_t = point
        # keep the left context (kept samples only) and everything after the commit point
        kept = np.zeros(len(t), dtype=bool)
        kept[d.src] = True
        keep = (t > self.commit_t) | (kept & (t >= self.commit_t - self.context_ms))
        if not keep.all():
            self.buf = tuple(c[keep] for c in self.buf)
            self._derived = None
        else:
            self._derived = d

    def _commit_hr(self) -> None:
        # A reading's duration depends on its successor only up to HR_HOLD_MS, so readings at
        # or before newest − LATE − HOLD are final; later ones merge from point + HOLD on.
        t, v = self.hr_buf
        point = float(t[-1]) - LATE_MS - HR_HOLD_MS
        n = int(np.searchsorted(t, math.floor(point), side="right"))
        if n:
            w = self._hr_weights(t)[:n]
            self.hr.absorb(t[:n], v[:n], w, commit=True)
            self.hr_buf = (t[n:], v[n:])
            self.hr_commit_t = float(t[n - 1])
        if point > self.hr_commit_t:
            self.hr_commit_t = point

    def _hr_weights(self, t: np.ndarray) -> np.ndarray:
        """Duration (ms) of each reading: until the next, at most HR_HOLD_MS; the last one
        until the timeframe's end, at most HR_HOLD_MS."""
        w = np.empty(len(t))
        w[:-1] = np.minimum(np.diff(t), HR_HOLD_MS)
        if len(t):
            w[-1] = HR_HOLD_MS if self.end is None else min(HR_HOLD_MS, self.end - int(t[-1]))
        return w

    # -- reading -----------------------------------------------------------------------------
    def newest(self) -> int | None:
        """The newest timestamp absorbed, over both channels (None: nothing yet). The newest
        sample of each channel is always in its raw buffer (only older ones are folded).

        A sample at or after `newest() − LATE_MS` always merges; a caller that re-reads stored
        samples from there on gives `update` duplicates of buffered ones, which it ignores."""
        ends = [int(b[0][-1]) for b in (self.buf, self.hr_buf) if len(b[0])]
        return max(ends) if ends else None

    def result(self) -> dict[str, Any]:
        """The SPEC §7 metrics over every sample absorbed so far (without status/revision/
        computed_at: see `computed_document`). Cost O(buffer + output size)."""
        agg = self.agg.copy_small()
        if len(self.buf[0]):
            d = self._derived if self._derived is not None else _derive(*self.buf, self.params)
            lo = (
                np.searchsorted(d.t, math.floor(self.commit_t), side="right")
                if self.commit_t > -math.inf
                else 0
            )
            extra = agg.absorb(_Chunk.of(d, slice(lo, None)), close=True, commit=False)
        else:
            extra = agg.absorb(_Chunk.of(_EMPTY, slice(0, 0)), close=True, commit=False)
        hr = self.hr.copy_small()
        t, v = self.hr_buf
        hr_extra = hr.absorb(t, v, self._hr_weights(t), commit=False) if len(t) else {}
        return self._document(agg, extra, hr, hr_extra)

    def _document(self, agg: _Aggregates, extra: dict, hr: _HeartRate, hr_extra: dict) -> dict:
        p = self.params
        bounds = p["speed_ranges"]
        ranges = [
            {
                "min": lo,
                "max": bounds[i + 1] if i + 1 < len(bounds) else None,
                "distance": float(agg.range_d[i]),
                "duration": float(agg.range_t[i]),
            }
            for i, lo in enumerate(bounds)
        ]
        sprint: dict[str, Any] = {}
        acc: dict[str, Any] = {}
        dec: dict[str, Any] = {}
        for k, (key, entry, thr, _) in enumerate(agg.kinds):
            rows = agg.efforts[k] + extra["efforts"][k]
            if key == "sprint":
                values = [
                    {"start_time": r[0], "duration": r[1], "distance": r[2], "max_speed": r[3]}
                    for r in rows
                ]
                sprint = {
                    "threshold": thr,
                    "count": len(values),
                    "distance": float(sum(r[2] for r in rows)),
                    "values": values,
                }
            else:
                values = [
                    {
                        "start_time": r[0],
                        "max_value": r[3],
                        "duration": r[1],
                        "distance": r[2],
                        "initial_speed": r[4],
                        "end_speed": r[5],
                    }
                    for r in rows
                ]
                (acc if key == "accelerations" else dec)[entry] = {
                    "threshold": thr,
                    "values": values,
                }
        slices = dict(agg.slices)
        for key, dist in extra["slices"].items():
            slices[key] = slices.get(key, 0.0) + dist
        step = max(1, int(round(p["intensity_slice"] * 1000)))
        graph = (
            [
                {"start_time": self.start + k * step, "distance": slices.get(k, 0.0)}
                for k in range(max(slices) + 1)
            ]
            if slices
            else []
        )
        buckets = {k: list(v) for k, v in hr.buckets.items()}
        for key, (s, n) in hr_extra.items():
            cur = buckets.setdefault(key, [0.0, 0.0])
            cur[0] += s
            cur[1] += n
        width = max(1, int(round(p["hr_plot_interval"] * 1000)))
        zones = p["hr_zones"]
        duration = agg.duration
        return {
            "metric_version": METRIC_VERSION,
            "params": {k: list(v) if isinstance(v, list) else v for k, v in p.items()},
            "first_timestamp": agg.first_t,
            "last_timestamp": agg.last_t,
            "samples": agg.samples,
            "duration": duration,
            "total_distance": agg.D,
            "average_speed": agg.D / duration if duration > 0 else 0.0,
            "distance_per_minute": agg.D / (duration / 60.0) if duration > 0 else 0.0,
            "max_speed": agg.max_speed,
            "distance_per_speed_ranges": ranges,
            "hid": {"threshold": float(p["hid_threshold"]), "distance": agg.hid},
            "sprint": sprint,
            "accelerations": acc,
            "decelerations": dec,
            "athlete_max_hr": self.max_hr,
            "hr_avg": hr.wsum / hr.wtot if hr.wtot > 0 else None,
            "hr_min": hr.lo,
            "hr_max": hr.hi,
            "hr_plot": [[self.start + k * width, s / n] for k, (s, n) in sorted(buckets.items())],
            "timePerHrZone": [
                {
                    "min_percent": z,
                    "max_percent": zones[i + 1] if i + 1 < len(zones) else None,
                    "duration": float(hr.zones[i]) if self.max_hr else None,
                }
                for i, z in enumerate(zones)
            ],
            "trimp": hr.trimp if (hr.factors and self.max_hr and self.max_hr > hr.rest) else None,
            "intensity_graph": graph,
            # `:g` keys a window given as 1.0 (JSON Schema's "integer" takes it) as "1".
            "peak_distance": {
                f"{w:g}": float(agg.peaks[i]) for i, w in enumerate(p["peak_windows"])
            },
        }

    # -- persistence -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (NaN speeds as null); size bounded but for the outputs' lists."""
        t, lat, lon, spd = self.buf
        a = self.athlete
        return {
            "version": METRIC_VERSION,
            "params": self.params,
            "start": self.start,
            "end": self.end,
            "athlete": [
                a.max_heart_rate,
                a.resting_heart_rate,
                a.gender,
                None if a.birth_date is None else a.birth_date.isoformat(),
            ],
            "buf": [
                t.tolist(),
                lat.tolist(),
                lon.tolist(),
                [None if math.isnan(x) else x for x in spd.tolist()],
            ],
            "commit_t": None if self.commit_t == -math.inf else self.commit_t,
            "hr_buf": [self.hr_buf[0].tolist(), self.hr_buf[1].tolist()],
            "hr_commit_t": None if self.hr_commit_t == -math.inf else self.hr_commit_t,
            "agg": self.agg.to_dict(),
            "hr": self.hr.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetricsState:
        mx, rest, gender, born = data["athlete"]
        athlete = Athlete(mx, rest, gender, None if born is None else date.fromisoformat(born))
        state = cls(data["params"], start_ms=data["start"], end_ms=data["end"], athlete=athlete)
        t, lat, lon, spd = data["buf"]
        state.buf = (
            np.array(t, dtype=np.int64),
            np.array(lat, dtype=float),
            np.array(lon, dtype=float),
            np.array([math.nan if x is None else x for x in spd], dtype=float),
        )
        state.commit_t = -math.inf if data["commit_t"] is None else data["commit_t"]
        state.hr_buf = (
            np.array(data["hr_buf"][0], dtype=np.int64),
            np.array(data["hr_buf"][1], dtype=float),
        )
        state.hr_commit_t = -math.inf if data["hr_commit_t"] is None else data["hr_commit_t"]
        state.agg = _Aggregates.from_dict(state.params, state.start, data["agg"])
        state.hr.load(data["hr"])
        return state


_EMPTY = _Derived(
    *(np.zeros(0, dtype=np.int64) for _ in range(2)), *(np.zeros(0) for _ in range(6))
)


def metrics_compute(
    *,
    params: dict,
    start_ms: int | None = None,
    end_ms: int | None = None,
    athlete: Athlete | None = None,
    ts: Any = (),
    latitude: Any = (),
    longitude: Any = (),
    speed: Any = None,
    hr_ts: Any = (),
    hr: Any = (),
) -> dict[str, Any]:
    """The SPEC §7 metrics of one timeframe from all its samples at once.

    `params` are effective params (`params_effective`); `start_ms`/`end_ms` the timeframe window
    [start, end) — samples outside are ignored, and `hr_plot` and `intensity_graph` buckets
    align to `start_ms` (default: the earliest sample). Never raises on bad data.
    """
    if start_ms is None:
        firsts = [int(np.min(x)) for x in (np.asarray(ts), np.asarray(hr_ts)) if np.size(x)]
        start_ms = min(firsts) if firsts else 0
    state = MetricsState(params, start_ms=start_ms, end_ms=end_ms, athlete=athlete)
    state.update(ts=ts, latitude=latitude, longitude=longitude, speed=speed, hr_ts=hr_ts, hr=hr)
    return state.result()


def computed_document(metrics: dict, *, status: str, revision: int, computed_at: str) -> dict:
    """The stored/served shape of SPEC §7: the metrics plus how and when they were made."""
    head = {
        "metric_version": metrics["metric_version"],
        "status": status,
        "revision": revision,
        "computed_at": computed_at,
    }
    return {**head, **metrics}
