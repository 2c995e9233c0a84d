"""Exports of SPEC §7: a timeframe's samples as CSV or GPX 1.1, an activity's headline metrics
as CSV. Callers decide who may read (the views use `timeframes_computed_readable_by`).

The samples are those the metrics use: the timeframe's device within [start_time, end_time)
(`devices.samples.samples_read`), read in one go — the same read as a full recompute — and then
written out in pieces by the streaming response.
"""

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

import gpxpy.gpx
import numpy as np

from analytics.metrics import HR_VALID
from analytics.serializers import timeframe_document
from analytics.services import timeframe_params
from devices.samples import SampleFrame, frame_table, samples_read, table_csv_lines
from timeframes.models import Timeframe

GPXTPX_NS = "http://www.garmin.com/xmlschemas/TrackPointExtension/v1"
# A trackpoint's heart rate: the latest reading at most this long before the fix.
HR_MAX_AGE_MS = 5000

ACTIVITY_COLUMNS = (
    "timeframe",
    "athlete",
    "device",
    "start_time",
    "end_time",
    "status",
    "revision",
    "samples",
    "duration",
    "total_distance",
    "distance_per_minute",
    "max_speed",
    "hid_distance",
    "sprint_count",
    "hr_avg",
    "hr_max",
    "trimp",
)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def timeframe_samples(timeframe: Timeframe) -> SampleFrame:
    """Every sample of the timeframe's device within [start_time, end_time)."""
    return samples_read(
        device_id=timeframe.device_id,
        start=_ms(timeframe.start_time),
        stop=_ms(timeframe.end_time),
    )


def timeframe_csv_lines(timeframe: Timeframe) -> Iterator[str]:
    """The timeframe's samples as the `/preprocessed/?format=csv` rows: `timestamp` (epoch ms),
    then a flat `channel.field` column per field with any reading."""
    stamps, columns = frame_table(timeframe_samples(timeframe))
    return table_csv_lines(stamps, columns)


def _hr_at(fix_ts: np.ndarray, frame: SampleFrame) -> np.ndarray:
    """Per fix: the latest valid heart rate at most HR_MAX_AGE_MS before it (NaN: none)."""
    out = np.full(len(fix_ts), np.nan)
    if "ecg" not in frame.channels or "hr" not in frame.channels["ecg"][1]:
        return out
    hr_ts, fields = frame.channels["ecg"]
    hr = fields["hr"]
    valid = np.isfinite(hr) & (hr >= HR_VALID[0]) & (hr <= HR_VALID[1])
    hr_ts, hr = hr_ts[valid], hr[valid]
    if not len(hr_ts):
        return out
    at = np.searchsorted(hr_ts, fix_ts, side="right") - 1
    found = (at >= 0) & (fix_ts - hr_ts[np.maximum(at, 0)] <= HR_MAX_AGE_MS)
    out[found] = hr[at[found]]
    return out


# Trackpoints per piece of the streamed GPX (~0.6 MiB of XML).
GPX_CHUNK_POINTS = 2000


def timeframe_gpx_lines(timeframe: Timeframe) -> Iterator[str]:
    """The timeframe's GNSS fixes as GPX 1.1, in pieces for a streaming response: one track, a
    segment per run of fixes no more than the effective `max_gap` apart (as the metrics segment
    them), each fix a trackpoint with its UTC time (ms), elevation when it has an altitude and
    the heart rate (`_hr_at`) in the Garmin TrackPointExtension. Fixes are exported as
    recorded: no glitch filter. The samples are read now, the XML written as it is consumed.

    gpxpy writes the document (declaration, namespaces, schema location, track name) around the
    trackpoints, which are written here in the same layout: gpxpy's serialiser builds the whole
    document in memory at ~0.3 ms per point (a 90-minute 10 Hz timeframe: ~15 s and ~100 MiB,
    bench/analytics.py), against ~0.2 s here, streamed.
    """
    frame = timeframe_samples(timeframe)
    gpx = gpxpy.gpx.GPX()
    gpx.creator = "ASI API"
    gpx.nsmap["gpxtpx"] = GPXTPX_NS
    gpx.tracks.append(gpxpy.gpx.GPXTrack(name=f"timeframe {timeframe.pk}"))
    head, tail = gpx.to_xml(version="1.1").rsplit("  </trk>", 1)
    gnss = frame.channels.get("gnss")
    if gnss is None or "latitude" not in gnss[1] or "longitude" not in gnss[1]:
        return iter([head, "  </trk>", tail])
    ts, fields = gnss
    lat, lon = fields["latitude"], fields["longitude"]
    fix = np.isfinite(lat) & np.isfinite(lon)
    ts, lat, lon = ts[fix], lat[fix], lon[fix]
    altitude = fields.get("altitude")
    altitude = altitude[fix] if altitude is not None else np.full(len(ts), np.nan)
    hr = _hr_at(ts, frame)
    max_gap_ms = float(timeframe_params(timeframe)["max_gap"]) * 1000
    new_segment = np.ones(len(ts), dtype=bool)
    new_segment[1:] = np.diff(ts) > max_gap_ms
    return _gpx_pieces(head, tail, ts, lat, lon, altitude, hr, new_segment)


