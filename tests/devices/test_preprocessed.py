"""Reads of device data (SPEC §6): /preprocessed/, /preprocessed-ranges/, /latest-preprocessed-data/.

The story: pat owned the vest from three hours ago until two hours ago (H); alice owns it since.
The vest recorded one packet every 10 s from H - 30 min to H + 30 min, with a pause of five
minutes from H + 10 min. mallory never owned it.
"""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from devices.ingestion import packets_ingest
from devices.services import ownership_release, ownership_take
from tests.devices.packets_factory import packet
from users.models import Role

pytestmark = pytest.mark.django_db

VEST = "a1b2c3d4e5f6"
MIN = 60_000


def ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def iso(value_ms: int) -> str:
    return datetime.fromtimestamp(value_ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def pat(make_user):
    return make_user("pat", Role.MANAGER)


@pytest.fixture
def story(make_owned_device, pat, alice):
    now = datetime.now(UTC).replace(microsecond=0)
    handover = now - timedelta(hours=2)
    vest = make_owned_device(VEST)
    proof = {"serial_number": vest.serial_number, "device_name": VEST}
    with time_machine.travel(now - timedelta(hours=3), tick=False):
        ownership_take(manager=pat, device=vest, **proof)
    with time_machine.travel(handover, tick=False):
        ownership_release(manager=pat, device=vest)
        ownership_take(manager=alice, device=vest, **proof)
    h = ms(handover)
    stamps = [
        t for t in range(h - 30 * MIN, h + 30 * MIN, 10_000) if not h + 10 * MIN <= t < h + 15 * MIN
    ]
    packets_ingest(
        body={"packets": [packet(VEST, t, fixes=2, hr=100 + i % 50) for i, t in enumerate(stamps)]}
    )
    return {"vest": vest, "h": h, "stamps": stamps}


def url(story, name: str) -> str:
    return f"/api/v1/devices/{story['vest'].pk}/{name}/"


def get(client, story, name: str, **params):
    return client.get(url(story, name), params)


# --- /preprocessed/ -------------------------------------------------------------------------------


def test_it_returns_flat_rows_sorted_by_time(api, alice, story):
    h = story["h"]

    response = get(api(alice), story, "preprocessed", start=iso(h), stop=iso(h + 10 * MIN))

    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("count", "page", "next", "previous", "next_start")} == {
        "count": 120,
        "page": 1,
        "next": None,
        "previous": None,
        "next_start": None,
    }
    rows = body["results"]
    assert [r["timestamp"] for r in rows] == sorted(
        t + k for t in story["stamps"] if h <= t < h + 10 * MIN for k in (0, 100)
    )
    first = rows[0]
    assert first == {
        "timestamp": h,
        "gnss.latitude": 51.5,
        "gnss.longitude": -0.1,
        "gnss.speed": 3.5,
        "gnss.altitude": 12,
        "ecg.hr": first["ecg.hr"],
        "device.standstill": 0,
        "device.Bat_lvl": 90,
    }
    assert set(rows[1]) == {
        "timestamp",
        "gnss.latitude",
        "gnss.longitude",
        "gnss.speed",
        "gnss.altitude",
    }


def test_it_accepts_epoch_milliseconds(api, alice, story):
    h = story["h"]

    response = get(api(alice), story, "preprocessed", start=h, stop=h + MIN)

    assert len(response.json()["results"]) == 12


def test_a_past_owner_reads_exactly_his_period(api, pat, story):
    h = story["h"]
    client = api(pat)

    mine = get(client, story, "preprocessed", start=iso(h - 30 * MIN), stop=iso(h))
    straddling = get(client, story, "preprocessed", start=iso(h - MIN), stop=iso(h + MIN))

    assert mine.status_code == 200
    assert max(r["timestamp"] for r in mine.json()["results"]) < h
    assert straddling.status_code == 403


def test_the_new_owner_cannot_read_before_his_period(api, alice, story):
    h = story["h"]

    response = get(api(alice), story, "preprocessed", start=iso(h - MIN), stop=iso(h + MIN))

    assert response.status_code == 403


def test_admins_read_any_interval(api, admin, story):
    h = story["h"]

    response = get(api(admin), story, "preprocessed", start=h - MIN, stop=h + MIN)

    assert len(response.json()["results"]) == 24


