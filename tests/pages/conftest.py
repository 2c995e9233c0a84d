"""Browser tests of the HTML pages: Debian's headless Chromium (`/usr/bin/chromium`, installed by
`make test`) driven by Playwright for Python, which is pointed at it and downloads no browser.

`browser` is one Chromium for the whole run; `page_as(user, base_url, width)` opens a page in a
fresh context logged in as `user` (the session cookie of Django's test client). Screenshots go
to `tests/screenshots/` (git-ignored), named by the test.

The scene: carol ran with `watch` (the real Garmin fenix 2 recording of
../shared/data/recordings/, 47 min at 1 Hz with heart rate) in `run`, alice's activity; her
timeframe `morning_run` covers the recording, alice owns the watch and holds READ on carol over
it, and the computed data is stored (a full recompute, as after the timeframe ended).
"""

import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from django.db import connection
from django.test import Client

from activities.default_schemas import default_schemas_install
from activities.models import JsonSchema
from analytics.services import timeframe_recompute
from devices.ingestion import packets_ingest
from devices.models import Device
from devices.samples import TABLE, channels_cache_clear
from tests.recordings import RECORDINGS
from timeframes.models import Timeframe
from users.models import PermissionKind, User

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"
DESKTOP = 1280
TABLET = 820
CHROMIUM_ARGS = [
    # As root in a container; the machine's network is closed, so no background traffic.
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RECORDING = "fenix2_run"
YEAR_2000 = datetime(2000, 1, 1, tzinfo=UTC)


# Package scope: Playwright's sync API runs an event loop in this thread while it is open,
# and later tests (the streaming consumers') need the thread without one.
@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        # Fail, not skip: the browser tests must not vanish silently from a run.
        pytest.fail(f"no Chromium at {CHROMIUM} (make test installs Debian's chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API keeps an event loop on this thread; Django refuses ORM calls from a
    # thread with a running loop unless told the calls are really synchronous (they are).
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page_as(browser, request) -> Iterator[Callable[..., object]]:
    contexts = []

    def open_page(user: User | None, base_url: str, width: int = DESKTOP) -> object:
        context = browser.new_context(viewport={"width": width, "height": 900})
        contexts.append(context)
        if user is not None:
            client = Client()
            client.force_login(user)
            cookie = client.cookies["sessionid"]
            context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": base_url}])
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.js_errors = errors
        return page

    yield open_page
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> Path:
    """Write a full-page PNG of `page` to tests/screenshots/`name`.png."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# --- the scene --------------------------------------------------------------------------------


def recording_packets(name: str = RECORDING) -> list[dict]:
    if not RECORDINGS.is_dir():
        pytest.skip(f"the real recordings are not at {RECORDINGS}")
    return json.loads((RECORDINGS / f"{name}.packets.json").read_text())


def packets_span(packets: list[dict]) -> tuple[datetime, datetime]:
    """Whole minutes around the packets' samples."""
    stamps = [
        t
        for p in packets
        for channel in p.values()
        if isinstance(channel, dict)
        for t in (
            channel["timestamp"]
            if isinstance(channel["timestamp"], list)
            else [channel["timestamp"]]
        )
    ]
    first = datetime.fromtimestamp(min(stamps) // 60_000 * 60, tz=UTC)
    last = datetime.fromtimestamp(max(stamps) // 60_000 * 60, tz=UTC) + timedelta(minutes=1)
    return first, last


def ingest_all(packets: list[dict]) -> None:
    for k in range(0, len(packets), 1000):
        packets_ingest(body={"packets": packets[k : k + 1000]})


@pytest.fixture
def _default_schemas(transactional_db) -> None:
    # pytest-django runs transactional tests last, after a flush has emptied the tables the
    # data migrations filled: install the shipped schemas again (idempotent).
    default_schemas_install(JsonSchema)


@pytest.fixture
def _channels_forgotten() -> Iterator[None]:
    # Transactional tests flush the model tables: forget the channels this one registered, and
    # delete its samples (their table is not a model's).
    yield
    channels_cache_clear()
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE}")  # not a model table: the flush leaves it


@pytest.fixture
def watch(make_device, alice, own) -> Device:
    packets = recording_packets()
    device = make_device(device_name=packets[0]["device_name"], custom_name="fenix 2")
    own(device, alice, YEAR_2000)
    return device


@pytest.fixture
def run(_default_schemas, make_activity, alice, tennis):
    return make_activity(name="Morning run", json={"sport": "running"})


@pytest.fixture
def morning_run(
    _default_schemas, _channels_forgotten, watch, run, carol, alice, grant, make_timeframe
) -> Timeframe:
    packets = recording_packets()
    start, end = packets_span(packets)
    grant(carol, alice, PermissionKind.READ, start, end)
    timeframe = make_timeframe(watch, run, start, end)
    ingest_all(packets)
    timeframe_recompute(timeframe_id=timeframe.pk)
    return timeframe


@pytest.fixture
def smart_run(morning_run, make_device, alice, bob, own, grant, make_timeframe) -> Timeframe:
    """bob's run in the same activity: the Garmin FR110 "smart recording" (a fix every ~5 s)."""
    packets = recording_packets("fr110_run_smart")
    device = make_device(device_name=packets[0]["device_name"], custom_name="FR110")
    own(device, alice, YEAR_2000)
    start, end = packets_span(packets)
    grant(bob, alice, PermissionKind.READ, start, end)
    timeframe = make_timeframe(device, morning_run.activity, start, end, athlete=bob)
    ingest_all(packets)
    timeframe_recompute(timeframe_id=timeframe.pk)
    return timeframe


def match_packets(device_name: str, t0: int, minutes: int = 90) -> list[dict]:
    """A synthetic 10 Hz session of `minutes`: jogging with bursts to sprint speed, turning
    on a pitch, a heart rate each second (numpy, repeatable)."""
    rng = np.random.default_rng(7)
    n = minutes * 600
    t = np.arange(n) / 10
    speed = 2.2 + 1.5 * np.sin(t / 40) ** 2 + rng.normal(0, 0.05, n).cumsum() % 0.5
    for start in rng.integers(0, n - 80, size=minutes // 3):
        speed[start : start + 60] += np.hanning(60) * 5.5  # a sprint of 6 s
    heading = np.cumsum(rng.normal(0, 0.03, n))
    east = np.cumsum(speed * np.cos(heading)) / 10
    north = np.cumsum(speed * np.sin(heading)) / 10
    east, north = 50 * np.sin(east / 50), 30 * np.sin(north / 30)  # stay on the pitch
    lat = 51.556 + np.degrees(north / 6_371_008.8)
    lon = -0.2795 + np.degrees(east / (6_371_008.8 * np.cos(np.radians(51.556))))
    hr = 120 + 50 * (speed / speed.max())
    packets = []
    for s in range(minutes * 60):
        k = slice(s * 10, s * 10 + 10)
        packets.append(
            {
                "device_name": device_name,
                "gnss": {
                    "timestamp": [t0 + s * 1000 + 100 * j for j in range(10)],
                    "latitude": lat[k].round(7).tolist(),
                    "longitude": lon[k].round(7).tolist(),
                    "speed": speed[k].round(2).tolist(),
                },
                "ecg": {"timestamp": t0 + s * 1000, "hr": int(hr[s * 10])},
            }
        )
    return packets


@pytest.fixture
def full_match(_channels_forgotten, make_device, alice, carol, own, grant, match, make_timeframe):
    """carol's 90 minutes at 10 Hz in alice's `match` (alice holds READ), computed."""
    device = make_device(custom_name="vest")
    own(device, alice, YEAR_2000)
    start = datetime(2026, 5, 30, 20, 0, tzinfo=UTC)
    end = start + timedelta(minutes=90)
    grant(carol, alice, PermissionKind.READ, start, end)
    timeframe = make_timeframe(device, match, start, end)
    ingest_all(match_packets(device.device_name, int(start.timestamp() * 1000)))
    timeframe_recompute(timeframe_id=timeframe.pk)
    return timeframe
