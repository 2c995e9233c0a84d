"""`/api/v1/timeframes/` (SPEC §5): create/update rules, visibility, filters, embeds."""

from datetime import UTC, datetime

import pytest

from activities.models import JsonSchema
from devices.models import OPEN_END
from tests.conftest import MATCH_END, MATCH_START
from timeframes.models import Timeframe
from users.models import AthleteProfile, PermissionKind

from .conftest import HOUR, YEAR_END, YEAR_START, body

pytestmark = pytest.mark.django_db

URL = "/api/v1/timeframes/"


def post_body(band, match, athlete, **overrides) -> dict:
    return body(device=band.pk, activity=match.pk, athlete=athlete.pk, **overrides)


# --- create -----------------------------------------------------------------------------------


def test_it_creates_a_timeframe_with_the_default_schema(
    api, setting, alice, carol, band, match, emitted
):
    response = api(alice).post(URL, post_body(band, match, carol))

    assert response.status_code == 201, response.json()
    data = response.json()
    default = JsonSchema.objects.get(name="timeframe-analytics-params", type="timeframe")
    assert data["json_schema"] == default.pk
    assert data["params"] == {}
    assert data["owner"] == alice.pk
    assert data["start_time"] == "2020-05-30T20:00:00Z"
    assert data["end_time"] == "2020-05-30T22:00:00Z"
    assert set(data) == {
        "id", "start_time", "end_time", "params", "device", "activity", "athlete", "owner",
        "json_schema", "created_at", "updated_at",
    }  # fmt: skip
    assert [(e.name, e.activity_id, e.timeframe_id) for e in emitted] == [
        ("timeframe-created", match.pk, data["id"])
    ]


def test_it_accepts_offsets_and_answers_in_utc(api, setting, alice, carol, band, match):
    data = post_body(
        band,
        match,
        carol,
        start_time="2020-05-30T22:00:00+0200",
        end_time="2020-05-30T23:30:00+02:00",
        owner=alice.pk,
        params={"max_gap": 2.0, "speed_ranges": [0, 3, 6]},
    )
    response = api(alice).post(URL, data)

    assert response.status_code == 201, response.json()
    assert response.json()["start_time"] == "2020-05-30T20:00:00Z"
    assert response.json()["end_time"] == "2020-05-30T21:30:00Z"
    assert response.json()["params"] == {"max_gap": 2.0, "speed_ranges": [0, 3, 6]}


def test_it_rejects_an_end_before_the_start(api, setting, alice, carol, band, match):
    data = post_body(band, match, carol, end_time="2020-05-30T19:00:00Z")
    response = api(alice).post(URL, data)

    assert response.status_code == 400
    assert response.json() == {"end_time": ["end_time must be after start_time."]}


def test_it_rejects_an_empty_window(api, setting, alice, carol, band, match):
    data = post_body(band, match, carol, end_time="2020-05-30T20:00:00Z")
    assert api(alice).post(URL, data).status_code == 400


def test_it_rejects_a_span_outside_the_write_grant(api, setting, alice, carol, band, match):
    # WRITE covers 2020 only; the timeframe runs into 2021.
    data = post_body(
        band, match, carol, start_time="2020-12-31T23:00:00Z", end_time="2021-01-01T01:00:00Z"
    )
    response = api(alice).post(URL, data)

    assert response.status_code == 403
    assert "No WRITE permission on athlete" in response.json()["detail"]


def test_it_rejects_an_athlete_who_gave_no_write(api, setting, alice, bob, band, match):
    response = api(alice).post(URL, post_body(band, match, bob))

    assert response.status_code == 403
    assert "WRITE" in response.json()["detail"]


def test_it_needs_write_not_just_read(api, setting, alice, bob, band, match, grant):
    grant(bob, alice, PermissionKind.READ, YEAR_START, YEAR_END)
    response = api(alice).post(URL, post_body(band, match, bob))
    assert response.status_code == 403


