"""A simulated soccer match, and the gateway that posts it. No Django here.

`MatchSimulator` moves N players over a pitch second by second, vectorised over players: each
picks an activity (standing, walking, jogging, running, sprinting) for a few seconds, its speed
follows with bounded acceleration, its heading wanders and turns back at the touchlines, its
heart rate follows effort with a lag of about half a minute. Every second it yields one packet
per device in the SPEC §6 shape: 10 GNSS fixes (10 Hz), one heart rate, one status reading.

`Gateway` posts batches of packets to a server with a gateway token, as a real gateway would:
a request that times out or fails is sent again unchanged (the server drops duplicate samples),
and it keeps counts and latencies for a summary.
"""

import json
import math
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

PITCH_LENGTH, PITCH_WIDTH = 105.0, 68.0  # metres
EARTH_RADIUS = 6_371_000.0
# (speed m/s, effort 0..1) per activity, and how often it is picked
ACTIVITIES = np.array([(0.0, 0.05), (1.4, 0.2), (3.2, 0.45), (5.2, 0.7), (7.6, 1.0)])
ACTIVITY_WEIGHTS = np.array([0.15, 0.35, 0.3, 0.15, 0.05])
MAX_ACCELERATION = 3.5  # m/s²


@dataclass
class MatchSimulator:
    device_names: list[str]
    start_ms: int
    origin: tuple[float, float] = (51.5560, -0.2795)  # a pitch corner (lat, lon)
    seed: int = 1
    rng: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        n = len(self.device_names)
        self.rng = np.random.default_rng(self.seed)
        self.x = self.rng.uniform(10, PITCH_LENGTH - 10, n)
        self.y = self.rng.uniform(5, PITCH_WIDTH - 5, n)
        self.heading = self.rng.uniform(0, 2 * math.pi, n)
        self.speed = np.zeros(n)
        self.target = np.zeros(n, dtype=int)
        self.hold = np.zeros(n)
        self.hr = self.rng.uniform(70, 90, n)
        self.max_hr = self.rng.uniform(185, 200, n)
        self.battery = self.rng.uniform(80, 100, n)
        self.second = 0

    def packets(self) -> list[dict]:
        """The next second: one packet per device."""
        n, t0 = len(self.device_names), self.start_ms + 1000 * self.second
        self.second += 1
        change = self.hold <= 0
        self.target[change] = self.rng.choice(len(ACTIVITIES), change.sum(), p=ACTIVITY_WEIGHTS)
        self.hold[change] = self.rng.uniform(2, 12, change.sum())
        self.hold -= 1
        goal = ACTIVITIES[self.target, 0]
        effort = ACTIVITIES[self.target, 1]
        xs, ys, speeds = np.empty((n, 10)), np.empty((n, 10)), np.empty((n, 10))
        for k in range(10):  # 10 Hz within the second
            step = np.clip(goal - self.speed, -MAX_ACCELERATION * 0.1, MAX_ACCELERATION * 0.1)
            self.speed = np.maximum(self.speed + step, 0.0)
            self.heading += self.rng.normal(0, 0.08, n)
            self.x += self.speed * 0.1 * np.cos(self.heading)
            self.y += self.speed * 0.1 * np.sin(self.heading)
            # Turn back at the lines (reflect position and heading).
            out_x = (self.x < 0) | (self.x > PITCH_LENGTH)
            self.heading[out_x] = math.pi - self.heading[out_x]
            self.x = np.clip(self.x, 0, PITCH_LENGTH)
            out_y = (self.y < 0) | (self.y > PITCH_WIDTH)
            self.heading[out_y] = -self.heading[out_y]
            self.y = np.clip(self.y, 0, PITCH_WIDTH)
            xs[:, k], ys[:, k], speeds[:, k] = self.x, self.y, self.speed
        hr_goal = 60 + (self.max_hr - 60) * effort
        self.hr += (hr_goal - self.hr) * (1 - math.exp(-1 / 30))
        self.battery = np.maximum(self.battery - 0.0015, 0)
        lat0, lon0 = self.origin
        lat = lat0 + np.degrees(ys / EARTH_RADIUS)
        lon = lon0 + np.degrees(xs / (EARTH_RADIUS * math.cos(math.radians(lat0))))
        stamps = [t0 + 100 * k for k in range(10)]
        return [
            {
                "device_name": name,
                "gnss": {
                    "timestamp": stamps,
                    "latitude": np.round(lat[i], 7).tolist(),
                    "longitude": np.round(lon[i], 7).tolist(),
                    "speed": np.round(speeds[i], 2).tolist(),
                    "altitude": [35.0] * 10,
                },
                "ecg": {"timestamp": t0, "hr": int(round(self.hr[i]))},
                "device": {
                    "timestamp": t0,
                    "standstill": int(speeds[i, -1] < 0.2),
                    "Bat_lvl": int(self.battery[i]),
                },
            }
            for i, name in enumerate(self.device_names)
        ]


