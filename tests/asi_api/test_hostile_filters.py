"""Ids, booleans and datetimes in query strings and bodies are read one strict way (asi_api.fields):
out of range or malformed → 400 on that parameter, never a truncation, never a 500 (issue 7,
"Bad strings and shapes"; issue 8, "one parser for booleans and ids").

Every filterset and list endpoint is taken from the URL conf, so a new one is held to the same
rules without touching this file.
"""

import django_filters
import orjson
import pytest
from django_filters.utils import get_model_field
from drf_spectacular.generators import EndpointEnumerator
from rest_framework import serializers

from asi_api.fields import (
    BOOLEAN_MESSAGE,
    DATETIME_RANGE_MESSAGE,
    ID_MESSAGE,
    MAX_ID,
    IdRelatedField,
)
from asi_api.filters import BooleanFilter, DateTimeFilter, IdFilter
from tests.asi_api.conftest import path_for, row_counts
from timeframes.serializers import EMBEDS


def list_views() -> list[tuple[str, type]]:
    """(path template, view class) of every list endpoint with a filterset."""
    found = {}
    for path, _regex, method, callback in EndpointEnumerator().get_api_endpoints():
        actions = getattr(callback, "actions", None) or {}
        view = getattr(callback, "cls", None)
        if (
            method == "GET"
            and actions.get("get") == "list"
            and getattr(view, "filterset_class", None)
        ):
            found[path] = view
    return sorted(found.items())


LIST_VIEWS = list_views()


def filters_of(kind: type) -> list[tuple[str, str]]:
    """(path template, query parameter) of every filter of `kind` on every list endpoint."""
    return [
        (path, name)
        for path, view in LIST_VIEWS
        for name, declared in view.filterset_class.base_filters.items()
        if isinstance(declared, kind)
    ]


ID_FILTERS = filters_of(IdFilter)
DATETIME_FILTERS = filters_of(DateTimeFilter)
BOOLEAN_FILTERS = filters_of(BooleanFilter)
EMBED_FLAGS = [
    (path, flag) for path in ("/api/v1/timeframes/", "/api/v1/timeframes/{id}/") for flag in EMBEDS
]


# --- every filterset uses the project's filters -----------------------------------------------


def test_every_list_endpoint_with_filters_is_enumerated():
    paths = {path for path, _view in LIST_VIEWS}
    assert {
        "/api/v1/activities/",
        "/api/v1/athletes/",
        "/api/v1/athletes/{athlete_id}/managers/{manager_id}/permissions/",
        "/api/v1/device-ownerships/",
        "/api/v1/devices/",
        "/api/v1/json-schemas/",
        "/api/v1/managers/",
        "/api/v1/permissions/",
        "/api/v1/timeframes/",
    } <= paths
    assert len(ID_FILTERS) >= 13 and len(DATETIME_FILTERS) >= 4 and len(BOOLEAN_FILTERS) >= 4


@pytest.mark.parametrize(("path", "view"), LIST_VIEWS, ids=[p for p, _ in LIST_VIEWS])
def test_every_filterset_reads_ids_booleans_and_datetimes_the_one_way(path, view):
    filterset = view.filterset_class
    model = filterset._meta.model
    for name, declared in filterset.base_filters.items():
        # django-filter's own: decimals for ids, unknown words as "no filter", no range check.
        assert not isinstance(
            declared,
            django_filters.NumberFilter
            | django_filters.BooleanFilter
            | django_filters.DateTimeFilter,
        ), f"{filterset.__name__}.{name}"
        if isinstance(declared, django_filters.ChoiceFilter):
            choices = {str(value).lower() for value, _label in declared.extra["choices"]}
            assert not choices & {"true", "false"}, (
                f"{filterset.__name__}.{name}: use BooleanFilter"
            )
        field = None if declared.method else get_model_field(model, declared.field_name)
        if field is not None and (field.is_relation or field.primary_key):
            assert isinstance(declared, IdFilter), f"{filterset.__name__}.{name}"
        if field is not None and field.get_internal_type() == "DateTimeField":
            assert isinstance(declared, DateTimeFilter), f"{filterset.__name__}.{name}"


# --- ids ---------------------------------------------------------------------------------------

BAD_IDS = [
    "9223372036854775808",  # 2^63: beyond bigint (a 500 on SQLite before)
    "99999999999999999999999",
    "5.9",  # was truncated to 5
    "5.0",
    "-1",
    "0",
    "1e3",
    "0x10",
    "１",  # a fullwidth digit, which Python's int() would take
    "true",
    "5 6",
    " ",
]