def test_it_lets_a_manager_schedule_his_managed_athlete(api, setting, alice, bob, band, match):
    AthleteProfile.objects.filter(user=bob).update(managed_by=alice)
    response = api(alice).post(URL, post_body(band, match, bob))
    assert response.status_code == 201, response.json()


def test_it_rejects_a_device_not_owned(api, setting, alice, carol, band2, match):
    response = api(alice).post(URL, post_body(band2, match, carol))

    assert response.status_code == 403
    assert f"Device {band2.pk} is not owned" in response.json()["detail"]


def test_it_rejects_a_device_owned_for_part_of_the_span(
    api, setting, alice, carol, band2, match, own
):
    own(band2, alice, MATCH_START + HOUR)
    response = api(alice).post(URL, post_body(band2, match, carol))

    assert response.status_code == 403
    assert "not owned" in response.json()["detail"]


def test_it_lets_an_ongoing_ownership_cover_the_future(
    api, setting, alice, carol, band, match, grant
):
    grant(carol, alice, PermissionKind.WRITE, YEAR_START, OPEN_END)
    data = post_body(
        band, match, carol, start_time="2030-01-01T10:00:00Z", end_time="2030-01-01T12:00:00Z"
    )
    assert api(alice).post(URL, data).status_code == 201


def test_it_rejects_a_device_owned_by_someone_else(
    api, setting, alice, trent, carol, band2, match, own
):
    own(band2, trent, YEAR_START)
    response = api(alice).post(URL, post_body(band2, match, carol))
    assert response.status_code == 403


def test_it_rejects_an_overlapping_timeframe_on_the_device(api, evening, alice, carol, band, match):
    data = post_body(
        band, match, carol, start_time="2020-05-30T21:59:00Z", end_time="2020-05-30T23:00:00Z"
    )
    response = api(alice).post(URL, data)

    assert response.status_code == 409
    assert response.json()["detail"] == (
        f"Device {band.pk} is already in timeframe {evening.pk} overlapping this span."
    )


def test_it_allows_adjacent_timeframes(api, evening, alice, carol, band, match):
    data = post_body(
        band, match, carol, start_time="2020-05-30T22:00:00Z", end_time="2020-05-30T23:00:00Z"
    )
    assert api(alice).post(URL, data).status_code == 201


def test_it_rejects_the_activity_of_another_manager(
    api, setting, alice, trent, carol, band, make_activity
):
    trents = make_activity("Trent's", owner=trent)
    response = api(alice).post(URL, post_body(band, trents, carol))

    assert response.status_code == 403
    assert "must own its activity" in response.json()["detail"]


def test_it_rejects_params_failing_the_schema(api, setting, alice, carol, band, match):
    data = post_body(band, match, carol, params={"max_gap": "long", "colour": 1})
    response = api(alice).post(URL, data)

    assert response.status_code == 400
    errors = response.json()["params"]
    assert any(e.startswith("$.max_gap: 'long' is not of type 'number'") for e in errors)
    assert any("colour" in e for e in errors)


def test_it_rejects_params_that_are_not_an_object(api, setting, alice, carol, band, match):
    response = api(alice).post(URL, post_body(band, match, carol, params=[1, 2]))
    assert response.status_code == 400
    assert "params" in response.json()


def test_it_rejects_an_activity_schema(api, setting, alice, carol, band, match, tennis):
    response = api(alice).post(URL, post_body(band, match, carol, json_schema=tennis.pk))

    assert response.status_code == 400
    assert "type 'timeframe'" in response.json()["json_schema"][0]


def test_it_rejects_unknown_ids(api, setting, alice, carol, band, match):
    data = body(device=999999, activity=999999, athlete=alice.pk)  # alice is no athlete
    response = api(alice).post(URL, data)

    assert response.status_code == 400
    assert set(response.json()) == {"device", "activity", "athlete"}


def test_it_rejects_malformed_input(api, setting, alice):
    response = api(alice).post(URL, {"start_time": "yesterday"})
    assert response.status_code == 400
    assert {"start_time", "end_time", "device", "activity", "athlete"} <= set(response.json())


