"""The live session page and the post-session report (issue 13) in headless Chromium.

Real processes, as `make run` in service mode: daphne (static files by whitenoise from
`collectstatic`), a Celery worker and beat, PostgreSQL and Redis. Chromium is Debian's
(`/usr/bin/chromium`, as the page tests), driven by Playwright, logged in with a session.

1. The report of a 90-minute 10 Hz timeframe: 54,000 fixes of the simulated match
   (`devices.simulation.MatchSimulator`, one athlete) stored through the ingestion service, then
   the full recompute that marks it final. Measured (target: rendered in < 1 s):
   - the server's time for the HTML (Django's test client, in this process);
   - in Chromium, from navigation start: the response, the load event, and the first frame
     after the charts were drawn (`data-charts-ready`), on a first visit (fresh browser context)
     and on a second one (static files cached).
   Baselines, same run: the same data as REST (`GET .../computed/` + the CSV export, the bytes a
   client of the API fetches), and a bare static page of the report's size in the same Chromium.
2. The live page of a 22-athlete match at 10 Hz (the gateway posts `simulate_match`'s second
   every second) for BENCH_PAGES_SECONDS (30): the share of the page's main thread busy with
   tasks (Chrome DevTools Protocol `Performance.getMetrics`, TaskDuration over wall time;
   target < 50 %), and how far what the page shows lags behind REST: every few seconds each row's
   `data-last-timestamp` (the computed document it shows) is read, then
   `GET /api/v1/activities/{id}/computed/`; the age is REST's last_timestamp minus the page's
   (target ≤ 2 s; the page is read first, so the REST request's own time counts against it).
   Baseline: the same page over the same time with no data flowing.

Run alone: `python -m bench.pages` (its own throw-away database `<DATABASE_URL name>_bench_pages`;
needs REDIS_URL). Environment: BENCH_PAGES_SECONDS (30), BENCH_PAGES_ROUNDS (5), CHROMIUM.
"""

import contextlib
import os
import queue
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

if __name__ == "__main__":
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asi_api.settings")
    django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from devices.simulation import MatchSimulator  # noqa: E402

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
SECONDS = float(os.environ.get("BENCH_PAGES_SECONDS", "30"))
ROUNDS = int(os.environ.get("BENCH_PAGES_ROUNDS", "5"))
IDLE_SECONDS = 10.0
SAMPLE_EVERY = 3.0  # seconds between two page/REST comparisons
ATHLETES = 22
MINUTES = 90
TARGET_REPORT_MS = 1000
TARGET_BUSY = 0.5
TARGET_AGE_S = 2.0

# Records when the report's charts are drawn (report.js sets data-charts-ready once every
# uPlot exists) and the first frame after it, in the page's own clock (ms from navigation start).
CHARTS_OBSERVER = """
new MutationObserver((_, observer) => {
  if (document.documentElement?.dataset.chartsReady !== "true") return;
  observer.disconnect();
  window.__chartsReady = performance.now();
  requestAnimationFrame(() => { window.__chartsPainted = performance.now(); });
}).observe(document, {attributes: true, subtree: true, attributeFilter: ["data-charts-ready"]});
"""
NAVIGATION = """() => {
  const n = performance.getEntriesByType("navigation")[0];
  return {request: n.requestStart, response: n.responseEnd, ttfb: n.responseStart - n.requestStart,
          load: n.loadEventEnd, charts: window.__chartsPainted ?? null, bytes: n.transferSize};
}"""
CAUGHT_UP = """expected => {
  const shown = {};
  for (const tr of document.querySelectorAll("#rows tbody tr"))
    shown[tr.dataset.timeframe] = Number(tr.dataset.revision);
  return Object.entries(expected).every(([tf, revision]) => shown[tf] >= revision);
}"""
ROWS = """() => Array.from(document.querySelectorAll("#rows tbody tr")).map(tr => [
  Number(tr.dataset.timeframe), Number(tr.dataset.revision),
  tr.dataset.lastTimestamp ? Number(tr.dataset.lastTimestamp) : null])"""


# --- the scene ---------------------------------------------------------------------------------


