"""The live page in headless Chromium against real processes: daphne and a Celery worker in
service mode (PostgreSQL, Redis) on the test database, while two real recordings are replayed by
a gateway over HTTP.

carol runs with the fenix 2 (1 Hz, heart rate), bob with the STATSports vest (10 Hz); alice
owns both devices and holds READ and WRITE on both athletes. The replay is shifted to now and
sent four times faster than recorded.
"""

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from oauth2_provider.models import AccessToken

from tests.e2e.conftest import BIN, ROOT, daphne_server, free_port, manage
from tests.e2e.conftest import service_env as e2e_service_env
from tests.pages.conftest import DESKTOP, TABLET, YEAR_2000, recording_packets, screenshot
from users.models import PermissionKind
from users.page_token import PAGES_CLIENT_ID

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SPEED_UP = 4


@pytest.fixture
def service_env() -> dict[str, str]:
    """A server process's environment on the test database, with DEBUG off."""
    env = e2e_service_env(DEBUG="false")
    # Service mode serves static files from STATIC_ROOT (whitenoise, read at start).
    manage(env, "collectstatic", "--noinput", "-v", "0")
    return env


@pytest.fixture
def worker(service_env) -> Iterator[subprocess.Popen]:
    # Tasks other tests left in the broker would only slow this worker down.
    subprocess.run(
        [str(BIN / "celery"), "-A", "asi_api", "purge", "-f"],
        cwd=ROOT,
        env=service_env,
        capture_output=True,
        timeout=60,
    )
    process = subprocess.Popen(
        [str(BIN / "celery"), "-A", "asi_api", "worker", "--pool=threads", "-c", "4"],
        cwd=ROOT,
        env=service_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield process
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


@contextmanager
def daphne(env: dict[str, str], port: int | None = None) -> Iterator[str]:
    """The e2e helper's daphne on loopback (restartable on the same `port`); yields its URL."""
    with daphne_server(env, port=port) as (base, _process):
        yield base


def shifted(packets: list[dict], t0: int, at: tuple[float, float]) -> list[dict]:
    """The packets moved in time, the first sample to `t0` (epoch ms), and in space, the first
    fix to `at` (lat, lon): two recordings made far apart share one pitch."""
    first = min(
        p["gnss"]["timestamp"][0] if "gnss" in p else p["ecg"]["timestamp"] for p in packets
    )
    fix = next(p["gnss"] for p in packets if "gnss" in p)
    d_lat, d_lon = at[0] - fix["latitude"][0], at[1] - fix["longitude"][0]
    out = []
    for packet in packets:
        moved = {"device_name": packet["device_name"]}
        for channel, data in packet.items():
            if channel == "device_name":
                continue
            ts = data["timestamp"]
            moved[channel] = dict(data) | {
                "timestamp": [t - first + t0 for t in ts]
                if isinstance(ts, list)
                else ts - first + t0
            }
            if channel == "gnss":
                moved[channel]["latitude"] = [x + d_lat for x in data["latitude"]]
                moved[channel]["longitude"] = [x + d_lon for x in data["longitude"]]
        out.append(moved)
    return out


class Replay:
    """A gateway posting each device's packets second by second, SPEED_UP times faster."""

    def __init__(self, base: str, token: str, recordings: dict[str, list[dict]]) -> None:
        self.endpoint = f"{base}/api/v1/preprocessed-data/"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.recordings = recordings
        self.sent = 0

    def play(self, seconds: int) -> None:
        for _ in range(seconds):
            batch = [packets[self.sent] for packets in self.recordings.values()]
            response = requests.post(
                self.endpoint, json={"packets": batch}, headers=self.headers, timeout=10
            )
            assert response.status_code == 201, response.text
            self.sent += 1
            time.sleep(1 / SPEED_UP)

    def gnss_sent(self, device_name: str) -> list[int]:
        return [
            t
            for p in self.recordings[device_name][: self.sent]
            for t in p.get("gnss", {}).get("timestamp", [])
        ]


def wait_for(check, timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def shown_rows(page) -> dict[int, dict]:
    """The table as the page shows it: timeframe → {column: data-value}."""
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('#rows tbody tr')].map(tr =>
            [tr.dataset.timeframe, Object.fromEntries([...tr.querySelectorAll('td[data-col]')]
              .filter(td => td.dataset.value !== undefined)
              .map(td => [td.dataset.col, td.dataset.value]))]))"""
    )


def column(page, name: str) -> list[float]:
    """A column's values, top to bottom."""
    return page.eval_on_selector_all(
        f'#rows tbody td[data-col="{name}"]', "tds => tds.map(td => Number(td.dataset.value))"
    )


