"""Activities (SPEC §5): who sees, who creates, who changes, and what a bad request is told."""

from datetime import UTC, datetime, timedelta

import pytest

from activities.models import Activity
from asi_api.events import DomainEvent
from tests.conftest import MATCH_END, MATCH_START, TENNIS_MATCH
from timeframes.models import Timeframe
from users.models import PermissionKind

pytestmark = pytest.mark.django_db

URL = "/api/v1/activities/"


def detail(activity: Activity) -> str:
    return f"{URL}{activity.pk}/"


# --- visibility ------------------------------------------------------------------------------


@pytest.fixture
def played(match, band, make_timeframe, trent, carol, grant):
    """carol played alice's match in one timeframe; trent holds READ over exactly that span."""
    make_timeframe(band, match)
    grant(carol, trent, PermissionKind.READ, MATCH_START, MATCH_END)
    return match


@pytest.mark.parametrize(
    ("who", "sees"),
    [
        ("alice", True),  # owner
        ("trent", True),  # manager whose READ covers a timeframe of it
        ("mallory", False),  # manager without any grant
        ("carol", True),  # athlete with a timeframe in it
        ("bob", False),  # athlete without one
        ("admin", True),
    ],
)
def test_it_shows_activities_to_exactly_those_allowed(api, played, who, sees, request):
    client = api(request.getfixturevalue(who))
    listed = [row["id"] for row in client.get(URL).json()["results"]]
    assert listed == ([played.pk] if sees else [])
    assert client.get(detail(played)).status_code == (200 if sees else 404)


def test_it_requires_authentication(api, played):
    assert api().get(URL).status_code == 401
    assert api().get(detail(played)).status_code == 401


def test_it_hides_activities_when_read_does_not_cover_the_whole_timeframe(
    api, match, band, make_timeframe, trent, carol, grant
):
    make_timeframe(band, match)
    grant(carol, trent, PermissionKind.READ, MATCH_START, MATCH_END - timedelta(minutes=1))
    assert api(trent).get(detail(match)).status_code == 404


def test_it_shows_activities_to_the_manager_of_a_managed_athlete(
    api, match, band, make_timeframe, make_user, trent
):
    managed = make_user("erin", "ATHLETE", managed_by=trent)
    make_timeframe(band, match, athlete=managed)
    assert api(trent).get(detail(match)).status_code == 200


def test_it_lists_each_activity_once_whatever_the_number_of_readable_timeframes(
    api, match, band, make_timeframe, trent, carol, grant
):
    make_timeframe(band, match)
    make_timeframe(band, match, start=MATCH_END, end=MATCH_END + timedelta(hours=1))
    grant(carol, trent, PermissionKind.READ, MATCH_START, MATCH_END + timedelta(hours=1))
    body = api(trent).get(URL).json()
    assert body["count"] == 1 and [row["id"] for row in body["results"]] == [match.pk]


