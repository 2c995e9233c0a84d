"""The post-session report pages (HTML, session login): a timeframe's report and an activity's.

Access is the computed-data rule of SPEC §7 (`timeframes_computed_readable_by`), as for the
computed REST and the exports: a timeframe the user may not read is the 404 page, and an
activity's report lists only the timeframes he may read. The numbers are the stored computed
document itself (`timeframe_document`, what `GET .../computed/` answers); the charts of speed,
heart rate and the track come from the timeframe's samples, read like the CSV export reads them
(`analytics.exports.timeframe_samples`) and reduced by `analytics.report`.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from django.contrib.auth.decorators import login_required
from django.db.models import Count, F, OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from activities.selectors import activities_visible_to
from analytics.exports import timeframe_samples
from analytics.report import Series, Track, gnss_speed, series_downsample, track_project
from analytics.serializers import timeframe_document
from timeframes.models import Timeframe
from timeframes.selectors import timeframes_computed_readable_by
from users.models import User


@dataclass(frozen=True)
class Metric:
    """A headline metric: `key` is its dotted path in the document (`count` = length of a
    `values` list); `unit` names how it is shown."""

    key: str
    label: str
    unit: str = ""
    digits: int = 0


HEADLINE = (
    Metric("total_distance", "Distance", "m"),
    Metric("duration", "Duration", "duration"),
    Metric("distance_per_minute", "Distance per minute", "m/min", 1),
    Metric("average_speed", "Average speed", "m/s", 2),
    Metric("max_speed", "Max speed", "m/s", 2),
    Metric("hid.distance", "High-intensity distance", "m"),
    Metric("sprint.count", "Sprints"),
    Metric("sprint.distance", "Sprint distance", "m"),
    Metric("hr_avg", "Average heart rate", "bpm"),
    Metric("hr_max", "Max heart rate", "bpm"),
    Metric("hr_avg_percent", "Average % of max HR", "%"),
    Metric("trimp", "TRIMP", "", 1),
)
# The activity report's columns, and what its bar chart can compare.
ACTIVITY_COLUMNS = (
    Metric("total_distance", "Distance", "m"),
    Metric("duration", "Duration", "duration"),
    Metric("distance_per_minute", "m/min", "", 1),
    Metric("max_speed", "Max speed", "m/s", 2),
    Metric("hid.distance", "HID", "m"),
    Metric("sprint.count", "Sprints"),
    Metric("accelerations.count", "Acc."),
    Metric("decelerations.count", "Dec."),
    Metric("hr_avg", "HR avg", "bpm"),
    Metric("hr_max", "HR max", "bpm"),
    Metric("trimp", "TRIMP", "", 1),
)


def metric_value(document: dict, key: str) -> Any:
    """The value at a dotted `key` of a computed document (None when absent).

    Derived keys: `hr_avg_percent` (average HR as % of `athlete_max_hr`), `<efforts>.count`
    (efforts at the lowest threshold) and `<efforts>.threshold_k.count`.
    """
    if key == "hr_avg_percent":
        avg, top = document.get("hr_avg"), document.get("athlete_max_hr")
        return round(100 * avg / top, 1) if avg is not None and top else None
    value: Any = document
    parts = key.split(".")
    if parts[0] in ("accelerations", "decelerations") and parts[-1] == "count":
        thresholds = document.get(parts[0]) or {}
        name = parts[1] if len(parts) == 3 else "threshold_1"
        return len((thresholds.get(name) or {}).get("values") or [])
    for part in parts:
        if part == "count" and isinstance(value, dict) and "count" not in value:
            return len(value.get("values") or [])
        value = value.get(part) if isinstance(value, dict) else None
    return value


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    whole = round(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def shown(value: Any, metric: Metric, *, unit: bool = True) -> str:
    """How a value reads on the page (the exact value is in the element's `data-value`);
    without the unit where a column header names it."""
    if value is None:
        return "–"
    if metric.unit == "duration":
        return clock(value)
    number = f"{value:,.{metric.digits}f}".replace(",", "\u202f")  # narrow no-break space
    return f"{number}\u00a0{metric.unit}" if metric.unit and unit else number


def metric_cells(document: dict, metrics: tuple[Metric, ...]) -> list[dict]:
    cells = []
    for metric in metrics:
        value = metric_value(document, metric.key)
        cells.append(
            {
                "key": metric.key,
                "label": metric.label,
                "value": json.dumps(value),
                "number": value,
                "shown": shown(value, metric),
                "bare": shown(value, metric, unit=False),
            }
        )
    return cells


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def utc_clock(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%H:%M:%S")


def athlete_name(user: User) -> str:
    profile = getattr(user, "athlete_profile", None)
    return str(profile) if profile is not None else user.username


def _readable(user: User) -> QuerySet[Timeframe]:
    return (
        timeframes_computed_readable_by(user)
        .select_related("activity", "device", "computed", "athlete__athlete_profile")
        # `state` is the live engine's (large, never served); the picture is never shown here.
        .defer("computed__state", "athlete__athlete_profile__profile_picture")
    )


# --- the timeframe report ---------------------------------------------------------------------


def _bars(rows: list[dict], field: str) -> list[dict]:
    top = max((row[field] or 0 for row in rows), default=0) or 1
    return [row | {"percent": round(100 * (row[field] or 0) / top, 1)} for row in rows]


def _hr_zones(document: dict) -> list[dict]:
    top = document.get("athlete_max_hr")
    rows = []
    for zone in document.get("timePerHrZone") or []:
        low, high = zone["min_percent"], zone["max_percent"]
        bpm = None
        if top:
            bpm = f"{round(top * low / 100)}–{round(top * high / 100)}" if high else None
            bpm = bpm or f"≥ {round(top * low / 100)}"
        label = f"{low}–{high} %" if high is not None else f"≥ {low} %"
        rows.append({"label": label, "bpm": bpm, "duration": zone["duration"]})
    return _bars(rows, "duration")


def _speed_ranges(document: dict) -> list[dict]:
    rows = []
    for band in document.get("distance_per_speed_ranges") or []:
        low, high = band["min"], band["max"]
        label = f"{low:g}–{high:g} m/s" if high is not None else f"≥ {low:g} m/s"
        rows.append({"label": label, "distance": band["distance"], "duration": band["duration"]})
    return _bars(rows, "distance")


def _tick_minutes(span_s: float) -> int:
    return next((m for m in (1, 2, 5, 10, 15, 30, 60, 120) if span_s / (m * 60) <= 8), 240)


def _efforts(document: dict, first: int, last: int) -> dict:
    """The efforts as rows of marks on one time axis [first, last] (positions in %)."""
    span = max(last - first, 1)

    def marks(values: list[dict], peak: str, peak_unit: str) -> list[dict]:
        out = []
        for v in values:
            left = 100 * (v["start_time"] - first) / span
            out.append(
                {
                    "left": round(left, 3),
                    "width": round(100 * v["duration"] * 1000 / span, 3),
                    "title": f"{utc_clock(v['start_time'])} UTC · {v['duration']:.1f} s · "
                    f"{v['distance']:.0f} m · {peak} {v[peak]:.2f} {peak_unit}",
                    "start_time": v["start_time"],
                }
            )
        return out

    sprint = document.get("sprint") or {}
    rows = [
        {
            "kind": "sprint",
            "label": f"Sprints ≥ {sprint.get('threshold', 0):g} m/s",
            "marks": marks(sprint.get("values") or [], "max_speed", "m/s"),
        }
    ]
    for kind, word in (("accelerations", "Accelerations"), ("decelerations", "Decelerations")):
        for name, entry in sorted((document.get(kind) or {}).items()):
            rows.append(
                {
                    "kind": f"{kind}.{name}",
                    "label": f"{word} ≥ {entry['threshold']:g} m/s²",
                    "marks": marks(entry.get("values") or [], "max_value", "m/s²"),
                }
            )
    step = _tick_minutes(span / 1000) * 60_000
    ticks = [
        {"left": round(100 * k / span, 3), "label": f"{k // 60_000} min"}
        for k in range(0, span + 1, step)
    ]
    return {"rows": rows, "ticks": ticks}


def _track_svg(track: Track | None) -> dict | None:
    """SVG geometry of the track: north up, metres, with a scale bar in the lower left."""
    if track is None:
        return None
    xs = [x for line in track.lines for x, _ in line]
    ys = [-y for line in track.lines for _, y in line]  # SVG's y grows downwards
    size = max(track.width_m, track.height_m, 20.0)
    pad = size * 0.06
    min_x, max_x = min(xs) - pad, max(xs) + pad
    min_y, max_y = min(ys) - pad, max(ys) + pad + size * 0.08  # room for the scale bar
    width, height = max_x - min_x, max_y - min_y
    unit = max(width, height)
    paths = ["M" + " L".join(f"{x:.1f},{-y:.1f}" for x, y in line) for line in track.lines if line]
    first, last = track.lines[0][0], track.lines[-1][-1]
    bar_y = max_y - unit * 0.035
    scale = track.scale_m
    return {
        "view_box": f"{min_x:.1f} {min_y:.1f} {width:.1f} {height:.1f}",
        "paths": paths,
        "start": {"x": first[0], "y": -first[1]},
        "end": {"x": last[0], "y": -last[1]},
        "marker": round(unit * 0.012, 2),
        "stroke": round(unit * 0.003, 2),
        "bar": {
            "x1": round(min_x + unit * 0.03, 1),
            "x2": round(min_x + unit * 0.03 + scale, 1),
            "y": round(bar_y, 1),
            "tick_y": round(bar_y - unit * 0.012, 1),
            "label_y": round(bar_y - unit * 0.02, 1),
            "font": round(unit * 0.03, 2),
            "label": f"{scale / 1000:g} km" if scale >= 1000 else f"{scale:g} m",
        },
        "width_m": round(track.width_m),
        "height_m": round(track.height_m),
    }


def _drawn(timeframe: Timeframe, params: dict) -> tuple[Series, Track | None]:
    """The speed/HR series and the track of the timeframe's samples."""
    frame = timeframe_samples(timeframe)
    empty = np.zeros(0)
    gnss_ts, lat, lon, speed = np.zeros(0, np.int64), empty, empty, empty
    if "gnss" in frame.channels:
        gnss_ts, fields = frame.channels["gnss"]
        if "latitude" in fields and "longitude" in fields:
            lat, lon = fields["latitude"], fields["longitude"]
            speed = gnss_speed(gnss_ts, lat, lon, fields.get("speed"))
        else:
            gnss_ts = np.zeros(0, np.int64)
    hr_ts, hr = np.zeros(0, np.int64), empty
    if "ecg" in frame.channels and "hr" in frame.channels["ecg"][1]:
        hr_ts, hr = frame.channels["ecg"][0], frame.channels["ecg"][1]["hr"]
    vmax = float(params.get("max_plausible_speed", 12.5))
    series = series_downsample(
        start_ms=_ms(timeframe.start_time),
        end_ms=_ms(timeframe.end_time),
        gnss_ts=gnss_ts,
        speed=speed,
        hr_ts=hr_ts,
        hr=hr,
        max_plausible_speed=vmax,
    )
    track = track_project(ts=gnss_ts, lat=lat, lon=lon, speed=speed, max_plausible_speed=vmax)
    return series, track


@login_required
def timeframe_report(request: HttpRequest, pk: int) -> HttpResponse:
    """`/reports/timeframes/{id}/`: for whoever may read the timeframe's computed data."""
    timeframe = get_object_or_404(_readable(request.user), pk=pk)
    document = timeframe_document(timeframe)
    params = document.get("params") or {}
    series, track = _drawn(timeframe, params)
    first = document.get("first_timestamp") or _ms(timeframe.start_time)
    last = document.get("last_timestamp") or _ms(timeframe.end_time)
    context = {
        "timeframe": timeframe,
        "athlete": athlete_name(timeframe.athlete),
        "document": document,
        "headline": metric_cells(document, HEADLINE),
        "peak_distance": sorted(
            (document.get("peak_distance") or {}).items(), key=lambda item: float(item[0])
        ),
        "speed_ranges": _speed_ranges(document),
        "hr_zones": _hr_zones(document),
        "efforts": _efforts(document, first, last),
        "track": _track_svg(track),
        "series": {
            "t": series.t,
            "speed": series.speed,
            "hr": series.hr,
            "bucket_s": series.bucket_s,
        },
        "params": sorted(params.items()),
        "first_clock": utc_clock(first),
    }
    return render(request, "analytics/report_timeframe.html", context)


# --- the activity report ----------------------------------------------------------------------


@login_required
def activity_report(request: HttpRequest, pk: int) -> HttpResponse:
    """`/reports/activities/{id}/`: a row per timeframe the user may read, and a bar chart."""
    activity = get_object_or_404(activities_visible_to(request.user), pk=pk)
    timeframes = _readable(request.user).filter(activity=activity).order_by("start_time", "id")
    rows = []
    for timeframe in timeframes:
        document = timeframe_document(timeframe)
        rows.append(
            {
                "timeframe": timeframe,
                "athlete": athlete_name(timeframe.athlete),
                "status": document.get("status"),
                "cells": metric_cells(document, ACTIVITY_COLUMNS),
            }
        )
    charts = []
    for index, metric in enumerate(ACTIVITY_COLUMNS):
        bars = [
            {"athlete": row["athlete"], "timeframe": row["timeframe"].pk} | row["cells"][index]
            for row in rows
        ]
        top = max((bar["number"] or 0 for bar in bars), default=0) or 1
        for bar in bars:
            bar["percent"] = round(100 * (bar["number"] or 0) / top, 1)
        charts.append({"key": metric.key, "label": metric.label, "bars": bars})
    context = {"activity": activity, "rows": rows, "columns": ACTIVITY_COLUMNS, "charts": charts}
    return render(request, "analytics/report_activity.html", context)


# --- the index ----------------------------------------------------------------------------------

INDEX_SIZE = 50


@login_required
def reports_index(request: HttpRequest) -> HttpResponse:
    """`/reports/`: the newest activities the user sees (by their latest timeframe), each with
    its report and, for managers and admins, its live page."""
    # Counted over the timeframes he may read: the others' number is none of his business.
    readable = timeframes_computed_readable_by(request.user).filter(activity=OuterRef("pk"))
    activities = (
        activities_visible_to(request.user)
        .annotate(
            latest=Subquery(readable.order_by("-start_time").values("start_time")[:1]),
            timeframes_count=Subquery(
                readable.order_by().values("activity").annotate(n=Count("id")).values("n")[:1]
            ),
        )
        .order_by(F("latest").desc(nulls_last=True), "-created_at", "-id")[:INDEX_SIZE]
    )
    return render(request, "analytics/reports_index.html", {"activities": activities})
