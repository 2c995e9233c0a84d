"""Hostile OAuth input, over real HTTP: NUL characters, repeated parameters, unoffered grants,
redirect URIs that are not exactly the registered one, introspection by strangers, and bearer
tokens outside the Authorization header.

Every refusal is checked for its exact status (where an RFC fixes it), its RFC 6749 error body,
and for leaving nothing stored.
"""

import base64
from urllib.parse import urlencode

import pytest
import requests
from oauth2_provider.models import AccessToken, RefreshToken, get_grant_model

from tests.conftest import PASSWORD
from tests.users.test_oauth_support import (
    REDIRECT_URI,
    account_status,
    assert_oauth_error,
    authorize_url,
    bearer,
    introspect,
    log_in,
    obtain_code,
    password_token,
    pkce_pair,
    submit,
    token_request,
)

pytestmark = pytest.mark.django_db(transaction=True)

AuthorizationCode = get_grant_model()  # DOT's authorization codes
ACCOUNT = "/api/v1/account/"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"


def nothing_stored() -> bool:
    return (
        not AccessToken.objects.exists()
        and not RefreshToken.objects.exists()
        and not AuthorizationCode.objects.exists()
    )


def basic(client_id: str, secret: str) -> dict[str, str]:
    credentials = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def assert_error_page(response: requests.Response, error: str, text: str = "") -> None:
    """The authorize endpoint's refusal: an HTML page, never a redirect to the client."""
    assert response.status_code == 400, response.text
    assert "Location" not in response.headers
    assert response.headers["Content-Type"].startswith("text/html")
    assert error in response.text
    assert text in response.text


# --- NUL characters -------------------------------------------------------------------------


def test_it_refuses_an_authorization_code_with_a_nul(base, apps, alice):
    response = token_request(
        base,
        {"grant_type": "authorization_code", "code": "x\x00y", "redirect_uri": REDIRECT_URI},
        auth=(apps.code.client_id, apps.code_secret),
    )

    assert_oauth_error(response, 400, "invalid_request")
    assert "NUL" in response.json()["error_description"]
    assert nothing_stored()


TOKEN_REQUESTS = {
    "authorization_code": {
        "grant_type": "authorization_code",
        "code": "some-code",
        "redirect_uri": REDIRECT_URI,
        "code_verifier": "v" * 43,
    },
    "password": {
        "grant_type": "password",
        "username": "alice",
        "password": PASSWORD,
        "scope": "all",
    },
    "refresh_token": {"grant_type": "refresh_token", "refresh_token": "r", "scope": "all"},
    "client_credentials": {"grant_type": "client_credentials", "scope": "ingest"},
}


@pytest.mark.parametrize(
    "grant, parameter",
    [(grant, parameter) for grant, data in TOKEN_REQUESTS.items() for parameter in data]
    + [(grant, "client_id") for grant in TOKEN_REQUESTS]
    + [(grant, "client_secret") for grant in TOKEN_REQUESTS],
)
def test_it_refuses_a_nul_in_every_token_parameter(base, apps, alice, grant, parameter):
    app, secret = {
        "authorization_code": (apps.code, apps.code_secret),
        "password": (apps.password, apps.password_secret),
        "refresh_token": (apps.password, apps.password_secret),
        "client_credentials": (apps.gateway, apps.gateway_secret),
    }[grant]
    data = {**TOKEN_REQUESTS[grant], "client_id": app.client_id, "client_secret": secret}
    data[parameter] = data[parameter][:3] + "\x00" + data[parameter][3:]

    response = token_request(base, data)

    assert_oauth_error(response, 400, "invalid_request")
    assert nothing_stored()


@pytest.mark.parametrize("which", ["client_id", "client_secret"])
def test_it_refuses_a_nul_in_basic_credentials(base, apps, alice, which):
    client_id, secret = apps.password.client_id, apps.password_secret
    if which == "client_id":
        client_id += "%00"  # form-encoded inside the Basic credentials (RFC 6749 §2.3.1)
    else:
        secret += "\x00"

    response = token_request(base, TOKEN_REQUESTS["password"], headers=basic(client_id, secret))

    assert_oauth_error(response, 400, "invalid_request")
    assert nothing_stored()


