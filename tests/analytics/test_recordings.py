"""The engine on the real recordings of ../shared/data/recordings/ against the devices' own
summaries (read from the FIT files with fitdecode, the parser of devices/recordings.py).

Computed from the SPEC §6 packets with the sport's profile: `total_distance` within 1 % of the
device's distance, `max_speed` within 0.15 m/s of its maximum, `hr_avg` within 1.5 bpm and
`hr_max` exact. The 10 Hz football sessions carry no summary: their values must be finite and
plausible, the distance within 1 % of an independent integral.
"""

import json
import math
from functools import cache

import numpy as np
import pytest

from analytics.metrics import metrics_compute, params_effective
from tests.recordings import RECORDINGS

pytestmark = pytest.mark.skipif(
    not RECORDINGS.is_dir(), reason=f"the real recordings are not at {RECORDINGS}"
)

# packets file → (raw FIT file, sport as an activity's json.sport would say it)
WATCHES = {
    "fenix2_run": ("activity-small-fenix2-run.fit", "running"),
    "edge810_ride": ("Edge810-Vector-2013-08-16-15-35-10.fit", "cycling"),
    "fr110_run_smart": ("2013-02-06-12-11-14.fit", "running"),
    "fr920xt_run_pauses": ("mornindew-broken.fit", "Running"),
}


@cache
def samples(name: str) -> dict:
    """Every GNSS fix and heart rate of a packets file, as the engine's arrays."""
    packets = json.loads((RECORDINGS / f"{name}.packets.json").read_text())
    ts, lat, lon, speed, hr_ts, hr = [], [], [], [], [], []
    for packet in packets:
        if gnss := packet.get("gnss"):
            ts += gnss["timestamp"]
            lat += gnss["latitude"]
            lon += gnss["longitude"]
            speed += gnss.get("speed", [math.nan] * len(gnss["timestamp"]))
        if ecg := packet.get("ecg"):
            stamps, beats = ecg["timestamp"], ecg["hr"]
            hr_ts += stamps if isinstance(stamps, list) else [stamps]
            hr += beats if isinstance(beats, list) else [beats]
    return {
        "ts": np.array(ts, dtype=np.int64),
        "latitude": np.array(lat),
        "longitude": np.array(lon),
        "speed": np.array(speed, dtype=float),
        "hr_ts": np.array(hr_ts, dtype=np.int64),
        "hr": np.array(hr, dtype=float),
    }


@cache
def device_summary(fit_name: str) -> dict:
    """The device's session summary; `max_speed` falls back on the laps' maxima when the
    session lacks it (the fenix 2 writes it per lap only)."""
    import fitdecode

    session, lap_max = {}, []
    try:
        with fitdecode.FitReader(str(RECORDINGS / "raw" / fit_name)) as fit:
            for frame in fit:
                if not isinstance(frame, fitdecode.FitDataMessage):
                    continue
                values = {f.name: f.value for f in frame.fields}
                if frame.name == "session":
                    session = values
                elif frame.name == "lap" and values.get("max_speed") is not None:
                    lap_max.append(values["max_speed"])
    except Exception:  # a damaged tail: keep what was read (devices/recordings.py does too)
        pass
    max_speed = session.get("enhanced_max_speed") or session.get("max_speed")
    return {
        "distance": session["total_distance"],
        "max_speed": max_speed if max_speed is not None else max(lap_max, default=None),
        "hr_avg": session.get("avg_heart_rate"),
        "hr_max": session.get("max_heart_rate"),
    }


def computed(name: str, sport: str) -> dict:
    data = samples(name)
    return metrics_compute(params=params_effective(None, sport), **data)


@pytest.mark.parametrize("name", WATCHES)
def test_the_distance_is_within_one_percent_of_the_device_s(name):
    fit_name, sport = WATCHES[name]
    device = device_summary(fit_name)
    result = computed(name, sport)
    assert result["total_distance"] == pytest.approx(device["distance"], rel=0.01)


@pytest.mark.parametrize("name", WATCHES)
def test_max_speed_is_within_0_15_m_s_of_the_device_s(name):
    fit_name, sport = WATCHES[name]
    device = device_summary(fit_name)
    result = computed(name, sport)
    assert result["max_speed"] == pytest.approx(device["max_speed"], abs=0.15)


HR_RECORDINGS = [n for n in WATCHES if n != "fenix2_run"]  # the fenix 2 summary has no HR


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            n,
            marks=pytest.mark.xfail(
                strict=True,
                reason=(
                    "smart recording: heart rates up to 52 s apart; SPEC §7's 5 s cap on a "
                    "reading's duration gives 148.8 against the device's 147 (uncapped: 147.6)"
                ),
            ),
        )
        if n == "fr110_run_smart"
        else n
        for n in HR_RECORDINGS
    ],
)
def test_the_average_heart_rate_is_within_1_5_bpm_of_the_device_s(name):
    fit_name, sport = WATCHES[name]
    device = device_summary(fit_name)
    result = computed(name, sport)
    assert result["hr_avg"] == pytest.approx(device["hr_avg"], abs=1.5)


@pytest.mark.parametrize("name", HR_RECORDINGS)
def test_the_maximum_heart_rate_is_the_device_s(name):
    fit_name, sport = WATCHES[name]
    assert computed(name, sport)["hr_max"] == device_summary(fit_name)["hr_max"]


def contiguous_steps(data: dict, max_gap_ms: int) -> np.ndarray:
    return np.diff(data["ts"]) <= max_gap_ms


@pytest.mark.parametrize("name", ["statsports_football_10hz", "catapult_ssg_10hz"])
def test_the_10_hz_football_sessions_give_finite_plausible_values(name):
    data = samples(name)
    result = computed(name, "Football")

    numbers = [v for k, v in result.items() if isinstance(v, float)]
    assert all(math.isfinite(v) for v in numbers)
    assert result["samples"] > 0.95 * len(data["ts"])  # few glitches dropped
    assert 0.5 < result["average_speed"] < 3.0  # m/s over a training session
    assert 4.0 < result["max_speed"] < 10.0
    assert 20 < result["distance_per_minute"] < 150  # training with breaks: ~40–50 here
    assert result["peak_distance"]["1"] < 10.0 * 60
    ranges = result["distance_per_speed_ranges"]
    assert sum(r["distance"] for r in ranges) == pytest.approx(result["total_distance"])
    assert sum(r["duration"] for r in ranges) == pytest.approx(result["duration"])
    graph = result["intensity_graph"]
    assert sum(g["distance"] for g in graph) == pytest.approx(result["total_distance"])
    for kind in ("accelerations", "decelerations"):
        for entry in result[kind].values():
            assert all(0.5 <= e["duration"] < 10 and e["max_value"] < 15 for e in entry["values"])


def test_the_statsports_distance_is_the_integral_of_its_doppler_speed():
    data = samples("statsports_football_10hz")
    step = contiguous_steps(data, 1000)
    v, dt = data["speed"], np.diff(data["ts"]) / 1000
    integral = float(np.sum(((v[:-1] + v[1:]) / 2 * dt)[step]))

    assert computed("statsports_football_10hz", "soccer")["total_distance"] == pytest.approx(
        integral, rel=0.01
    )


def test_the_catapult_distance_is_the_sum_of_its_position_steps():
    from analytics.metrics import haversine_m

    data = samples("catapult_ssg_10hz")
    step = contiguous_steps(data, 1000)
    lat, lon = data["latitude"], data["longitude"]
    path = float(np.sum(haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:])[step]))

    assert computed("catapult_ssg_10hz", "soccer")["total_distance"] == pytest.approx(
        path, rel=0.01
    )
