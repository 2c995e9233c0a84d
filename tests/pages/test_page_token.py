"""POST /live/token/: the live page's short-lived access token (users.page_token)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken

from users.page_token import PAGES_CLIENT_ID

pytestmark = pytest.mark.django_db

URL = "/live/token/"


def session(user=None) -> Client:
    """A browser-like client: CSRF enforced, its csrftoken cookie set, logged in as `user`."""
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    client.get("/accounts/login/")  # the login form sets the CSRF cookie
    return client


def post_token(client: Client):
    return client.post(URL, HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)


def test_it_issues_a_short_lived_all_scope_token_to_a_manager(alice, settings):
    lifetime = settings.PAGE_TOKEN_SECONDS
    response = post_token(session(alice))

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "all"
    assert body["expires_in"] == lifetime == 600  # minutes, not hours
    token = AccessToken.objects.get(token=body["access_token"])
    assert token.user == alice
    assert token.application.client_id == PAGES_CLIENT_ID
    assert token.application.skip_authorization
    remaining = token.expires - timezone.now()
    assert timedelta(seconds=lifetime - 5) < remaining <= timedelta(seconds=lifetime)
    assert response["Cache-Control"].startswith("max-age=0")


def test_it_issues_tokens_to_admins(admin):
    assert post_token(session(admin)).status_code == 200


def test_the_token_works_on_the_rest_api(alice):
    token = post_token(session(alice)).json()["access_token"]

    response = Client().get("/api/v1/account/", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 200
    assert response.json()["username"] == "alice"


def test_it_refuses_a_post_without_the_csrf_token(alice):
    client = session(alice)

    response = client.post(URL)

    assert response.status_code == 403
    assert not AccessToken.objects.exists()


def test_it_refuses_anonymous_users():
    response = post_token(session())

    assert response.status_code == 401
    assert not AccessToken.objects.exists()


def test_it_refuses_athletes(carol):
    response = post_token(session(carol))

    assert response.status_code == 403
    assert not AccessToken.objects.exists()


def test_it_answers_only_post(alice):
    assert session(alice).get(URL).status_code == 405


def test_logging_out_revokes_every_page_token_of_the_user(alice, trent, token_for):
    client = session(alice)
    first = post_token(client).json()["access_token"]
    second = post_token(client).json()["access_token"]
    others = post_token(session(trent)).json()["access_token"]
    ams = token_for(alice)  # a third-party application's token: not the logout's business

    response = client.post("/accounts/logout/", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)

    assert response.status_code == 302
    for token in (first, second):
        assert not AccessToken.objects.filter(token=token).exists()
        api = Client().get("/api/v1/account/", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert api.status_code == 401
    assert AccessToken.objects.filter(token=others).exists()
    assert AccessToken.objects.filter(token=ams).exists()
