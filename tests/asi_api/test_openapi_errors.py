"""The OpenAPI document lists the errors each operation can give, in SPEC §1's shapes.

They are added in one place (asi_api.schema.AutoSchema); test_schemathesis.py checks the server
against them. Here: the document itself, operation by operation.
"""

import pytest

pytestmark = pytest.mark.django_db

WRITES = ("post", "put", "patch")


@pytest.fixture(scope="module")
def document(django_db_blocker) -> dict:
    from rest_framework.test import APIClient

    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method, operation


def test_every_operation_documents_its_errors(document):
    seen = 0
    for path, method, operation in operations(document):
        seen += 1
        responses = operation["responses"]
        where = f"{method.upper()} {path}"
        assert {"401", "403", "429"} <= set(responses), where
        if method in WRITES:
            assert {"400", "409", "413", "415"} <= set(responses), where
        if "{" in path:
            assert "404" in responses, where
        if any(p["in"] == "query" for p in operation.get("parameters", [])):
            assert "400" in responses, where
        assert "Retry-After" in responses["429"]["headers"], where
    assert seen > 30


def test_paginated_lists_document_the_out_of_range_page(document):
    lists = [
        (path, operation)
        for path, method, operation in operations(document)
        if method == "get" and "page" in {p["name"] for p in operation.get("parameters", [])}
    ]
    assert lists
    for path, operation in lists:
        assert "404" in operation["responses"], path


def test_the_error_shapes_are_specs(document):
    schemas = document["components"]["schemas"]
    assert schemas["Error"]["required"] == ["detail"]
    assert schemas["Error"]["properties"]["detail"]["type"] == "string"
    assert schemas["ValidationError"]["type"] == "object"
    some_write = document["paths"]["/api/v1/activities/"]["post"]["responses"]
    assert some_write["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ValidationError"
    }
    assert some_write["403"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }


def test_a_view_s_own_responses_are_kept(document):
    # take-ownership documents its 201 itself; the plumbing adds only what is missing.
    responses = document["paths"]["/api/v1/devices/{id}/take-ownership/"]["post"]["responses"]
    assert "201" in responses and "409" in responses
