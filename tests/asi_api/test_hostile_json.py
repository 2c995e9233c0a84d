"""Bodies that are not JSON this API can store are refused at parse time, on every JSON endpoint,
for every caller, with a 400 and nothing stored (issue 7, "Bad strings and shapes").

The parser (asi_api.parsers on asi_api.jsontext) refuses lone surrogates as values and keys,
invalid UTF-8, NaN/Infinity and nesting deeper than MAX_JSON_DEPTH; NUL characters are in
test_hostile_strings.py. Its cost on a 5 MiB ingestion body is measured here.
"""

import json
import time

import orjson
import pytest
from rest_framework.test import APIClient

from asi_api import jsontext
from asi_api.jsontext import MAX_JSON_DEPTH, JsonRefused, json_parse
from tests.asi_api.conftest import api_operations, path_for, row_counts

# Operations that take no body at all: DRF never parses one, so there is nothing to refuse.
BODYLESS = {("POST", "/api/v1/devices/{id}/release-ownership/")}
JSON_OPERATIONS = [op for op in api_operations({"POST", "PUT", "PATCH"}) if op not in BODYLESS]


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


HOSTILE_BODIES = {
    "1200 nested arrays": nested(1200),
    "nesting one past the limit": b'{"name": ' + nested(MAX_JSON_DEPTH) + b"}",
    "lone surrogate value": b'{"name": "\\ud800", "username": "x\\udfff"}',
    "lone surrogate key": b'{"\\ud800": 1}',
    "raw UTF-8 surrogate": b'{"name": "\xed\xa0\x80"}',
    "invalid UTF-8": b'{"name": "\xff"}',
    "NaN": b'{"name": NaN}',
    "Infinity": b'{"weight": -Infinity}',
    "number beyond double": b'{"weight": 1e400}',
}


def send(client, method: str, path: str, body: bytes):
    return getattr(client, method.lower())(path, body, content_type="application/json")


@pytest.mark.parametrize(("method", "template"), JSON_OPERATIONS)
@pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
def test_it_refuses_bodies_it_cannot_store_on_every_json_endpoint(
    api, token_for, admin, alice, carol, scene, method, template, body
):
    gateway = APIClient()
    gateway.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(None, 'ingest')}")
    callers = {
        "anonymous": api(),
        "admin": api(admin),
        "alice": api(alice),
        "carol": api(carol),
        "gateway": gateway,
    }
    path = path_for(template, scene)
    before = row_counts()

    answers = {name: send(client, method, path, body) for name, client in callers.items()}

    statuses = {name: answer.status_code for name, answer in answers.items()}
    # Callers the endpoint turns away before reading the body get 401/403 (404 for a path they
    # may not see); every caller it lets in meets the parser's 400. Never anything else.
    assert set(statuses.values()) <= {400, 401, 403, 404}, statuses
    refused = [answer for answer in answers.values() if answer.status_code == 400]
    assert refused, f"no caller reached the parser: {statuses}"
    for answer in refused:
        assert answer["Content-Type"] == "application/json"
        assert set(answer.json()) == {"detail"}
        assert answer.json()["detail"].startswith("JSON parse error - ")
    assert row_counts() == before


def test_it_refuses_deep_nesting_on_anonymous_registration_with_a_400(client, db):
    before = row_counts()
    for path in ("/api/v1/managers/", "/api/v1/athletes/"):
        answer = client.post(path, nested(1200), content_type="application/json")
        assert answer.status_code == 400
        assert answer.json() == {
            "detail": "JSON parse error - depth limit exceeded: line 1 column 1026 (char 1025)"
        }
        answer = client.post(path, nested(MAX_JSON_DEPTH + 1), content_type="application/json")
        assert answer.json() == {
            "detail": f"JSON parse error - JSON nested deeper than {MAX_JSON_DEPTH} levels is "
            "not accepted."
        }
    assert row_counts() == before


def test_it_names_the_surrogate_as_the_parser_finds_it(api, alice):
    answer = api(alice).post(
        "/api/v1/activities/", b'{"json": {"\\ud800": 1}}', content_type="application/json"
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "detail": "JSON parse error - no low surrogate in string: line 1 column 12 (char 11)"
    }


def nested_objects(depth: int) -> dict:
    document: dict = {}
    for _ in range(depth - 1):
        document = {"a": document}
    return document


def test_it_stores_json_as_deep_as_the_limit_and_refuses_one_level_more(api, alice, scene):
    manager = api(alice)

    def create(document: dict):
        body = {"name": "Deep", "json": document, "json_schema": scene.json_schema["id"]}
        return manager.post("/api/v1/activities/", body)

    # The body object is the first level, `json` the second.
    deepest = nested_objects(MAX_JSON_DEPTH - 1)
    created = create(deepest)
    assert created.status_code == 201, created.content
    read = manager.get(f"/api/v1/activities/{created.json()['id']}/")
    assert read.json()["json"] == deepest

    before = row_counts()
    refused = create(nested_objects(MAX_JSON_DEPTH))
    assert refused.status_code == 400
    assert refused.json() == {
        "detail": f"JSON parse error - JSON nested deeper than {MAX_JSON_DEPTH} levels is not "
        "accepted."
    }
    assert row_counts() == before