@pytest.mark.parametrize("endpoint", ["revoke-token", "introspect"])
@pytest.mark.parametrize("parameter", ["token", "token_type_hint", "client_id", "client_secret"])
def test_it_refuses_a_nul_in_every_revocation_and_introspection_parameter(
    base, apps, alice, endpoint, parameter
):
    tokens = password_token(base, apps.password.client_id, apps.password_secret, "alice")
    data = {
        "token": tokens["access_token"],
        "token_type_hint": "access_token",
        "client_id": apps.password.client_id,
        "client_secret": apps.password_secret,
    }
    data[parameter] += "\x00"

    response = requests.post(f"{base}/oauth2/{endpoint}/", data=data)

    assert_oauth_error(response, 400, "invalid_request")
    assert "username" not in response.text  # introspection told nothing
    assert account_status(base, tokens["access_token"]) == 200  # revocation revoked nothing


@pytest.mark.parametrize(
    "parameter",
    [
        "response_type",
        "client_id",
        "redirect_uri",
        "state",
        "scope",
        "code_challenge",
        "code_challenge_method",
    ],
)
def test_it_refuses_a_nul_in_every_authorization_parameter(base, apps, alice, browser, parameter):
    _, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": apps.code.client_id,
        "redirect_uri": REDIRECT_URI,
        "state": "xyz",
        "scope": "all",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params[parameter] += "\x00"
    url = f"{base}/oauth2/authorize/?{urlencode(params)}"

    anonymous = requests.get(url, allow_redirects=False)
    logged_in = log_in(browser, base, "alice", url)

    assert_error_page(anonymous, "invalid_request", "NUL")
    assert_error_page(logged_in, "invalid_request", "NUL")
    assert nothing_stored()


def test_it_refuses_a_nul_posted_back_by_the_consent_form(base, apps, alice, browser):
    consent = log_in(browser, base, "alice", authorize_url(base, apps.code.client_id))
    assert consent.status_code == 200

    response = submit(browser, consent, {"state": "xyz\x00"}, button="allow")

    assert_error_page(response, "invalid_request", "NUL")
    assert nothing_stored()


# --- repeated parameters --------------------------------------------------------------------


@pytest.mark.parametrize("parameter", ["username", "password", "grant_type", "scope", "client_id"])
def test_it_refuses_a_repeated_token_parameter(base, apps, alice, parameter):
    data = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", PASSWORD),
        ("scope", "all"),
        ("client_id", apps.password.client_id),
        ("client_secret", apps.password_secret),
    ]
    value = dict(data)[parameter]
    data.append((parameter, "mallory" if parameter == "username" else value))

    response = token_request(base, data)

    assert_oauth_error(response, 400, "invalid_request")
    assert "Repeated parameter" in response.json()["error_description"]
    assert nothing_stored()


def test_it_refuses_a_repeated_authorization_code(base, apps, alice, browser):
    code = obtain_code(browser, base, "alice", apps.code.client_id)
    data = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("code", "another"),
        ("redirect_uri", REDIRECT_URI),
    ]

    response = token_request(base, data, auth=(apps.code.client_id, apps.code_secret))

    assert_oauth_error(response, 400, "invalid_request")
    assert not AccessToken.objects.exists()


@pytest.mark.parametrize("endpoint", ["/oauth2/revoke-token/", "/oauth2/introspect/"])
def test_it_refuses_a_repeated_token_at_revocation_and_introspection(base, apps, alice, endpoint):
    tokens = password_token(base, apps.password.client_id, apps.password_secret, "alice")
    other = password_token(base, apps.password.client_id, apps.password_secret, "alice")

    response = requests.post(
        f"{base}{endpoint}",
        data=[("token", other["access_token"]), ("token", tokens["access_token"])],
        auth=(apps.password.client_id, apps.password_secret),
    )

    assert_oauth_error(response, 400, "invalid_request")
    assert account_status(base, tokens["access_token"]) == 200
    assert account_status(base, other["access_token"]) == 200


