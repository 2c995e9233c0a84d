"""Hand-built GNSS and heart-rate streams for the metrics stories (plain numpy, no Django)."""

import math

import numpy as np

from analytics.metrics import EARTH_RADIUS_M

T0 = 1_780_171_200_000  # 2026-05-30T20:00:00Z, epoch ms
LAT0, LON0 = 49.25, 7.0


def north(distances_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions `distances_m` metres north of (LAT0, LON0) along the meridian, where the
    haversine distance is exactly R·Δφ."""
    lat = LAT0 + np.degrees(np.asarray(distances_m, dtype=float) / EARTH_RADIUS_M)
    return lat, np.full(len(lat), LON0)


def track(speeds: list[float] | np.ndarray, *, hz: float = 10.0, t0: int = T0) -> dict:
    """A straight run north at the given per-sample speeds (m/s), `hz` samples a second; the
    positions follow the trapezoidal integral of the speeds, so both distance paths agree."""
    v = np.asarray(speeds, dtype=float)
    dt = 1.0 / hz
    ts = t0 + np.round(np.arange(len(v)) * dt * 1000).astype(np.int64)
    steps = np.r_[0.0, (v[:-1] + v[1:]) / 2 * dt]
    lat, lon = north(np.cumsum(steps))
    return {"ts": ts, "latitude": lat, "longitude": lon, "speed": v}


def join(*parts: dict) -> dict:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def close(a: float, b: float, rel: float = 1e-9, abs_: float = 1e-9) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)
