"""SPEC §7 on hand-built trajectories whose answers are known in advance (pure, no database)."""

from datetime import date

import numpy as np
import pytest

from analytics.metrics import (
    DEFAULT_PARAMS,
    Athlete,
    computed_document,
    metrics_compute,
    params_effective,
)
from tests.analytics.builders import LON0, T0, join, north, track

DEFAULTS = params_effective()


def compute(data: dict | None = None, params: dict | None = None, **kwargs) -> dict:
    return metrics_compute(params=params_effective(params), start_ms=T0, **(data or {}), **kwargs)


def test_it_gives_every_metric_with_zero_values_for_an_empty_timeframe():
    result = compute()
    full = compute(track([3.0] * 50))

    assert result.keys() == full.keys()
    assert result["samples"] == 0
    assert result["first_timestamp"] is None and result["last_timestamp"] is None
    assert result["duration"] == result["total_distance"] == result["max_speed"] == 0.0
    assert result["average_speed"] == result["distance_per_minute"] == 0.0
    assert all(r["distance"] == r["duration"] == 0.0 for r in result["distance_per_speed_ranges"])
    assert result["sprint"] == {"threshold": 7.0, "count": 0, "distance": 0.0, "values": []}
    assert result["accelerations"] == {
        "threshold_1": {"threshold": 2.0, "values": []},
        "threshold_2": {"threshold": 3.0, "values": []},
    }
    assert result["hr_avg"] is None and result["hr_min"] is None and result["hr_max"] is None
    assert result["athlete_max_hr"] is None and result["trimp"] is None
    assert result["hr_plot"] == [] and result["intensity_graph"] == []
    assert result["peak_distance"] == {"1": 0.0, "3": 0.0, "5": 0.0}
    assert result["metric_version"] == "1" and result["params"] == DEFAULTS


def test_it_keys_peak_distance_by_whole_minutes_when_windows_come_as_json_floats():
    # JSON Schema's "integer" accepts 1.0, which Python reads as a float: still the key "1".
    result = compute(params={"peak_windows": [1.0, 3.0, 5]})

    assert result["peak_distance"] == {"1": 0.0, "3": 0.0, "5": 0.0}


def test_it_counts_nothing_for_an_athlete_standing_still():
    result = compute(track([0.0] * 600))

    assert result["samples"] == 600
    assert result["duration"] == pytest.approx(59.9)
    assert result["total_distance"] == 0.0 and result["max_speed"] == 0.0
    assert result["sprint"]["count"] == 0
    assert all(not t["values"] for t in result["accelerations"].values())
    assert all(not t["values"] for t in result["decelerations"].values())
    assert result["distance_per_speed_ranges"][0]["duration"] == pytest.approx(59.9)


@pytest.mark.parametrize("with_speed", [True, False], ids=["speed channel", "positions only"])
def test_it_gives_v_times_t_on_a_straight_line_at_constant_speed(with_speed):
    data = track([5.0] * 601)  # 60 s at 10 Hz
    if not with_speed:
        data["speed"] = None
    result = compute(data)

    assert result["duration"] == pytest.approx(60.0)
    assert result["total_distance"] == pytest.approx(300.0, rel=1e-9)
    assert result["average_speed"] == pytest.approx(5.0, rel=1e-9)
    assert result["distance_per_minute"] == pytest.approx(300.0, rel=1e-9)
    assert result["max_speed"] == pytest.approx(5.0, rel=1e-9)
    in_range = {(r["min"], r["max"]): r for r in result["distance_per_speed_ranges"]}
    assert in_range[(4, 5.5)]["distance"] == pytest.approx(300.0, rel=1e-9)
    assert in_range[(4, 5.5)]["duration"] == pytest.approx(60.0)
    assert result["hid"] == {"threshold": 5.5, "distance": 0.0}
    assert result["peak_distance"]["1"] == pytest.approx(300.0, rel=1e-9)


