"""The report of a 90-minute 10 Hz timeframe stays light: the server reduces its 54,000 fixes to
at most 2,000 chart points and 3,000 track points (`analytics.report`). The time it takes is
printed, not asserted (speed targets belong to `make bench`)."""

import json
import re
import time

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_a_90_minute_10_hz_report_is_downsampled(full_match, alice):
    client = Client()
    client.force_login(alice)
    client.get(f"/reports/timeframes/{full_match.pk}/")  # warm: templates, channel cache

    started = time.perf_counter()
    response = client.get(f"/reports/timeframes/{full_match.pk}/")
    elapsed = time.perf_counter() - started

    assert response.status_code == 200
    html = response.content.decode()
    series = json.loads(re.search(r'id="series-data"[^>]*>(.*?)</script>', html, re.S)[1])
    assert 1000 <= len(series["t"]) <= 2000
    assert len(series["speed"]) == len(series["hr"]) == len(series["t"])
    points = sum(d.count(" L") + 1 for d in re.findall(r'<path d="([^"]*)"', html))
    assert points <= 3000 + 10
    assert len(html) < 400_000
    print(f"\n90-minute 10 Hz report: {elapsed * 1000:.0f} ms on the server, {len(html)} bytes")
