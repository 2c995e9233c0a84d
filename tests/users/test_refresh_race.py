"""Refresh-token rotation under a race, over real HTTP against the live server and PostgreSQL.

Eight requests present the same refresh token at once. Exactly one may rotate it; the other
seven are replays of a used token (RFC 9700 §4.14.2), which revoke the whole family, the pair
just issued to the winner included. The live server answers each request in its own thread
with its own database connection, as the real server does.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from oauth2_provider.models import AccessToken, RefreshToken

from tests.users.test_oauth_support import (
    account_status,
    bearer,
    password_token,
    token_request,
)

pytestmark = pytest.mark.django_db(transaction=True)

RACERS = 8
# Each round is a fresh authorization raced by RACERS requests; 50 rounds in a row must pass.
ROUNDS = int(os.environ.get("REFRESH_RACE_ROUNDS", "50"))


def race(base: str, auth: tuple[str, str], refresh_token: str) -> list[requests.Response]:
    """RACERS refresh requests with one token, released together."""
    start = threading.Barrier(RACERS)

    def refresh(_: int) -> requests.Response:
        start.wait()
        return token_request(
            base, {"grant_type": "refresh_token", "refresh_token": refresh_token}, auth=auth
        )

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        return list(pool.map(refresh, range(RACERS)))


def test_it_lets_exactly_one_of_concurrent_refreshes_win_and_revokes_the_family(
    live_server, apps, alice
):
    base = live_server.url
    auth = (apps.password.client_id, apps.password_secret)

    for round_number in range(ROUNDS):
        tokens = password_token(base, *auth, "alice")
        family = RefreshToken.objects.get(access_token__user=alice, revoked__isnull=True)

        responses = race(base, auth, tokens["refresh_token"])

        statuses = sorted(response.status_code for response in responses)
        assert statuses == [200] + [400] * (RACERS - 1), (round_number, statuses)
        for response in responses:
            assert response.headers["Content-Type"].startswith("application/json")
            if response.status_code == 400:
                assert response.json()["error"] == "invalid_grant", response.text
        (winner,) = [r.json() for r in responses if r.status_code == 200]
        # The replays revoked everything descending from the authorization, the winner's new
        # pair included (it may be the thief's).
        assert not RefreshToken.objects.filter(
            token_family=family.token_family, revoked__isnull=True
        ).exists(), round_number
        assert not AccessToken.objects.filter(user=alice).exists(), round_number
        account = requests.get(f"{base}/api/v1/account/", headers=bearer(winner["access_token"]))
        assert account.status_code == 401, round_number
        again = token_request(
            base,
            {"grant_type": "refresh_token", "refresh_token": winner["refresh_token"]},
            auth=auth,
        )
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant", round_number


def test_it_still_rotates_a_refresh_token_used_once(live_server, apps, alice):
    base = live_server.url
    auth = (apps.password.client_id, apps.password_secret)
    tokens = password_token(base, *auth, "alice")

    rotated = token_request(
        base, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, auth=auth
    )

    assert rotated.status_code == 200, rotated.text
    new = rotated.json()
    assert account_status(base, new["access_token"]) == 200
    assert RefreshToken.objects.filter(access_token__user=alice, revoked__isnull=True).count() == 1