def test_it_finds_one_acceleration_with_its_start_duration_peak_and_speeds():
    # 2 s standing, 2 s at +2.5 m/s² (0 → 5 m/s), 3 s at 5 m/s; 10 Hz, no smoothing: the
    # central difference reads 2.5 from the ramp's second sample to its second-to-last.
    ramp = np.r_[np.zeros(20), np.arange(0, 21) * 0.25, np.full(30, 5.0)]
    result = compute(track(ramp), {"speed_smoothing": 0})

    (effort,) = result["accelerations"]["threshold_1"]["values"]
    assert effort["start_time"] == T0 + 2100  # ramp starts at 2.0 s
    assert effort["duration"] == pytest.approx(1.9)  # ends at the sample after the run: 4.0 s
    assert effort["max_value"] == pytest.approx(2.5)
    assert effort["initial_speed"] == pytest.approx(0.25)
    assert effort["end_speed"] == pytest.approx(5.0)
    assert effort["distance"] == pytest.approx((0.25 + 5.0) / 2 * 1.9)
    assert result["accelerations"]["threshold_2"]["values"] == []
    assert all(not t["values"] for t in result["decelerations"].values())


def test_it_smooths_speed_before_differentiating_and_still_finds_the_ramp():
    ramp = np.r_[np.zeros(20), np.arange(0, 21) * 0.25, np.full(30, 5.0)]
    result = compute(track(ramp))  # default 0.5 s smoothing

    (effort,) = result["accelerations"]["threshold_1"]["values"]
    assert effort["max_value"] == pytest.approx(2.5)
    # the 5-sample average rounds the ramp's corners: a reads 1.75 at 2.1 s and 3.9 s, 2.25 at
    # 2.2 s and 3.8 s, so the run is 2.2–3.8 s and the effort ends at the next sample, 3.9 s
    assert effort["start_time"] == T0 + 2200
    assert effort["duration"] == pytest.approx(1.7)


def test_it_finds_a_deceleration_as_a_mirror_of_the_acceleration():
    ramp = np.r_[np.full(20, 5.0), 5.0 - np.arange(0, 21) * 0.25, np.zeros(30)]
    result = compute(track(ramp), {"speed_smoothing": 0})

    (effort,) = result["decelerations"]["threshold_1"]["values"]
    assert effort["max_value"] == pytest.approx(2.5)
    assert effort["initial_speed"] == pytest.approx(4.75) and effort["end_speed"] == 0.0
    assert result["accelerations"]["threshold_1"]["values"] == []


@pytest.mark.parametrize(
    ("speed", "samples", "counted"),
    [
        (7.1, 10, True),  # 10 samples at 7.1 then 0: span 1.0 s = sprint_min_duration
        (7.1, 9, False),  # 0.9 s: too short
        (7.0, 10, True),  # exactly the threshold counts (v ≥ threshold)
        (6.99, 30, False),  # below the threshold, however long
    ],
)
def test_it_counts_a_sprint_only_above_the_threshold_and_minimum_duration(speed, samples, counted):
    v = np.r_[np.zeros(10), np.full(samples, speed), np.zeros(10)]
    result = compute(track(v))

    sprint = result["sprint"]
    assert sprint["count"] == int(counted)
    if counted:
        (value,) = sprint["values"]
        assert value["start_time"] == T0 + 1000
        assert value["duration"] == pytest.approx(samples / 10)
        # inside the sprint: samples−1 steps at full speed, then one step down to 0
        assert value["distance"] == pytest.approx((samples - 1) * speed / 10 + speed / 20)
        assert value["max_speed"] == speed
        assert sprint["distance"] == value["distance"]


def test_it_ends_a_sprint_at_the_segment_s_last_sample():
    v = np.r_[np.zeros(10), np.full(20, 7.5)]  # the data ends mid-sprint
    (value,) = compute(track(v))["sprint"]["values"]
    assert value["duration"] == pytest.approx(1.9)


def test_it_integrates_nothing_across_a_gap_longer_than_max_gap():
    first = track([5.0] * 100)
    second = track([5.0] * 100, t0=T0 + 9900 + 3000)  # 3 s without samples
    second["latitude"], second["longitude"] = north(600.0 + np.arange(100) * 0.5)
    result = compute(join(first, second))

    assert result["duration"] == pytest.approx(2 * 9.9)
    assert result["total_distance"] == pytest.approx(2 * 49.5)
    assert result["samples"] == 200


def test_it_bridges_a_gap_of_exactly_max_gap():
    v = track([5.0] * 20)
    v["ts"][10:] += 900  # 1.0 s between samples 9 and 10
    assert compute(v)["duration"] == pytest.approx(1.9 + 0.9)


