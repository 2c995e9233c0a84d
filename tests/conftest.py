"""Shared fixtures: a fixed cast of users, OAuth applications, and API clients with real tokens.

Tokens made here are real rows of DOT's AccessToken table, validated by the server exactly like
tokens from /oauth2/token/ (the OAuth tests obtain theirs from the token endpoint itself).
"""

import secrets
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken, get_application_model
from rest_framework.test import APIClient

from users.models import AthleteProfile, ManagerProfile, Role, User

Application = get_application_model()
PASSWORD = "Correct-Horse-9"


@pytest.fixture(autouse=True)
def _clear_cache():
    # Throttle counters live in the cache (Redis in tests): start every test from zero.
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def make_user(db) -> Callable[..., User]:
    def make(username: str, role: str = Role.MANAGER, **profile) -> User:
        user = User.objects.create_user(
            username=username, email=f"{username}@example.org", password=PASSWORD, role=role
        )
        if role == Role.MANAGER:
            ManagerProfile.objects.create(
                user=user, first_name=username.capitalize(), last_name="Manager", **profile
            )
        elif role == Role.ATHLETE:
            AthleteProfile.objects.create(
                user=user, first_name=username.capitalize(), last_name="Athlete", **profile
            )
        return user

    return make


@pytest.fixture
def admin(make_user) -> User:
    return User.objects.create_superuser("root", "root@example.org", PASSWORD)


@pytest.fixture
def alice(make_user) -> User:
    """Manager: owns things, holds READ and WRITE where tests give them."""
    return make_user("alice", Role.MANAGER)


@pytest.fixture
def bob(make_user) -> User:
    """Manager: second manager (WRITE only / sharer, depending on the story)."""
    return make_user("bob", Role.MANAGER)


@pytest.fixture
def mallory(make_user) -> User:
    """Manager with no grant on anyone: the outsider."""
    return make_user("mallory", Role.MANAGER)


@pytest.fixture
def carol(make_user) -> User:
    """Athlete."""
    return make_user("carol", Role.ATHLETE, gender="F", max_heart_rate=192)


@pytest.fixture
def dave(make_user) -> User:
    """Athlete."""
    return make_user("dave", Role.ATHLETE, gender="M")


@pytest.fixture
def make_application(db) -> Callable[..., tuple]:
    """Create an OAuth application; returns (application, plain client secret)."""

    def make(
        grant_type: str = Application.GRANT_PASSWORD,
        client_type: str = Application.CLIENT_CONFIDENTIAL,
        redirect_uris: str = "",
        allowed_origins: str = "",
        name: str = "test app",
    ):
        secret = secrets.token_urlsafe(24)
        app = Application.objects.create(
            name=name,
            client_id=secrets.token_urlsafe(12),
            client_secret=secret,
            client_type=client_type,
            authorization_grant_type=grant_type,
            redirect_uris=redirect_uris,
            allowed_origins=allowed_origins,
        )
        return app, secret

    return make


@pytest.fixture
def token_for(make_application) -> Callable[..., str]:
    """An access token string for `user` (None = a gateway's client-credentials token)."""
    apps: dict[str, object] = {}

    def make(user: User | None, scope: str = "all", expires_in: int = 36000) -> str:
        grant = Application.GRANT_CLIENT_CREDENTIALS if user is None else Application.GRANT_PASSWORD
        if grant not in apps:
            apps[grant] = make_application(grant_type=grant)[0]
        token = AccessToken.objects.create(
            user=user,
            application=apps[grant],
            token=secrets.token_urlsafe(30),
            scope=scope,
            expires=timezone.now() + timedelta(seconds=expires_in),
        )
        return token.token

    return make


@pytest.fixture
def api(token_for) -> Callable[..., APIClient]:
    """`api(user)` → an APIClient sending that user's bearer token; `api()` is anonymous."""

    def make(user: User | None = None, scope: str = "all") -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user, scope)}")
        return client

    return make


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Real hashing (PBKDF2) costs ~0.3 s per password; tests check behaviour, not the hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