def test_it_hides_the_device_from_outsiders(api, mallory, story):
    h = story["h"]

    assert get(api(mallory), story, "preprocessed", start=h, stop=h + MIN).status_code == 404


def test_it_refuses_athletes_and_anonymous(api, carol, story):
    h = story["h"]

    assert get(api(carol), story, "preprocessed", start=h, stop=h + MIN).status_code == 403
    assert get(api(), story, "preprocessed", start=h, stop=h + MIN).status_code == 401


@pytest.mark.parametrize(
    "params, field",
    [
        ({}, "start"),
        ({"start": "yesterday", "stop": "1"}, "start"),
        ({"start": "2026-01-02T00:00:00Z", "stop": "2026-01-01T00:00:00Z"}, "stop"),
        ({"start": "2026-01-01T00:00:00Z", "stop": "2026-01-03T00:00:01Z"}, "stop"),
        ({"start": "2026-01-01T00:00:00Z", "stop": "2026-01-02T00:00:00Z", "limit": "x"}, "limit"),
    ],
)
def test_it_refuses_malformed_intervals(api, admin, story, params, field):
    response = get(api(admin), story, "preprocessed", **params)

    assert response.status_code == 400
    assert field in response.json()


def test_next_start_pages_through_the_window_without_gaps_or_repeats(api, alice, story):
    h = story["h"]
    client, start, seen = api(alice), h, []
    everything = get(client, story, "preprocessed", start=h, stop=h + 30 * MIN).json()["results"]

    while start is not None:
        body = get(client, story, "preprocessed", start=start, stop=h + 30 * MIN, limit=7).json()
        assert len(body["results"]) <= 7
        seen += body["results"]
        start = body["next_start"]

    assert seen == everything