def _scene() -> dict:
    """bench-pages-manager with READ and WRITE on 23 athletes: one ran 90 minutes yesterday
    (stored and computed), 22 play a live match now (its timeframes started a minute ago)."""
    from oauth2_provider.models import AccessToken, Application

    from activities.models import Activity, JsonSchema
    from bench.squad import squad_create
    from devices.samples import partitions_ensure
    from timeframes.services import timeframe_create

    partitions_ensure(months_ahead=1)
    now = datetime.now(UTC)
    since = now - timedelta(days=2)
    manager, athletes, devices = squad_create(
        "pages",
        athletes=ATHLETES + 1,
        devices=ATHLETES + 1,
        since=since,
        until=now + timedelta(days=1),
        device_base=0xD0000000,
        profile={"gender": "M", "max_heart_rate": 195},
    )
    schema = JsonSchema.objects.filter(type="activity").first()

    def activity(name: str) -> Activity:
        return Activity.objects.create(
            name=name, json={"sport": "football"}, json_schema=schema, owner=manager
        )

    yesterday = (now - timedelta(days=1)).replace(hour=18, minute=0, second=0, microsecond=0)
    past = timeframe_create(
        actor=manager,
        start_time=yesterday,
        end_time=yesterday + timedelta(minutes=MINUTES),
        device=devices[ATHLETES],
        activity=activity("Bench pages: last night's match"),
        athlete=athletes[ATHLETES],
    )
    match = activity("Bench pages: live match")
    live = [
        timeframe_create(
            actor=manager,
            start_time=now - timedelta(minutes=1),
            end_time=now + timedelta(hours=2),
            device=device,
            activity=match,
            athlete=athlete,
        )
        for device, athlete in zip(devices[:ATHLETES], athletes[:ATHLETES], strict=True)
    ]
    expires = now + timedelta(hours=3)
    reader_app = Application.objects.create(
        name="bench pages ams", client_type="confidential", authorization_grant_type="password"
    )
    reader = AccessToken.objects.create(
        user=manager, application=reader_app, token="bench-pages-ams", scope="all", expires=expires
    )
    gateway_app = Application.objects.create(
        name="bench pages gateway",
        client_type="confidential",
        authorization_grant_type="client-credentials",
    )
    gateway = AccessToken.objects.create(
        application=gateway_app, token="bench-pages-gateway", scope="ingest", expires=expires
    )
    return {
        "manager": manager,
        "token": reader.token,
        "gateway_token": gateway.token,
        "past": past,
        "activity": match.pk,
        "names": [d.device_name for d in devices[:ATHLETES]],
        "device_ids": [d.pk for d in devices[:ATHLETES]],
        "idle_device": devices[ATHLETES].pk,
        "timeframes": [t.pk for t in live],
    }


def _ninety_minutes(timeframe) -> tuple[float, float]:
    """Store 90 minutes of one simulated player at 10 Hz through the ingestion service (a
    minute per request), then recompute as when the timeframe ends: (ingest s, recompute s)."""
    from analytics.services import timeframe_recompute
    from bench.analytics import _without_live_task
    from devices.ingestion import packets_ingest

    start_ms = int(timeframe.start_time.timestamp() * 1000)
    simulator = MatchSimulator(device_names=[timeframe.device.device_name], start_ms=start_ms)
    now_ms = int(timeframe.end_time.timestamp() * 1000) + 60_000
    began = time.perf_counter()
    with _without_live_task():  # no worker runs yet; the recompute below does the work
        for _ in range(MINUTES):
            packets = [p for _ in range(60) for p in simulator.packets()]
            packets_ingest(body={"packets": packets}, now_ms=now_ms)
    ingested = time.perf_counter() - began
    began = time.perf_counter()
    timeframe_recompute(timeframe_id=timeframe.pk)
    return ingested, time.perf_counter() - began


# --- 1. the report ------------------------------------------------------------------------------


def timed(func, rounds: int) -> tuple[float, float]:
    """(p50, p95) ms of `func` over `rounds` calls after a warm-up (as bench.__main__)."""
    func()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        func()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]


