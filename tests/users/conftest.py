"""The scene of the users stories, with the cast of tests/conftest.py: carol gives alice READ,
trent WRITE only and sybil SHARE (sybil shares READ onward in the stories that need it); bob
gives nothing; mallory is the outsider. Permissions run over `window` = [now - 30 days,
now + 30 days), so they are active now.

The OAuth stories (`test_oauth_*`, `test_refresh_race`) speak real HTTP to the live server
(`base`) with the applications of `apps` and a `browser` session (helpers: test_oauth_support).
"""

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import requests
from django.utils import timezone

from tests.users.test_oauth_support import OAuthApps, make_oauth_apps
from users.models import AthletePermission, PermissionKind


@pytest.fixture
def window() -> tuple[datetime, datetime]:
    now = timezone.now().replace(microsecond=0)
    return now - timedelta(days=30), now + timedelta(days=30)


@pytest.fixture
def cast(alice, trent, sybil, mallory, carol, bob, grant, window) -> dict[str, AthletePermission]:
    """carol → alice READ, carol → trent WRITE, carol → sybil SHARE, all over `window`."""
    start, end = window
    return {
        "read": grant(carol, alice, PermissionKind.READ, start, end),
        "write": grant(carol, trent, PermissionKind.WRITE, start, end),
        "share": grant(carol, sybil, PermissionKind.SHARE, start, end),
    }


@pytest.fixture
def apps(make_application) -> OAuthApps:
    """One OAuth application per grant type of SPEC §2 (see `make_oauth_apps`)."""
    return make_oauth_apps(make_application)


@pytest.fixture
def base(live_server) -> str:
    return live_server.url


@pytest.fixture
def browser() -> Iterator[requests.Session]:
    # Closed after the test (see test_oauth_support).
    with requests.Session() as session:
        yield session