def test_it_shows_the_representation_of_spec(api, alice, match):
    body = api(alice).get(detail(match)).json()
    assert body == {
        "id": match.pk,
        "name": "Tennis match at Wimbledon",
        "json": TENNIS_MATCH,
        "json_schema": match.json_schema_id,
        "owner": alice.pk,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert body["created_at"].endswith("Z")


def test_it_lists_in_constant_queries(
    api, alice, trent, carol, make_activity, band, make_timeframe, django_assert_num_queries, grant
):
    grant(carol, trent, PermissionKind.READ, MATCH_START, MATCH_START + timedelta(days=30))
    for day in range(6):
        activity = make_activity(f"Match {day}")
        start = MATCH_START + timedelta(days=day)
        make_timeframe(band, activity, start=start, end=start + timedelta(hours=1))
    for user, expected in ((alice, 6), (trent, 6)):
        client = api(user)
        with django_assert_num_queries(3):
            small = client.get(URL, {"limit": 1})
        with django_assert_num_queries(3):
            large = client.get(URL, {"limit": 500})
        assert len(small.json()["results"]) == 1 and len(large.json()["results"]) == expected


# --- creation --------------------------------------------------------------------------------


def test_it_creates_the_guide_example(api, alice, tennis, emitted):
    body = {
        "name": "Tennis match of 30 may 2020 at Wimbledon",
        "json": {"sport": "tennis", "type": "match"},
        "json_schema": tennis.pk,
    }
    response = api(alice).post(URL, body)
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["owner"] == alice.pk and created["json"] == body["json"]
    assert emitted == [DomainEvent("activity-created", created["id"])]


def test_it_lets_a_manager_name_himself_owner(api, alice, tennis):
    body = {"name": "M", "json": TENNIS_MATCH, "json_schema": tennis.pk, "owner": alice.pk}
    assert api(alice).post(URL, body).status_code == 201


def test_it_forbids_a_manager_to_create_for_another_manager(api, alice, trent, tennis):
    body = {"name": "M", "json": TENNIS_MATCH, "json_schema": tennis.pk, "owner": trent.pk}
    response = api(alice).post(URL, body)
    assert response.status_code == 403
    assert "owns himself" in response.json()["detail"]
    assert not Activity.objects.exists()


def test_it_lets_an_admin_create_for_a_manager_he_names(api, admin, trent, carol, tennis):
    body = {"name": "M", "json": TENNIS_MATCH, "json_schema": tennis.pk}
    missing = api(admin).post(URL, body)
    assert missing.status_code == 400
    assert "must name the owner" in missing.json()["owner"][0]
    athlete = api(admin).post(URL, body | {"owner": carol.pk})
    assert athlete.status_code == 400
    assert "not a manager" in athlete.json()["owner"][0]
    response = api(admin).post(URL, body | {"owner": trent.pk})
    assert response.status_code == 201
    assert response.json()["owner"] == trent.pk


def test_it_forbids_athletes_to_create(api, carol, tennis):
    body = {"name": "M", "json": TENNIS_MATCH, "json_schema": tennis.pk}
    assert api(carol).post(URL, body).status_code == 403


def test_it_requires_authentication_to_create(api, tennis):
    assert api().post(URL, {"name": "M", "json": {}, "json_schema": tennis.pk}).status_code == 401


def test_it_lists_every_json_error_with_its_path(api, alice, tennis):
    body = {
        "name": "M",
        "json": {"sport": "soccer", "type": "final", "best_of": 4},
        "json_schema": tennis.pk,
    }
    response = api(alice).post(URL, body)
    assert response.status_code == 400
    assert response.json() == {
        "json": [
            "$.best_of: 4 is not one of [3, 5]",
            "$.sport: 'tennis' was expected",
            "$.type: 'final' is not one of ['match', 'training']",
        ]
    }


def test_it_names_a_missing_required_property(api, alice, tennis):
    response = api(alice).post(
        URL, {"name": "M", "json": {"sport": "tennis"}, "json_schema": tennis.pk}
    )
    assert response.json() == {"json": ["$: 'type' is a required property"]}


def test_it_refuses_a_timeframe_schema_for_an_activity(api, alice, params_schema):
    response = api(alice).post(URL, {"name": "M", "json": {}, "json_schema": params_schema.pk})
    assert response.status_code == 400
    assert "type 'activity'" in response.json()["json_schema"][0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"json": TENNIS_MATCH}, "name"),
        ({"name": "M"}, "json"),
        ({"name": "M", "json": TENNIS_MATCH, "json_schema": 999999}, "json_schema"),
        ({"name": "M", "json": TENNIS_MATCH, "json_schema": "tennis"}, "json_schema"),
        ({"name": "x" * 256, "json": TENNIS_MATCH}, "name"),
        ({"name": "M", "json": None}, "json"),
        ({"name": "M", "json": TENNIS_MATCH, "owner": 999999}, "owner"),
    ],
)
def test_it_names_malformed_input(api, alice, tennis, body, field):
    body.setdefault("json_schema", tennis.pk)
    response = api(alice).post(URL, body)
    assert response.status_code == 400
    assert field in response.json()