def test_it_refuses_creation_to_athletes(api, setting, carol, band, match):
    response = api(carol).post(URL, post_body(band, match, carol))
    assert response.status_code == 403
    assert response.json() == {"detail": "Only managers (and admins) may create timeframes."}


def test_it_refuses_anonymous_callers(api, setting, carol, band, match):
    assert api().post(URL, post_body(band, match, carol)).status_code == 401
    assert api().get(URL).status_code == 401


def test_it_refuses_a_manager_naming_another_owner(api, setting, alice, trent, carol, band, match):
    response = api(alice).post(URL, post_body(band, match, carol, owner=trent.pk))
    assert response.status_code == 403
    assert "'owner' must be yourself" in response.json()["detail"]


def test_it_lets_an_admin_create_for_a_named_owner(api, setting, admin, alice, carol, band, match):
    response = api(admin).post(URL, post_body(band, match, carol, owner=alice.pk))
    assert response.status_code == 201, response.json()
    assert response.json()["owner"] == alice.pk

    response = api(admin).post(URL, post_body(band, match, carol))
    assert response.status_code == 400
    assert "owner" in response.json()


# --- visibility -------------------------------------------------------------------------------


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def test_visibility_matrix_for_list_and_detail(
    api, evening, admin, alice, trent, mallory, carol, bob, grant
):
    grant(carol, trent, PermissionKind.READ, MATCH_START, MATCH_END)
    detail = f"{URL}{evening.pk}/"
    seeing = {"owner": alice, "reader": trent, "athlete": carol, "admin": admin}
    blind = {"outsider": mallory, "other athlete": bob}

    for who, user in seeing.items():
        assert ids(api(user).get(URL)) == [evening.pk], who
        assert api(user).get(detail).status_code == 200, who
    for who, user in blind.items():
        assert ids(api(user).get(URL)) == [], who
        assert api(user).get(detail).status_code == 404, who
    assert api().get(URL).status_code == 401
    assert api().get(detail).status_code == 401


def test_it_hides_timeframes_a_read_grant_covers_only_in_part(api, evening, trent, carol, grant):
    grant(carol, trent, PermissionKind.READ, MATCH_START + HOUR, MATCH_END)

    assert ids(api(trent).get(URL)) == []
    assert api(trent).get(f"{URL}{evening.pk}/").status_code == 404


def test_it_hides_timeframes_from_write_only_managers(api, evening, trent, carol, grant):
    grant(carol, trent, PermissionKind.WRITE, YEAR_START, YEAR_END)
    assert ids(api(trent).get(URL)) == []


def test_it_shows_managed_athletes_timeframes_to_their_manager(api, evening, trent, carol):
    AthleteProfile.objects.filter(user=carol).update(managed_by=trent)
    assert ids(api(trent).get(URL)) == [evening.pk]


# --- update and delete ------------------------------------------------------------------------


def test_it_moves_a_timeframe(api, evening, alice, emitted):
    response = api(alice).patch(f"{URL}{evening.pk}/", {"start_time": "2020-05-30T21:00:00+0100"})

    assert response.status_code == 200, response.json()
    assert response.json()["start_time"] == "2020-05-30T20:00:00Z"
    response = api(alice).patch(f"{URL}{evening.pk}/", {"end_time": "2020-05-30T23:00:00Z"})
    assert response.json()["end_time"] == "2020-05-30T23:00:00Z"
    assert [e.name for e in emitted] == ["timeframe-updated", "timeframe-updated"]


def test_it_replaces_a_timeframe_with_put(api, evening, alice, carol, band, match):
    data = post_body(
        band, match, carol, start_time="2020-06-01T10:00:00Z", end_time="2020-06-01T11:00:00Z"
    )
    response = api(alice).put(f"{URL}{evening.pk}/", data)

    assert response.status_code == 200, response.json()
    assert response.json()["start_time"] == "2020-06-01T10:00:00Z"
    assert api(alice).put(f"{URL}{evening.pk}/", {"params": {}}).status_code == 400