def _gpx_pieces(head, tail, ts, lat, lon, altitude, hr, new_segment) -> Iterator[str]:
    yield head
    times = np.datetime_as_string(ts.astype("datetime64[ms]"), unit="ms")
    for lo in range(0, len(ts), GPX_CHUNK_POINTS):
        sel = slice(lo, lo + GPX_CHUNK_POINTS)
        parts = []
        for t, la, lo_, alt, bpm, cut in zip(
            times[sel].tolist(),
            lat[sel].tolist(),
            lon[sel].tolist(),
            altitude[sel].tolist(),
            hr[sel].tolist(),
            new_segment[sel].tolist(),
            strict=True,
        ):
            if cut:
                parts.append("    </trkseg>\n    <trkseg>\n" if parts or lo else "    <trkseg>\n")
            parts.append(f'      <trkpt lat="{la!r}" lon="{lo_!r}">\n')
            if alt == alt:  # NaN: no altitude
                parts.append(f"        <ele>{alt!r}</ele>\n")
            parts.append(f"        <time>{t}Z</time>\n")
            if bpm == bpm:
                parts.append(
                    "        <extensions>\n          <gpxtpx:TrackPointExtension>\n"
                    f"            <gpxtpx:hr>{round(bpm)}</gpxtpx:hr>\n"
                    "          </gpxtpx:TrackPointExtension>\n        </extensions>\n"
                )
            parts.append("      </trkpt>\n")
        yield "".join(parts)
    if len(ts):
        yield "    </trkseg>\n"
    yield "  </trk>"
    yield tail


def timeframe_gpx(timeframe: Timeframe) -> str:
    """`timeframe_gpx_lines` in one string."""
    return "".join(timeframe_gpx_lines(timeframe))


def _headline(timeframe: Timeframe) -> list:
    stored = getattr(timeframe, "computed", None)
    row = [
        timeframe.pk,
        timeframe.athlete_id,
        timeframe.device_id,
        _iso(timeframe.start_time),
        _iso(timeframe.end_time),
    ]
    if stored is None or not stored.revision:
        return row + [""] * (len(ACTIVITY_COLUMNS) - len(row))
    data = timeframe_document(timeframe)
    values = [
        data.get("status"),
        data.get("revision"),
        data.get("samples"),
        data.get("duration"),
        data.get("total_distance"),
        data.get("distance_per_minute"),
        data.get("max_speed"),
        (data.get("hid") or {}).get("distance"),
        (data.get("sprint") or {}).get("count"),
        data.get("hr_avg"),
        data.get("hr_max"),
        data.get("trimp"),
    ]
    return row + ["" if v is None else v for v in values]


def activity_csv_lines(timeframes: Iterable[Timeframe]) -> Iterator[str]:
    """One row of headline metrics per timeframe, from the stored computed data (empty cells for
    a timeframe not computed yet, and for a metric that is null, e.g. `trimp`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(ACTIVITY_COLUMNS)
    yield buffer.getvalue()
    for timeframe in timeframes:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(_headline(timeframe))
        yield buffer.getvalue()
