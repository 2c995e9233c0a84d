"""Ten managers take one device at the same instant: the database lets exactly one win."""

import threading
from collections import Counter

import pytest
from django.db import IntegrityError, OperationalError, connection, connections, transaction
from django.utils import timezone

from devices.models import DeviceOwnership
from users.models import Role

MANAGERS = 10


@pytest.mark.django_db(transaction=True)
def test_it_gives_a_raced_device_to_exactly_one_manager(api, make_user, spare):
    assert connection.vendor == "postgresql", "the race is decided by PostgreSQL's constraint"
    clients = [api(make_user(f"racer{i}", Role.MANAGER)) for i in range(MANAGERS)]
    proof = {"serial_number": "ASI-0003", "device_name": "a1b2c3d4e5f8"}
    start = threading.Barrier(MANAGERS, timeout=30)
    statuses: list[int] = []

    def race(client) -> None:
        # Each thread has its own database connection (Django's are per thread).
        try:
            start.wait()
            response = client.post(f"/api/v1/devices/{spare.pk}/take-ownership/", proof)
            statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=race, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert Counter(statuses) == {201: 1, 409: MANAGERS - 1}
    assert DeviceOwnership.objects.filter(device=spare).count() == 1
    spare.refresh_from_db()
    assert spare.is_active


@pytest.mark.django_db(transaction=True)
def test_it_lets_the_constraint_decide_between_writers_that_skip_the_service(make_user, spare):
    """The constraint alone: ten transactions insert an ongoing period at once, bypassing the
    service's lock and check (as a buggy script or a hand-written SQL fix could). Exactly one
    commits; PostgreSQL rejects the others, as an exclusion violation or a deadlock (both
    mapped to 409 by the service)."""
    managers = [make_user(f"racer{i}", Role.MANAGER) for i in range(MANAGERS)]
    start = threading.Barrier(MANAGERS, timeout=30)
    outcomes: list[str] = []

    def insert(manager) -> None:
        try:
            start.wait()
            with transaction.atomic():
                DeviceOwnership.objects.create(
                    device=spare, manager=manager, start_time=timezone.now()
                )
            outcomes.append("committed")
        except (IntegrityError, OperationalError) as exc:
            outcomes.append(exc.__cause__.pgcode)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=insert, args=(m,)) for m in managers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(outcomes) == MANAGERS
    assert outcomes.count("committed") == 1
    assert set(outcomes) - {"committed"} <= {"23P01", "40P01"}
    assert DeviceOwnership.objects.filter(device=spare).count() == 1
