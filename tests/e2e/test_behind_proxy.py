"""A real daphne configured for a TLS-terminating proxy by its environment, spoken to as nginx would.

`TRUST_X_FORWARDED_PROTO=true` and `NUM_PROXIES=1` (docs/operations.md): requests arrive from
the proxy's address with `X-Forwarded-Proto: https` and the client's address appended to
`X-Forwarded-For`. Secure cookies are not sent back over the test's plain http by `requests`,
so the test sends the CSRF cookie itself, as the browser on the https page does.
"""

import os

import pytest
import requests
from django.conf import global_settings
from django.db import connection

from tests.conftest import PASSWORD
from tests.e2e.conftest import daphne

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HOST = "asi.example.org"


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("mails")
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        ALLOWED_HOSTS=f"{HOST},127.0.0.1",
        TRUST_X_FORWARDED_PROTO="true",
        NUM_PROXIES="1",
        THROTTLE_ANON="3/min",
        EMAIL_URL=f"filemail:///{tmp_path}",
        DEBUG="false",
    )
    with daphne(env) as base:
        yield base, tmp_path


def via_proxy(client_address: str = "203.0.113.7", **headers: str) -> dict:
    return {
        "Host": HOST,
        "X-Forwarded-Proto": "https",
        "X-Forwarded-For": client_address,
        **headers,
    }


def test_login_and_password_reset_behind_the_tls_proxy(server, alice, settings):
    base, mails = server
    # The server hashes as in production, not with the suite's fast test hasher.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    alice.set_password(PASSWORD)
    alice.save()
    page = requests.get(f"{base}/accounts/login/", headers=via_proxy(), timeout=10)
    assert page.status_code == 200
    csrf = page.cookies["csrftoken"]
    assert "secure" in page.headers["Set-Cookie"].lower()
    response = requests.post(
        f"{base}/accounts/login/",
        data={"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": csrf},
        headers=via_proxy(
            Origin=f"https://{HOST}",
            Referer=f"https://{HOST}/accounts/login/",
            Cookie=f"csrftoken={csrf}",
        ),
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text
    assert "sessionid" in response.cookies

    page = requests.get(f"{base}/accounts/password-reset/", headers=via_proxy(), timeout=10)
    csrf = page.cookies["csrftoken"]
    response = requests.post(
        f"{base}/accounts/password-reset/",
        data={"email": alice.email, "csrfmiddlewaretoken": csrf},
        headers=via_proxy(Origin=f"https://{HOST}", Cookie=f"csrftoken={csrf}"),
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text
    (mail,) = [path.read_text() for path in mails.iterdir()]
    assert f"https://{HOST}/accounts/reset/" in mail
    assert "http://" not in mail


def test_the_anonymous_limit_counts_the_address_the_proxy_appended(server):
    base, _ = server

    def register(forwarded_for: str) -> int:
        return requests.post(
            f"{base}/api/v1/managers/",
            json={},
            headers=via_proxy(forwarded_for),
            timeout=10,
        ).status_code

    # A client rotating what it writes itself: the proxy's own entry (the last) stays the same.
    statuses = [register(f"198.51.100.{i}, 203.0.113.7") for i in range(4)]
    assert statuses == [400, 400, 400, 429]
    assert register("203.0.113.8") == 400
