"""A JSON schema never makes the server fetch anything, and no schema makes validation a 500
(issue 7, "Bad strings and shapes": jsonschema's default retriever was still active).

A local HTTP server that records every request stands in for the remote host: it would answer,
so "not hit" means the server never asked.
"""

import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from jsonschema import Draft202012Validator

from activities.validation import document_errors
from tests.asi_api.conftest import row_counts


class RecordingServer:
    def __init__(self) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                hits.append(self.path)
                body = b'{"type": "string"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/schema+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture
def remote() -> Iterator[RecordingServer]:
    server = RecordingServer()
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def test_the_recording_server_would_be_hit_by_jsonschemas_default_retriever(remote):
    # The detector works: left to its defaults, jsonschema fetches the reference.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        errors = list(Draft202012Validator({"$ref": f"{remote.url}/s.json"}).iter_errors(5))
    assert remote.hits == ["/s.json"]
    assert [error.message for error in errors] == ["5 is not of type 'string'"]


def remote_schemas(url: str) -> dict[str, tuple[dict, str]]:
    """case → (schema, the reference the error names)."""
    return {
        "$ref": ({"$ref": f"{url}/s.json"}, f"{url}/s.json"),
        "nested $ref": (
            {"type": "object", "properties": {"a": {"$ref": f"{url}/a.json#/x"}}},
            f"{url}/a.json#/x",
        ),
        "relative $ref under a remote $id": (
            {"$id": f"{url}/base/", "$ref": "other.json"},
            "other.json",
        ),
        "$dynamicRef": ({"$dynamicRef": f"{url}/d.json#meta"}, f"{url}/d.json#meta"),
        "$ref in $defs": (
            {"$defs": {"r": {"$ref": f"{url}/r.json"}}, "$ref": "#/$defs/r"},
            f"{url}/r.json",
        ),
    }


CASES = ["$ref", "nested $ref", "relative $ref under a remote $id", "$dynamicRef", "$ref in $defs"]


@pytest.mark.parametrize("case", CASES)
def test_it_never_fetches_a_remote_reference(api, admin, alice, carol, scene, remote, case):
    schema, ref = remote_schemas(remote.url)[case]
    staff, manager = api(admin), api(alice)
    created = staff.post(
        "/api/v1/json-schemas/", {"name": f"remote {case}", "type": "activity", "schema": schema}
    )
    assert created.status_code == 201, created.content
    timeframe_schema = staff.post(
        "/api/v1/json-schemas/",
        {"name": f"remote tf {case}", "type": "timeframe", "schema": schema},
    )
    assert timeframe_schema.status_code == 201
    before = row_counts()

    activity = manager.post(
        "/api/v1/activities/",
        {"name": "x", "json": {"a": 5}, "json_schema": created.json()["id"]},
    )
    timeframe = manager.patch(
        f"/api/v1/timeframes/{scene.timeframe['id']}/",
        {"params": {"a": 5}, "json_schema": timeframe_schema.json()["id"]},
    )

    assert remote.hits == []
    message = f"$: the schema refers to {ref!r}, which cannot be resolved."
    assert (activity.status_code, activity.json()) == (400, {"json": [message]})
    assert (timeframe.status_code, timeframe.json()) == (400, {"params": [message]})
    assert row_counts() == before


def test_references_to_the_shipped_metaschemas_resolve_without_the_network(remote):
    schema = {"$ref": "https://json-schema.org/draft/2020-12/schema"}
    assert document_errors(schema, {"type": "string"}) == []
    assert document_errors(schema, {"type": 5}) == [
        "$.type: 5 is not valid under any of the given schemas"
    ]
    assert remote.hits == []


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#"},
        {"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"},
        {"properties": {"x": {"$ref": "#/properties/x"}}},
    ],
)
def test_a_schema_whose_references_loop_is_a_400_not_a_500(api, admin, alice, schema):
    created = api(admin).post(
        "/api/v1/json-schemas/", {"name": "loop", "type": "activity", "schema": schema}
    )
    assert created.status_code == 201
    manager = api(alice)
    before = row_counts()
    answer = manager.post(
        "/api/v1/activities/",
        {"name": "x", "json": {"x": 1}, "json_schema": created.json()["id"]},
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "json": ["$: the schema's references loop without end; it cannot be applied."]
    }
    assert row_counts() == before
