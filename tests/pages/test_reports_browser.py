"""The report pages in headless Chromium against a live server, on a real recording: what the
page shows is what GET /api/v1/timeframes/{id}/computed/ answers (read back from the DOM)."""

import json
import time

import pytest

from analytics.pages import metric_value
from tests.pages.conftest import DESKTOP, TABLET, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_timeframe_report_shows_the_rest_computed_values(
    morning_run, alice, api, live_server, page_as
):
    rest = api(alice).get(f"/api/v1/timeframes/{morning_run.pk}/computed/").json()
    assert rest["status"] == "final" and rest["samples"] > 2000  # the real run was computed
    page = page_as(alice, live_server.url)

    started = time.monotonic()
    response = page.goto(f"{live_server.url}/reports/timeframes/{morning_run.pk}/")
    page.wait_for_selector("#chart-hr canvas")
    elapsed = time.monotonic() - started

    assert response.status == 200
    assert page.js_errors == []
    shown = page.eval_on_selector_all(
        "#headline [data-metric]", "els => els.map(e => [e.dataset.metric, e.dataset.value])"
    )
    assert len(shown) >= 12
    for key, value in shown:
        assert json.loads(value) == pytest.approx(metric_value(rest, key)), key
    assert page.text_content('[data-metric="total_distance"]') == (
        f"{rest['total_distance']:,.0f}\u00a0m".replace(",", "\u202f")
    )
    assert page.text_content('[data-metric="sprint.count"]') == str(rest["sprint"]["count"])
    ranges = page.eval_on_selector_all(
        "#speed-ranges [data-distance]", "els => els.map(e => Number(e.dataset.distance))"
    )
    assert ranges == pytest.approx([r["distance"] for r in rest["distance_per_speed_ranges"]])
    zones = page.eval_on_selector_all(
        "#hr-zones [data-duration]", "els => els.map(e => Number(e.dataset.duration))"
    )
    assert zones == pytest.approx([z["duration"] for z in rest["timePerHrZone"]])
    accelerations = page.eval_on_selector_all(
        '[data-efforts="accelerations.threshold_1"] [data-start]',
        "els => els.map(e => Number(e.dataset.start))",
    )
    assert accelerations == [
        v["start_time"] for v in rest["accelerations"]["threshold_1"]["values"]
    ]
    assert page.text_content('[data-field="metric_version"]') == rest["metric_version"]
    assert page.text_content('[data-param="max_gap"]') == str(rest["params"]["max_gap"])
    assert page.get_attribute("a[href$='format=gpx']", "href") == (
        f"/api/v1/timeframes/{morning_run.pk}/export/?format=gpx"
    )
    assert page.locator("svg.track path").count() >= 1
    assert page.text_content("svg.track [data-scale]").endswith("m")
    # The charts' series are downsampled on the server: at most 2,000 points.
    points = page.evaluate(
        "JSON.parse(document.getElementById('series-data').textContent).t.length"
    )
    assert 0 < points <= 2000
    print(f"\nreport of a {rest['duration'] / 60:.0f}-minute timeframe: {elapsed:.2f} s to charts")
    screenshot(page, "report-timeframe-1280")

    tablet = page_as(alice, live_server.url, width=TABLET)
    tablet.goto(f"{live_server.url}/reports/timeframes/{morning_run.pk}/")
    tablet.wait_for_selector("#chart-hr canvas")
    screenshot(tablet, f"report-timeframe-{TABLET}")
    tablet.emulate_media(media="print")
    screenshot(tablet, "report-timeframe-print")


def test_the_activity_report_shows_a_row_per_readable_timeframe(
    morning_run, smart_run, alice, api, live_server, page_as
):
    rest = api(alice).get(f"/api/v1/activities/{morning_run.activity_id}/computed/").json()
    page = page_as(alice, live_server.url)

    response = page.goto(f"{live_server.url}/reports/activities/{morning_run.activity_id}/")

    assert response.status == 200
    assert page.js_errors == []
    names = {morning_run.pk: "Carol Athlete", smart_run.pk: "Bob Athlete"}
    assert page.locator("tr[data-timeframe]").count() == rest["count"] == 2
    for entry in rest["results"]:
        row = page.locator(f'tr[data-timeframe="{entry["timeframe"]}"]')
        assert row.locator("td").first.text_content().strip() == names[entry["timeframe"]]
        for key in ("total_distance", "max_speed", "hid.distance", "sprint.count", "hr_avg"):
            value = row.locator(f'[data-metric="{key}"]').get_attribute("data-value")
            assert json.loads(value) == pytest.approx(metric_value(entry["data"], key)), key
    page.select_option("#compare-metric", "max_speed")
    assert page.locator('[data-chart-group="max_speed"]').is_visible()
    assert not page.locator('[data-chart-group="total_distance"]').is_visible()
    screenshot(page, f"report-activity-{DESKTOP}")
    page.set_viewport_size({"width": TABLET, "height": 900})
    screenshot(page, f"report-activity-{TABLET}")

    # The sessions index, reached from the header, links the activity's pages.
    page.click("header a:text-is('Sessions')")
    assert page.url == f"{live_server.url}/reports/"
    assert page.locator(f'tr[data-activity="{morning_run.activity_id}"] a').count() == 3
    screenshot(page, f"reports-index-{TABLET}")


def test_a_manager_without_read_gets_the_404_page(morning_run, trent, live_server, page_as):
    page = page_as(trent, live_server.url)

    response = page.goto(f"{live_server.url}/reports/timeframes/{morning_run.pk}/")

    assert response.status == 404
    assert page.text_content("#not-found h1") == "Page not found"
    assert "not shared with you" in page.text_content("#not-found")
    assert page.get_attribute("#not-found a:text-is('Your sessions')", "href") == "/reports/"
    assert page.get_attribute("#not-found a:text-is('Home')", "href") == "/"
    assert page.locator("[data-metric]").count() == 0
    screenshot(page, f"not-found-{DESKTOP}")


def test_an_anonymous_visitor_is_sent_to_the_login_page(morning_run, live_server, page_as):
    page = page_as(None, live_server.url)

    page.goto(f"{live_server.url}/reports/timeframes/{morning_run.pk}/")

    assert page.url.startswith(f"{live_server.url}/accounts/login/?next=")


def test_a_90_minute_10_hz_report_renders_in_the_browser(
    _default_schemas, full_match, alice, api, live_server, page_as
):
    rest = api(alice).get(f"/api/v1/timeframes/{full_match.pk}/computed/").json()
    page = page_as(alice, live_server.url)

    page.goto(f"{live_server.url}/reports/timeframes/{full_match.pk}/")
    page.wait_for_function("document.documentElement.dataset.chartsReady === 'true'")

    timing = page.evaluate(
        """() => { const n = performance.getEntriesByType('navigation')[0];
                   return {response: n.responseEnd, load: n.loadEventEnd || performance.now()}; }"""
    )
    sprints = page.locator('[data-efforts="sprint"] [data-start]').count()
    assert sprints == rest["sprint"]["count"] > 0
    assert page.js_errors == []
    print(
        f"\n90-minute 10 Hz report in Chromium: response {timing['response']:.0f} ms, "
        f"load {timing['load']:.0f} ms"
    )
    screenshot(page, "report-timeframe-90min-1280")
