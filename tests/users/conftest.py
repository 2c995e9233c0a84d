"""The scene of the users stories, with the cast of tests/conftest.py: carol gives alice READ,
trent WRITE only and sybil SHARE (sybil shares READ onward in the stories that need it); bob
gives nothing; mallory is the outsider. Permissions run over `window` = [now - 30 days,
now + 30 days), so they are active now.
"""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

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
