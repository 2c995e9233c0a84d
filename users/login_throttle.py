"""Brute-force protection for password logins: the login page, the admin's, the password grant.

Failed logins are counted in the Django cache (Redis in service mode) per fixed window of
`LOGIN_FAILURE_WINDOW` seconds, under three keys:

* the username *and* the client address (`LOGIN_FAILURES_PER_USERNAME_AND_ADDRESS`, default 5):
  someone guessing one account from one address;
* the client address (`LOGIN_FAILURES_PER_ADDRESS`, default 20): one address trying many accounts;
* the username (`LOGIN_FAILURES_PER_USERNAME`, default 50): many addresses guessing one account.

Over a limit, attempts are refused (429 with `Retry-After`, the seconds to the end of the window)
without checking the password, and refused attempts are not counted. One address can therefore
add at most 5 failures a window to an account's count: the real user, logging in from another
address, is blocked only by an attack from 10 or more addresses at once, and then until the end
of the window in which the attack stops (5 minutes by default). A successful login clears the
count of its username and address pair (not the others: an attacker's own account must not reset
his address).

The client address is DRF's `get_ident`, as for every other throttle: `REMOTE_ADDR`, or the
address the trusted proxies put in `X-Forwarded-For` (`NUM_PROXIES`).
"""

import contextlib
import hashlib
import math
import time
from collections.abc import Mapping
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.http.request import HttpHeaders
from rest_framework.throttling import BaseThrottle


class LoginThrottled(PermissionDenied):
    """Raised by the authentication backend: Django's `authenticate()` then answers None."""


def client_address(meta: Mapping[str, str] | None) -> str | None:
    """The client address every throttle counts (DRF's `get_ident` over `request.META`)."""
    if meta is None:
        return None
    request = SimpleNamespace(META=meta, headers=HttpHeaders(meta))
    return BaseThrottle().get_ident(request) or None


def _window() -> tuple[int, int]:
    """(window number, seconds until the window ends): fixed windows aligned on the epoch."""
    length = settings.LOGIN_FAILURE_WINDOW
    now = time.time()
    number = int(now // length)
    return number, max(1, math.ceil((number + 1) * length - now))


def _username_digest(username: str) -> str:
    # Usernames are client input of any length and alphabet: keys hold a digest.
    return hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _pair_key(window: int, username: str, address: str) -> str:
    return f"login-failures:{window}:pair:{_username_digest(username)}:{address}"


def _counters(username: str | None, address: str | None, window: int) -> list[tuple[str, int]]:
    """(cache key, limit) of every count this login attempt is judged by."""
    counters = []
    if username and address:
        counters.append(
            (_pair_key(window, username, address), settings.LOGIN_FAILURES_PER_USERNAME_AND_ADDRESS)
        )
    if address:
        counters.append(
            (f"login-failures:{window}:address:{address}", settings.LOGIN_FAILURES_PER_ADDRESS)
        )
    if username:
        counters.append(
            (
                f"login-failures:{window}:username:{_username_digest(username)}",
                settings.LOGIN_FAILURES_PER_USERNAME,
            )
        )
    return counters


def login_wait_seconds(*, username: str | None, address: str | None) -> int:
    """Seconds the caller must wait before trying this login again; 0 when it may try now."""
    window, remaining = _window()
    counters = _counters(username, address, window)
    counts = cache.get_many([key for key, _ in counters])
    blocked = any(counts.get(key, 0) >= limit for key, limit in counters)
    return remaining if blocked else 0


def login_failure_record(*, username: str | None, address: str | None) -> None:
    """Count one failed login against its username, its address and the pair."""
    window, remaining = _window()
    for key, _ in _counters(username, address, window):
        # add() then incr(), each atomic in Redis; the key outlives its window by a few seconds
        # so that a count cannot vanish while its window is still open.
        cache.add(key, 0, timeout=remaining + 5)
        with contextlib.suppress(ValueError):  # expired after add(): its window just ended
            cache.incr(key)


def login_success_record(*, username: str, address: str | None) -> None:
    """A correct password from this address: forget its failures for this username."""
    if address:
        window, _ = _window()
        cache.delete(_pair_key(window, username, address))


class ThrottledModelBackend(ModelBackend):
    """Django's model backend, counting failures and refusing throttled logins.

    Every password login goes through `authenticate()` (the login page, the admin's login page,
    DOT's password grant), so the policy holds on all of them; the views that can answer 429
    (the login page, the token endpoint) check `login_wait_seconds` first.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        address = client_address(getattr(request, "META", None))
        if login_wait_seconds(username=username, address=address):
            raise LoginThrottled
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            login_failure_record(username=username, address=address)
        else:
            login_success_record(username=username, address=address)
        return user


class LoginView(auth_views.LoginView):
    """`/accounts/login/`: Django's login page, answering 429 while the login is throttled."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        username = request.POST.get("username", "")
        wait = login_wait_seconds(username=username, address=client_address(request.META))
        if not wait:
            return super().post(request, *args, **kwargs)
        # An unbound form: a bound one would authenticate again when the page reads its errors.
        form = self.get_form_class()(request=request, initial={"username": username})
        context = self.get_context_data(form=form, throttled_for=wait)
        response = self.render_to_response(context, status=429)
        response["Retry-After"] = str(wait)
        return response
