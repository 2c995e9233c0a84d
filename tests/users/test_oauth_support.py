"""A small browser and OAuth client for the OAuth tests, over real HTTP against `live_server`.

No tests here: only the plain functions the `test_oauth_*` modules share; their fixtures
(`apps`, `base`, `browser`) are in tests/users/conftest.py. Browser sessions must be closed after
the test (the `browser` fixture does it): a kept-alive socket keeps a live-server thread, and its
database connection, alive until the test database is dropped.
"""

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlparse

import requests

from tests.conftest import PASSWORD

REDIRECT_URI = "http://127.0.0.1:8001/callback"


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: dict[str, str] = field(default_factory=dict)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._current: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "form":
            self._current = Form(action=a.get("action", ""), method=a.get("method", "get"))
            self.forms.append(self._current)
        elif self._current is not None and tag in ("input", "button") and a.get("name"):
            if a.get("type") == "submit" or tag == "button":
                self._current.buttons[a["name"]] = a.get("value", "")
            else:
                self._current.fields[a["name"]] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def forms_in(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def submit(
    session: requests.Session,
    page: requests.Response,
    data: dict[str, str] | None = None,
    button: str | None = None,
    form_index: int = -1,
) -> requests.Response:
    """Post a form of `page` like a browser: its hidden fields (CSRF token included), `data`,
    and the named submit button. Redirects are not followed (the caller decides)."""
    form = forms_in(page.text)[form_index]
    payload = {**form.fields, **(data or {})}
    if button is not None:
        payload[button] = form.buttons[button]
    return session.post(
        urljoin(page.url, form.action or page.url),
        data=payload,
        allow_redirects=False,
        headers={"Referer": page.url},
    )


def follow(session: requests.Session, response: requests.Response) -> requests.Response:
    return session.get(urljoin(response.url, response.headers["Location"]), allow_redirects=False)


def log_in(session: requests.Session, base: str, username: str, next_url: str) -> requests.Response:
    """Open `next_url`; when bounced to the login form, log in: the response is `next_url`."""
    first = session.get(next_url, allow_redirects=False)
    if not first.headers.get("Location", "").startswith("/accounts/login/"):
        return first  # this browser is logged in already
    login_page = follow(session, first)
    assert login_page.status_code == 200
    logged_in = submit(session, login_page, {"username": username, "password": PASSWORD})
    assert logged_in.status_code == 302, logged_in.text
    return follow(session, logged_in)


def authorize_url(base: str, client_id: str, **params: str) -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "state": "xyz",
        **params,
    }
    return f"{base}/oauth2/authorize/?" + "&".join(
        f"{key}={requests.utils.quote(value, safe='')}" for key, value in query.items()
    )


def redirect_params(response: requests.Response) -> dict[str, str]:
    """The query of a redirect to the client's redirect URI (the browser would go there)."""
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?"), location
    return {key: values[0] for key, values in parse_qs(urlparse(location).query).items()}


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return verifier, challenge


def obtain_code(
    session: requests.Session, base: str, username: str, client_id: str, **params: str
) -> str:
    """Through login and consent, like a browser: the authorization code."""
    consent = log_in(session, base, username, authorize_url(base, client_id, **params))
    assert consent.status_code == 200, consent.text
    redirected = submit(session, consent, button="allow")
    query = redirect_params(redirected)
    assert query["state"] == "xyz"
    return query["code"]


def token_request(base: str, data: dict[str, str], auth=None, **kwargs) -> requests.Response:
    return requests.post(f"{base}/oauth2/token/", data=data, auth=auth, **kwargs)


def password_token(base: str, client_id: str, secret: str, username: str) -> dict:
    response = token_request(
        base,
        {"grant_type": "password", "username": username, "password": PASSWORD},
        auth=(client_id, secret),
    )
    assert response.status_code == 200, response.text
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def introspect(base: str, credentials: tuple[str, str] | None, token: str) -> requests.Response:
    return requests.post(f"{base}/oauth2/introspect/", data={"token": token}, auth=credentials)


def account_status(base: str, access_token: str) -> int:
    """The status of GET /api/v1/account/ with `access_token`: 200 while it is valid, else 401."""
    return requests.get(f"{base}/api/v1/account/", headers=bearer(access_token)).status_code


def assert_oauth_error(response: requests.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"] == error


@dataclass
class OAuthApps:
    """One application per grant type, as an admin registers them (plain secrets kept)."""

    code: object
    code_secret: str
    spa: object
    password: object
    password_secret: str
    public_password: object
    gateway: object
    gateway_secret: str


def make_oauth_apps(make_application) -> OAuthApps:
    code, code_secret = make_application(
        grant_type="authorization-code", redirect_uris=REDIRECT_URI, name="Coach Board AMS"
    )
    spa, _ = make_application(
        grant_type="authorization-code",
        client_type="public",
        redirect_uris=REDIRECT_URI,
        allowed_origins="https://spa.example.org",
        name="Coach Board SPA",
    )
    password, password_secret = make_application(grant_type="password", name="Legacy AMS")
    public_password, _ = make_application(
        grant_type="password", client_type="public", name="Public legacy app"
    )
    gateway, gateway_secret = make_application(
        grant_type="client-credentials", name="Stadium gateway"
    )
    return OAuthApps(
        code, code_secret, spa, password, password_secret, public_password, gateway, gateway_secret
    )