def test_it_refuses_non_json_bodies(api, alice):
    response = api(alice).post(URL, "name=M", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


# --- change and deletion ---------------------------------------------------------------------


def test_it_lets_the_owner_rename(api, alice, match, emitted):
    response = api(alice).patch(detail(match), {"name": "Final"})
    assert response.status_code == 200
    assert response.json()["name"] == "Final"
    assert emitted == [DomainEvent("activity-updated", match.pk)]


def test_it_revalidates_json_on_change(api, alice, match, soccer):
    moved = api(alice).patch(detail(match), {"json_schema": soccer.pk})
    assert moved.status_code == 400
    assert moved.json() == {"json": ["$.sport: 'soccer' was expected"]}
    response = api(alice).put(
        detail(match),
        {"name": "Cup", "json": {"sport": "soccer", "type": "match"}, "json_schema": soccer.pk},
    )
    assert response.status_code == 200
    assert response.json()["json_schema"] == soccer.pk


def test_it_requires_every_field_on_put(api, alice, match):
    response = api(alice).put(detail(match), {"name": "Cup"})
    assert response.status_code == 400
    assert {"json", "json_schema"} <= response.json().keys()


def test_it_lets_an_admin_hand_an_activity_to_another_manager(api, admin, trent, match):
    response = api(admin).patch(detail(match), {"owner": trent.pk})
    assert response.status_code == 200 and response.json()["owner"] == trent.pk


def test_it_forbids_the_owner_to_hand_his_activity_to_another_manager(api, alice, trent, match):
    assert api(alice).patch(detail(match), {"owner": trent.pk}).status_code == 403


@pytest.mark.parametrize("who", ["trent", "carol"])
def test_it_keeps_readers_read_only(api, played, who, request, emitted):
    client = api(request.getfixturevalue(who))
    assert client.patch(detail(played), {"name": "Hijacked"}).status_code == 403
    assert client.put(detail(played), {"name": ""}).status_code == 403  # rule before input
    assert client.delete(detail(played)).status_code == 403
    played.refresh_from_db()
    assert played.name == "Tennis match at Wimbledon"
    assert emitted == []


def test_it_answers_404_to_outsiders_changing_or_deleting(api, mallory, match):
    assert api(mallory).patch(detail(match), {"name": "x"}).status_code == 404
    assert api(mallory).delete(detail(match)).status_code == 404


def test_it_deletes_with_timeframes_and_emits_their_events_first(
    api, alice, match, band, make_timeframe, emitted
):
    first = make_timeframe(band, match)
    second = make_timeframe(band, match, start=MATCH_END, end=MATCH_END + timedelta(hours=1))
    assert api(alice).delete(detail(match)).status_code == 204
    assert not Activity.objects.filter(pk=match.pk).exists()
    assert not Timeframe.objects.filter(pk__in=[first.pk, second.pk]).exists()
    assert emitted == [
        DomainEvent("timeframe-deleted", match.pk, first.pk),
        DomainEvent("timeframe-deleted", match.pk, second.pk),
        DomainEvent("activity-deleted", match.pk),
    ]


def test_it_lets_an_admin_delete(api, admin, match):
    assert api(admin).delete(detail(match)).status_code == 204


def test_it_runs_on_commit_handlers_after_the_request_commits(
    api, alice, match, committed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        api(alice).patch(detail(match), {"name": "Final"})
    assert committed == [DomainEvent("activity-updated", match.pk)]


# --- filters ---------------------------------------------------------------------------------


def test_it_filters_searches_and_orders(api, admin, alice, trent, make_activity, soccer):
    cup = make_activity("Cup final", json={"sport": "soccer", "type": "match"}, json_schema=soccer)
    training = make_activity("Morning training", owner=trent)
    Activity.objects.filter(pk=training.pk).update(created_at=datetime(2020, 1, 1, tzinfo=UTC))
    client = api(admin)

    def ids(**params) -> list[int]:
        response = client.get(URL, params)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids(owner=trent.pk) == [training.pk]
    assert ids(json_schema=soccer.pk) == [cup.pk]
    assert ids(name="Cup final") == [cup.pk]
    assert ids(search="FINAL") == [cup.pk]
    assert ids(created_to="2020-01-01T00:00:00Z") == []  # half-open
    assert ids(created_to="2020-01-01T01:00:01+0100") == [training.pk]
    assert ids(created_from="2021-01-01T00:00:00Z", ordering="-id") == [cup.pk]
    assert ids(ordering="name") == [cup.pk, training.pk]


@pytest.mark.parametrize(
    "params",
    [
        {"owner": "alice"},
        {"owner": "1.5"},
        {"json_schema": "x"},
        {"created_from": "yesterday"},
        {"ordering": "json"},
    ],
)
def test_it_refuses_malformed_filters(api, alice, params):
    response = api(alice).get(URL, params)
    assert response.status_code == 400
    assert next(iter(params)) in response.json()
