"""SPEC §2 HTML: the authorized-applications page, and registering applications by command."""

import re
from io import StringIO

import pytest
import requests
from django.contrib.auth.hashers import identify_hasher
from django.core.management import call_command
from oauth2_provider.models import AccessToken, RefreshToken, get_application_model

from tests.users.test_oauth_support import (
    REDIRECT_URI,
    assert_oauth_error,
    bearer,
    follow,
    log_in,
    obtain_code,
    submit,
    token_request,
)

Application = get_application_model()

AUTHORIZED = "/oauth2/authorized-tokens/"


def authorize_code_app(browser, base, apps, username: str = "alice") -> dict:
    code = obtain_code(browser, base, username, apps.code.client_id)
    response = token_request(
        base,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        auth=(apps.code.client_id, apps.code_secret),
    )
    assert response.status_code == 200, response.text
    return response.json()


def revoke_links(html: str) -> list[str]:
    return re.findall(r'href="(/oauth2/authorized-tokens/\d+/delete/)"', html)


@pytest.mark.django_db(transaction=True)
def test_it_lists_an_authorized_application_and_revokes_it_there(live_server, apps, alice, browser):
    base = live_server.url
    first = authorize_code_app(browser, base, apps)
    second = authorize_code_app(browser, base, apps)  # authorized twice: still one application

    page = browser.get(f"{base}{AUTHORIZED}")
    assert page.status_code == 200
    assert "Coach Board AMS" in page.text
    assert "Every AMS endpoint" in page.text
    [link] = revoke_links(page.text)

    confirm = browser.get(f"{base}{link}")
    assert confirm.status_code == 200
    assert "Revoke <strong>Coach Board AMS</strong>" in confirm.text
    revoked = submit(browser, confirm)
    assert revoked.status_code == 302
    after = follow(browser, revoked)

    assert "Coach Board AMS" not in after.text
    assert "You have not authorized any application." in after.text
    for tokens in (first, second):
        account = requests.get(f"{base}/api/v1/account/", headers=bearer(tokens["access_token"]))
        assert account.status_code == 401
        refreshed = token_request(
            base,
            {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=(apps.code.client_id, apps.code_secret),
        )
        assert_oauth_error(refreshed, 400, "invalid_grant")
    assert not AccessToken.objects.filter(user=alice).exists()
    assert not RefreshToken.objects.filter(user=alice, revoked__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_it_leaves_other_applications_authorized(live_server, apps, alice, browser):
    base = live_server.url
    code_tokens = authorize_code_app(browser, base, apps)
    password_tokens = token_request(
        base,
        {"grant_type": "password", "username": "alice", "password": "Correct-Horse-9"},
        auth=(apps.password.client_id, apps.password_secret),
    ).json()

    page = browser.get(f"{base}{AUTHORIZED}")
    assert "Coach Board AMS" in page.text and "Legacy AMS" in page.text
    token = AccessToken.objects.get(user=alice, application=apps.code)
    confirm = browser.get(f"{base}/oauth2/authorized-tokens/{token.pk}/delete/")
    submit(browser, confirm)

    assert (
        requests.get(
            f"{base}/api/v1/account/", headers=bearer(code_tokens["access_token"])
        ).status_code
        == 401
    )
    assert (
        requests.get(
            f"{base}/api/v1/account/", headers=bearer(password_tokens["access_token"])
        ).status_code
        == 200
    )


@pytest.mark.django_db(transaction=True)
def test_it_hides_another_users_authorization(live_server, apps, alice, trent, browser):
    base = live_server.url
    with requests.Session() as trents_browser:
        authorize_code_app(trents_browser, base, apps, username="trent")
    trents_token = AccessToken.objects.get(user=trent)

    page = log_in(browser, base, "alice", f"{base}{AUTHORIZED}")
    assert "Coach Board AMS" not in page.text
    response = browser.get(f"{base}/oauth2/authorized-tokens/{trents_token.pk}/delete/")

    assert response.status_code == 404
    assert AccessToken.objects.filter(pk=trents_token.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_it_sends_an_anonymous_visitor_to_the_login_page(live_server):
    response = requests.get(f"{live_server.url}{AUTHORIZED}", allow_redirects=False)

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/accounts/login/?next=")


# --- registering applications ---------------------------------------------------------------


def create_application(*args: str) -> str:
    out = StringIO()
    call_command("createapplication", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "client_type, grant_type, extra",
    [
        ("confidential", "authorization-code", ["--redirect-uris", REDIRECT_URI]),
        ("public", "authorization-code", ["--redirect-uris", REDIRECT_URI]),
        ("confidential", "password", []),
        ("confidential", "client-credentials", []),
    ],
)
def test_it_registers_an_application_of_each_grant_type_by_command(client_type, grant_type, extra):
    # createapplication exits 0 even when it refuses: the row is the proof.
    output = create_application(
        client_type,
        grant_type,
        "--client-id",
        f"ams-{grant_type}-{client_type}",
        "--client-secret",
        "s3cret-value",
        "--name",
        f"AMS {grant_type}",
        *extra,
    )

    application = Application.objects.get(client_id=f"ams-{grant_type}-{client_type}")
    assert application.authorization_grant_type == grant_type
    assert application.client_type == client_type
    assert "created successfully" in output
    identify_hasher(application.client_secret)  # stored hashed, never in clear
    assert application.client_secret != "s3cret-value"


@pytest.mark.django_db
def test_it_refuses_an_authorization_code_application_without_redirect_uri():
    output = create_application("confidential", "authorization-code", "--client-id", "no-uri")

    assert "redirect_uris" in output
    assert not Application.objects.filter(client_id="no-uri").exists()


@pytest.mark.django_db(transaction=True)
def test_it_issues_tokens_to_an_application_registered_by_command(live_server):
    create_application(
        "confidential", "client-credentials", "--client-id", "gw-1", "--client-secret", "gw-secret"
    )

    response = token_request(
        live_server.url, {"grant_type": "client_credentials"}, auth=("gw-1", "gw-secret")
    )

    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "ingest"