def test_it_checks_every_rule_again_on_update(
    api, evening, make_timeframe, alice, band, band2, match
):
    url = f"{URL}{evening.pk}/"
    later = make_timeframe(band, match, MATCH_END + HOUR, MATCH_END + 2 * HOUR, actor=alice)

    too_long = api(alice).patch(url, {"end_time": "2021-02-01T00:00:00Z"})
    assert too_long.status_code == 403
    assert "WRITE" in too_long.json()["detail"]
    overlap = api(alice).patch(url, {"end_time": "2020-05-30T23:30:00Z"})
    assert overlap.status_code == 409
    assert f"timeframe {later.pk}" in overlap.json()["detail"]
    not_owned = api(alice).patch(url, {"device": band2.pk})
    assert not_owned.status_code == 403
    inverted = api(alice).patch(url, {"end_time": "2020-05-30T19:00:00Z"})
    assert inverted.status_code == 400
    bad_params = api(alice).patch(url, {"params": {"hr_zones": "high"}})
    assert bad_params.status_code == 400
    assert bad_params.json()["params"][0].startswith("$.hr_zones:")
    assert api(alice).patch(url, {"start_time": "soon"}).status_code == 400
    evening.refresh_from_db()
    assert (evening.start_time, evening.end_time) == (MATCH_START, MATCH_END)


def test_it_forbids_changes_by_those_who_only_see(api, evening, trent, carol, grant):
    grant(carol, trent, PermissionKind.READ, YEAR_START, YEAR_END)
    url = f"{URL}{evening.pk}/"
    for user in (trent, carol):
        assert api(user).patch(url, {"params": {}}).status_code == 403
        assert api(user).put(url, {}).status_code == 403
        assert api(user).delete(url).status_code == 403
    assert Timeframe.objects.filter(pk=evening.pk).exists()


def test_it_hides_changes_from_those_who_do_not_see(api, evening, mallory, bob):
    url = f"{URL}{evening.pk}/"
    for user in (mallory, bob):
        assert api(user).patch(url, {"params": {}}).status_code == 404
        assert api(user).delete(url).status_code == 404
    assert api().delete(url).status_code == 401


def test_it_deletes_a_timeframe(api, evening, alice, match, emitted):
    response = api(alice).delete(f"{URL}{evening.pk}/")

    assert response.status_code == 204
    assert not Timeframe.objects.filter(pk=evening.pk).exists()
    assert [(e.name, e.activity_id, e.timeframe_id) for e in emitted] == [
        ("timeframe-deleted", match.pk, evening.pk)
    ]


def test_it_lets_an_admin_change_and_delete(api, evening, admin):
    url = f"{URL}{evening.pk}/"
    assert api(admin).patch(url, {"params": {"max_gap": 3}}).status_code == 200
    assert api(admin).delete(url).status_code == 204


# --- filters, search, ordering, embeds --------------------------------------------------------


@pytest.fixture
def season(setting, make_timeframe, make_activity, alice, bob, band, band2, match, grant, own):
    """Three timeframes: carol on band at 20:00 and 23:00 in the match, bob on band2 in training."""
    own(band2, alice, YEAR_START)
    grant(bob, alice, PermissionKind.WRITE, YEAR_START, YEAR_END)
    grant(bob, alice, PermissionKind.READ, YEAR_START, YEAR_END)
    training = make_activity("Morning training", json={"sport": "tennis", "type": "training"})
    return [
        make_timeframe(band, match, actor=alice),
        make_timeframe(band, match, MATCH_END + HOUR, MATCH_END + 2 * HOUR, actor=alice),
        make_timeframe(band2, training, MATCH_START - HOUR, MATCH_START, athlete=bob, actor=alice),
    ]


