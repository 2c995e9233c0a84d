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


def test_it_answers_415_for_a_body_that_is_not_json(client):
    response = client.post("/api/v1/managers/", "username=x", content_type="text/plain")
    assert response.status_code == 415
    assert "Unsupported media type" in response.json()["detail"]


def test_it_answers_400_json_for_malformed_json(client):
    response = client.post("/api/v1/managers/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_it_clamps_the_page_size_and_404s_past_the_last_page(api, admin, make_user):
    for i in range(3):
        make_user(f"athlete{i}", "ATHLETE")
    client = api(admin)
    body = client.get("/api/v1/athletes/?limit=100000").json()
    assert body["count"] == 3 and len(body["results"]) == 3
    page = client.get("/api/v1/athletes/?limit=2&page=2").json()
    assert (page["page"], page["next"], page["previous"]) == (2, None, 1)
    assert len(page["results"]) == 1
    assert client.get("/api/v1/athletes/?limit=2&page=3").status_code == 404
    assert client.get("/api/v1/athletes/?limit=abc").status_code == 400


def test_it_ignores_unknown_query_parameters(api, admin, make_user):
    make_user("athlete0", "ATHLETE")
    plain = api(admin).get("/api/v1/athletes/").json()
    noisy = api(admin).get("/api/v1/athletes/?utm_source=newsletter&foo=bar").json()
    assert noisy == plain and plain["count"] == 1


def test_it_refuses_unknown_ordering_fields_by_name(api, admin):
    response = api(admin).get("/api/v1/athletes/?ordering=password")
    assert response.status_code == 400
    assert "password" in response.json()["ordering"][0]


def test_it_serves_the_openapi_document_and_its_docs_without_a_cdn(client):
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    assert "/api/v1/account/" in schema.json()["paths"]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn" not in html.lower()


def test_it_generates_a_valid_openapi_document_without_warnings(tmp_path):
    from django.core.management import call_command

    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    text = target.read_text()
    for path in (
        "/api/v1/athletes/",
        "/api/v1/devices/",
        "/api/v1/timeframes/{id}/",
        "/api/v1/activities/",
        "/api/v1/json-schemas/",
        "/api/v1/permissions/",
    ):
        assert f"  {path}:" in text, path


def test_healthz_answers_503_naming_the_channel_layer_when_redis_is_down(client, settings):
    # Nothing listens on port 1: the channel layer cannot answer.
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    response = client.get("/healthz/")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": "ok",
        "channel_layer": "unavailable",
    }
