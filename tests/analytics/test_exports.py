"""GET /api/v1/timeframes/{id}/export/?format=csv|gpx and /api/v1/activities/{id}/export/?format=csv
(SPEC §7): the timeframe's samples as CSV and GPX 1.1, the activity's headline metrics as CSV,
behind the computed-data access rule."""

import csv
import io
from datetime import UTC, datetime, timedelta

import gpxpy
import pytest

from analytics import exports
from analytics.exports import GPXTPX_NS
from analytics.services import timeframe_recompute
from devices.ingestion import packets_ingest
from tests.analytics.conftest import T_START, YEAR_END, YEAR_START
from tests.conftest import MATCH_END
from users.models import PermissionKind

pytestmark = pytest.mark.django_db


def url(timeframe, format_: str | None = "csv") -> str:
    query = f"?format={format_}" if format_ is not None else ""
    return f"/api/v1/timeframes/{timeframe.pk}/export/{query}"


def activity_url(activity, format_: str | None = "csv") -> str:
    query = f"?format={format_}" if format_ is not None else ""
    return f"/api/v1/activities/{activity.pk}/export/{query}"


def body(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body(response))))


def utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


# --- timeframe CSV ---------------------------------------------------------------------------


def test_the_csv_holds_the_stored_samples_of_the_span(api, carol, evening, ingest):
    before = ingest(T_START - 2000, 2)  # before the timeframe: not exported
    sent = ingest(T_START, 3)

    response = api(carol).get(url(evening))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"] == f'attachment; filename="timeframe-{evening.pk}.csv"'
    got = rows(response)
    fixes = [(t, p) for p in sent for t in p["gnss"]["timestamp"]]
    assert len(got) == len(fixes)  # HR readings share the fixes' whole-second timestamps
    assert list(got[0]) == ["timestamp", "gnss.latitude", "gnss.longitude", "gnss.speed", "ecg.hr"]
    for row, (t, p) in zip(got, fixes, strict=True):
        k = p["gnss"]["timestamp"].index(t)
        assert int(row["timestamp"]) == t
        assert float(row["gnss.latitude"]) == p["gnss"]["latitude"][k]
        assert float(row["gnss.longitude"]) == p["gnss"]["longitude"][k]
        assert float(row["gnss.speed"]) == p["gnss"]["speed"][k]
        assert row["ecg.hr"] == (str(p["ecg"]["hr"]) if t == p["ecg"]["timestamp"] else "")
    assert all(int(r["timestamp"]) >= T_START for r in got)
    assert before  # stored, but outside [start_time, end_time)


def test_the_csv_of_a_timeframe_without_samples_is_the_header(api, carol, evening):
    response = api(carol).get(url(evening))

    assert response.status_code == 200
    assert body(response).strip() == "timestamp"


# --- timeframe GPX ---------------------------------------------------------------------------