def rest_row(document: dict) -> dict:
    """The page's columns, from a REST computed document."""
    return {
        "distance": document["total_distance"],
        "dpm": document["distance_per_minute"],
        "hid": document["hid"]["distance"],
        "sprints": document["sprint"]["count"],
        "max_speed": document["max_speed"],
        "acc": len(document["accelerations"]["threshold_1"]["values"]),
        "dec": len(document["decelerations"]["threshold_1"]["values"]),
        "hr_avg": document["hr_avg"],
    }


def matches_rest(page, api_client, timeframes) -> bool:
    rows = shown_rows(page)
    for timeframe in timeframes:
        document = api_client.get(f"/api/v1/timeframes/{timeframe.pk}/computed/").json()
        row = rows.get(str(timeframe.pk))
        if row is None:
            return False
        for column, value in rest_row(document).items():
            got = row.get(column, "")
            if (value is None) != (got == ""):
                return False
            if value is not None and abs(float(got) - value) > 1e-9 * max(1, abs(value)):
                return False
    return True


@dataclass
class Session:
    activity: object
    timeframes: list
    recordings: dict[str, list[dict]]  # device name → its packets, moved to now


@pytest.fixture
def session(
    _default_schemas,
    _channels_forgotten,
    alice,
    carol,
    bob,
    make_device,
    own,
    grant,
    make_activity,
    make_timeframe,
) -> Session:
    """carol with the fenix 2 and bob with the vest in alice's "Live run", starting now."""
    now = timezone.now()
    recordings = {}
    timeframes = []
    activity = make_activity(name="Live run", json={"sport": "running"})
    # (athlete, recording, the slice replayed, device label, where the first fix is put)
    for athlete, name, part, label, at in (
        (carol, "fenix2_run", slice(0, 200), "fenix 2", (51.5560, -0.2795)),
        (bob, "statsports_football_10hz", slice(1200, 1400), "vest", (51.5558, -0.2790)),
    ):
        packets = recording_packets(name)[part]
        device = make_device(device_name=packets[0]["device_name"], custom_name=label)
        own(device, alice, YEAR_2000)
        for permission in (PermissionKind.READ, PermissionKind.WRITE):
            grant(athlete, alice, permission, now - timedelta(days=1), now + timedelta(days=1))
        timeframes.append(
            make_timeframe(
                device,
                activity,
                now - timedelta(minutes=1),
                now + timedelta(hours=2),
                athlete=athlete,
            )
        )
        recordings[device.device_name] = shifted(packets, int(now.timestamp() * 1000), at)
    return Session(activity=activity, timeframes=timeframes, recordings=recordings)


def holds_every_fix_once(page, replay: Replay, timeframes) -> None:
    """No gap and nothing twice: the page holds every fix sent, once, in order."""
    for timeframe in timeframes:
        sent = replay.gnss_sent(timeframe.device.device_name)
        held = page.evaluate(f"window.liveState.devices[{timeframe.device_id}].gnss.map(g => g[0])")
        assert held == sent  # all within the page's 10-minute window


