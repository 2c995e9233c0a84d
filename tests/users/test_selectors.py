"""The access selectors every later app reuses: window arithmetic at its boundaries."""

from datetime import timedelta

import pytest
from django.utils import timezone

from users.models import AthletePermission, AthleteProfile, PermissionKind
from users.selectors import (
    athletes_grantable_by,
    athletes_visible_to,
    manager_can_read,
    manager_can_read_at,
    manager_can_write,
    managers_visible_to,
    permissions_visible_to,
    read_covering_q,
    write_covering_q,
)

from .moments import at

pytestmark = pytest.mark.django_db


def test_it_covers_a_window_exactly_equal_to_the_grant(alice, carol, grant):
    grant(carol, alice, PermissionKind.READ, at(20), at(21))
    assert manager_can_read(manager=alice, athlete_id=carol.pk, start=at(20), end=at(21))


def test_it_covers_a_window_ending_exactly_at_expiration(alice, carol, grant):
    grant(carol, alice, PermissionKind.READ, at(20), at(21))
    assert manager_can_read(manager=alice, athlete_id=carol.pk, start=at(20, 30), end=at(21))


def test_it_refuses_a_window_starting_exactly_at_expiration(alice, carol, grant):
    # [20:00, 21:00) and a timeframe [21:00, 21:30): adjacent, not overlapping.
    grant(carol, alice, PermissionKind.READ, at(20), at(21))
    assert not manager_can_read(manager=alice, athlete_id=carol.pk, start=at(21), end=at(21, 30))


def test_it_refuses_a_window_ending_exactly_at_the_grants_start(alice, carol, grant):
    grant(carol, alice, PermissionKind.READ, at(20), at(21))
    assert not manager_can_read(manager=alice, athlete_id=carol.pk, start=at(19), end=at(20))


def test_it_refuses_a_window_reaching_one_minute_past_the_grant(alice, carol, grant):
    grant(carol, alice, PermissionKind.READ, at(20), at(21))
    assert not manager_can_read(manager=alice, athlete_id=carol.pk, start=at(20), end=at(21, 1))


def test_it_does_not_add_up_adjacent_grants(alice, carol, grant):
    # Two adjacent READ grants do not make one covering both: SPEC §3 wants one grant.
    grant(carol, alice, PermissionKind.READ, at(20), at(21))
    grant(carol, alice, PermissionKind.READ, at(21), at(22))
    assert manager_can_read(manager=alice, athlete_id=carol.pk, start=at(21), end=at(22))
    assert not manager_can_read(
        manager=alice, athlete_id=carol.pk, start=at(20, 30), end=at(21, 30)
    )


def test_it_keeps_read_write_and_share_apart(cast, alice, trent, sybil, carol, window):
    start, end = window
    assert manager_can_read(manager=alice, athlete_id=carol.pk, start=start, end=end)
    assert not manager_can_write(manager=alice, athlete_id=carol.pk, start=start, end=end)
    assert manager_can_write(manager=trent, athlete_id=carol.pk, start=start, end=end)
    assert not manager_can_read(manager=trent, athlete_id=carol.pk, start=start, end=end)
    # SHARE does not imply READ.
    assert not manager_can_read(manager=sybil, athlete_id=carol.pk, start=start, end=end)


def test_it_gives_nothing_on_another_athlete(cast, alice, bob, window):
    assert not manager_can_read(manager=alice, athlete_id=bob.pk, start=window[0], end=window[1])


def test_it_lets_the_managing_manager_read_and_write_all_time(alice, mallory, make_user):
    frank = make_user("frank", "ATHLETE")
    AthleteProfile.objects.filter(user=frank).update(managed_by=alice)
    for check in (manager_can_read, manager_can_write):
        assert check(manager=alice, athlete_id=frank.pk, start=at(0, day=1), end=at(0, day=30))
        assert not check(manager=mallory, athlete_id=frank.pk, start=at(0), end=at(1))


