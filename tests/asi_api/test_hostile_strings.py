"""Text PostgreSQL cannot store (NUL characters, lone surrogates) never reaches the database: a
400 in SPEC §1's shape and nothing stored (issue 7, "Bad strings and shapes").

Query parameters are checked once by `QueryNulMiddleware`, JSON bodies by the parser (NUL at any
depth, in values and keys, reported on the top-level member it is in), and JSON reaching the
services another way (the admin's forms) by `activities.validation`.
"""

import orjson
import pytest
from drf_spectacular.generators import SchemaGenerator

from activities.validation import document_errors, schema_errors
from tests.asi_api.conftest import path_for, row_counts

NUL_VALUE = "Null characters (\\u0000) are not allowed in strings."


def list_query_parameters() -> list[tuple[str, str]]:
    """(path template, parameter) of every query parameter the OpenAPI document lists on a GET."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = []
    for path, operations in schema["paths"].items():
        operation = operations.get("get", {})
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query":
                found.append((path, parameter["name"]))
    return sorted(found)


QUERY_PARAMETERS = list_query_parameters()


def test_the_enumeration_covers_the_hand_read_parameters():
    # The parameters views read by hand (outside django-filter) are among those tested below.
    assert {
        ("/api/v1/managers/", "username"),
        ("/api/v1/devices/", "serial_number"),
        ("/api/v1/devices/", "device_name"),
        ("/api/v1/timeframes/", "with_device"),
        ("/api/v1/activities/", "page"),
        ("/api/v1/activities/", "limit"),
        ("/api/v1/activities/", "search"),
        ("/api/v1/activities/", "ordering"),
    } <= set(QUERY_PARAMETERS)


@pytest.mark.parametrize(("template", "parameter"), QUERY_PARAMETERS)
def test_it_refuses_a_nul_in_every_query_parameter(api, admin, scene, template, parameter):
    client = api(admin)
    before = row_counts()
    answer = client.get(f"{path_for(template, scene)}?{parameter}=a%00b")
    assert answer.status_code == 400
    assert answer.json() == {parameter: ["Null characters are not allowed."]}
    assert row_counts() == before


@pytest.mark.parametrize("caller", ["anonymous", "admin", "alice", "carol"])
def test_it_refuses_the_managers_username_lookup_with_a_nul(api, admin, alice, carol, caller):
    users = {"anonymous": None, "admin": admin, "alice": alice, "carol": carol}
    answer = api(users[caller]).get("/api/v1/managers/?username=a%00")
    assert answer.status_code == 400
    assert answer.json() == {"username": ["Null characters are not allowed."]}


def test_it_refuses_a_nul_in_unknown_parameters_and_parameter_names(api, alice):
    # Unknown parameters are ignored (SPEC §1), but a NUL is malformed wherever it is.
    answer = api(alice).get("/api/v1/activities/?whatever=%00")
    assert (answer.status_code, answer.json()) == (
        400,
        {"whatever": ["Null characters are not allowed."]},
    )
    answer = api(alice).get("/api/v1/activities/?a%00b=1")
    assert (answer.status_code, answer.json()) == (
        400,
        {"detail": "Null characters are not allowed in parameter names."},
    )
    # A later value of a repeated parameter counts too.
    answer = api(alice).get("/api/v1/activities/?name=x&name=%00")
    assert answer.json() == {"name": ["Null characters are not allowed."]}


def test_it_leaves_a_percent_sign_that_is_no_nul_alone(api, alice):
    assert api(alice).get("/api/v1/activities/?name=100%25").status_code == 200
    assert api(alice).get("/api/v1/activities/?name=%2500").status_code == 200


# --- JSON bodies ------------------------------------------------------------------------------

# (method, path template, field): every JSONField the API writes.
JSON_FIELDS = [
    ("POST", "/api/v1/activities/", "json"),
    ("PUT", "/api/v1/activities/{id}/", "json"),
    ("PATCH", "/api/v1/activities/{id}/", "json"),
    ("POST", "/api/v1/timeframes/", "params"),
    ("PUT", "/api/v1/timeframes/{id}/", "params"),
    ("PATCH", "/api/v1/timeframes/{id}/", "params"),
    ("POST", "/api/v1/json-schemas/", "schema"),
]

# (value of the field, the message on that field)
NUL_DOCUMENTS = {
    "the value itself": ("a\x00b", NUL_VALUE),
    "a value at depth 4": (
        {"laps": [{"note": "set\x00point"}]},
        "$.laps[0].note: null characters (\\u0000) are not allowed in strings.",
    ),
    "a key at depth 2": (
        {"a": {"b\x00": 1}},
        '$.a["b\\u0000"]: null characters (\\u0000) are not allowed in keys.',
    ),
    "a lone NUL in a list": (
        ["ok", "\x00"],
        "$[1]: null characters (\\u0000) are not allowed in strings.",
    ),
}


def test_every_json_model_field_is_covered():
    from django.apps import apps
    from django.db.models import JSONField

    json_fields = {
        (model._meta.label, field.name)
        for model in apps.get_models()
        if model._meta.app_label in ("users", "devices", "activities", "timeframes")
        for field in model._meta.get_fields()
        if isinstance(field, JSONField)
    }
    written_from_a_field = {
        ("activities.JsonSchema", "schema"),
        ("activities.Activity", "json"),
        ("timeframes.Timeframe", "params"),
    }
    # Filled by the ingestion service from packets (their channel's field names), which the same
    # parser has read: the every-endpoint tests of test_hostile_json.py cover that endpoint.
    written_from_ingestion = {("devices.SampleChannel", "fields")}
    assert json_fields == written_from_a_field | written_from_ingestion, (
        "A new JSONField: add the endpoints that write it to JSON_FIELDS."
    )


@pytest.mark.parametrize(("method", "template", "field"), JSON_FIELDS)
@pytest.mark.parametrize("case", NUL_DOCUMENTS, ids=NUL_DOCUMENTS.keys())
def test_it_refuses_a_nul_anywhere_in_every_json_field(
    api, admin, alice, scene, method, template, field, case
):
    value, message = NUL_DOCUMENTS[case]
    client = api(admin if field == "schema" else alice)
    path = path_for(template, scene)
    before = row_counts()
    body = orjson.dumps({"name": "x", field: value})

    answer = getattr(client, method.lower())(path, body, content_type="application/json")

    assert answer.status_code == 400
    assert answer.json() == {field: [message]}
    assert row_counts() == before
    if "{id}" in template:  # the object is unchanged too
        stored = {"activities": scene.activity, "timeframes": scene.timeframe}
        assert client.get(path).json()[field] == stored[template.split("/")[3]][field]


@pytest.mark.parametrize(("method", "template", "field"), JSON_FIELDS)
@pytest.mark.parametrize(
    "raw",
    [
        b'"\\ud800"',
        b'{"a": ["\\udc00"]}',
        b'{"\\ud800": 1}',
        b'{"a": {"b\\udbff": true}}',
    ],
)
def test_it_refuses_a_lone_surrogate_anywhere_in_every_json_field(
    api, admin, alice, scene, method, template, field, raw
):
    client = api(admin if field == "schema" else alice)
    path = path_for(template, scene)
    before = row_counts()
    body = b'{"name": "x", "' + field.encode() + b'": ' + raw + b"}"

    answer = getattr(client, method.lower())(path, body, content_type="application/json")

    assert answer.status_code == 400
    assert list(answer.json()) == ["detail"]
    assert answer.json()["detail"].startswith("JSON parse error - ")
    assert "surrogate" in answer.json()["detail"]
    assert row_counts() == before


def test_it_reports_a_nul_in_a_plain_field_on_that_field(client, db):
    before = row_counts()
    body = {"username": "a\x00", "email": "a@example.org", "manager_profile": {"first_name": "x"}}
    answer = client.post("/api/v1/managers/", orjson.dumps(body), content_type="application/json")
    assert answer.status_code == 400
    assert answer.json() == {"username": [NUL_VALUE]}

    body = {"username": "ann", "email": "a@example.org", "manager_profile": {"last_name": "\x00"}}
    answer = client.post("/api/v1/managers/", orjson.dumps(body), content_type="application/json")
    assert answer.json() == {
        "manager_profile": ["$.last_name: null characters (\\u0000) are not allowed in strings."]
    }
    # A NUL in a top-level key names no field: a plain detail.
    answer = client.post(
        "/api/v1/managers/", b'{"user\\u0000": 1}', content_type="application/json"
    )
    assert answer.json() == {
        "detail": 'JSON parse error - $["user\\u0000"]: null characters (\\u0000) are not allowed'
        " in keys."
    }
    assert row_counts() == before


# --- JSON that reaches the services another way (the admin's form fields use Python's json) -----


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"a": "x\x00"}, "$.a: null characters (\\u0000) are not allowed in strings."),
        ({"a": ["\ud800"]}, "$.a[0]: lone surrogates are not allowed in strings."),
        ({"\udfff": 1}, '$["\\udfff"]: lone surrogates are not allowed in keys.'),
    ],
)
def test_the_json_checks_refuse_what_the_admin_forms_let_through(value, message):
    assert document_errors({}, value) == [message]
    assert schema_errors(value) == [message]
