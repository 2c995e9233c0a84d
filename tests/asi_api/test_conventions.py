"""SPEC §1 conventions that hold for every endpoint, present and future."""

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


def test_it_answers_404_json_without_trailing_slash(api, alice):
    response = api(alice).get("/api/v1/account")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "slash" in response.json()["detail"]


def test_it_never_redirects_a_post_without_trailing_slash(api, alice):
    response = api(alice).post("/api/v1/account", {}, format="json")
    assert response.status_code == 404
    assert "Location" not in response


@override_settings(DEBUG=True)
def test_it_answers_json_404_for_unknown_api_urls_even_in_debug(client):
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_it_answers_json_405(api, alice):
    response = api(alice).put("/api/v1/account/", {}, format="json")
    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "PUT" not allowed.'}


def test_it_answers_413_from_content_length_before_reading(client):
    response = client.generic(
        "POST",
        "/api/v1/account/",
        b"x",
        content_type="application/json",
        CONTENT_LENGTH=str(2 * 1024 * 1024 + 1),
    )
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]


def test_it_answers_401_json_without_credentials(client):
    response = client.get("/api/v1/account/")
    assert response.status_code == 401
    assert response.json()["detail"]


def test_healthz_reports_database_and_channel_layer(client):
    response = client.get("/healthz/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "channel_layer": "ok"}


def test_it_answers_a_json_500_without_a_traceback(client, monkeypatch, alice, settings):
    from users.views import AccountView

    def explode(self, request, *args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(AccountView, "get", explode)
    client.raise_request_exception = False
    for debug in (False, True):
        settings.DEBUG = debug
        client.force_login(alice)
        response = client.get("/api/v1/account/")
        assert response.status_code == 500
        assert response.json() == {"detail": "Internal server error."}
        assert b"secret internals" not in response.content


def test_it_serves_the_openapi_document_and_its_docs_without_a_cdn(client):
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    assert "/api/v1/account/" in schema.json()["paths"]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn" not in html.lower()