def test_it_drops_a_glitch_in_the_speed_channel():
    data = track([5.0] * 100)
    data["speed"][50] = 20.0
    result = compute(data)

    assert result["samples"] == 99
    assert result["max_speed"] == pytest.approx(5.0)
    assert result["total_distance"] == pytest.approx(49.5)


def test_it_drops_a_position_jump_with_a_plausible_speed_reading():
    data = track([5.0] * 100)
    data["latitude"][50] += 0.001  # 111 m off the line for one fix, speed still reads 5
    result = compute(data)

    assert result["samples"] == 99
    assert result["total_distance"] == pytest.approx(49.5)
    assert result["duration"] == pytest.approx(9.9)


def test_it_uses_positions_and_the_neighbours_speed_without_a_speed_channel():
    data = track([4.0] * 301)
    data["speed"] = None
    result = compute(data)

    assert result["total_distance"] == pytest.approx(120.0, rel=1e-9)
    assert result["max_speed"] == pytest.approx(4.0, rel=1e-9)


def test_it_drops_a_position_jump_without_a_speed_channel():
    data = track([4.0] * 301)
    data["speed"] = None
    data["longitude"][100] = LON0 + 0.01  # 727 m east for one fix
    result = compute(data)

    assert result["samples"] == 300
    assert result["total_distance"] == pytest.approx(120.0, rel=1e-9)
    assert result["max_speed"] == pytest.approx(4.0, rel=1e-9)


def test_max_speed_is_the_highest_speed_held_for_max_speed_min_duration():
    # a 0.3 s spike to 9 m/s inside a run at 6: held 0.5 s only at 6
    v = np.r_[np.full(20, 6.0), np.full(3, 9.0), np.full(20, 6.0)]
    assert compute(track(v))["max_speed"] == pytest.approx(6.0)
    assert compute(track(v), {"max_speed_min_duration": 0})["max_speed"] == pytest.approx(9.0)
    assert compute(track(v), {"max_speed_min_duration": 0.2})["max_speed"] == pytest.approx(9.0)


def hr_stream(values: list[float], *, every_ms: int = 1000, t0: int = T0) -> dict:
    return {
        "hr_ts": t0 + np.arange(len(values), dtype=np.int64) * every_ms,
        "hr": np.asarray(values, dtype=float),
    }


def test_it_puts_heart_rates_on_zone_boundaries_in_the_upper_zone():
    # max 200: 100 bpm is exactly 50 %, 120 exactly 60 %, 180 exactly 90 %; 99 is below zone 1
    data = hr_stream([100, 119, 120, 180, 99])
    result = compute(data, athlete=Athlete(max_heart_rate=200), end_ms=T0 + 5000)

    zones = {z["min_percent"]: z["duration"] for z in result["timePerHrZone"]}
    assert zones == {50: 2.0, 60: 1.0, 70: 0.0, 80: 0.0, 90: 1.0}
    assert result["timePerHrZone"][-1]["max_percent"] is None
    assert result["hr_min"] == 99 and result["hr_max"] == 180
    assert result["athlete_max_hr"] == 200


def test_a_reading_lasts_until_the_next_at_most_five_seconds():
    data = {"hr_ts": np.array([T0, T0 + 1000, T0 + 21000]), "hr": np.array([100.0, 200.0, 150.0])}
    result = compute(data, end_ms=T0 + 60_000)

    # 100 for 1 s, 200 for 5 s (not 20), 150 for 5 s
    assert result["hr_avg"] == pytest.approx((100 * 1 + 200 * 5 + 150 * 5) / 11)


def test_it_ignores_heart_rates_outside_25_to_250():
    data = hr_stream([20, 140, 255, 160])
    result = compute(data)
    assert (result["hr_min"], result["hr_max"]) == (140, 160)


