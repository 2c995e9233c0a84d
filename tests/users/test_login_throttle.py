"""Brute-force protection of password logins (users/login_throttle.py), on the real Redis cache.

The attacker guesses from one address (or many); the real user logs in from another. Client
addresses are set per request (`REMOTE_ADDR`), so Django's test client drives the views.
"""

import base64
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken

from tests.conftest import PASSWORD

ATTACKER = "203.0.113.66"
ALICE_AT_HOME = "198.51.100.7"
TOKEN = "/oauth2/token/"
LOGIN = "/accounts/login/"


@pytest.fixture
def password_app(make_application):
    return make_application(grant_type="password")


def token_attempt(app, username: str, password: str, address: str):
    application, secret = app
    credentials = base64.b64encode(f"{application.client_id}:{secret}".encode()).decode()
    return Client().post(
        TOKEN,
        {"grant_type": "password", "username": username, "password": password},
        HTTP_AUTHORIZATION=f"Basic {credentials}",
        REMOTE_ADDR=address,
    )


def login_attempt(username: str, password: str, address: str, client: Client | None = None):
    client = client or Client()
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def assert_throttled(response, window: int = 300) -> None:
    assert response.status_code == 429, response.content
    assert 0 < int(response["Retry-After"]) <= window


@pytest.mark.django_db
def test_it_throttles_password_guessing_at_the_token_endpoint(password_app, alice):
    responses = [token_attempt(password_app, "alice", f"guess-{n}", ATTACKER) for n in range(80)]

    statuses = [response.status_code for response in responses]
    limit = settings.LOGIN_FAILURES_PER_USERNAME_AND_ADDRESS
    assert statuses == [400] * limit + [429] * (80 - limit)
    assert {r.json()["error"] for r in responses[:limit]} == {"invalid_grant"}
    throttled = responses[-1]
    assert_throttled(throttled)
    assert throttled["Content-Type"] == "application/json"
    assert throttled.json()["error"] == "slow_down"
    assert "try again in" in throttled.json()["error_description"]
    # The right password is not even checked while throttled.
    assert_throttled(token_attempt(password_app, "alice", PASSWORD, ATTACKER))
    assert not AccessToken.objects.exists()


@pytest.mark.django_db
def test_it_throttles_password_guessing_at_the_login_page(alice):
    responses = [login_attempt("alice", f"guess-{n}", ATTACKER) for n in range(80)]

    statuses = [response.status_code for response in responses]
    limit = settings.LOGIN_FAILURES_PER_USERNAME_AND_ADDRESS
    assert statuses == [200] * limit + [429] * (80 - limit)
    assert_throttled(responses[-1])
    assert b"Too many failed logins" in responses[-1].content
    right_password = login_attempt("alice", PASSWORD, ATTACKER)
    assert_throttled(right_password)
    assert "_auth_user_id" not in right_password.wsgi_request.session


@pytest.mark.django_db
def test_it_lets_the_real_user_in_from_elsewhere_during_an_attack(password_app, alice):
    for n in range(80):
        token_attempt(password_app, "alice", f"guess-{n}", ATTACKER)
        login_attempt("alice", f"guess-{n}", ATTACKER)

    token = token_attempt(password_app, "alice", PASSWORD, ALICE_AT_HOME)
    page = login_attempt("alice", PASSWORD, ALICE_AT_HOME)

    assert token.status_code == 200, token.content
    assert page.status_code == 302
    assert page.wsgi_request.session["_auth_user_id"] == str(alice.pk)


@pytest.mark.django_db
def test_it_throttles_one_address_trying_many_accounts(password_app, make_user):
    limit = settings.LOGIN_FAILURES_PER_ADDRESS
    for n in range(limit):
        login_attempt(f"user{n}", "guess", ATTACKER)
    make_user("victim")

    from_attacker = token_attempt(password_app, "victim", PASSWORD, ATTACKER)
    from_elsewhere = token_attempt(password_app, "victim", PASSWORD, ALICE_AT_HOME)

    assert_throttled(from_attacker)
    assert from_elsewhere.status_code == 200


@pytest.mark.django_db
def test_it_throttles_many_addresses_guessing_one_account_until_the_window_ends(
    password_app, alice
):
    per_address = settings.LOGIN_FAILURES_PER_USERNAME_AND_ADDRESS
    botnet = [f"192.0.2.{n}" for n in range(settings.LOGIN_FAILURES_PER_USERNAME // per_address)]
    # Aligned on a window's start, so that the whole attack falls in one window.
    window = settings.LOGIN_FAILURE_WINDOW
    start = (timezone.now().timestamp() // window + 1) * window + 1
    with time_machine.travel(start, tick=False) as traveller:
        for address in botnet:
            for n in range(per_address):
                assert (
                    token_attempt(password_app, "alice", f"guess-{n}", address).status_code == 400
                )

        blocked = token_attempt(password_app, "alice", PASSWORD, ALICE_AT_HOME)
        traveller.shift(timedelta(seconds=window))
        after_the_window = token_attempt(password_app, "alice", PASSWORD, ALICE_AT_HOME)

    assert_throttled(blocked)
    assert int(blocked["Retry-After"]) == window - 1
    assert after_the_window.status_code == 200, after_the_window.content


@pytest.mark.django_db
def test_it_unblocks_the_attackers_address_after_the_window(alice):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for n in range(10):
            login_attempt("alice", f"guess-{n}", ATTACKER)
        blocked = login_attempt("alice", PASSWORD, ATTACKER)
        traveller.shift(timedelta(seconds=int(blocked["Retry-After"])))
        after = login_attempt("alice", PASSWORD, ATTACKER)

    assert_throttled(blocked)
    assert after.status_code == 302


@pytest.mark.django_db
def test_it_forgets_an_addresss_failures_for_a_username_after_a_successful_login(alice):
    window = settings.LOGIN_FAILURE_WINDOW
    start = (timezone.now().timestamp() // window + 1) * window + 1
    limit = settings.LOGIN_FAILURES_PER_USERNAME_AND_ADDRESS
    with time_machine.travel(start, tick=False):
        typos = [login_attempt("alice", "typo", ALICE_AT_HOME) for _ in range(limit - 1)]
        success = login_attempt("alice", PASSWORD, ALICE_AT_HOME)
        more_typos = [login_attempt("alice", "typo", ALICE_AT_HOME) for _ in range(limit - 1)]
        again = login_attempt("alice", PASSWORD, ALICE_AT_HOME)

    assert {r.status_code for r in typos + more_typos} == {200}
    assert success.status_code == 302
    assert again.status_code == 302


@pytest.mark.django_db
def test_it_throttles_the_admin_login_too(admin):
    limit = settings.LOGIN_FAILURES_PER_USERNAME_AND_ADDRESS
    client = Client()
    for n in range(limit):
        client.post(
            "/admin/login/", {"username": "root", "password": f"guess-{n}"}, REMOTE_ADDR=ATTACKER
        )

    response = client.post(
        "/admin/login/", {"username": "root", "password": PASSWORD}, REMOTE_ADDR=ATTACKER
    )

    assert response.status_code == 200  # the admin's page: refused like a wrong password
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_it_counts_no_failure_for_a_wrong_client(password_app, alice):
    application, _ = password_app
    for _ in range(10):
        response = token_attempt((application, "wrong-secret"), "alice", "guess", ATTACKER)
        assert response.status_code == 401

    assert token_attempt(password_app, "alice", PASSWORD, ATTACKER).status_code == 200