def test_the_gpx_holds_the_fixes_with_their_heart_rate(api, carol, evening, ingest):
    sent = ingest(T_START, 3)

    response = api(carol).get(url(evening, "gpx"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/gpx+xml"
    assert response["Content-Disposition"] == f'attachment; filename="timeframe-{evening.pk}.gpx"'
    text = body(response)
    assert 'version="1.1"' in text
    gpx = gpxpy.parse(text)
    assert len(gpx.tracks) == 1 and len(gpx.tracks[0].segments) == 1
    points = gpx.tracks[0].segments[0].points
    assert len(points) == 30
    first, last = sent[0]["gnss"], sent[-1]["gnss"]
    assert (points[0].latitude, points[0].longitude) == pytest.approx(
        (first["latitude"][0], first["longitude"][0]), abs=1e-9
    )
    assert (points[-1].latitude, points[-1].longitude) == pytest.approx(
        (last["latitude"][-1], last["longitude"][-1]), abs=1e-9
    )
    assert points[0].time == utc(first["timestamp"][0])
    assert points[-1].time == utc(last["timestamp"][-1])
    assert points[0].elevation is None

    def hr(point) -> int:
        (extension,) = point.extensions
        assert extension.tag == f"{{{GPXTPX_NS}}}TrackPointExtension"
        return int(extension.find(f"{{{GPXTPX_NS}}}hr").text)

    # each fix carries the reading of its second (taken at the packet's first fix)
    assert [hr(p) for p in points] == [p["ecg"]["hr"] for p in sent for _ in range(10)]


def test_the_gpx_splits_segments_at_gaps_and_drops_stale_heart_rate(
    api, carol, band, evening, ingest
):
    ingest(T_START, 2)
    # 8 s later: fixes without heart rate (the last reading is over 5 s old), with altitude
    t = T_START + 10_000
    packets_ingest(
        body={
            "packets": [
                {
                    "device_name": band.device_name,
                    "gnss": {
                        "timestamp": [t, t + 100],
                        "latitude": [51.6, 51.6001],
                        "longitude": [-0.1, -0.1],
                        "altitude": [12.5, 13.0],
                    },
                }
            ]
        }
    )

    gpx = gpxpy.parse(body(api(carol).get(url(evening, "gpx"))))

    first, second = gpx.tracks[0].segments
    assert (len(first.points), len(second.points)) == (20, 2)
    assert [p.elevation for p in second.points] == [12.5, 13.0]
    assert [p.extensions for p in second.points] == [[], []]
    assert second.points[0].time == utc(t)


def test_the_gpx_streams_in_pieces_that_join_segments_across_them(
    api, carol, band, evening, ingest, monkeypatch
):
    monkeypatch.setattr(exports, "GPX_CHUNK_POINTS", 5)  # pieces end mid-segment and at a gap
    ingest(T_START, 2)
    ingest(T_START + 5000, 1)  # a 3.1 s gap before fix 20, which starts the fifth piece

    response = api(carol).get(url(evening, "gpx"))

    assert response.streaming
    pieces = [piece.decode() for piece in response.streaming_content]
    assert len(pieces) == 1 + 30 // 5 + 3  # head, the trackpoints, closing tags
    gpx = gpxpy.parse("".join(pieces))
    assert [len(segment.points) for segment in gpx.tracks[0].segments] == [20, 10]
    times = [p.time for segment in gpx.tracks[0].segments for p in segment.points]
    assert times == sorted(times) and len(set(times)) == 30


def test_the_gpx_of_a_timeframe_without_fixes_is_an_empty_track(api, carol, evening):
    gpx = gpxpy.parse(body(api(carol).get(url(evening, "gpx"))))

    assert len(gpx.tracks) == 1 and gpx.tracks[0].get_points_no() == 0


# --- format ----------------------------------------------------------------------------------


@pytest.mark.parametrize("format_", [None, "", "json", "xml", "CSV"])
def test_it_refuses_a_missing_or_unknown_format(api, carol, evening, format_):
    response = api(carol).get(url(evening, format_))

    assert response.status_code == 400
    assert list(response.json()) == ["format"]


def test_the_activity_export_takes_only_csv(api, carol, match, evening):
    assert api(carol).get(activity_url(match, "gpx")).status_code == 400
    assert list(api(carol).get(activity_url(match, None)).json()) == ["format"]


# --- access ----------------------------------------------------------------------------------


@pytest.mark.parametrize("format_", ["csv", "gpx"])
def test_the_athlete_and_admins_may_export(api, admin, carol, evening, ingest, format_):
    ingest(T_START, 1)

    assert api(carol).get(url(evening, format_)).status_code == 200
    assert api(admin).get(url(evening, format_)).status_code == 200


@pytest.mark.parametrize("format_", ["csv", "gpx", "bogus"])
def test_others_get_404(api, alice, mallory, bob, evening, format_):
    # alice owns the timeframe with WRITE on carol but no READ: not enough.
    assert api(alice).get(url(evening, format_)).status_code == 404
    assert api(mallory).get(url(evening, format_)).status_code == 404
    assert api(bob).get(url(evening, format_)).status_code == 404


def test_a_manager_whose_read_covers_the_span_may_export(api, trent, carol, grant, evening):
    grant(carol, trent, PermissionKind.READ, YEAR_START, YEAR_END)

    assert api(trent).get(url(evening)).status_code == 200


def test_it_needs_authentication_and_the_all_scope(api, carol, match, evening):
    assert api().get(url(evening)).status_code == 401
    assert api().get(activity_url(match)).status_code == 401
    assert api(carol, scope="ingest").get(url(evening)).status_code == 403


def test_unknown_ids_are_404(api, admin):
    assert api(admin).get("/api/v1/timeframes/999999/export/?format=csv").status_code == 404
    assert api(admin).get("/api/v1/activities/999999/export/?format=csv").status_code == 404


# --- activity CSV ----------------------------------------------------------------------------


@pytest.fixture
def squad(scene, alice, bob, carol, grant, band, match, make_device, own, make_timeframe):
    """carol's evening on band and bob's later timeframe on another device; alice holds READ
    on carol for 2020 but nothing on bob."""
    grant(carol, alice, PermissionKind.READ, YEAR_START, YEAR_END)
    evening = make_timeframe(band, match)
    device = make_device()
    own(device, alice, YEAR_START)
    later = evening.start_time + timedelta(minutes=30)
    bobs = make_timeframe(device, match, later, MATCH_END, athlete=bob)
    return evening, bobs


def test_the_activity_csv_has_a_row_of_headline_metrics_per_readable_timeframe(
    api, admin, alice, match, squad, ingest
):
    evening, bobs = squad
    ingest(T_START, 10)
    stored = timeframe_recompute(timeframe_id=evening.pk).data

    response = api(alice).get(activity_url(match))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"] == f'attachment; filename="activity-{match.pk}.csv"'
    (row,) = rows(response)  # bob's timeframe is not alice's to read
    assert row == {
        "timeframe": str(evening.pk),
        "athlete": str(evening.athlete_id),
        "device": str(evening.device_id),
        "start_time": "2020-05-30T20:00:00.000Z",
        "end_time": "2020-05-30T22:00:00.000Z",
        "status": "final",
        "revision": "1",
        "samples": "100",
        "duration": str(stored["duration"]),
        "total_distance": str(stored["total_distance"]),
        "distance_per_minute": str(stored["distance_per_minute"]),
        "max_speed": str(stored["max_speed"]),
        "hid_distance": str(stored["hid"]["distance"]),
        "sprint_count": "0",
        "hr_avg": str(stored["hr_avg"]),
        "hr_max": str(stored["hr_max"]),
        "trimp": str(stored["trimp"]),
    }
    assert float(row["total_distance"]) == pytest.approx(2.5 * 9.9)

    admin_rows = rows(api(admin).get(activity_url(match)))
    assert [r["timeframe"] for r in admin_rows] == [str(evening.pk), str(bobs.pk)]
    # bob's is not computed yet: the metric cells are empty
    assert [admin_rows[1][c] for c in ("status", "revision", "samples", "trimp")] == [""] * 4


def test_the_activity_csv_for_the_athlete_and_outsiders(api, bob, mallory, match, squad):
    evening, bobs = squad

    assert [r["timeframe"] for r in rows(api(bob).get(activity_url(match)))] == [str(bobs.pk)]
    assert api(mallory).get(activity_url(match)).status_code == 404