def test_trimp_matches_a_hand_computation():
    # 10 minutes at 150 bpm, 1 Hz; max 190, rest 60 → HRr = 90/130
    data = hr_stream([150.0] * 600)
    end = T0 + 600_000
    male = compute(data, athlete=Athlete(190, 60, "M"), end_ms=end)
    female = compute(data, athlete=Athlete(190, 60, "F"), end_ms=end)
    hrr = 90 / 130

    assert male["trimp"] == pytest.approx(10 * hrr * 0.64 * np.exp(1.92 * hrr))
    assert female["trimp"] == pytest.approx(10 * hrr * 0.86 * np.exp(1.67 * hrr))
    assert compute(data, athlete=Athlete(190, 60, None), end_ms=end)["trimp"] is None
    assert compute(data, athlete=Athlete(None, 60, "M"), end_ms=end)["trimp"] is None


def test_the_resting_heart_rate_defaults_to_60_and_max_hr_to_220_minus_age():
    data = hr_stream([150.0] * 600)
    born = date(2000, 5, 31)  # 25 on 30 May 2026 (the day before his 26th birthday)
    result = compute(data, athlete=Athlete(gender="M", birth_date=born), end_ms=T0 + 600_000)
    hrr = 90 / (195 - 60)

    assert result["athlete_max_hr"] == 195
    assert result["trimp"] == pytest.approx(10 * hrr * 0.64 * np.exp(1.92 * hrr))


def test_hr_plot_buckets_align_to_the_timeframe_start():
    data = hr_stream([100, 110, 120, 130, 140, 150, 160], t0=T0 + 2000, every_ms=2000)
    result = compute(data)  # readings at +2, +4, ..., +14 s

    assert result["hr_plot"] == [
        [T0, 105.0],  # +2, +4
        [T0 + 5000, 125.0],  # +6, +8
        [T0 + 10000, 150.0],  # +10, +12, +14
    ]


def test_intensity_graph_slices_from_the_timeframe_start_and_peaks_find_the_best_window():
    # 6 minutes at 5 m/s, then standing until 599 s; 1 Hz with a watch-like max_gap
    v = np.r_[np.full(361, 5.0), np.zeros(239)]
    result = compute(track(v, hz=1.0), {"max_gap": 60})

    graph = result["intensity_graph"]
    assert [g["start_time"] for g in graph] == [T0, T0 + 300_000]
    # a step counts in the slice of its end sample: steps ending at 1..299 s, then 300..599 s
    assert graph[0]["distance"] == pytest.approx(299 * 5.0)
    assert graph[1]["distance"] == pytest.approx(61 * 5.0 + 2.5)
    assert result["total_distance"] == pytest.approx(1802.5)
    assert result["peak_distance"]["1"] == pytest.approx(300.0)
    assert result["peak_distance"]["5"] == pytest.approx(1500.0)


def test_sport_profiles_change_only_their_defaults_and_explicit_params_win():
    assert params_effective(None, "Running")["max_gap"] == 60.0
    assert params_effective(None, " CYCLING ")["max_plausible_speed"] == 30.0
    assert params_effective(None, "football") == params_effective(None, "soccer") == DEFAULTS
    assert params_effective({"max_gap": 5}, "running")["max_gap"] == 5
    assert params_effective({"speed_ranges": [4, 0, 2]})["speed_ranges"] == [0, 2, 4]
    assert set(DEFAULTS) == set(DEFAULT_PARAMS)


def test_results_state_their_params_and_the_storing_layer_adds_status():
    result = compute(track([3.0] * 20), {"max_gap": 2})
    document = computed_document(
        result, status="live", revision=3, computed_at="2026-05-30T20:31:07Z"
    )

    assert result["params"]["max_gap"] == 2
    assert list(document)[:4] == ["metric_version", "status", "revision", "computed_at"]
    assert isinstance(result["first_timestamp"], int)
    assert all(isinstance(s["start_time"], int) for s in result["intensity_graph"])


def test_samples_outside_the_window_and_corrupt_values_are_ignored_without_raising():
    data = track([5.0] * 100)
    data["latitude"][3] = np.nan
    data["longitude"][4] = 500.0
    data["speed"][5] = -1.0  # an unusable reading: treated as missing
    result = metrics_compute(
        params=DEFAULTS, start_ms=T0 + 1000, end_ms=T0 + 9000, athlete=None, **data
    )

    assert result["first_timestamp"] == T0 + 1000 and result["last_timestamp"] == T0 + 8900
    assert result["samples"] == 80
    assert np.isfinite(result["total_distance"])