def test_the_live_page_follows_a_replayed_session(
    session, service_env, worker, alice, token_for, api, page_as
):
    activity, timeframes, recordings = session.activity, session.timeframes, session.recordings
    gateway_token = token_for(None, scope="ingest")
    rest = api(alice)
    port = free_port()

    with daphne(service_env, port=port) as base:
        page = page_as(alice, base)
        page.goto(f"{base}/live/activities/{activity.pk}/")
        wait_for(lambda: page.text_content("#status") == "live", what="the activity stream")
        replay = Replay(base, gateway_token, recordings)
        replay.play(40)

        # Rows appear, one per timeframe, and show what REST shows (within ~2 s).
        wait_for(lambda: len(shown_rows(page)) == 2, what="both rows")
        wait_for(lambda: matches_rest(page, rest, timeframes), what="REST values on the page")
        assert page.locator("[data-stale]").count() == 0
        # Sortable by any column: a click sorts descending, a second click ascending.
        page.click('th[data-sort="distance"]')
        wait_for(lambda: column(page, "distance") == sorted(column(page, "distance"), reverse=True))
        page.click('th[data-sort="distance"]')
        wait_for(lambda: column(page, "distance") == sorted(column(page, "distance")))
        wait_for(lambda: page.get_attribute("#field", "data-trails") == "2", what="two trails")
        page.click(f'tr[data-timeframe="{timeframes[0].pk}"]')
        wait_for(lambda: page.locator("#athlete-chart canvas").count() > 0, what="the chart")
        screenshot(page, f"live-{DESKTOP}")

        # The replay pauses: after 5 s without data both rows are marked stale.
        wait_for(lambda: page.locator("[data-stale]").count() == 2, timeout=12, what="stale")
        screenshot(page, "live-stale")

    # The server restarts (same port); meanwhile the gateway is down too.
    with daphne(service_env, port=port) as base:
        replay.play(20)  # the page may still be reconnecting: `since` brings these
        wait_for(lambda: page.text_content("#status") == "live", timeout=30, what="reconnect")
        replay.play(20)
        wait_for(lambda: page.locator("[data-stale]").count() == 0, what="fresh rows")
        wait_for(lambda: matches_rest(page, rest, timeframes), what="REST values after restart")
        holds_every_fix_once(page, replay, timeframes)
        assert page.js_errors == []
        tablet = page_as(alice, base, width=TABLET)
        tablet.goto(f"{base}/live/activities/{activity.pk}/")
        wait_for(lambda: len(shown_rows(tablet)) == 2, what="rows at tablet width")
        screenshot(tablet, f"live-{TABLET}")


def test_the_live_page_renews_its_token_and_stops_at_logout(
    session, service_env, worker, alice, token_for, api, page_as
):
    # Tokens of 8 s: the page renews after 4.8 s and moves every stream to the new token.
    service_env["PAGE_TOKEN_SECONDS"] = "8"
    gateway_token = token_for(None, scope="ingest")
    with daphne(service_env) as base:
        page = page_as(alice, base)
        page.goto(f"{base}/live/activities/{session.activity.pk}/")
        wait_for(lambda: page.text_content("#status") == "live", what="the activity stream")
        replay = Replay(base, gateway_token, session.recordings)

        replay.play(100)  # 25 s: five tokens, each stream handed over four times

        tokens = AccessToken.objects.filter(user=alice, application__client_id=PAGES_CLIENT_ID)
        assert tokens.count() >= 4
        wait_for(lambda: matches_rest(page, api(alice), session.timeframes), what="REST values")
        assert page.locator("[data-stale]").count() == 0
        holds_every_fix_once(page, replay, session.timeframes)
        assert page.js_errors == []

        # Logging out in another tab revokes the page's tokens: its streams end, and it says so.
        other = page.context.new_page()
        other.goto(f"{base}/")
        other.click("header form button")
        wait_for(
            lambda: (
                page.text_content("#status") == "error"
                and "log in again" in page.text_content("#status-detail")
            ),
            timeout=30,
            what="the page to notice the logout",
        )
        assert not tokens.exists()