def test_page_numbers_page_through_the_window_like_next_start(api, alice, story):
    h = story["h"]
    client, params = api(alice), {"start": h, "stop": h + 30 * MIN, "limit": 7}
    everything = get(client, story, "preprocessed", start=h, stop=h + 30 * MIN).json()["results"]
    pages, page = [], 1

    while page is not None:
        body = get(client, story, "preprocessed", page=page, **params).json()
        assert body["count"] == len(everything)
        assert body["previous"] == (page - 1 if page > 1 else None)
        pages.append(body)
        page = body["next"]

    assert [row for body in pages for row in body["results"]] == everything
    assert len(pages) == -(-len(everything) // 7)
    # Page n + 1 starts where page n's next_start says.
    assert pages[1]["results"][0]["timestamp"] == pages[0]["next_start"]


def test_count_is_the_distinct_timestamps_of_every_channel(api, alice, story):
    h = story["h"]
    # One heart rate 50 ms after a packet's start: a timestamp of its own, GNSS-less.
    packets_ingest(
        body={"packets": [{"device_name": VEST, "ecg": {"timestamp": h + 50, "hr": 99}}]}
    )

    body = get(api(alice), story, "preprocessed", start=h, stop=h + 20_000).json()

    assert [r["timestamp"] for r in body["results"]] == [h, h + 50, h + 100, h + 10_000, h + 10_100]
    assert body["count"] == 5


@pytest.mark.parametrize("page", ["0", "-1", "x", "3"])
def test_a_page_out_of_range_or_malformed_is_404(api, alice, story, page):
    h = story["h"]

    response = get(api(alice), story, "preprocessed", start=h, stop=h + MIN, limit=7, page=page)

    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page."}


def test_an_empty_window_is_an_empty_first_page(api, alice, story):
    h = story["h"]

    body = get(api(alice), story, "preprocessed", start=h + 11 * MIN, stop=h + 12 * MIN).json()

    assert body == {
        "count": 0,
        "page": 1,
        "next": None,
        "previous": None,
        "next_start": None,
        "results": [],
    }


def test_limit_is_clamped_to_10000(api, alice, story):
    h = story["h"]

    response = get(api(alice), story, "preprocessed", start=h, stop=h + MIN, limit=10**6)

    assert response.status_code == 200


def test_it_streams_csv(api, alice, story):
    h = story["h"]
    client = api(alice)
    params = {"start": h, "stop": h + 2 * MIN}

    response = client.get(url(story, "preprocessed"), {**params, "format": "csv"})
    json_rows = client.get(url(story, "preprocessed"), params).json()["results"]

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert table[0][0] == "timestamp" and "gnss.latitude" in table[0] and "ecg.hr" in table[0]
    assert [int(r[0]) for r in table[1:]] == [r["timestamp"] for r in json_rows]
    hr = table[0].index("ecg.hr")
    assert [r[hr] for r in table[1:3]] == [str(json_rows[0]["ecg.hr"]), ""]


def test_csv_errors_are_json(api, pat, story):
    h = story["h"]

    response = get(api(pat), story, "preprocessed", start=h, stop=h + MIN, format="csv")

    assert response.status_code == 403
    assert "detail" in response.json()


# --- /preprocessed-ranges/ ------------------------------------------------------------------------


def test_ranges_split_at_gaps_over_60_seconds(api, alice, story):
    h = story["h"]

    response = get(api(alice), story, "preprocessed-ranges", start=h, stop=h + 60 * MIN)

    assert response.status_code == 200
    assert response.json()["results"] == [
        {"start": iso(h), "stop": iso(h + 10 * MIN - 10_000 + 101)},
        {"start": iso(h + 15 * MIN), "stop": iso(h + 30 * MIN - 10_000 + 101)},
    ]
    assert response.json()["count"] == 2


def test_ranges_of_a_past_owner_stop_at_his_period(api, pat, story):
    h = story["h"]

    mine = get(api(pat), story, "preprocessed-ranges", start=h - 60 * MIN, stop=h)
    beyond = get(api(pat), story, "preprocessed-ranges", start=h - 60 * MIN, stop=h + 1)

    assert mine.json()["results"] == [{"start": iso(h - 30 * MIN), "stop": iso(h - 10_000 + 101)}]
    assert beyond.status_code == 403


def test_ranges_allow_14_days_at_most(api, admin, story):
    h = story["h"]

    ok = get(api(admin), story, "preprocessed-ranges", start=h - 14 * 1440 * MIN, stop=h)
    too_long = get(api(admin), story, "preprocessed-ranges", start=h - 14 * 1440 * MIN - 1, stop=h)

    assert ok.status_code == 200
    assert too_long.status_code == 400


# --- /latest-preprocessed-data/ -------------------------------------------------------------------


def test_latest_is_the_newest_packet(api, alice, story):
    newest = story["stamps"][-1]

    response = api(alice).get(url(story, "latest-preprocessed-data"))

    assert response.status_code == 200
    assert response.json() == {
        "device_name": VEST,
        "gnss": {
            "timestamp": [newest, newest + 100],
            "latitude": [51.5, 51.50001],
            "longitude": [-0.1, -0.10001],
            "speed": [3.5, 3.5],
            "altitude": [12, 12],
        },
        "ecg": {"timestamp": newest, "hr": 100 + (len(story["stamps"]) - 1) % 50},
        "device": {"timestamp": newest, "standstill": 0, "Bat_lvl": 90},
    }


def test_latest_is_for_the_current_owner_only(api, pat, mallory, story):
    assert api(pat).get(url(story, "latest-preprocessed-data")).status_code == 403
    assert api(mallory).get(url(story, "latest-preprocessed-data")).status_code == 404


def test_latest_is_404_without_data_of_the_current_period(
    api, alice, admin, make_owned_device, story
):
    # Everything the vest holds was recorded before alice's period began on this new device.
    other = make_owned_device("b1b2c3d4e5f6", alice)
    assert (
        api(alice).get(f"/api/v1/devices/{other.pk}/latest-preprocessed-data/").status_code == 404
    )
    t = story["h"] - 3 * MIN
    packets_ingest(body={"packets": [packet("b1b2c3d4e5f6", t)]})

    assert (
        api(alice).get(f"/api/v1/devices/{other.pk}/latest-preprocessed-data/").status_code == 404
    )
    admin_view = api(admin).get(f"/api/v1/devices/{other.pk}/latest-preprocessed-data/")
    assert admin_view.json()["ecg"]["timestamp"] == t