@pytest.mark.parametrize("parameter", ["state", "code_challenge", "scope", "client_id"])
def test_it_refuses_a_repeated_authorization_parameter(base, apps, alice, browser, parameter):
    _, challenge = pkce_pair()
    url = authorize_url(
        base,
        apps.code.client_id,
        scope="all",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    url += f"&{parameter}=" + {"client_id": apps.spa.client_id, "scope": "all"}.get(
        parameter, "other"
    )

    page = log_in(browser, base, "alice", url)

    assert_error_page(page, "invalid_request")
    assert nothing_stored()


def test_it_refuses_parameters_in_the_query_of_a_token_request_with_a_json_error(base, apps, alice):
    response = requests.post(
        f"{base}/oauth2/token/?username=mallory",
        data={"grant_type": "password", "username": "alice", "password": PASSWORD},
        auth=(apps.password.client_id, apps.password_secret),
    )

    assert_oauth_error(response, 400, "invalid_request")
    assert set(response.json()) == {"error", "error_description"}
    assert response.headers["Cache-Control"] == "no-store"
    assert nothing_stored()


@pytest.mark.parametrize("endpoint", ["/oauth2/revoke-token/", "/oauth2/introspect/"])
def test_it_refuses_a_query_at_revocation_and_introspection(base, apps, alice, endpoint):
    tokens = password_token(base, apps.password.client_id, apps.password_secret, "alice")
    credentials = f"client_id={apps.password.client_id}&client_secret={apps.password_secret}"

    response = requests.post(
        f"{base}{endpoint}?{credentials}", data={"token": tokens["access_token"]}
    )

    assert_oauth_error(response, 400, "invalid_request")
    assert set(response.json()) == {"error", "error_description"}
    assert account_status(base, tokens["access_token"]) == 200


# --- grants the server does not offer -------------------------------------------------------


@pytest.mark.parametrize("extra", [{}, {"device_code": "some-device-code"}])
def test_it_refuses_the_device_code_grant(base, apps, extra):
    response = token_request(
        base,
        {"grant_type": DEVICE_CODE, **extra},
        auth=(apps.password.client_id, apps.password_secret),
    )

    assert_oauth_error(response, 400, "unsupported_grant_type")
    assert set(response.json()) <= {"error", "error_description"}


def test_it_answers_the_implicit_response_type_as_unsupported(base, apps, alice, browser):
    page = log_in(
        browser, base, "alice", authorize_url(base, apps.code.client_id, response_type="token")
    )

    assert page.status_code == 302
    assert page.headers["Location"].startswith(REDIRECT_URI + "?")
    assert "error=unsupported_response_type" in page.headers["Location"]
    assert "access_token" not in page.headers["Location"]


# --- redirect URIs match exactly ------------------------------------------------------------


def test_it_refuses_a_loopback_redirect_uri_on_another_port(base, apps, alice, browser):
    other_port = REDIRECT_URI.replace(":8001/", ":8002/")

    page = log_in(
        browser, base, "alice", authorize_url(base, apps.code.client_id, redirect_uri=other_port)
    )

    assert_error_page(page, "invalid_request", "Mismatching redirect URI")
    assert nothing_stored()


@pytest.mark.parametrize(
    "registered, requested",
    [
        ("http://127.0.0.1/callback", "http://127.0.0.1:5555/callback"),
        ("http://[::1]:8001/callback", "http://[::1]:5555/callback"),
        ("http://localhost:8001/callback", "http://localhost:5555/callback"),
    ],
)
def test_it_refuses_another_port_for_every_loopback_form(
    base, alice, browser, make_application, registered, requested
):
    app, _ = make_application(grant_type="authorization-code", redirect_uris=registered)

    page = log_in(
        browser, base, "alice", authorize_url(base, app.client_id, redirect_uri=requested)
    )

    assert_error_page(page, "invalid_request", "Mismatching redirect URI")


def test_it_refuses_a_code_exchanged_with_the_redirect_uri_on_another_port(
    base, apps, alice, browser
):
    code = obtain_code(browser, base, "alice", apps.code.client_id)

    response = token_request(
        base,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI.replace(":8001/", ":8002/"),
        },
        auth=(apps.code.client_id, apps.code_secret),
    )

    assert_oauth_error(response, 400, "invalid_grant")
    assert not AccessToken.objects.exists()


def test_it_refuses_a_code_exchanged_without_the_redirect_uri_it_was_issued_for(
    base, apps, alice, browser
):
    code = obtain_code(browser, base, "alice", apps.code.client_id)
    auth = (apps.code.client_id, apps.code_secret)

    without = token_request(base, {"grant_type": "authorization_code", "code": code}, auth=auth)
    with_it = token_request(
        base,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        auth=auth,
    )

    assert_oauth_error(without, 400, "invalid_request")
    assert "redirect URI" in without.json()["error_description"]
    assert with_it.status_code == 200, with_it.text  # the refusal did not burn the code


