"""The one cast and the one set of builders of the whole suite.

The cast — each name plays one role in every app's stories:
- `admin` (username `root`): a superuser, hence an admin.
- `alice`: manager; owns devices, activities and timeframes, holds READ/WRITE where a story
  gives them.
- `trent`: a second manager; holds only what a story gives him (WRITE only, a READ, a device
  he owned before alice).
- `sybil`: manager holding SHARE where a story gives it; shares READ onward.
- `mallory`: manager with nothing on anyone: the outsider.
- `carol`, `bob`: athletes (carol gives the permissions of the stories).

The scene they share: `band`, a device nobody owns until a story has someone `own` it; `match`,
alice's tennis match; the match evening, [MATCH_START, MATCH_END) = 30 May 2020 20:00–22:00 UTC.

The builders store rows directly (`make_user`, `make_device`, `own`, `grant`, `make_activity`,
`make_timeframe`): each test of a rule calls the service under test itself. `make_timeframe`
goes through the timeframes service instead when given an `actor` (see its docstring). Tokens
made here are real rows of DOT's AccessToken table, validated by the server exactly like tokens
from /oauth2/token/ (the OAuth tests obtain theirs from the token endpoint itself).

`emitted` and `committed` record the domain events of a test (in the transaction, after commit);
`admin_browser` is Django's test client logged in to the admin site.
"""

import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from oauth2_provider.models import AccessToken, get_application_model
from rest_framework.test import APIClient

from activities.models import Activity, JsonSchema
from asi_api.events import (
    IN_TRANSACTION,
    ON_COMMIT,
    DomainEvent,
    handler_register,
    handler_unregister,
)
from devices.models import OPEN_END, Device, DeviceOwnership
from timeframes.models import Timeframe
from timeframes.services import timeframe_create
from users.models import AthletePermission, AthleteProfile, ManagerProfile, Role, User

Application = get_application_model()
PASSWORD = "Correct-Horse-9"
# The evening of alice's match, where carol wears `band` in the stories of several apps.
MATCH_START = datetime(2020, 5, 30, 20, 0, tzinfo=UTC)
MATCH_END = datetime(2020, 5, 30, 22, 0, tzinfo=UTC)


# This process's embedded runner (started by the tests of embedded mode) runs the tasks given
# to it, not the periodic sweeps: those would act on other tests' rows at random moments.
# The e2e tests' servers run their own sweeps.
django_settings.EMBEDDED_PERIODIC_JOBS = False


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
def trent(make_user) -> User:
    """Manager: a second manager, holding only what a story gives him."""
    return make_user("trent", Role.MANAGER)


@pytest.fixture
def sybil(make_user) -> User:
    """Manager holding SHARE on carol where a story gives it: shares READ onward."""
    return make_user("sybil", Role.MANAGER)


@pytest.fixture
def mallory(make_user) -> User:
    """Manager with no grant on anyone: the outsider."""
    return make_user("mallory", Role.MANAGER)


@pytest.fixture
def carol(make_user) -> User:
    """Athlete."""
    return make_user("carol", Role.ATHLETE, gender="F", max_heart_rate=192)


@pytest.fixture
def bob(make_user) -> User:
    """Athlete: a second one, with no permission given unless a story gives one."""
    return make_user("bob", Role.ATHLETE, gender="M")


# --- rows of the other apps ---------------------------------------------------------------------


@pytest.fixture
def grant(db) -> Callable[..., AthletePermission]:
    """`grant(athlete, manager, permission, start, end, **fields)`: store a permission directly
    over [start, end), given by the athlete unless `granted_by` says otherwise."""

    def make(
        athlete: User, manager: User, permission: str, start: datetime, end: datetime, **fields
    ) -> AthletePermission:
        fields.setdefault("granted_by", athlete)
        return AthletePermission.objects.create(
            athlete=athlete,
            manager=manager,
            permission=permission,
            start_time=start,
            expiration_time=end,
            **fields,
        )

    return make


@pytest.fixture
def make_device(db) -> Callable[..., Device]:
    """`make_device(device_name=None, serial_number=None, **fields)`: a device (numbered names
    when not given), inactive until `own` records an ownership."""
    counter = iter(range(1, 10_000))

    def make(device_name: str | None = None, serial_number: str | None = None, **fields) -> Device:
        n = next(counter)
        return Device.objects.create(
            device_name=device_name or f"{0xA00000000000 + n:012x}",
            serial_number=serial_number or f"SN-{n:05d}",
            **fields,
        )

    return make


