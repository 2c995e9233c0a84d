"""The cast of the users stories, on top of tests/conftest.py.

Athletes carol and dave. Managers: alice holds READ on carol, bob holds WRITE only, sybil holds
SHARE (and shares READ onward in the stories that need it), mallory is the outsider. Grants run
over `window` = [now - 30 days, now + 30 days), so they are active now.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from users.models import AthletePermission, PermissionKind, Role, User


@pytest.fixture
def sybil(make_user) -> User:
    """Manager holding SHARE on carol (in the `cast`): shares READ onward."""
    return make_user("sybil", Role.MANAGER)


@pytest.fixture
def window() -> tuple[datetime, datetime]:
    now = timezone.now().replace(microsecond=0)
    return now - timedelta(days=30), now + timedelta(days=30)


@pytest.fixture
def grant(db) -> Callable[..., AthletePermission]:
    """Store a grant directly (the services are tested on their own)."""

    def make(
        athlete: User,
        manager: User,
        permission: str,
        start: datetime,
        end: datetime,
        **fields,
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
def cast(alice, bob, sybil, mallory, carol, dave, grant, window) -> dict[str, AthletePermission]:
    """carol → alice READ, carol → bob WRITE, carol → sybil SHARE, all over `window`."""
    start, end = window
    return {
        "read": grant(carol, alice, PermissionKind.READ, start, end),
        "write": grant(carol, bob, PermissionKind.WRITE, start, end),
        "share": grant(carol, sybil, PermissionKind.SHARE, start, end),
    }


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    # PBKDF2's production cost makes every user of the cast take ~0.3 s to create.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
