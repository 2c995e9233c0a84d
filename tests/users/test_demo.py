"""The demo data of `make run` tells the grants story the README promises."""

import pytest
from django.utils import timezone

from users import demo
from users.models import AthletePermission, PermissionKind, User
from users.selectors import athletes_visible_to, manager_can_read_at

pytestmark = pytest.mark.django_db


def test_it_loads_realistic_grants_twice_without_duplicates():
    demo.load()
    lines = demo.load()
    users = {u.username: u for u in User.objects.all()}
    alice, bob, mallory = users["alice"], users["bob"], users["mallory"]
    carol, dave, frank = users["carol"], users["dave"], users["frank"]
    now = timezone.now()

    for athlete in (carol, dave):
        for permission in (PermissionKind.READ, PermissionKind.WRITE):
            [grant] = AthletePermission.objects.filter(
                athlete=athlete, manager=alice, permission=permission
            )
            assert grant.start_time.year == now.year and grant.expiration_time.year == now.year + 1
    share = AthletePermission.objects.get(
        athlete=carol, manager=bob, permission=PermissionKind.SHARE
    )
    shared = AthletePermission.objects.get(athlete=carol, manager=mallory)
    assert shared.derived_from == share and shared.granted_by == bob
    assert not manager_can_read_at(manager=bob, athlete_id=carol.pk, at=now)  # SHARE ≠ READ

    assert frank.athlete_profile.managed_by == alice and not frank.has_usable_password()
    assert alice.has_perm("users.can_create_managed_athletes")
    assert set(athletes_visible_to(alice)) == {carol, dave, frank}
    assert any("SHARE" in line for line in lines)