@pytest.fixture
def own(db) -> Callable[..., DeviceOwnership]:
    """`own(device, manager, start, end=OPEN_END)`: record an ownership period directly (and
    activate the device from `start`, as its first ownership does)."""

    def make(
        device: Device, manager: User, start: datetime, end: datetime = OPEN_END
    ) -> DeviceOwnership:
        ownership = DeviceOwnership.objects.create(
            device=device, manager=manager, start_time=start, end_time=end
        )
        if not device.is_active:
            Device.objects.filter(pk=device.pk).update(is_active=True, activated_at=start)
            device.refresh_from_db()
        return ownership

    return make


@pytest.fixture
def tennis(db) -> JsonSchema:
    """The shipped activity schema of tennis (version 1)."""
    return JsonSchema.objects.get(name="tennis", version=1)


@pytest.fixture
def params_schema(db) -> JsonSchema:
    """The shipped analytics-parameters schema of timeframes (version 1)."""
    return JsonSchema.objects.get(name="timeframe-analytics-params", version=1)


TENNIS_MATCH = {"sport": "tennis", "type": "match"}


@pytest.fixture
def make_activity(alice, tennis) -> Callable[..., Activity]:
    """`make_activity(name=..., owner=alice, **fields)`: a tennis match stored directly."""

    def make(name: str = "Tennis match at Wimbledon", owner: User = alice, **fields) -> Activity:
        fields = {"json": TENNIS_MATCH, "json_schema": tennis} | fields
        return Activity.objects.create(name=name, owner=owner, **fields)

    return make


@pytest.fixture
def match(make_activity) -> Activity:
    """alice's tennis match."""
    return make_activity()


@pytest.fixture
def band(make_device) -> Device:
    """A device nobody owns (inactive) until a story has someone `own` it."""
    return make_device(custom_name="Band")


@pytest.fixture
def make_timeframe(carol, params_schema) -> Callable[..., Timeframe]:
    """`make_timeframe(device, activity, start=MATCH_START, end=MATCH_END, *, athlete=carol,
    actor=None, **fields)`: `athlete` wears `device` in `activity` over [start, end).

    With an `actor`, through `timeframes.services.timeframe_create` (`fields`: its `params`,
    `json_schema`, `owner`): every rule of SPEC §5 is checked, so the story must have given the
    owner the device and WRITE on the athlete, and `timeframe-created` is emitted. For the stories
    about timeframes' own behaviour.

    Without one, a row stored directly, owned by the activity's owner (`fields`: any column):
    for the other apps' stories, which need timeframes the service would refuse (on a device
    nobody owns, on an athlete who gave the owner no WRITE) and count only the events of the
    service they test.
    """

    def make(
        device: Device,
        activity: Activity,
        start: datetime = MATCH_START,
        end: datetime = MATCH_END,
        *,
        athlete: User | None = None,
        actor: User | None = None,
        **fields,
    ) -> Timeframe:
        where = {"device": device, "activity": activity, "athlete": athlete or carol}
        if actor is not None:
            return timeframe_create(actor=actor, start_time=start, end_time=end, **where, **fields)
        fields = {"owner": activity.owner, "json_schema": params_schema} | fields
        return Timeframe.objects.create(start_time=start, end_time=end, **where, **fields)

    return make


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


@pytest.fixture
def admin_browser(client, admin):
    """Django's test client, logged in to the admin site as `admin`."""
    client.force_login(admin)
    return client


@pytest.fixture
def emitted() -> Iterator[list[DomainEvent]]:
    """Every domain event emitted during the test, in the order an in-transaction handler
    registered last hears them (the apps' reactions run first: consequences before causes)."""
    seen: list[DomainEvent] = []
    handler_register(seen.append, phase=IN_TRANSACTION)
    yield seen
    handler_unregister(seen.append)


@pytest.fixture
def committed() -> Iterator[list[DomainEvent]]:
    """Every domain event the on-commit handlers hear during the test: only once its change
    commits (run the callbacks with `django_capture_on_commit_callbacks(execute=True)`)."""
    seen: list[DomainEvent] = []
    handler_register(seen.append, phase=ON_COMMIT)
    yield seen
    handler_unregister(seen.append)


FAST_PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Real hashing (PBKDF2) costs ~0.3 s per password; tests check behaviour, not the hasher.
    # The one place for the whole suite (e2e servers run in their own processes and settings).
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS
