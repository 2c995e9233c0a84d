"""GET /api/v1/timeframes/{id}/computed/ and /api/v1/activities/{id}/computed/ (SPEC §7): who
may read computed data — admins, the athlete himself, managers whose READ covers the span; not
the owner on ownership alone — and what they get."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics import tasks as analytics_tasks
from analytics.models import ComputedData
from analytics.services import timeframe_recompute
from tests.analytics.conftest import T_START, YEAR_END, YEAR_START
from tests.conftest import MATCH_END, MATCH_START
from users.models import PermissionKind

pytestmark = pytest.mark.django_db


def url(timeframe) -> str:
    return f"/api/v1/timeframes/{timeframe.pk}/computed/"


def activity_url(activity) -> str:
    return f"/api/v1/activities/{activity.pk}/computed/"


@pytest.fixture
def enqueued(monkeypatch) -> list[int]:
    sent: list[int] = []
    monkeypatch.setattr(analytics_tasks.timeframe_recompute_task, "delay", sent.append)
    return sent


@pytest.fixture
def computed(evening, ingest) -> ComputedData:
    ingest(T_START, 10)
    return timeframe_recompute(timeframe_id=evening.pk)


def test_it_serves_the_stored_document_to_the_athlete_himself(api, carol, evening, computed):
    response = api(carol).get(url(evening))

    assert response.status_code == 200
    assert response.json() == computed.data
    assert response.json()["samples"] == 100
    assert (response.json()["status"], response.json()["revision"]) == ("final", 1)


def test_it_serves_admins(api, admin, evening, computed):
    assert api(admin).get(url(evening)).json() == computed.data


def test_it_serves_a_manager_whose_read_covers_the_span(
    api, trent, carol, grant, evening, computed
):
    grant(carol, trent, PermissionKind.READ, MATCH_START, MATCH_END)

    assert api(trent).get(url(evening)).json() == computed.data


def test_it_hides_it_from_the_owner_without_read(api, alice, evening, computed):
    # alice owns the timeframe and holds WRITE on carol, but no READ.
    response = api(alice).get(url(evening))

    assert response.status_code == 404
    assert api(alice).get(f"/api/v1/timeframes/{evening.pk}/").status_code == 200


def test_it_hides_it_from_a_manager_whose_read_covers_part_of_the_span(
    api, trent, carol, grant, evening, computed
):
    grant(carol, trent, PermissionKind.READ, MATCH_START, MATCH_END - timedelta(minutes=1))

    assert api(trent).get(url(evening)).status_code == 404


def test_it_hides_it_from_outsiders_and_other_athletes(api, mallory, bob, evening, computed):
    assert api(mallory).get(url(evening)).status_code == 404
    assert api(bob).get(url(evening)).status_code == 404


def test_it_needs_authentication_and_the_all_scope(api, carol, evening, computed):
    assert api().get(url(evening)).status_code == 401
    assert api(carol, scope="ingest").get(url(evening)).status_code == 403


def test_it_answers_404_for_unknown_ids_and_without_the_slash(api, admin, evening):
    assert api(admin).get("/api/v1/timeframes/999999/computed/").status_code == 404
    assert api(admin).get("/api/v1/timeframes/99999999999999999999/computed/").status_code == 404
    assert api(admin).get(f"/api/v1/timeframes/{evening.pk}/computed").status_code == 404


def test_it_serves_the_empty_document_and_asks_for_a_recompute_once(
    api, carol, evening, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = api(carol).get(url(evening))
        api(carol).get(url(evening))

    body = first.json()
    assert (body["status"], body["revision"], body["computed_at"]) == ("live", 0, None)
    assert (body["samples"], body["total_distance"], body["sprint"]["values"]) == (0, 0.0, [])
    assert body["params"]["max_gap"] == 1.0
    assert enqueued == [evening.pk]


# --- the activity's computed data ------------------------------------------------------------


@pytest.fixture
def squad(scene, alice, bob, carol, grant, band, match, make_device, own, make_timeframe):
    """Three timeframes of the match: carol's evening on band, bob's and carol's later ones on
    two other devices; alice holds READ on carol for 2020 but nothing on bob."""
    grant(carol, alice, PermissionKind.READ, YEAR_START, YEAR_END)
    later = MATCH_START + timedelta(minutes=30)
    timeframes = [make_timeframe(band, match)]
    for athlete in (bob, carol):
        device = make_device()
        own(device, alice, YEAR_START)
        timeframes.append(make_timeframe(device, match, later, MATCH_END, athlete=athlete))
        later += timedelta(minutes=1)
    return timeframes


def test_it_lists_the_readable_timeframes_of_an_activity(api, alice, match, squad, ingest):
    evening, bobs, carols = squad
    ingest(T_START, 3)
    stored = timeframe_recompute(timeframe_id=evening.pk)

    response = api(alice).get(activity_url(match))

    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["page"], body["next"], body["previous"]) == (2, 1, None, None)
    assert [row["timeframe"] for row in body["results"]] == [evening.pk, carols.pk]
    assert body["results"][0]["data"] == stored.data
    assert body["results"][1]["data"]["revision"] == 0  # not computed yet: the empty document


def test_it_lists_for_admins_and_the_athlete_himself(api, admin, bob, match, squad):
    evening, bobs, carols = squad

    assert api(admin).get(activity_url(match)).json()["count"] == 3
    assert [r["timeframe"] for r in api(bob).get(activity_url(match)).json()["results"]] == [
        bobs.pk
    ]


def test_it_paginates(api, admin, match, squad):
    body = api(admin).get(activity_url(match), {"limit": 2, "page": 2}).json()

    assert (body["count"], body["page"], body["previous"]) == (3, 2, 1)
    assert [r["timeframe"] for r in body["results"]] == [squad[2].pk]
    assert api(admin).get(activity_url(match), {"page": 3, "limit": 2}).status_code == 404


def test_it_orders_the_list_by_the_timeframe_fields_and_refuses_unknown_ones(
    api, admin, match, squad
):
    client = api(admin)

    newest_first = client.get(activity_url(match), {"ordering": "-start_time,-id"}).json()
    unknown = client.get(activity_url(match), {"ordering": "bogus"})

    ids = [r["timeframe"] for r in client.get(activity_url(match)).json()["results"]]
    assert [r["timeframe"] for r in newest_first["results"]] == ids[::-1]
    assert unknown.status_code == 400
    assert unknown.json() == {
        "ordering": ["Unknown ordering field 'bogus'. Allowed: end_time, id, start_time."]
    }


def test_it_hides_activities_the_caller_may_not_see(api, mallory, match, squad):
    assert api(mallory).get(activity_url(match)).status_code == 404
    assert api(mallory).get("/api/v1/activities/999999/computed/").status_code == 404
    assert api().get(activity_url(match)).status_code == 401


def test_it_reads_a_page_in_a_constant_number_of_queries(api, admin, match, squad):
    for timeframe in squad:
        timeframe_recompute(timeframe_id=timeframe.pk)
    client = api(admin)
    client.get(activity_url(match))  # warm the caches (token application, channels)

    with CaptureQueriesContext(connection) as three:
        assert len(client.get(activity_url(match)).json()["results"]) == 3
    with CaptureQueriesContext(connection) as one:
        assert len(client.get(activity_url(match), {"limit": 1}).json()["results"]) == 1

    assert len(three) == len(one)
    tables = ('"activities_activity"', '"timeframes_timeframe"', '"analytics_computeddata"')
    reads = [q["sql"] for q in three.captured_queries if any(t in q["sql"] for t in tables)]
    # the activity lookup, the count, the page (with its computed data joined)
    assert len(reads) == 3