def test_it_requires_the_redirect_uri_in_the_authorization_request(base, apps, alice, browser):
    url = authorize_url(base, apps.code.client_id).replace(
        "&redirect_uri=" + requests.utils.quote(REDIRECT_URI, safe=""), ""
    )
    assert "redirect_uri" not in url

    page = log_in(browser, base, "alice", url)

    assert_error_page(page, "invalid_request", "Missing redirect URI")
    assert nothing_stored()


# --- introspection (RFC 7662; its own client and strangers: test_oauth_tokens.py) ------------


def test_it_tells_another_client_nothing_about_a_token(base, apps, alice):
    tokens = password_token(base, apps.password.client_id, apps.password_secret, "alice")

    gateway = introspect(
        base, (apps.gateway.client_id, apps.gateway_secret), tokens["access_token"]
    )
    other_ams = introspect(base, (apps.code.client_id, apps.code_secret), tokens["access_token"])

    for response in (gateway, other_ams):
        assert response.status_code == 200
        assert response.json() == {"active": False}


def test_it_introspects_any_token_for_a_listed_resource_server(base, apps, alice, settings):
    settings.OAUTH_INTROSPECTION_CLIENT_IDS = [apps.gateway.client_id]
    tokens = password_token(base, apps.password.client_id, apps.password_secret, "alice")

    response = introspect(
        base, (apps.gateway.client_id, apps.gateway_secret), tokens["access_token"]
    )

    assert response.json()["active"] is True
    assert response.json()["username"] == "alice"


def test_it_does_not_introspect_a_token_sent_in_the_url(base, apps, alice):
    tokens = password_token(base, apps.password.client_id, apps.password_secret, "alice")

    response = requests.get(
        f"{base}/oauth2/introspect/",
        params={"token": tokens["access_token"]},
        auth=(apps.password.client_id, apps.password_secret),
    )

    assert response.status_code == 405
    assert "alice" not in response.text


# --- bearer tokens only in the Authorization header -----------------------------------------


def test_it_ignores_an_access_token_in_the_query(base, apps, alice):
    tokens = password_token(base, apps.password.client_id, apps.password_secret, "alice")

    in_query = requests.get(f"{base}{ACCOUNT}", params={"access_token": tokens["access_token"]})
    in_header = requests.get(f"{base}{ACCOUNT}", headers=bearer(tokens["access_token"]))

    assert in_query.status_code == 401
    assert in_query.headers["Content-Type"].startswith("application/json")
    assert in_header.status_code == 200


def test_it_ignores_an_access_token_in_a_form_body(base, apps, alice):
    tokens = password_token(base, apps.password.client_id, apps.password_secret, "alice")

    response = requests.post(
        f"{base}{ACCOUNT}change-password/",
        data={"access_token": tokens["access_token"], "old_password": PASSWORD},
    )

    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("application/json")


def test_it_does_not_let_an_access_token_in_the_query_authorize_introspection(
    base, apps, alice, make_application
):
    tokens = password_token(base, apps.password.client_id, apps.password_secret, "alice")

    response = requests.post(
        f"{base}/oauth2/introspect/?access_token={tokens['access_token']}",
        data={"token": tokens["access_token"]},
    )

    assert_oauth_error(response, 400, "invalid_request")
    assert "alice" not in response.text


def test_it_does_not_take_client_credentials_from_the_query_of_a_revocation(base, apps, alice):
    tokens = password_token(base, apps.password.client_id, apps.password_secret, "alice")

    response = requests.post(
        f"{base}/oauth2/revoke-token/?access_token={tokens['access_token']}",
        data={"token": tokens["access_token"]},
    )

    assert_oauth_error(response, 400, "invalid_request")
    assert account_status(base, tokens["access_token"]) == 200


def test_it_answers_401_to_a_revocation_without_client_authentication(base, apps, alice):
    tokens = password_token(base, apps.password.client_id, apps.password_secret, "alice")

    response = requests.post(f"{base}/oauth2/revoke-token/", data={"token": tokens["access_token"]})

    assert_oauth_error(response, 401, "invalid_client")
    assert account_status(base, tokens["access_token"]) == 200
