"""Real recordings (../shared/data/recordings/, read in place): replay through HTTP, FIT import."""

import json
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from devices.services import ownership_take
from tests.devices.packets_factory import INGEST_URL, now_ms, stored_samples
from tests.recordings import RECORDINGS

pytestmark = pytest.mark.django_db

if not RECORDINGS.is_dir():
    pytest.skip(f"the real recordings are not here ({RECORDINGS})", allow_module_level=True)
RAW = RECORDINGS / "raw"
WATCH = "a1e000000001"


@pytest.fixture
def watch(make_owned_device):
    return make_owned_device(WATCH)


def test_a_replayed_recording_reads_back_exactly_as_sent(gateway, api, alice, watch):
    ownership_take(
        manager=alice, device=watch, serial_number=watch.serial_number, device_name=WATCH
    )
    packets = json.loads((RECORDINGS / "fenix2_run.packets.json").read_text())
    # Shifted so the session ends now, inside alice's ownership (it began an instant ago, so
    # shift the session to start just after it).
    shift = now_ms() // 1000 * 1000 + 1000 - packets[0]["gnss"]["timestamp"][0]
    for packet in packets:
        for channel in ("gnss", "ecg"):
            if channel in packet:
                ts = packet[channel]["timestamp"]
                packet[channel]["timestamp"] = (
                    [t + shift for t in ts] if isinstance(ts, list) else ts + shift
                )
    sent = {
        t: (lat, lon, spd, alt)
        for p in packets
        for t, lat, lon, spd, alt in zip(
            p["gnss"]["timestamp"],
            p["gnss"]["latitude"],
            p["gnss"]["longitude"],
            p["gnss"]["speed"],
            p["gnss"]["altitude"],
            strict=True,
        )
    }
    for lo in range(0, len(packets), 1000):
        response = gateway.post(INGEST_URL, {"packets": packets[lo : lo + 1000]}, format="json")
        assert response.status_code == 201, response.content[:300]

    client, start, rows = api(alice), min(sent), []
    stop = max(sent) + 1
    while start is not None:
        body = client.get(
            f"/api/v1/devices/{watch.pk}/preprocessed/", {"start": start, "stop": stop}
        ).json()
        rows += body["results"]
        start = body["next_start"]

    read = {
        r["timestamp"]: (
            r["gnss.latitude"],
            r["gnss.longitude"],
            r["gnss.speed"],
            r["gnss.altitude"],
        )
        for r in rows
        if "gnss.latitude" in r
    }
    assert read == sent
    assert len(rows) == len({r["timestamp"] for r in rows})


def run_import(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_recording", *args, "--no-progress", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_imports_a_fit_file_once(watch):
    out, _ = run_import(str(RAW / "activity-small-fenix2-run.fit"), "--device", WATCH)

    assert "2809 readings" in out
    first = stored_samples()
    assert first > 2 * 2800 - 100  # a fix and a heart rate per second
    out, _ = run_import(str(RAW / "activity-small-fenix2-run.fit"), "--device", WATCH)
    assert "0 samples stored" in out
    assert stored_samples() == first


def test_it_moves_a_session_to_start(watch):
    start = (datetime.now(UTC) - timedelta(hours=3)).replace(microsecond=0)

    run_import(
        str(RAW / "2013-02-06-12-11-14.fit"), "--device", WATCH, "--start", start.isoformat()
    )

    from devices.samples import samples_read

    frame = samples_read(device_id=watch.pk, start=0, stop=now_ms()).channels
    assert frame["gnss"][0][0] == int(start.timestamp() * 1000)


def test_it_imports_the_damaged_fit_file_and_reports_what_it_skipped(watch):
    out, err = run_import(str(RAW / "mornindew-broken.fit"), "--device", WATCH)

    assert "6874 readings" not in out  # one reading has neither position nor heart rate
    assert "skipped: 1 × reading with neither position nor heart rate" in err
    assert stored_samples() > 6800


def test_a_truncated_fit_file_ingests_what_was_readable(watch, tmp_path):
    whole = (RAW / "activity-small-fenix2-run.fit").read_bytes()
    truncated = tmp_path / "truncated.fit"
    truncated.write_bytes(whole[: len(whole) // 2])

    out, err = run_import(str(truncated), "--device", WATCH)

    assert "damaged: reading stopped after" in err
    assert 0 < stored_samples() < 2 * 2809


def test_an_unreadable_file_stores_nothing_and_fails(watch, tmp_path):
    garbage = tmp_path / "garbage.fit"
    garbage.write_bytes(b"not a fit file at all" * 10)

    with pytest.raises(CommandError, match="nothing readable"):
        run_import(str(garbage), "--device", WATCH)
    assert stored_samples() == 0


def test_it_refuses_an_unknown_device():
    with pytest.raises(CommandError, match="No device"):
        run_import(str(RAW / "2013-02-06-12-11-14.fit"), "--device", "ffffffffffff")
