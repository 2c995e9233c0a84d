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
skipped with a note. The engine part runs without a database.

With a database (`make bench` runs `run` inside its throw-away PostgreSQL database;
`python -m bench.analytics` makes its own), `run_database` stores one athlete's 90 minutes
through the ingestion service and measures, each beside a baseline:
- the live path: one incremental update of 10 new fixes at minute 90, database included
  (lock, state load, read of the new samples, absorb, store), against the engine alone;
- the full recompute of the 90-minute timeframe end to end (`timeframe_recompute`: read,
  compute, compare, store), against the bare read of its samples and the raw SELECT;
- the GPX export of the 54,000 fixes, streamed: time and peak Python memory, against the CSV
  export and gpxpy writing a whole document of a tenth of the fixes.
"""

import json
import os
import statistics
import time
import tracemalloc
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
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
    """The engine part, then, when Django is set up (`make bench`), the database part."""
    if not RECORDING.is_file():
        print(f"analytics: skipped, {RECORDING} is missing")
        return
    run_engine(rounds)
    from django.apps import apps

    if apps.ready:
        run_database(rounds)


def run_engine(rounds: int = 20) -> None:
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


# --- with the database ---------------------------------------------------------------------------


def _packets(match: dict, device_name: str, lo: int, hi: int) -> list[dict]:
    """One-second packets (10 fixes, one heart rate) of fixes [lo, hi) of `match`."""
    out = []
    for k in range(lo, hi, 10):
        out.append(
            {
                "device_name": device_name,
                "gnss": {
                    "timestamp": match["ts"][k : k + 10].tolist(),
                    "latitude": match["latitude"][k : k + 10].tolist(),
                    "longitude": match["longitude"][k : k + 10].tolist(),
                    "speed": match["speed"][k : k + 10].tolist(),
                },
                "ecg": {
                    "timestamp": int(match["hr_ts"][k // 10]),
                    "hr": float(match["hr"][k // 10]),
                },
            }
        )
    return out


@contextmanager
def _without_live_task():
    """The ingest's own `samples_arrived` is not sent while storing: the live path is measured
    below, called directly (a queued task would wait in the broker for a worker)."""
    from analytics import tasks

    delay = tasks.samples_arrived.delay
    tasks.samples_arrived.delay = lambda *args, **kwargs: None
    try:
        yield
    finally:
        tasks.samples_arrived.delay = delay


def _scene(match: dict):
    """An athlete (max HR 195, male) wearing a device over a 90(+1)-minute football timeframe."""
    from activities.models import Activity, JsonSchema
    from devices.models import Device, DeviceOwnership
    from timeframes.models import Timeframe
    from users.models import AthleteProfile, ManagerProfile, Role, User

    start = datetime.fromtimestamp(int(match["ts"][0]) / 1000, tz=UTC)
    manager = User.objects.create_user("bench-analytics-manager", role=Role.MANAGER)
    ManagerProfile.objects.create(user=manager, first_name="Bench", last_name="Coach")
    athlete = User.objects.create_user("bench-analytics-athlete", role=Role.ATHLETE)
    AthleteProfile.objects.create(
        user=athlete, first_name="A", last_name="B", gender="M", max_heart_rate=195,
        resting_heart_rate=55,
    )  # fmt: skip
    device = Device.objects.create(
        device_name="b0a000000001", serial_number="SN-BENCH-A", is_active=True
    )
    DeviceOwnership.objects.create(device=device, manager=manager, start_time=start - timedelta(1))
    activity = Activity.objects.create(
        name="Bench match",
        json={"sport": "football", "type": "match"},
        json_schema=JsonSchema.objects.filter(type="activity").first(),
        owner=manager,
    )
    end_ms = int(match["ts"][-1]) + 60_000  # scheduled a minute longer than recorded
    return Timeframe.objects.create(
        start_time=start,
        end_time=datetime.fromtimestamp(end_ms / 1000, tz=UTC),
        device=device,
        activity=activity,
        athlete=athlete,
        owner=manager,
        json_schema=JsonSchema.objects.filter(type="timeframe").first(),
        params={},
    )


def _ms_of(func) -> float:
    start = time.perf_counter()
    func()
    return (time.perf_counter() - start) * 1000


def run_database(rounds: int = 20) -> None:
    """The database-inclusive numbers (see the module docstring); needs Django set up."""
    from django.db import connection

    from analytics.exports import timeframe_csv_lines, timeframe_gpx_lines
    from analytics.selectors import timeframes_covering
    from analytics.services import timeframe_live_update, timeframe_recompute
    from devices.ingestion import announcements_flush, packets_ingest
    from devices.samples import TABLE, samples_read

    rec = _recording()
    match = match_for(rec, 0)
    timeframe = _scene(match)
    name = timeframe.device.device_name
    t0 = int(match["ts"][0])
    at = lambda ms: datetime.fromtimestamp(ms / 1000, tz=UTC)  # noqa: E731
    live_from = SAMPLES - 600  # minute 89: the last minute arrives live, a second at a time
    ingest_ms = []
    with _without_live_task():
        for lo in range(0, live_from, 500):  # 50-packet requests, as a gateway sends
            body = {"packets": _packets(match, name, lo, min(lo + 500, live_from))}
            ingest_ms.append(_ms_of(lambda body=body: packets_ingest(body=body, now_ms=t0 + 10**9)))
        build_ms = _ms_of(
            lambda: timeframe_live_update(
                timeframe_id=timeframe.pk, arrived_from=t0, now=at(int(match["ts"][live_from]))
            )
        )
        update_ms, covering_ms = [], []
        for lo in range(live_from, SAMPLES, 10):
            body = {"packets": _packets(match, name, lo, lo + 10)}
            packets_ingest(body=body, now_ms=t0 + 10**9)
            since = int(match["ts"][lo])

            def covering(since: int = since) -> None:
                timeframes_covering([[timeframe.device_id, since, since + 900]])

            def update(since: int = since) -> None:
                outcome = timeframe_live_update(
                    timeframe_id=timeframe.pk, arrived_from=since, now=at(since + 1500)
                )
                assert outcome.action == "update", outcome.action

            covering_ms.append(_ms_of(covering))
            update_ms.append(_ms_of(update))
        announcements_flush()
    timeframe.computed.refresh_from_db()
    state_kib = len(timeframe.computed.state) / 1024
    engine_ms, _ = _update_costs(match, params_effective(None, "football"), SAMPLES - 610)
    print(
        f"analytics live path, database included: one update of 10 new fixes at minute 90 "
        f"p50 {statistics.median(update_ms):6.2f} ms, p95 "
        f"{sorted(update_ms)[int(len(update_ms) * 0.95) - 1]:6.2f} ms "
        f"(+ finding the covering timeframes {statistics.median(covering_ms):4.2f} ms); "
        f"state {state_kib:.0f} KiB stored"
    )
    print(
        f"  baseline: the engine alone at minute 90 {engine_ms:5.3f} ms; the first live update "
        f"(state built from the {live_from:,} stored fixes) {build_ms:6.1f} ms; ingest of a "
        f"50-packet request p50 {statistics.median(ingest_ms):5.1f} ms"
    )

    end = timeframe.end_time + timedelta(seconds=1)
    first_ms = _ms_of(lambda: timeframe_recompute(timeframe_id=timeframe.pk, now=end))
    recompute_ms = [
        _ms_of(lambda: timeframe_recompute(timeframe_id=timeframe.pk, now=end))
        for _ in range(rounds)
    ]
    stop = int(timeframe.end_time.timestamp() * 1000)
    read_ms = [
        _ms_of(lambda: samples_read(device_id=timeframe.device_id, start=t0, stop=stop))
        for _ in range(rounds)
    ]

    def raw_select() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT t_first, channel_id, ts, vals FROM {TABLE} "
                "WHERE device_id = %s AND t_first >= %s AND t_first < %s",
                [timeframe.device_id, t0 - t0 % 10_000, stop],
            )
            cursor.fetchall()

    raw_ms = [_ms_of(raw_select) for _ in range(rounds)]
    print(
        f"analytics full recompute of the 90-minute timeframe, database included: p50 "
        f"{statistics.median(recompute_ms):6.1f} ms (first, storing final: {first_ms:6.1f} ms; "
        f"target ≤ 250)"
    )
    print(
        f"  baseline: samples_read of its {SAMPLES:,} fixes + {SAMPLES // 10:,} heart rates p50 "
        f"{statistics.median(read_ms):6.1f} ms; raw SELECT of the chunks p50 "
        f"{statistics.median(raw_ms):6.1f} ms"
    )

    def consume(pieces) -> int:
        return sum(len(piece) for piece in pieces)

    gpx_ms = statistics.median(
        _ms_of(lambda: consume(timeframe_gpx_lines(timeframe))) for _ in range(3)
    )
    tracemalloc.start()  # a second pass: tracemalloc slows allocations down
    size = consume(timeframe_gpx_lines(timeframe))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    csv_ms = statistics.median(
        _ms_of(lambda: consume(timeframe_csv_lines(timeframe))) for _ in range(3)
    )
    print(
        f"analytics GPX export of the {SAMPLES:,} fixes, streamed: {gpx_ms:6.0f} ms, peak "
        f"Python memory {peak / 2**20:5.1f} MiB (tracemalloc), {size / 2**20:4.1f} MiB of GPX"
    )
    gpxpy_ms = _ms_of(lambda: _gpxpy_document(match, SAMPLES // 10))
    tracemalloc.start()
    _gpxpy_document(match, SAMPLES // 10)
    _, gpxpy_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"  baseline: CSV export of the same samples {csv_ms:6.0f} ms; gpxpy building and "
        f"serialising a document of {SAMPLES // 10:,} of them {gpxpy_ms:6.0f} ms, peak "
        f"{gpxpy_peak / 2**20:5.1f} MiB (×10 for the timeframe)"
    )


def _gpxpy_document(match: dict, points: int) -> str:
    """The GPX of `points` fixes written wholly by gpxpy (how the export was first written)."""
    from xml.etree import ElementTree

    import gpxpy.gpx

    from analytics.exports import GPXTPX_NS

    gpx = gpxpy.gpx.GPX()
    gpx.nsmap["gpxtpx"] = GPXTPX_NS
    segment = gpxpy.gpx.GPXTrackSegment()
    gpx.tracks.append(gpxpy.gpx.GPXTrack(name="bench"))
    gpx.tracks[0].segments.append(segment)
    for k in range(points):
        point = gpxpy.gpx.GPXTrackPoint(
            latitude=float(match["latitude"][k]),
            longitude=float(match["longitude"][k]),
            time=datetime.fromtimestamp(int(match["ts"][k]) / 1000, tz=UTC),
        )
        extension = ElementTree.Element(f"{{{GPXTPX_NS}}}TrackPointExtension")
        ElementTree.SubElement(extension, f"{{{GPXTPX_NS}}}hr").text = "150"
        point.extensions.append(extension)
        segment.points.append(point)
    return gpx.to_xml(version="1.1")


def main() -> None:
    """`python -m bench.analytics`: this part of `make bench` alone, in a throw-away PostgreSQL
    database (`<DATABASE_URL name>_bench_analytics`)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asi_api.settings")
    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    connection.settings_dict["TEST"]["NAME"] = f"{connection.settings_dict['NAME']}_bench_analytics"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run(int(os.environ.get("BENCH_ROUNDS", "20")))
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
