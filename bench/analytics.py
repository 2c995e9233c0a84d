"""`make bench` part: the metrics engine (analytics/metrics.py) beside floodlight.

Input: the real STATSports 10 Hz football session of ../shared/data/recordings/, played forward
then backward (positions stay continuous) up to 54,000 fixes = a 90-minute timeframe; each of
22 athletes starts the loop at another offset. Measured:
- full computation of every SPEC §7 metric, per timeframe (×22);
- incremental update of 10 new fixes at minute 1 and at minute 90 (must stay flat), and the
  cost of reading the result at minute 90;
- floodlight's DistanceModel, VelocityModel and AccelerationModel (the open-source reference
  for tracking kinematics) on the same fixes projected to metres, and both total distances from
  positions (floodlight's default `central` difference and `backward`).

floodlight is a bench-only dependency (`pip install -e .[bench]`); without it the comparison is
skipped with a note. Runs without a database.
"""

import json
import statistics
import time
from pathlib import Path

import numpy as np

from analytics.metrics import (
    EARTH_RADIUS_M,
    Athlete,
    MetricsState,
    metrics_compute,
    params_effective,
)

RECORDING = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "recordings"
    / "statsports_football_10hz.packets.json"
)
SAMPLES = 54_000
ATHLETES = 22
ATHLETE = Athlete(max_heart_rate=195, resting_heart_rate=55, gender="M")


def _recording() -> dict[str, np.ndarray]:
    ts, lat, lon, speed = [], [], [], []
    for packet in json.loads(RECORDING.read_text()):
        if gnss := packet.get("gnss"):
            ts += gnss["timestamp"]
            lat += gnss["latitude"]
            lon += gnss["longitude"]
            speed += gnss["speed"]
    return {
        "ts": np.array(ts, dtype=np.int64),
        "latitude": np.array(lat),
        "longitude": np.array(lon),
        "speed": np.array(speed),
    }


