"""Every error keeps SPEC §1's shapes, `{"detail": ...}` or `{"field": [...]}`, as JSON, for
every client (issue 7, "Error bodies keep one shape")."""

from datetime import timedelta

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken
from rest_framework.test import APIClient

from asi_api.fields import BOOLEAN_MESSAGE, ID_MESSAGE


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


# --- ?search= ----------------------------------------------------------------------------------


def test_a_nul_in_search_is_reported_on_search(api, alice):
    answer = api(alice).get("/api/v1/activities/?search=%00")
    assert answer.status_code == 400
    assert answer.json() == {"search": ["Null characters are not allowed."]}


def test_the_search_filter_names_its_parameter_behind_the_middleware_too(api, alice, settings):
    # The query-string check answers first; without it, DRF's SearchFilter used to raise a bare
    # list. Both layers give the same shape.
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if not m.endswith("QueryNulMiddleware")]
    for path in ("/api/v1/activities/", "/api/v1/devices/", "/api/v1/athletes/"):
        answer = api(alice).get(path, {"search": "a\x00"})
        assert answer.status_code == 400
        assert answer.json() == {"search": ["Null characters are not allowed."]}


# --- HTML clients of the browsable API ---------------------------------------------------------


@pytest.fixture
def browser(client, alice):
    """A person in a browser: logged in with a session, asking for HTML."""
    client.force_login(alice)
    client.defaults["HTTP_ACCEPT"] = "text/html,application/xhtml+xml,*/*;q=0.8"
    return client


def test_an_html_client_gets_the_field_errors_as_json(browser):
    answer = browser.post(
        "/api/v1/activities/", {"name": "", "json_schema": 2.5}, content_type="application/json"
    )
    assert answer.status_code == 400
    assert answer["Content-Type"] == "application/json"
    body = answer.json()
    assert body["name"] == ["This field may not be blank."]
    assert body["json"] == ["This field is required."]
    assert body["json_schema"] == [ID_MESSAGE]


def test_an_html_client_gets_filter_and_parse_errors_with_their_fields(browser):
    answer = browser.get("/api/v1/timeframes/?device=5.9")
    assert (answer.status_code, answer["Content-Type"]) == (400, "application/json")
    assert answer.json() == {"device": [ID_MESSAGE]}
    answer = browser.get("/api/v1/timeframes/?with_device=yes")
    assert (answer.status_code, answer["Content-Type"]) == (400, "application/json")
    assert answer.json() == {"with_device": [BOOLEAN_MESSAGE]}

    answer = browser.post("/api/v1/activities/", b"[" * 1200, content_type="application/json")
    assert (answer.status_code, answer["Content-Type"]) == (400, "application/json")
    assert answer.json()["detail"].startswith("JSON parse error - ")


@pytest.mark.parametrize(
    ("method", "path", "status", "detail"),
    [
        ("get", "/api/v1/activities/999999/", 404, "Not found."),
        ("get", "/api/v1/activities/?page=99", 404, "Invalid page."),
        ("delete", "/api/v1/json-schemas/1/", 405, 'Method "DELETE" not allowed.'),
        ("post", "/api/v1/devices/", 403, "You do not have permission to perform this action."),
    ],
)
def test_an_html_client_gets_every_api_error_as_the_json_body(
    browser, method, path, status, detail
):
    answer = getattr(browser, method)(path)
    assert answer.status_code == status
    assert answer["Content-Type"] == "application/json"
    assert answer.json() == {"detail": detail}


def test_the_browsable_api_still_renders_successful_pages_as_html(browser):
    answer = browser.get("/api/v1/activities/")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/html")


def test_format_api_errors_are_json_too(api, alice):
    answer = api(alice).get("/api/v1/activities/?format=api&created_from=yesterday")
    assert answer.status_code == 400
    assert answer["Content-Type"] == "application/json"
    assert answer.json() == {"created_from": ["Enter a valid date/time."]}


# --- bearer tokens -----------------------------------------------------------------------------


def test_no_token_is_credentials_not_provided(client):
    answer = client.get("/api/v1/account/")
    assert answer.status_code == 401
    assert answer.json() == {"detail": "Authentication credentials were not provided."}
    assert answer["WWW-Authenticate"] == 'Bearer realm="api"'


def test_an_unknown_token_is_invalid(db):
    answer = bearer("no-such-token").get("/api/v1/account/")
    assert answer.status_code == 401
    assert answer.json() == {"detail": "The access token is invalid."}
    assert 'error="invalid_token"' in answer["WWW-Authenticate"]


def test_a_revoked_token_is_invalid(token_for, alice):
    token = token_for(alice)
    assert bearer(token).get("/api/v1/account/").status_code == 200
    AccessToken.objects.get(token=token).revoke()

    answer = bearer(token).get("/api/v1/account/")
    assert answer.status_code == 401
    assert answer.json() == {"detail": "The access token is invalid."}
    assert 'error="invalid_token"' in answer["WWW-Authenticate"]


def test_an_expired_token_says_it_expired(token_for, alice):
    token = token_for(alice)
    AccessToken.objects.filter(token=token).update(expires=timezone.now() - timedelta(seconds=1))

    answer = bearer(token).get("/api/v1/activities/")
    assert answer.status_code == 401
    assert answer.json() == {"detail": "The access token has expired."}
    assert 'error="invalid_token"' in answer["WWW-Authenticate"]


def test_a_stale_token_does_not_stop_anonymous_registration(db):
    # Registration is open to anonymous callers: a client that still sends an old token is
    # treated as anonymous there, not refused.
    answer = bearer("no-such-token").post(
        "/api/v1/managers/",
        {"username": "newman", "email": "n@example.org", "password": "Correct-Horse-9"},
    )
    assert answer.status_code == 201


def test_a_token_with_odd_characters_is_just_invalid(db):
    for token in ("a\x00b", "ü" * 40, "x" * 5000):
        answer = bearer(token).get("/api/v1/account/")
        assert answer.status_code == 401
        assert answer.json() == {"detail": "The access token is invalid."}
