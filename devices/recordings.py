"""Watch files → SPEC §6 packets, for `manage.py import_recording`. No Django here.

Garmin FIT is read with `fitdecode`, GPX with `gpxpy`. A damaged file yields what was readable
before the damage plus a description of the problem; values a packet may not carry (a speed of
50 m/s or more, a position out of range) are left out of their fix and counted, so the rest of the
recording still goes in. Timestamps are epoch milliseconds.
"""

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

SEMICIRCLE_DEGREES = 180 / 2**31


@dataclass
class Recording:
    """Readings of one device in time order; None where a reading lacks a value."""

    ts: list[int] = field(default_factory=list)
    latitude: list[float | None] = field(default_factory=list)
    longitude: list[float | None] = field(default_factory=list)
    speed: list[float | None] = field(default_factory=list)
    altitude: list[float | None] = field(default_factory=list)
    hr: list[int | None] = field(default_factory=list)
    problems: Counter = field(default_factory=Counter)
    damage: str | None = None  # why reading stopped early, if it did

    def add(self, ts: int | None, lat, lon, speed, altitude, hr) -> None:
        if ts is None:
            self.problems["reading without a time"] += 1
            return
        if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            if lat is not None or lon is not None:
                self.problems["position out of range"] += 1
            lat = lon = None
        if speed is not None and not (0 <= speed < 50 and math.isfinite(speed)):
            self.problems["speed out of [0, 50) m/s"] += 1
            speed = None
        if hr is not None and not 0 <= hr <= 255:
            self.problems["heart rate out of [0, 255]"] += 1
            hr = None
        if lat is None and hr is None:
            self.problems["reading with neither position nor heart rate"] += 1
            return
        self.ts.append(ts)
        self.latitude.append(lat)
        self.longitude.append(lon)
        self.speed.append(speed)
        self.altitude.append(altitude if lat is not None else None)
        self.hr.append(hr)

    @property
    def fixes(self) -> int:
        return sum(lat is not None for lat in self.latitude)

    @property
    def heart_rates(self) -> int:
        return sum(hr is not None for hr in self.hr)


def _ms(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def recording_read(path: Path) -> Recording:
    """Read a .fit or .gpx file; raises ValueError for another kind of file."""
    suffix = path.suffix.lower()
    if suffix == ".fit":
        return _read_fit(path)
    if suffix == ".gpx":
        return _read_gpx(path)
    raise ValueError(f"{path.name}: not a .fit or .gpx file")


def _read_fit(path: Path) -> Recording:
    import fitdecode

    recording = Recording()
    try:
        with fitdecode.FitReader(str(path)) as fit:
            for frame in fit:
                if not isinstance(frame, fitdecode.FitDataMessage) or frame.name != "record":
                    continue
                values = {f.name: f.value for f in frame.fields}
                lat, lon = values.get("position_lat"), values.get("position_long")
                speed = values.get("enhanced_speed", values.get("speed"))
                altitude = values.get("enhanced_altitude", values.get("altitude"))
                recording.add(
                    _ms(values.get("timestamp")),
                    None if lat is None else lat * SEMICIRCLE_DEGREES,
                    None if lon is None else lon * SEMICIRCLE_DEGREES,
                    None if speed is None else float(speed),
                    None if altitude is None else float(altitude),
                    values.get("heart_rate"),
                )
    except Exception as error:  # fitdecode raises several types for damaged data
        recording.damage = f"{type(error).__name__}: {error}"
    return recording


def _read_gpx(path: Path) -> Recording:
    import gpxpy

    recording = Recording()
    try:
        with path.open(encoding="utf-8") as handle:
            gpx = gpxpy.parse(handle)
    except Exception as error:
        recording.damage = f"{type(error).__name__}: {error}"
        return recording
    for track in gpx.tracks:
        for segment in track.segments:
            for point in segment.points:
                recording.add(
                    _ms(point.time),
                    point.latitude,
                    point.longitude,
                    point.speed,
                    point.elevation,
                    _gpx_heart_rate(point),
                )
    return recording


def _gpx_heart_rate(point) -> int | None:
    # Garmin's TrackPointExtension: <gpxtpx:TrackPointExtension><gpxtpx:hr>152</gpxtpx:hr>
    for extension in point.extensions:
        for element in extension.iter():
            if element.tag.rsplit("}", 1)[-1] == "hr" and element.text:
                try:
                    return int(float(element.text))
                except ValueError:
                    return None
    return None


def recording_packets(recording: Recording, *, device_name: str, shift_ms: int = 0) -> list[dict]:
    """The readings as packets, one per second; a field is in a packet's `gnss` when every fix
    of that second has it (SPEC: `speed` and `altitude` may be absent)."""
    seconds: dict[int, list[int]] = {}
    for i, ts in enumerate(recording.ts):
        seconds.setdefault((ts + shift_ms) // 1000, []).append(i)
    packets = []
    for second in sorted(seconds):
        indexes = seconds[second]
        packet: dict = {"device_name": device_name}
        fixes = [i for i in indexes if recording.latitude[i] is not None]
        if fixes:
            gnss: dict = {"timestamp": [recording.ts[i] + shift_ms for i in fixes]}
            for name in ("latitude", "longitude", "speed", "altitude"):
                column = [getattr(recording, name)[i] for i in fixes]
                if all(v is not None for v in column):
                    gnss[name] = column
            packet["gnss"] = gnss
        beats = [i for i in indexes if recording.hr[i] is not None]
        if beats:
            packet["ecg"] = {
                "timestamp": [recording.ts[i] + shift_ms for i in beats],
                "hr": [recording.hr[i] for i in beats],
            }
        packets.append(packet)
    return packets