def _server_times(scene: dict) -> dict:
    from django.test import Client
    from rest_framework.test import APIClient

    pk = scene["past"].pk
    page = Client()
    page.force_login(scene["manager"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {scene['token']}")
    html = page.get(f"/reports/timeframes/{pk}/")
    assert html.status_code == 200, html.status_code

    def report() -> None:
        assert page.get(f"/reports/timeframes/{pk}/").status_code == 200

    sizes = {}

    def rest() -> None:
        computed = api.get(f"/api/v1/timeframes/{pk}/computed/")
        csv = api.get(f"/api/v1/timeframes/{pk}/export/?format=csv")
        assert computed.status_code == csv.status_code == 200
        sizes["computed"], sizes["samples"] = len(computed.content), computed.json()["samples"]
        sizes["csv"] = sum(len(chunk) for chunk in csv.streaming_content)

    return {
        "html": html.content,
        "report": timed(report, ROUNDS * 2),
        "rest": timed(rest, ROUNDS * 2),
        "sizes": sizes,
    }


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def _static_page(size: int):
    """A bare static HTML page of `size` bytes (text in a <pre>) on a loopback HTTP server."""
    from tests.e2e.conftest import free_port

    folder = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    head, tail = "<!doctype html><html><head><title>static</title></head><body><pre>\n", "</pre>"
    line = "00:00:00  1234.5 m  5.67 m/s  156 bpm  the same size as the report page\n"
    body = (line * (size // len(line) + 1))[: max(0, size - len(head) - len(tail) - 15)]
    (folder / "static.html").write_text(head + body + tail + "</body></html>")
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/static.html"
    finally:
        server.shutdown()
        server.server_close()


def _browser_report(browser, base: str, cookie: str, scene: dict, size: int) -> dict:
    url = f"{base}/reports/timeframes/{scene['past'].pk}/"
    # The same page from daphne to a plain HTTP client: the server's part of the browser's time.
    session = requests.Session()
    session.cookies.set("sessionid", cookie)
    over_http = timed(lambda: session.get(url, timeout=10).raise_for_status(), ROUNDS * 2)
    first, second = [], []
    for _ in range(ROUNDS):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_cookies([{"name": "sessionid", "value": cookie, "url": base}])
        context.add_init_script(CHARTS_OBSERVER)
        page = context.new_page()
        for visits in (first, second):
            response = page.goto(url, wait_until="load")
            if response.status != 200 or page.url != url:
                raise RuntimeError(f"the report answered {response.status} at {page.url}")
            page.wait_for_function("window.__chartsPainted !== undefined")
            visits.append(page.evaluate(NAVIGATION))
        context.close()
    static = []
    with _static_page(size) as static_url:
        for _ in range(ROUNDS):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.goto(static_url, wait_until="load")
            static.append(page.evaluate(NAVIGATION))
            context.close()
    return {"first": first, "second": second, "static": static, "http": over_http}


# --- 2. the live page ----------------------------------------------------------------------------


def _busy(cdp) -> tuple[float, float]:
    """(page clock s, main-thread task time s) now, from the DevTools Protocol."""
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return metrics["Timestamp"], metrics["TaskDuration"]


def _share(before: tuple[float, float], after: tuple[float, float]) -> float:
    return (after[1] - before[1]) / max(after[0] - before[0], 1e-9)


def _compare(
    page, session: requests.Session, base: str, activity: int
) -> tuple[list[tuple], float | None]:
    """What the page shows against REST, read just after it.

    Returns (timeframe, REST − page last_timestamp in s, REST − page revision) per timeframe
    REST has data for (the age None when the page shows no row for it yet), and how long after
    REST answered the page showed REST's revision on every row (s; None: not within 10 s).
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    shown = {tf: (revision, last) for tf, revision, last in page.evaluate(ROWS)}
    rest = session.get(f"{base}/api/v1/activities/{activity}/computed/?limit=100", timeout=10)
    rest.raise_for_status()
    answered = time.monotonic()
    results = rest.json()["results"]
    expected = {
        str(e["timeframe"]): e["data"]["revision"]
        for e in results
        if e["data"] and e["data"].get("revision") is not None
    }
    try:
        page.wait_for_function(CAUGHT_UP, arg=expected, polling=50, timeout=10_000)
        catch_up = time.monotonic() - answered
    except PlaywrightTimeout:
        catch_up = None
    out = []
    for entry in results:
        data = entry["data"] or {}
        if data.get("last_timestamp") is None:
            continue
        revision, last = shown.get(entry["timeframe"], (None, None))
        if last is None:
            out.append((entry["timeframe"], None, None))
            continue
        age = max(0.0, (data["last_timestamp"] - last) / 1000)
        out.append((entry["timeframe"], age, data.get("revision", 0) - revision))
    return out, catch_up


def _gateway(base: str, scene: dict, seconds: float) -> tuple[threading.Thread, queue.Queue]:
    """bench.live's gateway (one POST of the match's second per second), on a thread."""
    from bench.live import _gateway as post_match

    out: queue.Queue = queue.Queue()
    args = (base, scene["gateway_token"], scene["names"], seconds, out)
    thread = threading.Thread(target=post_match, args=args, daemon=True)
    thread.start()
    return thread, out


def _browser_live(browser, base: str, cookie: str, scene: dict) -> dict:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": "sessionid", "value": cookie, "url": base}])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable")
    page.goto(f"{base}/live/activities/{scene['activity']}/")
    page.wait_for_selector('#status[data-state="live"]', timeout=30_000)
    time.sleep(2.0)  # the streams' snapshots in
    idle_from = _busy(cdp)
    time.sleep(IDLE_SECONDS)
    idle = _share(idle_from, _busy(cdp))

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {scene['token']}"
    thread, out = _gateway(base, scene, SECONDS)
    load_from = _busy(cdp)
    windows, samples, catch_ups = [], [], []
    previous = load_from
    began = time.monotonic()
    while thread.is_alive():
        time.sleep(SAMPLE_EVERY)
        now = _busy(cdp)
        windows.append(_share(previous, now))
        previous = now
        if time.monotonic() - began > 5.0:  # the first computed updates are in
            rows, catch_up = _compare(page, session, base, scene["activity"])
            samples += rows
            catch_ups.append(catch_up)
    load = _share(load_from, previous)
    acks, ingest_ms, ingest_errors = out.get(timeout=30)
    time.sleep(3.0)  # the last updates (≤ 1/s per timeframe) reach REST and the page
    final, _ = _compare(page, session, base, scene["activity"])
    context.close()
    return {
        "idle": idle,
        "load": load,
        "windows": windows,
        "samples": samples,
        "catch_ups": catch_ups,
        "final": final,
        "packets": len(acks),
        "ingest_ms": ingest_ms,
        "ingest_errors": ingest_errors,
        "js_errors": errors,
        "loadavg": os.getloadavg(),
    }


# --- the run ---------------------------------------------------------------------------------------


def _p(values: list[float], q: float) -> float:
    from bench.live import percentile

    return percentile(values, q)


def _report(scene: dict, stored: tuple, server: dict, shown: dict, live: dict) -> None:
    ingested, recomputed = stored
    print(
        f"Report page of a {MINUTES}-minute 10 Hz timeframe ({MINUTES * 600:,} fixes stored "
        f"through the ingestion service in {ingested:.1f} s, recomputed in {recomputed:.1f} s: "
        f"{server['sizes']['samples']:,} samples computed); target < {TARGET_REPORT_MS} ms"
    )
    report, rest, sizes = server["report"], server["rest"], server["sizes"]
    print(
        f"  server, HTML ({len(server['html']) / 1024:.0f} KiB)"
        f"{'':27} p50 {report[0]:7.2f} ms  p95 {report[1]:7.2f} ms"
    )
    http = shown["http"]
    print(
        f"  the same from daphne to a plain HTTP client{'':11} p50 {http[0]:7.2f} ms  "
        f"p95 {http[1]:7.2f} ms"
    )
    print(
        f"  baseline: REST computed JSON ({sizes['computed'] / 1024:.0f} KiB) + CSV export "
        f"({sizes['csv'] / 1024:.0f} KiB)    p50 {rest[0]:7.2f} ms  p95 {rest[1]:7.2f} ms"
    )
    for name, visits in (("first visit", shown["first"]), ("second visit", shown["second"])):
        print(
            f"  Chromium, {name:12} (ms from navigation start, median of {len(visits)}): "
            f"response {statistics.median(v['response'] for v in visits):5.0f} "
            f"(request sent at {statistics.median(v['request'] for v in visits):.0f}, first "
            f"byte {statistics.median(v['ttfb'] for v in visits):.0f} later), "
            f"load event {statistics.median(v['load'] for v in visits):5.0f}, "
            f"charts drawn {statistics.median(v['charts'] for v in visits):5.0f} "
            f"(max {max(v['charts'] for v in visits):.0f})"
        )
    static = shown["static"]
    print(
        f"  baseline: bare static HTML of the same size, same Chromium: response "
        f"{statistics.median(v['response'] for v in static):5.0f}, load event "
        f"{statistics.median(v['load'] for v in static):5.0f}"
    )

    ages = [age for _, age, _ in live["samples"] if age is not None]
    revisions = [lag for _, age, lag in live["samples"] if age is not None]
    missing = sum(1 for _, age, _ in live["samples"] if age is None)
    caught_up = sum(1 for _, age, lag in live["final"] if age is not None and lag == 0)
    load1, load5, _ = live["loadavg"]
    print(
        f"Live page: {ATHLETES} athletes x 10 Hz (simulate_match, one POST/s) for {SECONDS:.0f} s; "
        f"daphne + Celery worker/beat + Redis + PostgreSQL; {live['packets']} packets acknowledged, "
        f"{len(live['ingest_errors'])} ingest errors; machine load average {load1:.1f} "
        f"(5 min {load5:.1f}) on {os.cpu_count()} cores"
    )
    print(
        f"  main thread busy: {live['load']:.1%} of the time (target < {TARGET_BUSY:.0%}); "
        f"worst {SAMPLE_EVERY:.0f}-s window {max(live['windows'], default=0):.1%}"
    )
    print(f"  baseline: the same page, no data flowing, {IDLE_SECONDS:.0f} s: {live['idle']:.1%}")
    print(
        f"  shown vs REST ({len(ages)} comparisons, every {SAMPLE_EVERY:.0f} s): age p50 "
        f"{_p(ages, 0.5):.1f} s, max {max(ages, default=float('nan')):.1f} s "
        f"(target ≤ {TARGET_AGE_S:.0f} s); revisions behind p50 {_p(revisions, 0.5):.0f}, "
        f"max {max(revisions, default=0)}; rows not shown yet {missing}"
    )
    caught = [c for c in live["catch_ups"] if c is not None]
    print(
        f"  after each REST read, the page showed REST's revision on every row within p50 "
        f"{_p(caught, 0.5):.2f} s, max {max(caught, default=float('nan')):.2f} s "
        f"({len(live['catch_ups']) - len(caught)} of {len(live['catch_ups'])} not within 10 s)"
    )
    print(
        f"  3 s after the load: {caught_up} of {len(live['final'])} rows show REST's revision; "
        f"page errors: {live['js_errors'] or 'none'}"
    )


def run() -> None:
    from django.test import Client

    from bench import live as bench_live
    from bench.ingest import _server_env
    from tests.e2e.conftest import manage
    from tests.pages.conftest import CHROMIUM_ARGS

    if not CHROMIUM.exists():
        print(f"bench.pages skipped: no Chromium at {CHROMIUM}")
        return
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("bench.pages skipped: Playwright for Python is not installed")
        return
    scene = _scene()
    stored = _ninety_minutes(scene["past"])
    server = _server_times(scene)
    bench_live.groups_forget(scene)
    client = Client()
    client.force_login(scene["manager"])
    cookie = client.cookies["sessionid"].value
    # The server processes must sign sessions like this process did, and serve static files.
    os.environ["SECRET_KEY"] = settings.SECRET_KEY
    manage(_server_env(), "collectstatic", "--noinput", "-v", "0")
    stack = bench_live.Stack()
    # Playwright's sync API runs an event loop on this thread; no ORM call happens from here on.
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            shown = _browser_report(browser, stack.base, cookie, scene, len(server["html"]))
            live = _browser_live(browser, stack.base, cookie, scene)
            browser.close()
    except BaseException:
        print(f"bench.pages failed; server logs in {stack.logs}")
        raise
    finally:
        stack.stop()
    _report(scene, stored, server, shown, live)


def main() -> None:
    from django.test.utils import setup_test_environment

    setup_test_environment()
    connection.settings_dict["TEST"]["NAME"] = f"{connection.settings_dict['NAME']}_bench_pages"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