def test_it_filters_timeframes(api, season, alice, bob, band2):
    first, second, third = (t.pk for t in season)
    client = api(alice)

    assert ids(client.get(URL)) == [third, first, second]
    assert ids(client.get(URL, {"activity": season[2].activity_id})) == [third]
    assert ids(client.get(URL, {"athlete": bob.pk})) == [third]
    assert ids(client.get(URL, {"device": band2.pk})) == [third]
    assert ids(client.get(URL, {"owner": alice.pk})) == [third, first, second]
    assert ids(client.get(URL, {"start_from": "2020-05-30T20:00:00Z"})) == [first, second]
    assert ids(client.get(URL, {"start_to": "2020-05-30T20:00:00Z"})) == [third]
    assert ids(client.get(URL, {"start_from": "2020-05-30T21:00:00+01:00"})) == [first, second]


def test_it_rejects_malformed_filters(api, season, alice):
    for params in ({"athlete": "carol"}, {"device": "1.5"}, {"start_from": "noon"}):
        response = api(alice).get(URL, params)
        assert response.status_code == 400, params
        assert set(response.json()) == set(params)


def test_it_searches_activity_and_athlete_names(api, season, alice):
    first, second, third = (t.pk for t in season)
    assert ids(api(alice).get(URL, {"search": "wimbledon"})) == [first, second]
    assert ids(api(alice).get(URL, {"search": "BOB"})) == [third]
    assert ids(api(alice).get(URL, {"search": "athlete"})) == [third, first, second]


def test_it_orders_timeframes(api, season, alice):
    first, second, third = (t.pk for t in season)
    assert ids(api(alice).get(URL, {"ordering": "-start_time"})) == [second, first, third]
    assert ids(api(alice).get(URL, {"ordering": "-id"})) == [third, second, first]
    response = api(alice).get(URL, {"ordering": "athlete"})
    assert response.status_code == 400
    assert "ordering" in response.json()


def test_it_embeds_details_on_request(api, evening, alice, carol, band, match):
    plain = api(alice).get(f"{URL}{evening.pk}/").json()
    assert not {"device_details", "athlete_details", "activity_details"} & set(plain)

    query = {"with_device": "true", "with_athlete": "true", "with_activity": "1"}
    embedded = api(alice).get(f"{URL}{evening.pk}/", query).json()
    assert embedded["device_details"]["device_name"] == band.device_name
    assert embedded["athlete_details"]["id"] == carol.pk
    assert embedded["athlete_details"]["username"] == "carol"
    assert embedded["activity_details"]["name"] == match.name
    listed = api(alice).get(URL, {"with_device": "true"}).json()["results"][0]
    assert listed["device_details"]["id"] == band.pk
    assert "athlete_details" not in listed


def test_it_rejects_malformed_embed_flags(api, evening, alice):
    response = api(alice).get(URL, {"with_device": "maybe"})
    assert response.status_code == 400
    assert "with_device" in response.json()


def test_it_embeds_details_in_the_creation_response(api, setting, alice, carol, band, match):
    response = api(alice).post(f"{URL}?with_activity=true", post_body(band, match, carol))
    assert response.status_code == 201
    assert response.json()["activity_details"]["id"] == match.pk


# --- query counts -----------------------------------------------------------------------------


def test_a_page_costs_a_constant_number_of_queries(
    api, setting, alice, carol, band, match, django_assert_max_num_queries
):
    from timeframes.services import timeframe_default_schema

    schema = timeframe_default_schema()
    Timeframe.objects.bulk_create(
        Timeframe(
            start_time=datetime(2020, 3, 1, tzinfo=UTC) + i * HOUR,
            end_time=datetime(2020, 3, 1, tzinfo=UTC) + (i + 1) * HOUR,
            device=band,
            activity=match,
            athlete=carol,
            owner=alice,
            json_schema=schema,
        )  # fmt: skip
        for i in range(150)
    )
    client = api(alice)
    query = "with_device=true&with_athlete=true&with_activity=true"
    counts = []
    for limit in (1, 10, 150):
        with django_assert_max_num_queries(6) as captured:
            response = client.get(f"{URL}?{query}&limit={limit}")
        assert response.status_code == 200
        assert len(response.json()["results"]) == limit
        counts.append(len(captured.captured_queries))
    assert len(set(counts)) == 1, counts