def packet_start(packet: dict) -> int:
    """The earliest sample timestamp of a packet."""
    stamps = []
    for name, data in packet.items():
        if name != "device_name":
            ts = data["timestamp"]
            stamps += ts if isinstance(ts, list) else [ts]
    return min(stamps)


def packets_shift(packet: dict, shift_ms: int) -> dict:
    """A copy of `packet` with every timestamp moved by `shift_ms`."""
    moved: dict = {"device_name": packet["device_name"]}
    for name, data in packet.items():
        if name == "device_name":
            continue
        ts = data["timestamp"]
        moved[name] = {
            **data,
            "timestamp": [t + shift_ms for t in ts] if isinstance(ts, list) else ts + shift_ms,
        }
    return moved


def replay_schedule(recordings: list[list[dict]], start_ms: int) -> Iterator[tuple[int, dict]]:
    """(session offset ms, packet) of recorded sessions, each moved to begin at `start_ms`,
    merged in time order."""
    shifted = []
    for packets in recordings:
        if not packets:
            continue
        shift = start_ms - min(packet_start(p) for p in packets)
        shifted += [(packet_start(p) + shift - start_ms, packets_shift(p, shift)) for p in packets]
    shifted.sort(key=lambda item: item[0])
    yield from shifted


@dataclass
class Gateway:
    """Posts batches with retries; keeps what a summary needs."""

    url: str
    token: str
    timeout: float = 10.0
    attempts: int = 5
    sent_packets: int = 0
    stored: int = 0
    duplicates: int = 0
    errors: int = 0
    retries: int = 0
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        import requests

        self.session = requests.Session()
        self.session.headers.update(
            {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        )
        self.endpoint = self.url.rstrip("/") + "/api/v1/preprocessed-data/"

    def post(self, packets: list[dict]) -> bool:
        """Send one batch until it is acknowledged (201) or refused (4xx), at most `attempts`."""
        import requests

        body = json.dumps({"packets": packets})
        self.sent_packets += len(packets)
        for attempt in range(self.attempts):
            began = time.perf_counter()
            try:
                response = self.session.post(self.endpoint, data=body, timeout=self.timeout)
            except requests.RequestException as error:
                outcome = f"{type(error).__name__}"
            else:
                self.latencies.append((time.perf_counter() - began) * 1000)
                if response.status_code == 201:
                    counts = response.json()
                    self.stored += counts["samples"]
                    self.duplicates += counts["duplicates"]
                    return True
                if response.status_code not in (429, 500, 502, 503, 504):
                    self.errors += 1
                    self.failures.append(f"{response.status_code}: {response.text[:300]}")
                    return False
                outcome = f"HTTP {response.status_code}"
                wait = float(response.headers.get("Retry-After", 0) or 0)
                if wait:
                    time.sleep(min(wait, 30))
            # Resending is safe: samples already stored count as duplicates.
            self.retries += 1
            time.sleep(min(0.2 * 2**attempt, 5))
        self.errors += 1
        self.failures.append(f"gave up after {self.attempts} attempts ({outcome})")
        return False

    def summary(self) -> str:
        lat = sorted(self.latencies)

        def pct(q: float) -> float:
            return lat[min(len(lat) - 1, int(len(lat) * q))] if lat else float("nan")

        median = statistics.median(lat) if lat else float("nan")
        return (
            f"sent {self.sent_packets} packets; acknowledged {self.stored} new samples, "
            f"{self.duplicates} duplicates; {self.errors} errors, {self.retries} retries; "
            f"latency p50 {median:.1f} ms, p95 {pct(0.95):.1f} ms, p99 {pct(0.99):.1f} ms"
        )
