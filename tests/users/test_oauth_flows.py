"""SPEC §2 grants, through real HTTP like an AMS and a browser would drive them."""

import pytest
import requests

from tests.conftest import PASSWORD
from tests.users.test_oauth_support import (
    REDIRECT_URI,
    assert_oauth_error,
    authorize_url,
    bearer,
    log_in,
    obtain_code,
    pkce_pair,
    redirect_params,
    submit,
    token_request,
)

pytestmark = pytest.mark.django_db(transaction=True)


def exchange(base, code, auth=None, **extra) -> requests.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    return token_request(base, {**data, **extra}, auth=auth)


# --- authorization code, confidential client (the getting-started guide's example) ----------


def test_it_runs_the_guides_authorization_code_flow_without_pkce(base, apps, alice, browser):
    code = obtain_code(browser, base, "alice", apps.code.client_id)

    response = exchange(base, code, auth=(apps.code.client_id, apps.code_secret))

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "token_type", "scope", "refresh_token"}
    assert body["expires_in"] == 36000
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "all"
    account = requests.get(f"{base}/api/v1/account/", headers=bearer(body["access_token"]))
    assert account.status_code == 200
    assert account.json()["username"] == "alice"


def test_it_shows_the_application_and_its_scopes_on_the_consent_page(base, apps, alice, browser):
    consent = log_in(browser, base, "alice", authorize_url(base, apps.code.client_id))

    assert consent.status_code == 200
    assert "Coach Board AMS" in consent.text
    assert "Every AMS endpoint" in consent.text
    assert "Authorize" in consent.text and "Deny" in consent.text


def test_it_accepts_client_credentials_in_the_body_too(base, apps, alice, browser):
    code = obtain_code(browser, base, "alice", apps.code.client_id)

    response = exchange(base, code, client_id=apps.code.client_id, client_secret=apps.code_secret)

    assert response.status_code == 200, response.text


def test_it_redirects_with_access_denied_when_the_user_denies(base, apps, alice, browser):
    consent = log_in(browser, base, "alice", authorize_url(base, apps.code.client_id))

    denied = submit(browser, consent)

    query = redirect_params(denied)
    assert query["error"] == "access_denied"
    assert query["state"] == "xyz"
    assert "code" not in query


def test_it_refuses_a_code_twice(base, apps, alice, browser):
    code = obtain_code(browser, base, "alice", apps.code.client_id)
    auth = (apps.code.client_id, apps.code_secret)
    assert exchange(base, code, auth=auth).status_code == 200

    assert_oauth_error(exchange(base, code, auth=auth), 400, "invalid_grant")


def test_it_refuses_a_code_with_another_redirect_uri(base, apps, alice, browser):
    code = obtain_code(browser, base, "alice", apps.code.client_id)

    response = exchange(
        base,
        code,
        auth=(apps.code.client_id, apps.code_secret),
        redirect_uri="http://127.0.0.1:8001/other",
    )

    # RFC 6749 §5.2: not the redirect URI the code was issued for.
    assert_oauth_error(response, 400, "invalid_grant")


def test_it_refuses_a_code_issued_to_another_client(base, apps, alice, make_application, browser):
    other, other_secret = make_application(
        grant_type="authorization-code", redirect_uris=REDIRECT_URI
    )
    code = obtain_code(browser, base, "alice", apps.code.client_id)

    assert_oauth_error(
        exchange(base, code, auth=(other.client_id, other_secret)), 400, "invalid_grant"
    )


def test_it_shows_an_error_page_and_does_not_redirect_to_an_unregistered_uri(
    base, apps, alice, browser
):
    url = authorize_url(base, apps.code.client_id, redirect_uri="https://evil.example/steal")
    page = log_in(browser, base, "alice", url)

    assert page.status_code == 400
    assert "Location" not in page.headers
    assert "evil.example" not in page.headers.get("Location", "")
    assert page.headers["Content-Type"].startswith("text/html")
    assert "cannot be processed" in page.text
    assert "Mismatching redirect URI" in page.text


def test_it_shows_an_error_page_for_an_unknown_client(base, alice, browser):
    page = log_in(browser, base, "alice", authorize_url(base, "no-such-client"))

    assert page.status_code == 400
    assert "Location" not in page.headers
    assert "cannot be processed" in page.text


# --- authorization code, public client: PKCE S256 required ----------------------------------


def test_it_issues_tokens_to_a_public_client_with_a_correct_pkce_verifier(
    base, apps, carol, browser
):
    verifier, challenge = pkce_pair()
    code = obtain_code(
        browser,
        base,
        "carol",
        apps.spa.client_id,
        code_challenge=challenge,
        code_challenge_method="S256",
    )

    response = exchange(base, code, client_id=apps.spa.client_id, code_verifier=verifier)

    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "all"
    assert response.json()["refresh_token"]


def test_it_requires_pkce_of_a_public_client(base, apps, carol, browser):
    page = log_in(browser, base, "carol", authorize_url(base, apps.spa.client_id))

    query = redirect_params(page)
    assert query["error"] == "invalid_request"
    assert query["error_description"] == "Code challenge required."


def test_it_refuses_the_plain_pkce_method(base, apps, carol, browser):
    verifier, _ = pkce_pair()
    url = authorize_url(
        base, apps.spa.client_id, code_challenge=verifier, code_challenge_method="plain"
    )
    page = log_in(browser, base, "carol", url)

    query = redirect_params(page)
    assert query["error"] == "invalid_request"
    assert "S256" in query["error_description"]
    assert query["state"] == "xyz"
    assert "code" not in query


