"""Behind a reverse proxy: whose address is throttled, and what a TLS-terminating proxy changes.

Forwarded headers are believed only as far as the operator configured (`NUM_PROXIES`,
`TRUST_X_FORWARDED_PROTO`); tests/e2e/test_behind_proxy.py starts daphne with those variables.
"""

import pytest
from django.test import Client
from rest_framework.settings import api_settings

from asi_api.throttles import AnonRateThrottle
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

HOST = "asi.example.org"
# What nginx adds in front of daphne when it terminates TLS.
VIA_TLS_PROXY = {"HTTP_HOST": HOST, "HTTP_X_FORWARDED_PROTO": "https"}


@pytest.fixture
def two_anonymous_per_minute(monkeypatch):
    # DRF copies the rates onto the class when it is defined; patch them there.
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "anon": "2/min"}
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", rates)


def register(client: Client, **headers) -> int:
    # Registration is the one thing anonymous callers may do; an empty body is a cheap 400.
    return client.post(
        "/api/v1/managers/", {}, content_type="application/json", **headers
    ).status_code


def test_it_ignores_x_forwarded_for_by_default(client, two_anonymous_per_minute):
    assert api_settings.NUM_PROXIES == 0
    statuses = [register(client, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}") for i in range(4)]
    assert statuses == [400, 400, 429, 429]


def test_behind_one_proxy_it_counts_the_address_the_proxy_appended(
    client, settings, two_anonymous_per_minute
):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    # Whatever the client wrote itself comes before the proxy's entry and changes nothing.
    statuses = [
        register(client, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}, 203.0.113.7", **proxy)
        for i in range(3)
    ]
    assert statuses == [400, 400, 429]
    # Another client behind the same proxy has a budget of its own.
    assert register(client, HTTP_X_FORWARDED_FOR="203.0.113.8", **proxy) == 400


@pytest.fixture
def behind_tls_proxy(settings):
    """What TRUST_X_FORWARDED_PROTO=true sets (asi_api/settings.py)."""
    settings.ALLOWED_HOSTS = [HOST]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


def login_from_the_https_page(username: str) -> int:
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/accounts/login/", **VIA_TLS_PROXY)
    assert page.status_code == 200
    response = browser.post(
        "/accounts/login/",
        {
            "username": username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": page.cookies["csrftoken"].value,
        },
        HTTP_ORIGIN=f"https://{HOST}",
        HTTP_REFERER=f"https://{HOST}/accounts/login/",
        **VIA_TLS_PROXY,
    )
    return response.status_code


def test_a_login_posted_from_the_https_page_passes_csrf(alice, behind_tls_proxy):
    assert login_from_the_https_page("alice") == 302


def test_without_the_proxy_header_the_https_origin_fails_csrf(alice, settings):
    # What happened before: the request looked like http, the browser's Origin said https.
    settings.ALLOWED_HOSTS = [HOST]
    assert login_from_the_https_page("alice") == 403


def test_password_reset_mails_carry_https_links(client, alice, behind_tls_proxy, mailoutbox):
    response = client.post("/accounts/password-reset/", {"email": alice.email}, **VIA_TLS_PROXY)
    assert response.status_code == 302
    (mail,) = mailoutbox
    assert f"https://{HOST}/accounts/reset/" in mail.body
    assert "http://" not in mail.body
