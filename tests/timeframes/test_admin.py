"""The Django admin page of timeframes: lists, search, filters, and writes through the services."""

import pytest

from timeframes.models import Timeframe

pytestmark = pytest.mark.django_db

URL = "/admin/timeframes/timeframe/"


def form(carol, alice, band, match, **overrides) -> dict:
    data = {
        "activity": match.pk,
        "athlete": carol.pk,
        "device": band.pk,
        "owner": alice.pk,
        "start_time_0": "2020-06-01",
        "start_time_1": "10:00:00",
        "end_time_0": "2020-06-01",
        "end_time_1": "11:00:00",
        "json_schema": "",
        "params": "",
    }
    data.update(overrides)
    return data


def test_it_lists_searches_and_filters_timeframes(admin_browser, evening):
    assert admin_browser.get(URL).status_code == 200
    found = admin_browser.get(URL, {"q": "wimbledon"})
    assert found.status_code == 200
    assert found.context["cl"].result_count == 1
    assert admin_browser.get(URL, {"q": "nobody"}).context["cl"].result_count == 0
    assert admin_browser.get(URL, {"start_time__year": "2020"}).context["cl"].result_count == 1
    assert admin_browser.get(f"{URL}{evening.pk}/change/").status_code == 200


def test_it_creates_through_the_service(admin_browser, setting, alice, carol, band, match, emitted):
    response = admin_browser.post(f"{URL}add/", form(carol, alice, band, match))

    assert response.status_code == 302, response.context["adminform"].form.errors
    timeframe = Timeframe.objects.get()
    assert timeframe.owner == alice
    assert timeframe.json_schema.name == "timeframe-analytics-params"
    assert [e.name for e in emitted] == ["timeframe-created"]


def test_it_shows_the_rule_that_failed(admin_browser, evening, alice, carol, band, match):
    overlapping = form(carol, alice, band, match, start_time_0="2020-05-30", end_time_0="2020-05-30",
                       start_time_1="21:00:00", end_time_1="23:00:00")  # fmt: skip
    response = admin_browser.post(f"{URL}add/", overlapping)

    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors()
    assert any("overlapping this span" in error for error in errors)
    assert Timeframe.objects.count() == 1


def test_it_deletes_through_the_service(admin_browser, evening, emitted):
    response = admin_browser.post(f"{URL}{evening.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Timeframe.objects.exists()
    assert [e.name for e in emitted] == ["timeframe-deleted"]
