"""The admin of computed data (SPEC §10): a useful list, read-only rows, a recompute action."""

import pytest

from analytics import tasks as analytics_tasks
from analytics.services import timeframe_recompute
from tests.analytics.conftest import T_START

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/analytics/computeddata/"


@pytest.fixture
def computed(evening, ingest):
    ingest(T_START, 3)
    return timeframe_recompute(timeframe_id=evening.pk)


def test_it_lists_computed_data_with_status_and_revision(admin_browser, computed, evening):
    response = admin_browser.get(CHANGELIST)

    assert response.status_code == 200
    body = response.content.decode()
    assert "carol" in body and "final" in body
    assert f"{CHANGELIST}{evening.pk}/change/" in body


def test_it_searches_by_timeframe_id_and_athlete(admin_browser, computed, evening):
    assert "carol" in admin_browser.get(CHANGELIST, {"q": str(evening.pk)}).content.decode()
    found = admin_browser.get(CHANGELIST, {"q": "carol"}).content.decode()
    assert f"{CHANGELIST}{evening.pk}/change/" in found
    missed = admin_browser.get(CHANGELIST, {"q": "mallory"}).content.decode()
    assert f"{CHANGELIST}{evening.pk}/change/" not in missed
    assert admin_browser.get(CHANGELIST, {"status__exact": "live"}).status_code == 200


def test_it_shows_a_row_read_only(admin_browser, computed, evening):
    response = admin_browser.get(f"{CHANGELIST}{evening.pk}/change/")

    assert response.status_code == 200
    body = response.content.decode()
    assert "&quot;total_distance&quot;" in body
    assert 'name="_save"' not in body
    assert admin_browser.get(f"{CHANGELIST}add/").status_code == 403


def test_the_action_enqueues_a_recompute_per_selected_row(
    admin_browser, computed, evening, monkeypatch, django_capture_on_commit_callbacks
):
    enqueued: list[int] = []
    monkeypatch.setattr(analytics_tasks.timeframe_recompute_task, "delay", enqueued.append)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_browser.post(
            CHANGELIST,
            {"action": "recompute_selected", "_selected_action": [str(evening.pk)]},
            follow=True,
        )

    assert response.status_code == 200
    assert enqueued == [evening.pk]
    assert "1 recomputes enqueued" in response.content.decode()


def test_it_is_for_admins_only(client, alice, computed):
    client.force_login(alice)

    assert client.get(CHANGELIST).status_code == 302  # to the admin login
