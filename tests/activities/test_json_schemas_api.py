"""JSON schemas (SPEC §5): anyone signed in reads, admins create, nobody changes; versions."""

import pytest

from activities.models import JsonSchema

pytestmark = pytest.mark.django_db

URL = "/api/v1/json-schemas/"
SQUASH = {"type": "object", "required": ["sport"], "properties": {"sport": {"const": "squash"}}}


def test_it_lists_the_shipped_schemas_to_any_signed_in_user(api, carol):
    response = api(carol).get(URL, {"limit": 500})
    assert response.status_code == 200
    names = {row["name"]: row for row in response.json()["results"]}
    assert {"soccer", "tennis", "rugby", "basketball", "running"} <= names.keys()
    params = names["timeframe-analytics-params"]
    assert params["type"] == "timeframe"
    assert set(params) == {"id", "name", "type", "version", "parent", "schema", "created_at"}
    assert params["version"] == 1 and params["parent"] is None
    assert params["created_at"].endswith("Z")


def test_it_shows_one_schema(api, mallory, tennis):
    response = api(mallory).get(f"{URL}{tennis.pk}/")
    assert response.status_code == 200
    assert response.json()["schema"]["properties"]["sport"] == {"const": "tennis"}


def test_it_answers_404_for_an_unknown_schema(api, mallory):
    assert api(mallory).get(f"{URL}999999/").status_code == 404


def test_it_requires_authentication(api):
    assert api().get(URL).status_code == 401
    assert (
        api().post(URL, {"name": "squash", "type": "activity", "schema": SQUASH}).status_code == 401
    )


def test_it_lets_admins_create_a_schema(api, admin):
    response = api(admin).post(URL, {"name": "squash", "type": "activity", "schema": SQUASH})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["name"], body["type"], body["version"], body["parent"]) == (
        "squash",
        "activity",
        1,
        None,
    )
    assert JsonSchema.objects.get(pk=body["id"]).schema == SQUASH


@pytest.mark.parametrize("who", ["alice", "carol"])
def test_it_refuses_creation_by_managers_and_athletes(api, who, request):
    user = request.getfixturevalue(who)
    response = api(user).post(URL, {"name": "squash", "type": "activity", "schema": SQUASH})
    assert response.status_code == 403
    assert not JsonSchema.objects.filter(name="squash").exists()


def test_it_creates_a_new_version_from_a_parent(api, admin, tennis):
    new = tennis.schema | {"required": ["sport", "type", "venue"]}
    response = api(admin).post(URL, {"parent": tennis.pk, "schema": new})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["name"], body["type"], body["version"], body["parent"]) == (
        "tennis",
        "activity",
        2,
        tennis.pk,
    )
    listed = api(admin).get(URL, {"name": "tennis", "ordering": "-version"}).json()["results"]
    assert [row["version"] for row in listed] == [2, 1]
    assert api(admin).get(URL, {"parent": tennis.pk}).json()["count"] == 1


def test_it_refuses_a_version_of_an_outdated_parent(api, admin, tennis):
    assert api(admin).post(URL, {"parent": tennis.pk, "schema": SQUASH}).status_code == 201
    response = api(admin).post(URL, {"parent": tennis.pk, "schema": SQUASH})
    assert response.status_code == 409
    assert "latest version" in response.json()["detail"]


def test_it_refuses_a_new_schema_under_a_taken_name(api, admin):
    response = api(admin).post(URL, {"name": "tennis", "type": "activity", "schema": SQUASH})
    assert response.status_code == 409
    assert "parent=" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"name": "x", "type": "activity", "schema": {"type": "nope"}}, "schema", "$.type"),
        ({"name": "x", "type": "activity", "schema": {"minimum": "5"}}, "schema", "$.minimum"),
        ({"name": "x", "type": "activity", "schema": [1]}, "schema", "is not of type"),
        (
            {
                "name": "x",
                "type": "activity",
                "schema": {"$schema": "http://json-schema.org/draft-07/schema#"},
            },
            "schema",
            "draft 2020-12",
        ),
        ({"name": "x", "type": "sport", "schema": {}}, "type", "not a valid choice"),
        ({"name": "x", "schema": {}}, "type", "must be one of"),
        ({"type": "activity", "schema": {}}, "name", "name is required"),
        ({"name": "x", "type": "activity"}, "schema", "required"),
        ({"parent": 999999, "schema": {}}, "parent", "does not exist"),
    ],
)
def test_it_names_what_is_wrong_with_a_new_schema(api, admin, body, field, fragment):
    response = api(admin).post(URL, body)
    assert response.status_code == 400
    assert fragment in " ".join(response.json()[field])


def test_it_refuses_a_version_that_changes_name_or_type(api, admin, tennis):
    renamed = api(admin).post(URL, {"parent": tennis.pk, "name": "padel", "schema": {}})
    assert renamed.status_code == 400
    assert "keeps its parent's name" in renamed.json()["name"][0]
    retyped = api(admin).post(URL, {"parent": tennis.pk, "type": "timeframe", "schema": {}})
    assert retyped.status_code == 400
    assert "keeps its parent's type" in retyped.json()["type"][0]


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_it_never_changes_a_schema(api, admin, tennis, method):
    response = getattr(api(admin), method)(f"{URL}{tennis.pk}/", {"schema": {}})
    assert response.status_code == 405
    tennis.refresh_from_db()
    assert tennis.schema["properties"]["sport"] == {"const": "tennis"}


def test_it_filters_and_searches_schemas(api, alice):
    client = api(alice)
    assert client.get(URL, {"type": "timeframe"}).json()["count"] == 1
    assert [r["name"] for r in client.get(URL, {"search": "TENN"}).json()["results"]] == ["tennis"]
    assert client.get(URL, {"name": "rugby"}).json()["count"] == 1
    assert client.get(URL, {"type": "sport"}).status_code == 400
    assert client.get(URL, {"parent": "x"}).status_code == 400
    assert client.get(URL, {"ordering": "schema"}).status_code == 400


def test_it_lists_schemas_in_constant_queries(api, admin, alice, django_assert_num_queries):
    for i in range(5):
        JsonSchema.objects.create(name=f"extra-{i}", type="activity", schema={})
    client = api(alice)
    client.get(URL)  # warm up: token and throttling look-ups are per request anyway
    with django_assert_num_queries(3):
        small = client.get(URL, {"limit": 2})
    with django_assert_num_queries(3):
        large = client.get(URL, {"limit": 500})
    assert len(small.json()["results"]) == 2 and len(large.json()["results"]) >= 11
