"""SPEC §2 token life: refresh rotation, scopes, revocation, introspection, expiry, CORS.

Every token here comes from the token endpoint over real HTTP, never from the database.
"""

from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from oauth2_provider.models import AccessToken, RefreshToken

from tests.conftest import PASSWORD
from tests.users.test_oauth_support import (
    account_status,
    assert_oauth_error,
    bearer,
    introspect,
    password_token,
    token_request,
)

pytestmark = pytest.mark.django_db(transaction=True)

ACCOUNT = "/api/v1/account/"
TEST_INGEST = "/api/v1/test-ingest/"


def alice_tokens(base, apps) -> dict:
    return password_token(base, apps.password.client_id, apps.password_secret, "alice")


def refresh(base, apps, refresh_token: str) -> requests.Response:
    return token_request(
        base,
        {"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(apps.password.client_id, apps.password_secret),
    )


def gateway_token(base, apps, **extra) -> requests.Response:
    return token_request(
        base,
        {"grant_type": "client_credentials", **extra},
        auth=(apps.gateway.client_id, apps.gateway_secret),
    )


# --- refresh rotation and reuse protection --------------------------------------------------


def test_it_rotates_the_refresh_token_on_each_use(base, apps, alice):
    first = alice_tokens(base, apps)

    second = refresh(base, apps, first["refresh_token"])
    third = refresh(base, apps, second.json()["refresh_token"])

    assert second.status_code == 200 and third.status_code == 200, second.text + third.text
    tokens = [first, second.json(), third.json()]
    assert len({t["refresh_token"] for t in tokens}) == 3
    assert len({t["access_token"] for t in tokens}) == 3
    assert third.json()["scope"] == "all"
    assert third.json()["expires_in"] == 36000
    assert account_status(base, first["access_token"]) == 401
    assert account_status(base, third.json()["access_token"]) == 200


def test_it_revokes_the_whole_family_when_a_used_refresh_token_is_replayed(base, apps, alice):
    first = alice_tokens(base, apps)
    second = refresh(base, apps, first["refresh_token"]).json()
    third = refresh(base, apps, second["refresh_token"]).json()

    replay = refresh(base, apps, first["refresh_token"])

    assert_oauth_error(replay, 400, "invalid_grant")
    # The thief replayed an old token: the newest tokens, whoever holds them, stop working.
    assert account_status(base, third["access_token"]) == 401
    assert_oauth_error(refresh(base, apps, third["refresh_token"]), 400, "invalid_grant")


def test_it_refuses_a_refresh_token_of_another_client(base, apps, alice, make_application):
    other, other_secret = make_application(grant_type="password")
    tokens = alice_tokens(base, apps)

    response = token_request(
        base,
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(other.client_id, other_secret),
    )

    assert_oauth_error(response, 400, "invalid_grant")
    assert account_status(base, tokens["access_token"]) == 200


def test_it_refuses_a_refresh_token_older_than_thirty_days(base, apps, alice):
    tokens = alice_tokens(base, apps)
    AccessToken.objects.filter(user=alice).update(
        expires=timezone.now() - timedelta(days=30, seconds=1)
    )

    assert_oauth_error(refresh(base, apps, tokens["refresh_token"]), 400, "invalid_grant")


# --- client credentials (gateways) and scopes -----------------------------------------------


def test_it_gives_a_gateway_the_ingest_scope_only(base, apps):
    response = gateway_token(base, apps)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"] == "ingest"
    assert body["expires_in"] == 36000
    assert "refresh_token" not in body
    assert AccessToken.objects.get(application=apps.gateway).user is None


def test_it_refuses_scope_all_to_a_gateway(base, apps):
    assert_oauth_error(gateway_token(base, apps, scope="all"), 400, "invalid_scope")


def test_it_refuses_scope_ingest_to_a_user_facing_application(base, apps, alice):
    response = token_request(
        base,
        {"grant_type": "password", "username": "alice", "password": PASSWORD, "scope": "ingest"},
        auth=(apps.password.client_id, apps.password_secret),
    )

    assert_oauth_error(response, 400, "invalid_scope")


def test_it_refuses_the_client_credentials_grant_to_a_public_client(base, make_application):
    public_gateway, _ = make_application(grant_type="client-credentials", client_type="public")

    response = token_request(
        base, {"grant_type": "client_credentials"}, auth=(public_gateway.client_id, "")
    )

    assert_oauth_error(response, 401, "invalid_client")


@pytest.mark.urls("tests.users.oauth_test_urls")
def test_it_keeps_all_tokens_out_of_ingestion_and_ingest_tokens_out_of_the_rest(base, apps, alice):
    all_token = alice_tokens(base, apps)["access_token"]
    ingest_token = gateway_token(base, apps).json()["access_token"]

    all_on_ingest = requests.post(f"{base}{TEST_INGEST}", json={}, headers=bearer(all_token))
    ingest_on_ingest = requests.post(f"{base}{TEST_INGEST}", json={}, headers=bearer(ingest_token))
    ingest_on_account = requests.get(f"{base}{ACCOUNT}", headers=bearer(ingest_token))

    assert all_on_ingest.status_code == 403
    assert ingest_on_ingest.status_code == 200
    assert ingest_on_account.status_code == 403
    assert "scope" in ingest_on_account.json()["detail"]


# --- revocation (RFC 7009) ------------------------------------------------------------------


def revoke(base, apps, token: str, hint: str | None = None) -> requests.Response:
    data = {"token": token, **({"token_type_hint": hint} if hint else {})}
    return requests.post(
        f"{base}/oauth2/revoke-token/",
        data=data,
        auth=(apps.password.client_id, apps.password_secret),
    )


def test_it_revokes_an_access_token(base, apps, alice):
    tokens = alice_tokens(base, apps)

    response = revoke(base, apps, tokens["access_token"], "access_token")

    assert response.status_code == 200
    assert account_status(base, tokens["access_token"]) == 401
    # Revoking the access token takes its refresh token with it (nothing left to mint from).
    assert_oauth_error(refresh(base, apps, tokens["refresh_token"]), 400, "invalid_grant")


def test_it_revokes_a_refresh_token_and_its_access_token(base, apps, alice):
    tokens = alice_tokens(base, apps)

    response = revoke(base, apps, tokens["refresh_token"], "refresh_token")

    assert response.status_code == 200
    assert account_status(base, tokens["access_token"]) == 401
    assert_oauth_error(refresh(base, apps, tokens["refresh_token"]), 400, "invalid_grant")


def test_it_does_not_let_a_client_revoke_another_clients_token(base, apps, alice):
    tokens = alice_tokens(base, apps)

    response = requests.post(
        f"{base}/oauth2/revoke-token/",
        data={"token": tokens["access_token"]},
        auth=(apps.code.client_id, apps.code_secret),
    )

    assert response.status_code == 200  # RFC 7009: no hint whether the token exists
    assert account_status(base, tokens["access_token"]) == 200


def test_it_refuses_revocation_without_client_authentication(base, apps, alice):
    tokens = alice_tokens(base, apps)

    response = requests.post(f"{base}/oauth2/revoke-token/", data={"token": tokens["access_token"]})

    assert_oauth_error(response, 401, "invalid_client")
    assert account_status(base, tokens["access_token"]) == 200


# --- introspection (RFC 7662) ---------------------------------------------------------------


def test_it_introspects_an_active_token_for_its_own_client(base, apps, alice):
    tokens = alice_tokens(base, apps)
    before = timezone.now()

    response = introspect(
        base, (apps.password.client_id, apps.password_secret), tokens["access_token"]
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["active"] is True
    assert body["scope"] == "all"
    assert body["client_id"] == apps.password.client_id
    assert body["username"] == "alice"
    assert abs(body["exp"] - (before.timestamp() + 36000)) < 60


def test_it_introspects_a_revoked_token_as_inactive(base, apps, alice):
    tokens = alice_tokens(base, apps)
    revoke(base, apps, tokens["access_token"])

    # Asked by its own client, the only one that could learn anything about it.
    response = introspect(
        base, (apps.password.client_id, apps.password_secret), tokens["access_token"]
    )

    assert response.status_code == 200
    assert response.json() == {"active": False}


def test_it_introspects_an_unknown_token_as_inactive(base, apps):
    response = introspect(base, (apps.gateway.client_id, apps.gateway_secret), "no-such-token")

    assert response.json() == {"active": False}


def test_it_refuses_introspection_to_an_unauthenticated_caller(base, apps, alice):
    tokens = alice_tokens(base, apps)

    anonymous = introspect(base, None, tokens["access_token"])
    wrong_secret = introspect(base, (apps.gateway.client_id, "wrong"), tokens["access_token"])
    # A user's token does not carry the `introspection` scope: it cannot introspect either.
    with_user_token = requests.post(
        f"{base}/oauth2/introspect/",
        data={"token": tokens["access_token"]},
        headers=bearer(tokens["access_token"]),
    )

    # RFC 7662 §2.3: 401, as RFC 6749 §5.2 (client credentials) and RFC 6750 §3 (bearer) say.
    assert_oauth_error(anonymous, 401, "invalid_client")
    assert_oauth_error(wrong_secret, 401, "invalid_client")
    assert wrong_secret.headers["WWW-Authenticate"].startswith("Basic")
    assert_oauth_error(with_user_token, 401, "invalid_token")
    assert with_user_token.headers["WWW-Authenticate"].startswith("Bearer")
    for response in (anonymous, wrong_secret, with_user_token):
        assert "username" not in response.text
        assert "alice" not in response.text


# --- expiry and missing credentials ---------------------------------------------------------


def test_it_answers_401_to_an_expired_token(base, apps, alice):
    tokens = alice_tokens(base, apps)
    AccessToken.objects.filter(user=alice).update(expires=timezone.now() - timedelta(seconds=1))

    response = requests.get(f"{base}{ACCOUNT}", headers=bearer(tokens["access_token"]))

    assert response.status_code == 401
    assert response.json()["detail"]


def test_it_answers_401_json_without_an_authorization_header(base):
    response = requests.get(f"{base}{ACCOUNT}")

    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["detail"]


def test_it_answers_401_to_a_made_up_token(base):
    assert account_status(base, "made-up-token") == 401


def test_it_stores_tokens_for_the_lifetimes_of_the_spec(base, apps, alice):
    alice_tokens(base, apps)
    token = AccessToken.objects.get(user=alice)

    assert timedelta(seconds=35990) < token.expires - timezone.now() <= timedelta(seconds=36000)
    assert RefreshToken.objects.get(access_token=token).revoked is None


# --- CORS -----------------------------------------------------------------------------------

SPA_ORIGIN = "https://spa.example.org"
OTHER_ORIGIN = "https://elsewhere.example.org"


def test_it_answers_cors_on_the_token_endpoint_for_an_allowed_origin_only(base, apps, alice):
    data = {"grant_type": "password", "username": "alice", "password": "wrong"}
    auth = (apps.password.client_id, apps.password_secret)

    allowed = token_request(base, data, auth=auth, headers={"Origin": SPA_ORIGIN})
    other = token_request(base, data, auth=auth, headers={"Origin": OTHER_ORIGIN})
    preflight = requests.options(
        f"{base}/oauth2/token/",
        headers={"Origin": SPA_ORIGIN, "Access-Control-Request-Method": "POST"},
    )

    assert allowed.headers.get("Access-Control-Allow-Origin") == SPA_ORIGIN
    assert "Access-Control-Allow-Origin" not in other.headers
    assert preflight.status_code == 200
    assert preflight.headers.get("Access-Control-Allow-Origin") == SPA_ORIGIN


def test_it_answers_cors_on_the_rest_api_for_an_allowed_origin_only(base, apps, alice):
    access_token = alice_tokens(base, apps)["access_token"]

    allowed = requests.get(
        f"{base}{ACCOUNT}", headers={**bearer(access_token), "Origin": SPA_ORIGIN}
    )
    other = requests.get(
        f"{base}{ACCOUNT}", headers={**bearer(access_token), "Origin": OTHER_ORIGIN}
    )
    preflight = requests.options(
        f"{base}{ACCOUNT}",
        headers={
            "Origin": SPA_ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    other_preflight = requests.options(
        f"{base}{ACCOUNT}",
        headers={"Origin": OTHER_ORIGIN, "Access-Control-Request-Method": "GET"},
    )

    assert allowed.status_code == 200
    assert allowed.headers.get("Access-Control-Allow-Origin") == SPA_ORIGIN
    assert "Access-Control-Allow-Origin" not in other.headers
    assert preflight.status_code == 200
    assert preflight.headers.get("Access-Control-Allow-Origin") == SPA_ORIGIN
    assert "authorization" in preflight.headers.get("Access-Control-Allow-Headers", "").lower()
    assert "Access-Control-Allow-Origin" not in other_preflight.headers


def test_it_does_not_match_an_origin_by_prefix(base, apps):
    response = requests.options(
        f"{base}{ACCOUNT}",
        headers={"Origin": SPA_ORIGIN + ".evil.example", "Access-Control-Request-Method": "GET"},
    )

    assert "Access-Control-Allow-Origin" not in response.headers