def match_for(rec: dict[str, np.ndarray], offset: int) -> dict[str, np.ndarray]:
    """54,000 fixes from `offset` on in the forward-then-backward loop of the recording, with
    the recording's own time steps, starting at its first timestamp."""
    n = len(rec["ts"])
    order = np.r_[np.arange(n), np.arange(n - 1, -1, -1)]
    steps = np.diff(rec["ts"])
    loop_steps = np.r_[steps, 100, steps[::-1]]
    pick = np.resize(np.roll(order, -offset), SAMPLES)
    dt = np.resize(np.roll(loop_steps, -offset), SAMPLES - 1)
    ts = rec["ts"][0] + np.r_[0, np.cumsum(dt)]
    heart = (120 + 50 * np.sin(np.arange(SAMPLES // 10) / 300)).round()
    return {
        "ts": ts.astype(np.int64),
        "latitude": rec["latitude"][pick],
        "longitude": rec["longitude"][pick],
        "speed": rec["speed"][pick],
        "hr_ts": ts[::10].astype(np.int64),
        "hr": heart,
    }


def _median_ms(func, rounds: int) -> float:
    func()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        func()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _update_costs(
    match: dict, params: dict, at_sample: int, updates: int = 60
) -> tuple[float, MetricsState]:
    """Median ms of `updates` successive 10-fix updates starting at `at_sample`."""
    state = MetricsState(params, start_ms=int(match["ts"][0]), athlete=ATHLETE)
    hr_every = 10
    for lo in range(0, at_sample, 1000):
        hi = min(lo + 1000, at_sample)
        state.update(
            **{k: match[k][lo:hi] for k in ("ts", "latitude", "longitude", "speed")},
            hr_ts=match["hr_ts"][lo // hr_every : hi // hr_every],
            hr=match["hr"][lo // hr_every : hi // hr_every],
        )
    times = []
    for lo in range(at_sample, at_sample + 10 * updates, 10):
        chunk = {k: match[k][lo : lo + 10] for k in ("ts", "latitude", "longitude", "speed")}
        beat = slice(lo // hr_every, lo // hr_every + 1)
        start = time.perf_counter()
        assert state.update(**chunk, hr_ts=match["hr_ts"][beat], hr=match["hr"][beat])
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), state


def _projected(match: dict) -> np.ndarray:
    """Local equirectangular projection to metres around the mean position, shape (n, 2)."""
    lat0 = np.radians(match["latitude"].mean())
    x = np.radians(match["longitude"] - match["longitude"].mean()) * EARTH_RADIUS_M * np.cos(lat0)
    y = np.radians(match["latitude"] - match["latitude"].mean()) * EARTH_RADIUS_M
    return np.column_stack([x, y])


def run(rounds: int = 20) -> None:
    if not RECORDING.is_file():
        print(f"analytics: skipped, {RECORDING} is missing")
        return
    rec = _recording()
    params = params_effective(None, "football")
    step = len(rec["ts"]) // ATHLETES
    matches = [match_for(rec, i * step) for i in range(ATHLETES)]
    start = int(matches[0]["ts"][0])

    def team() -> None:
        for match in matches:
            metrics_compute(params=params, start_ms=start, athlete=ATHLETE, **match)

    match = matches[0]
    per_timeframe = _median_ms(team, max(rounds // 4, 3)) / ATHLETES
    print(
        f"analytics: all SPEC §7 metrics, {SAMPLES:,} fixes (90 min at 10 Hz) + HR, "
        f"{ATHLETES} athletes: {per_timeframe:6.2f} ms per timeframe (target ≤ 20, goal ≤ 5)"
    )
    positions_only = {**match, "speed": None}
    no_speed_ms = _median_ms(
        lambda: metrics_compute(params=params, start_ms=start, **positions_only), rounds
    )
    print(f"  same, positions only (haversine path, no speed channel): {no_speed_ms:6.2f} ms")
    minute1, _ = _update_costs(match, params, 600)
    minute90, state = _update_costs(match, params, SAMPLES - 610)
    result_ms = _median_ms(state.result, rounds)
    size = len(json.dumps(state.to_dict()))
    print(
        f"  incremental update of 10 fixes: minute 1 {minute1:5.3f} ms, minute 90 "
        f"{minute90:5.3f} ms (target ≤ 1 ms, flat); result() at minute 90 {result_ms:5.2f} ms; "
        f"state {size / 1024:.0f} KiB as JSON"
    )

    try:
        from floodlight.core.xy import XY
        from floodlight.models.kinematics import AccelerationModel, DistanceModel, VelocityModel
    except ImportError:
        print("  baseline: floodlight not installed (pip install -e .[bench]); skipped")
        return
    xy = XY(_projected(match), framerate=10)

    def floodlight_all(difference: str = "central") -> None:
        DistanceModel().fit(xy, difference=difference)
        VelocityModel().fit(xy, difference=difference)
        AccelerationModel().fit(xy, difference=difference)

    flood_ms = _median_ms(floodlight_all, rounds)
    print(
        f"  baseline: floodlight 1.2 DistanceModel + VelocityModel + AccelerationModel "
        f"(default difference='central', np.gradient): {flood_ms:6.2f} ms"
    )
    print(f"  ratio engine / floodlight: {per_timeframe / flood_ms:.1f}×")
    ours = metrics_compute(params=params, start_ms=start, **positions_only)["total_distance"]
    distances = {}
    for difference in ("central", "backward"):
        model = DistanceModel()
        model.fit(xy, difference=difference)
        distances[difference] = float(np.nansum(model.cumulative_distance_covered().property[-1]))
    gap = ours / distances["backward"] - 1
    print(
        f"  total distance from positions: engine {ours:8.1f} m (haversine steps, glitches "
        f"dropped, nothing across gaps > max_gap); floodlight backward {distances['backward']:8.1f} m "
        f"({gap:+.2%}); floodlight central {distances['central']:8.1f} m "
        f"(central differences span two frames and halve them, smoothing the jitter away)"
    )
    doppler = metrics_compute(params=params, start_ms=start, **match)["total_distance"]
    print(f"  engine with the Doppler speed channel (SPEC §7): {doppler:8.1f} m")


if __name__ == "__main__":
    run()