def test_it_answers_413_for_a_body_over_the_limit_sent_without_content_length_check(settings):
    from io import BytesIO

    from rest_framework.test import APIRequestFactory

    from asi_api.parsers import JSONParser, RequestTooLarge

    settings.BODY_LIMIT_BYTES = 10
    request = APIRequestFactory().post("/api/v1/activities/")
    with pytest.raises(RequestTooLarge):
        JSONParser().parse(BytesIO(b'{"name": "more than ten bytes"}'), None, {"request": request})


# --- the parser on its own --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        b'"\\ud800"',
        b'{"\\udfff": 1}',
        b'["ok", {"deep": ["\\ud83d"]}]',  # a high surrogate without its low half
        b'"\xed\xa0\x80"',
        b'"\xc3\x28"',
        b"NaN",
        b"[Infinity]",
        b'"a\x00b"',  # a raw control character inside a string
        b'{"a": 1} trailing',
        nested(MAX_JSON_DEPTH + 1),
        nested(5000),
        b'{"a": "\\u0000"}',
        b'{"a\\u0000": 1}',
    ],
)
def test_json_parse_refuses(text):
    with pytest.raises(JsonRefused):
        json_parse(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (b'"\\ud83d\\ude00"', "\U0001f600"),  # a surrogate *pair* is a real character
        (b'"\\\\u0000"', "\\u0000"),  # an escaped backslash, then the letters: no NUL
        (nested(MAX_JSON_DEPTH), json.loads(nested(MAX_JSON_DEPTH))),
        (b'{"a": 1, "a": 2}', {"a": 2}),
        (b"[" + b"[1]," * 200 + b"[2]]", [[1]] * 200 + [[2]]),  # many brackets, shallow
    ],
)
def test_json_parse_accepts(text, value):
    assert json_parse(text) == value


def ingestion_body(size: int = 5 * 1024 * 1024) -> bytes:
    """A body shaped like SPEC §6 ingestion: 1000 packets of numeric columns, about `size`."""
    per_packet = size // 1000
    fixes = max(1, per_packet // 54)  # ~54 bytes of JSON per GNSS fix (5 numbers)
    packets = []
    for index in range(1000):
        start = 1597924127000 + index * 1000
        packets.append(
            {
                "device_name": "a1b2c3d4e5f8",
                "gnss": {
                    "timestamp": [start + i * 10 for i in range(fixes)],
                    "latitude": [46.5197123 + i * 1e-7 for i in range(fixes)],
                    "longitude": [6.6322734 + i * 1e-7 for i in range(fixes)],
                    "speed": [3.25 + i * 0.01 for i in range(fixes)],
                    "altitude": [372.5 + i * 0.1 for i in range(fixes)],
                },
                "ecg": {"timestamp": start, "hr": 159},
                "device": {"timestamp": start, "standstill": 0, "Bat_lvl": 90},
            }
        )
    return orjson.dumps({"packets": packets})


def test_it_parses_a_5_mib_ingestion_body_cheaply(capsys, monkeypatch):
    body = ingestion_body()
    assert 4.5 * 1024 * 1024 < len(body) < 5.5 * 1024 * 1024

    def best_of(parse, runs: int = 5) -> float:
        timings = []
        for _ in range(runs):
            start = time.perf_counter()
            parse(body)
            timings.append(time.perf_counter() - start)
        return min(timings)

    ours = best_of(json_parse)
    orjson_alone = best_of(orjson.loads)
    stdlib = best_of(json.loads)
    with capsys.disabled():
        print(
            f"\nparse of a {len(body) / 2**20:.2f} MiB ingestion body (best of 5): json_parse "
            f"{ours * 1000:.1f} ms, orjson.loads alone {orjson_alone * 1000:.1f} ms, "
            f"stdlib json.loads {stdlib * 1000:.1f} ms"
        )
    # Timings on a shared machine vary too much for a tight bound; this one catches a walk
    # gone quadratic. What keeps it cheap is checked below without a clock.
    assert ours < 1.0
    assert json_parse(body) == json.loads(body)

    # Without the bytes `\u0000`, no string is looked at.
    def no_text_walk(*args, **kwargs):
        raise AssertionError("the text walk ran on a body without \\u0000")

    monkeypatch.setattr(jsontext, "_text_faults", no_text_walk)
    json_parse(body)
    # With few brackets, not even the depth walk runs.
    monkeypatch.setattr(jsontext, "_too_deep", no_text_walk)
    json_parse(b'{"packets": [{"gnss": {"timestamp": [1, 2, 3]}}]}')