@pytest.mark.parametrize(("template", "parameter"), ID_FILTERS)
def test_it_refuses_malformed_and_out_of_range_ids_in_every_id_filter(
    api, admin, scene, template, parameter
):
    client = api(admin)
    path = path_for(template, scene)
    for value in BAD_IDS:
        answer = client.get(path, {parameter: value})
        assert answer.status_code == 400, (parameter, value)
        assert answer.json() == {parameter: [ID_MESSAGE]}, (parameter, value)


@pytest.mark.parametrize(("template", "parameter"), ID_FILTERS)
def test_it_takes_every_id_from_1_to_the_largest_bigint(api, admin, scene, template, parameter):
    client = api(admin)
    path = path_for(template, scene)
    for value in ("1", str(MAX_ID), "007", ""):
        assert client.get(path, {parameter: value}).status_code == 200, (parameter, value)


def test_it_filters_by_the_exact_id_it_was_given(api, admin, scene):
    client = api(admin)
    device = scene.device["id"]
    found = client.get("/api/v1/timeframes/", {"device": str(device)}).json()["results"]
    assert [timeframe["id"] for timeframe in found] == [scene.timeframe["id"]]
    # `?device=<id>.9` used to be truncated to <id> and find the same timeframe.
    assert client.get("/api/v1/timeframes/", {"device": f"{device}.9"}).status_code == 400


# --- datetimes ---------------------------------------------------------------------------------

OUT_OF_RANGE = [
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:59:59+01:00",
]
IN_RANGE = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T01:00:00+01:00",  # exactly year 1 in UTC
    "9999-12-31T23:59:59Z",
    "9999-12-31T22:59:59-01:00",
    "2023-03-12T13:00:00+0100",
    "2020-05-30T20:00:00.000Z",
    "2879-09-15T01:09:57-18:48",  # beyond PostgreSQL's ±15:59 offsets: used in UTC
    "2020-05-30T20:00:00+23:59",
]


@pytest.mark.parametrize(("template", "parameter"), DATETIME_FILTERS)
def test_it_refuses_datetimes_outside_years_1_to_9999_in_utc(
    api, admin, scene, template, parameter
):
    client = api(admin)
    path = path_for(template, scene)
    for value in OUT_OF_RANGE:
        answer = client.get(path, {parameter: value})
        assert answer.status_code == 400, (parameter, value)
        assert answer.json() == {parameter: [DATETIME_RANGE_MESSAGE]}
    for value in IN_RANGE:
        assert client.get(path, {parameter: value}).status_code == 200, (parameter, value)


# --- booleans ----------------------------------------------------------------------------------

ACCEPTED_BOOLEANS = ["true", "TRUE", "True", "1", "false", "FALSE", "False", "0", ""]
REFUSED_BOOLEANS = ["yes", "no", "on", "off", "t", "f", "y", "n", "2", "-1", "truee", "null"]


@pytest.mark.parametrize(("template", "parameter"), BOOLEAN_FILTERS + EMBED_FLAGS)
def test_every_boolean_parameter_takes_the_same_words(api, admin, scene, template, parameter):
    client = api(admin)
    path = path_for(template, scene)
    for value in ACCEPTED_BOOLEANS:
        assert client.get(path, {parameter: value}).status_code == 200, (parameter, value)
    for value in REFUSED_BOOLEANS:
        answer = client.get(path, {parameter: value})
        assert answer.status_code == 400, (parameter, value)
        assert answer.json() == {parameter: [BOOLEAN_MESSAGE]}


def test_a_boolean_means_the_same_in_every_spelling(api, admin, scene):
    client = api(admin)
    by_word = {
        word: client.get("/api/v1/devices/", {"current": word}).json()["results"]
        for word in ("true", "TRUE", "1", "false", "False", "0")
    }
    assert by_word["true"] == by_word["TRUE"] == by_word["1"] != []
    assert by_word["false"] == by_word["False"] == by_word["0"] == []
    embedded = client.get(f"/api/v1/timeframes/{scene.timeframe['id']}/", {"with_device": "1"})
    assert embedded.json()["device_details"]["id"] == scene.device["id"]


# --- ids and datetimes in bodies ---------------------------------------------------------------


def project_serializers() -> list[type[serializers.Serializer]]:
    import activities.serializers
    import devices.serializers
    import timeframes.serializers
    import users.serializers

    modules = (
        users.serializers,
        devices.serializers,
        activities.serializers,
        timeframes.serializers,
    )
    return [
        value
        for module in modules
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, serializers.BaseSerializer)
        and value.__module__ == module.__name__
    ]


