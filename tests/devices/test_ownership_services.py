"""Ownership services and selectors: what other apps rely on (SPEC §4)."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from asi_api.errors import Conflict, NotFound, RuleViolation
from devices.models import OPEN_END, DeviceOwnership
from devices.selectors import (
    device_current_owner,
    device_owned_during,
    devices_visible_to,
)
from devices.services import ownership_release, ownership_take, ownerships_release_all
from timeframes.models import Timeframe

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


# --- device_owned_during -------------------------------------------------------------------------


def test_it_answers_whether_a_manager_owned_a_device_over_a_whole_window(alice, trent, handed_over):
    # trent: [t0, t1); alice: [t1, OPEN_END).
    trents = DeviceOwnership.objects.get(device=handed_over, manager=trent)
    t0, t1 = trents.start_time, trents.end_time
    device = handed_over.pk
    assert device_owned_during(manager=trent, device_id=device, start=t0, end=t1)
    assert device_owned_during(manager=trent, device_id=device, start=t0 + HOUR, end=t1 - HOUR)
    assert not device_owned_during(manager=trent, device_id=device, start=t0 - HOUR, end=t1)
    assert not device_owned_during(manager=trent, device_id=device, start=t0, end=t1 + HOUR)
    # An ongoing ownership covers the future.
    assert device_owned_during(manager=alice, device_id=device, start=t1, end=t1 + 900 * HOUR)
    assert not device_owned_during(manager=alice, device_id=device, start=t1 - HOUR, end=t1)


def test_it_names_the_current_owner(alice, trent, handed_over, spare):
    assert device_current_owner(device_id=handed_over.pk) == alice
    assert device_current_owner(device_id=spare.pk) is None


def test_it_shows_no_device_to_athletes(carol, vest):
    assert not devices_visible_to(carol).exists()


# --- the database constraint ---------------------------------------------------------------------


def test_it_lets_the_database_refuse_overlapping_periods(alice, mallory, vest):
    assert connection.vendor == "postgresql"
    now = timezone.now()
    with pytest.raises(IntegrityError, match="ownership_periods_no_overlap"), transaction.atomic():
        DeviceOwnership.objects.create(device=vest, manager=mallory, start_time=now - 10 * HOUR)


def test_it_lets_the_database_accept_adjacent_periods(alice, mallory, spare):
    # Half-open windows: [t0, t1) and [t1, t2) do not overlap.
    t1 = timezone.now() - HOUR
    DeviceOwnership.objects.create(device=spare, manager=alice, start_time=t1 - HOUR, end_time=t1)
    DeviceOwnership.objects.create(device=spare, manager=mallory, start_time=t1)
    assert DeviceOwnership.objects.filter(device=spare).count() == 2


def test_it_maps_a_lost_race_at_the_constraint_to_a_conflict(alice, mallory, spare, monkeypatch):
    # Simulate the interleaving: alice's ownership commits after mallory's check has passed.
    from devices import services

    real_create = DeviceOwnership.objects.create

    def create_after_rival(**fields):
        real_create(device=spare, manager=alice, start_time=fields["start_time"] - HOUR)
        return real_create(**fields)

    monkeypatch.setattr(DeviceOwnership.objects, "create", create_after_rival)
    with pytest.raises(Conflict):
        services.ownership_take(
            manager=mallory, device=spare, serial_number="ASI-0003", device_name="a1b2c3d4e5f8"
        )


# --- take / release as services ------------------------------------------------------------------


def test_it_refuses_take_to_a_non_manager(admin, spare):
    with pytest.raises(RuleViolation):
        ownership_take(
            manager=admin, device=spare, serial_number="ASI-0003", device_name="a1b2c3d4e5f8"
        )


def test_it_raises_the_release_errors_of_the_spec(alice, trent, mallory, handed_over, spare):
    with pytest.raises(RuleViolation):
        ownership_release(manager=trent, device=handed_over)
    with pytest.raises(NotFound):
        ownership_release(manager=mallory, device=handed_over)
    with pytest.raises(Conflict):
        ownership_release(manager=alice, device=spare)


def test_it_cuts_the_releasers_timeframes_in_the_middle(
    alice, vest, match, make_timeframe, emitted
):
    # carol wears vest in alice's match (rows stored directly: carol gave alice no WRITE).
    now = timezone.now()
    finished = make_timeframe(vest, match, now - 5 * HOUR, now - 4 * HOUR)
    running = make_timeframe(vest, match, now - HOUR, now + HOUR)
    future = make_timeframe(vest, match, now + 2 * HOUR, now + 3 * HOUR)

    ownership = ownership_release(manager=alice, device=vest)

    running.refresh_from_db()
    assert running.end_time == ownership.end_time
    finished.refresh_from_db()
    assert finished.end_time == now - 4 * HOUR
    assert not Timeframe.objects.filter(pk=future.pk).exists()
    # The timeframes' reaction runs inside the announcement: a later listener hears it first.
    assert [(e.name, e.timeframe_id) for e in emitted] == [
        ("timeframe-updated", running.pk),
        ("timeframe-deleted", future.pk),
        ("ownership-ended", None),
    ]
    ended = emitted[-1]
    assert (ended.user_id, ended.device_id) == (alice.pk, vest.pk)
    assert (ended.start, ended.end) == (ownership.end_time, OPEN_END)


def test_it_leaves_other_managers_timeframes_alone_on_release(
    alice, trent, handed_over, make_activity, make_timeframe
):
    now = timezone.now()
    trents_match = make_activity("Trent's match", owner=trent)
    trents = make_timeframe(handed_over, trents_match, now - 5 * 24 * HOUR, now - 4 * 24 * HOUR)
    ownership_release(manager=alice, device=handed_over)
    trents.refresh_from_db()
    assert trents.end_time == now - 4 * 24 * HOUR


def test_it_rolls_the_release_back_when_cutting_timeframes_fails(alice, vest, monkeypatch):
    import timeframes.services

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(timeframes.services, "timeframes_cut_at_release", broken)
    with pytest.raises(RuntimeError):
        ownership_release(manager=alice, device=vest)
    assert DeviceOwnership.objects.get(device=vest).end_time == OPEN_END


def test_it_releases_everything_a_leaving_manager_owns(alice, trent, vest, handed_over, spare, own):
    future = own(spare, alice, timezone.now() + 24 * HOUR)
    assert ownerships_release_all(manager=alice) == 2
    assert not DeviceOwnership.objects.filter(manager=alice, end_time=OPEN_END).exists()
    assert not DeviceOwnership.objects.filter(pk=future.pk).exists()
    # trent's past period is untouched.
    assert DeviceOwnership.objects.filter(manager=trent).count() == 1
    assert ownerships_release_all(manager=alice) == 0


# --- the activity filter -------------------------------------------------------------------------


def test_it_filters_devices_by_an_activity_the_caller_sees(
    api, admin, alice, mallory, vest, handed_over, match, make_timeframe
):
    now = timezone.now()
    timeframe = make_timeframe(vest, match, now - HOUR, now)
    activity_id = timeframe.activity_id
    url = "/api/v1/devices/"
    results = api(alice).get(url, {"activity": activity_id}).json()["results"]
    assert [d["id"] for d in results] == [vest.pk]
    assert api(admin).get(url, {"activity": activity_id}).json()["count"] == 1
    # An activity mallory cannot see filters to nothing (its existence is not revealed).
    assert api(mallory).get(url, {"activity": activity_id}).json()["count"] == 0
    assert api(alice).get(url, {"activity": 999999}).json()["count"] == 0


def test_it_shows_nothing_to_anonymous_users(vest):
    from django.contrib.auth.models import AnonymousUser

    from devices.selectors import ownerships_visible_to

    assert not devices_visible_to(AnonymousUser()).exists()
    assert not ownerships_visible_to(AnonymousUser()).exists()