def test_it_reads_at_an_instant_half_open(alice, carol, grant):
    grant(carol, alice, PermissionKind.READ, at(20), at(21))
    assert manager_can_read_at(manager=alice, athlete_id=carol.pk, at=at(20))
    assert manager_can_read_at(manager=alice, athlete_id=carol.pk, at=at(20, 59))
    assert not manager_can_read_at(manager=alice, athlete_id=carol.pk, at=at(21))
    assert not manager_can_read_at(manager=alice, athlete_id=carol.pk, at=at(19, 59))


def test_it_filters_windowed_rows_with_read_covering_q(alice, trent, carol, grant):
    # Grants themselves are windowed rows with an athlete: filter them as a stand-in.
    grant(carol, alice, PermissionKind.READ, at(20), at(21))
    grant(carol, trent, PermissionKind.WRITE, at(20), at(21))
    rows = {
        "inside": grant(carol, trent, PermissionKind.SHARE, at(20, 10), at(20, 50)),
        "touching_end": grant(carol, trent, PermissionKind.SHARE, at(20, 30), at(21)),
        "after": grant(carol, trent, PermissionKind.SHARE, at(21), at(21, 30)),
        "before": grant(carol, trent, PermissionKind.SHARE, at(19), at(20)),
    }
    ids = {g.pk: name for name, g in rows.items()}
    candidates = AthletePermission.objects.filter(pk__in=ids)
    readable = candidates.filter(read_covering_q(alice, end="expiration_time"))
    assert {ids[g.pk] for g in readable} == {"inside", "touching_end"}
    writable = candidates.filter(write_covering_q(trent, end="expiration_time"))
    assert {ids[g.pk] for g in writable} == {"inside", "touching_end"}
    assert not candidates.filter(read_covering_q(trent, end="expiration_time")).exists()


def test_it_shows_managers_only_athletes_with_an_active_grant(alice, carol, bob, grant):
    now = timezone.now()
    grant(carol, alice, PermissionKind.READ, now - timedelta(hours=1), now + timedelta(hours=1))
    grant(bob, alice, PermissionKind.READ, now - timedelta(hours=2), now - timedelta(hours=1))
    assert list(athletes_visible_to(alice)) == [carol]
    # An athlete whose grant expired stays reachable on the permissions endpoints.
    assert set(athletes_grantable_by(alice)) == {carol, bob}


def test_it_counts_a_share_grant_as_visibility_but_not_read(cast, sybil, carol):
    assert list(athletes_visible_to(sybil)) == [carol]


def test_it_shows_an_athlete_only_himself(cast, carol, bob):
    assert list(athletes_visible_to(carol)) == [carol]
    assert list(athletes_visible_to(bob)) == [bob]


def test_it_shows_admins_every_athlete_once(cast, admin, carol, bob, grant, alice, window):
    grant(carol, alice, PermissionKind.WRITE, *window)
    assert sorted(u.username for u in athletes_visible_to(admin)) == ["bob", "carol"]


def test_it_shows_athletes_the_managers_they_granted_to(cast, carol, bob, alice, trent, sybil):
    assert set(managers_visible_to(carol)) == {alice, trent, sybil}
    assert list(managers_visible_to(bob)) == []
    assert list(managers_visible_to(alice)) == [alice]


def test_it_shows_each_party_its_grants(cast, alice, trent, sybil, mallory, carol, bob, grant):
    derived = grant(
        carol,
        trent,
        PermissionKind.READ,
        cast["share"].start_time,
        cast["share"].expiration_time,
        granted_by=sybil,
        derived_from=cast["share"],
    )
    assert set(permissions_visible_to(carol)) == {*cast.values(), derived}
    assert list(permissions_visible_to(bob)) == []
    assert list(permissions_visible_to(alice)) == [cast["read"]]
    assert set(permissions_visible_to(trent)) == {cast["write"], derived}
    assert set(permissions_visible_to(sybil)) == {cast["share"], derived}
    assert list(permissions_visible_to(mallory)) == []