def writable_fields(serializer: serializers.Serializer, prefix: str = ""):
    for name, field in serializer.fields.items():
        if isinstance(field, serializers.Serializer):
            yield from writable_fields(field, f"{prefix}{name}.")
        elif not field.read_only:
            yield f"{prefix}{name}", field


def test_every_id_field_of_a_body_reads_ids_the_one_way():
    checked = []
    for serializer in project_serializers():
        for name, field in writable_fields(serializer()):
            if isinstance(field, serializers.RelatedField | serializers.ManyRelatedField):
                assert isinstance(field, IdRelatedField), f"{serializer.__name__}.{name}"
                checked.append(name)
    assert len(checked) >= 8


# (method, path template, caller, a valid body, the id fields in it)
ID_BODIES = [
    (
        "POST",
        "/api/v1/activities/",
        "alice",
        lambda s: {"name": "x", "json": {}, "json_schema": s.json_schema["id"]},
        ["json_schema", "owner"],
    ),
    (
        "PUT",
        "/api/v1/activities/{id}/",
        "alice",
        lambda s: {"name": "x", "json": {}, "json_schema": s.json_schema["id"]},
        ["json_schema", "owner"],
    ),
    (
        "PATCH",
        "/api/v1/activities/{id}/",
        "alice",
        lambda s: {},
        ["json_schema", "owner"],
    ),
    ("POST", "/api/v1/json-schemas/", "admin", lambda s: {"schema": {}}, ["parent"]),
    *[
        (
            method,
            template,
            "alice",
            lambda s: {
                key: s.timeframe[key]
                for key in ("start_time", "end_time", "device", "activity", "athlete")
            },
            ["device", "activity", "athlete", "owner", "json_schema"],
        )
        for method, template in (
            ("POST", "/api/v1/timeframes/"),
            ("PUT", "/api/v1/timeframes/{id}/"),
            ("PATCH", "/api/v1/timeframes/{id}/"),
        )
    ],
]
# As JSON text: 2^63 cannot even be written by orjson (it reads it back as a float).
BAD_BODY_IDS = [
    b"2.5",
    b"4.7",
    b"5.0",
    b"true",
    b"false",
    b'"5.9"',
    b'"1e3"',
    b"9223372036854775808",
    b'"9223372036854775808"',
    b"-1",
    b"0",
    b"[1]",
    b'{"id": 1}',
]


def with_token(body: dict, field: str, token: bytes) -> bytes:
    """`body` as JSON text with `field` set to the JSON text `token`."""
    rest = orjson.dumps({key: value for key, value in body.items() if key != field})
    tail = b"}" if rest == b"{}" else b", " + rest[1:]
    return b'{"' + field.encode() + b'": ' + token + tail


@pytest.mark.parametrize(
    ("method", "template", "caller", "valid", "fields"),
    ID_BODIES,
    ids=[f"{method} {template}" for method, template, *_ in ID_BODIES],
)
def test_it_refuses_ids_that_are_not_whole_numbers_in_range_in_bodies(
    api, admin, alice, scene, method, template, caller, valid, fields
):
    client = api(admin if caller == "admin" else alice)
    path = path_for(template, scene)
    before = row_counts()
    for field in fields:
        for token in BAD_BODY_IDS:
            raw = with_token(valid(scene), field, token)
            answer = getattr(client, method.lower())(path, raw, content_type="application/json")
            assert answer.status_code == 400, (field, token, answer.content)
            assert answer.json()[field] == [ID_MESSAGE], (field, token)
    assert row_counts() == before
    # The object the PUT/PATCH addressed is unchanged.
    if "{id}" in template:
        stored = {"activities": scene.activity, "timeframes": scene.timeframe}
        assert client.get(path).json() == stored[template.split("/")[3]]


@pytest.mark.parametrize(
    ("template", "fields"),
    [
        ("/api/v1/timeframes/", ["start_time", "end_time"]),
        (
            "/api/v1/athletes/{athlete_id}/managers/{manager_id}/permissions/",
            ["start_time", "expiration_time"],
        ),
    ],
)
def test_it_refuses_datetimes_outside_years_1_to_9999_in_bodies(
    api, alice, carol, scene, template, fields
):
    client = api(carol if "permissions" in template else alice)
    path = path_for(template, scene)
    before = row_counts()
    for field in fields:
        for value in OUT_OF_RANGE:
            answer = client.post(path, {field: value})
            assert answer.status_code == 400
            assert answer.json()[field] == ["Datetime value out of range."]  # DRF's own check
    assert row_counts() == before