def test_it_refuses_a_wrong_pkce_verifier(base, apps, carol, browser):
    _, challenge = pkce_pair()
    wrong_verifier, _ = pkce_pair()
    code = obtain_code(
        browser,
        base,
        "carol",
        apps.spa.client_id,
        code_challenge=challenge,
        code_challenge_method="S256",
    )

    response = exchange(base, code, client_id=apps.spa.client_id, code_verifier=wrong_verifier)

    assert_oauth_error(response, 400, "invalid_grant")


def test_it_refuses_a_public_clients_code_without_its_verifier(base, apps, carol, browser):
    _, challenge = pkce_pair()
    code = obtain_code(
        browser,
        base,
        "carol",
        apps.spa.client_id,
        code_challenge=challenge,
        code_challenge_method="S256",
    )

    response = exchange(base, code, client_id=apps.spa.client_id)

    assert_oauth_error(response, 400, "invalid_request")


def test_it_verifies_pkce_when_a_confidential_client_uses_it(base, apps, alice, browser):
    _, challenge = pkce_pair()
    wrong_verifier, _ = pkce_pair()
    code = obtain_code(
        browser,
        base,
        "alice",
        apps.code.client_id,
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    auth = (apps.code.client_id, apps.code_secret)

    assert_oauth_error(
        exchange(base, code, auth=auth, code_verifier=wrong_verifier), 400, "invalid_grant"
    )


# --- password grant (legacy, confidential clients only) -------------------------------------


def password_data(username: str = "alice", password: str = PASSWORD) -> dict[str, str]:
    return {"grant_type": "password", "username": username, "password": password}


def test_it_issues_tokens_for_the_password_grant(base, apps, alice):
    response = token_request(
        base, password_data(), auth=(apps.password.client_id, apps.password_secret)
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "token_type", "scope", "refresh_token"}
    assert (body["expires_in"], body["token_type"], body["scope"]) == (36000, "Bearer", "all")


def test_it_refuses_the_password_grant_to_a_public_client(base, apps, alice):
    without_secret = token_request(
        base, {**password_data(), "client_id": apps.public_password.client_id}
    )
    empty_basic_secret = token_request(
        base, password_data(), auth=(apps.public_password.client_id, "")
    )

    assert_oauth_error(without_secret, 401, "invalid_client")
    assert_oauth_error(empty_basic_secret, 401, "invalid_client")


def test_it_refuses_a_wrong_password(base, apps, alice):
    response = token_request(
        base,
        password_data(password="not-the-password"),
        auth=(apps.password.client_id, apps.password_secret),
    )

    assert_oauth_error(response, 400, "invalid_grant")


def test_it_refuses_a_wrong_client_secret(base, apps, alice):
    response = token_request(base, password_data(), auth=(apps.password.client_id, "wrong"))

    assert_oauth_error(response, 401, "invalid_client")


def test_it_refuses_an_unknown_client(base, alice):
    response = token_request(base, password_data(), auth=("no-such-client", "whatever"))

    assert_oauth_error(response, 401, "invalid_client")


def test_it_refuses_a_grant_type_the_application_is_not_registered_for(base, apps, alice):
    response = token_request(base, password_data(), auth=(apps.code.client_id, apps.code_secret))

    assert_oauth_error(response, 400, "unauthorized_client")


def test_it_refuses_an_unsupported_grant_type(base, apps):
    response = token_request(
        base,
        {"grant_type": "urn:example:magic"},
        auth=(apps.password.client_id, apps.password_secret),
    )

    assert_oauth_error(response, 400, "unsupported_grant_type")


def test_it_refuses_scope_ingest_in_the_authorization_code_flow(base, apps, alice, browser):
    url = authorize_url(base, apps.code.client_id, scope="ingest")
    page = log_in(browser, base, "alice", url)

    query = redirect_params(page)
    assert query["error"] == "invalid_scope"
    assert query["state"] == "xyz"


def test_it_refuses_the_implicit_grant(base, apps, alice, browser):
    url = authorize_url(base, apps.code.client_id, response_type="token")
    page = log_in(browser, base, "alice", url)

    query = redirect_params(page)
    assert query["error"] == "unsupported_response_type"
    assert "access_token" not in query


@pytest.mark.parametrize(
    "data, auth, error",
    [
        ({}, None, "invalid_request"),
        ({"grant_type": "password"}, None, "invalid_request"),
        ({"grant_type": "password", "username": "alice"}, "password-app", "invalid_request"),
        ({"grant_type": "authorization_code"}, "code-app", "invalid_request"),
        ({"grant_type": "authorization_code", "code": "nope"}, "code-app", "invalid_grant"),
        ({"grant_type": "refresh_token"}, "password-app", "invalid_request"),
        ({"grant_type": "refresh_token", "refresh_token": "nope"}, "password-app", "invalid_grant"),
        ({"grant_type": "client_credentials", "scope": "bogus"}, "gateway", "invalid_scope"),
        (
            {"grant_type": "password", "username": "x\x00", "password": "y"},
            "password-app",
            "invalid_request",
        ),
    ],
)
def test_it_answers_every_token_error_as_json(base, apps, alice, data, auth, error):
    credentials = {
        None: None,
        "password-app": (apps.password.client_id, apps.password_secret),
        "code-app": (apps.code.client_id, apps.code_secret),
        "gateway": (apps.gateway.client_id, apps.gateway_secret),
    }[auth]

    response = token_request(base, data, auth=credentials)

    assert_oauth_error(response, 400, error)


def test_it_answers_a_malformed_basic_header_as_json(base, apps):
    response = requests.post(
        f"{base}/oauth2/token/",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic !!!not-base64"},
    )

    assert_oauth_error(response, 401, "invalid_client")


def test_it_answers_a_get_on_the_token_endpoint_with_json_405(base):
    response = requests.get(f"{base}/oauth2/token/")

    assert response.status_code == 405
    assert response.headers["Content-Type"].startswith("application/json")
