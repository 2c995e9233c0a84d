"""Taking, releasing and renaming devices, and the ownership list (SPEC §4)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from devices.models import OPEN_END, Device, DeviceOwnership

pytestmark = pytest.mark.django_db

DEVICES = "/api/v1/devices/"
OWNERSHIPS = "/api/v1/device-ownerships/"
SPARE_PROOF = {"serial_number": "ASI-0003", "device_name": "a1b2c3d4e5f8"}


def take(client, device, proof=SPARE_PROOF):
    return client.post(f"{DEVICES}{device.pk}/take-ownership/", proof)


def release(client, device):
    return client.post(f"{DEVICES}{device.pk}/release-ownership/")


def rename(client, device, name="Blue vest"):
    return client.post(f"{DEVICES}{device.pk}/set-custom-name/", {"custom_name": name})


# --- take-ownership ------------------------------------------------------------------------------


def test_it_gives_a_spare_device_to_the_manager_who_proves_he_holds_it(api, mallory, spare):
    response = take(api(mallory), spare)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["device"] == spare.pk
    assert body["manager"] == mallory.pk
    assert body["end_time"] == "2999-12-31T23:59:59Z"
    assert body["start_time"].endswith("Z")
    assert body["device_details"] == {
        "id": spare.pk,
        "device_name": "a1b2c3d4e5f8",
        "serial_number": "ASI-0003",
    }
    # Now he sees it in his current devices.
    current = api(mallory).get(DEVICES, {"current": "true"}).json()["results"]
    assert [device["id"] for device in current] == [spare.pk]


def test_it_activates_a_device_on_its_first_ownership_only(api, mallory, trent, spare):
    with time_machine.travel(timezone.now() - timedelta(days=3), tick=True):
        take(api(mallory), spare)
        release(api(mallory), spare)
    spare.refresh_from_db()
    activated_at = spare.activated_at
    assert spare.is_active is True
    assert activated_at is not None
    assert take(api(trent), spare).status_code == 201
    spare.refresh_from_db()
    assert spare.activated_at == activated_at


@pytest.mark.parametrize(
    ("proof", "field"),
    [
        ({"serial_number": "ASI-0001", "device_name": "a1b2c3d4e5f8"}, "serial_number"),
        ({"serial_number": "ASI-0003", "device_name": "a1b2c3d4e5f6"}, "device_name"),
        ({"serial_number": "ASI-0003"}, "device_name"),
        ({"device_name": "a1b2c3d4e5f8"}, "serial_number"),
    ],
)
def test_it_refuses_a_take_whose_serial_or_name_does_not_match(api, mallory, spare, proof, field):
    response = take(api(mallory), spare, proof)
    assert response.status_code == 400
    assert field in response.json()
    assert not DeviceOwnership.objects.exists()
    spare.refresh_from_db()
    assert spare.is_active is False


def test_it_refuses_to_take_a_device_someone_owns(api, mallory, alice, vest):
    proof = {"serial_number": "ASI-0001", "device_name": "a1b2c3d4e5f6"}
    assert take(api(mallory), vest, proof).status_code == 409
    # Even its owner cannot take it a second time.
    response = take(api(alice), vest, proof)
    assert response.status_code == 409
    assert "already owned" in response.json()["detail"]
    assert DeviceOwnership.objects.filter(device=vest).count() == 1


def test_it_checks_the_proof_before_telling_whether_a_device_is_owned(api, mallory, vest):
    response = take(api(mallory), vest, SPARE_PROOF)
    assert response.status_code == 400


def test_it_lets_only_managers_take_devices(api, admin, carol, spare):
    assert take(api(admin), spare).status_code == 403
    assert take(api(carol), spare).status_code == 403
    assert take(api(), spare).status_code == 401
    assert not DeviceOwnership.objects.exists()


def test_it_answers_404_when_taking_an_unknown_device(api, mallory):
    response = api(mallory).post(f"{DEVICES}424242/take-ownership/", SPARE_PROOF)
    assert response.status_code == 404


def test_it_rejects_a_take_that_is_not_json(api, mallory, spare):
    response = api(mallory).post(
        f"{DEVICES}{spare.pk}/take-ownership/", "serial_number=x", content_type="text/plain"
    )
    assert response.status_code == 415


# --- release-ownership ---------------------------------------------------------------------------


def test_it_ends_the_owners_period_now_and_keeps_his_history(api, alice, vest):
    before = timezone.now()
    response = release(api(alice), vest)
    assert response.status_code == 200, response.content
    ownership = DeviceOwnership.objects.get(device=vest)
    assert before <= ownership.end_time <= timezone.now()
    assert response.json()["end_time"] != "2999-12-31T23:59:59Z"
    # A past owner still sees the device (his data), but not among his current devices.
    assert api(alice).get(f"{DEVICES}{vest.pk}/").status_code == 200
    assert api(alice).get(DEVICES, {"current": "true"}).json()["count"] == 0


def test_it_lets_another_manager_take_a_released_device(api, alice, mallory, vest):
    release(api(alice), vest)
    proof = {"serial_number": "ASI-0001", "device_name": "a1b2c3d4e5f6"}
    assert take(api(mallory), vest, proof).status_code == 201
    periods = list(DeviceOwnership.objects.filter(device=vest).order_by("start_time"))
    assert [p.manager for p in periods] == [alice, mallory]
    assert periods[0].end_time <= periods[1].start_time


def test_it_answers_409_when_nobody_owns_the_device_whoever_asks(api, alice, mallory, vest, spare):
    release(api(alice), vest)
    assert release(api(alice), vest).status_code == 409
    assert release(api(mallory), vest).status_code == 409
    assert release(api(mallory), spare).status_code == 409


def test_it_answers_403_to_a_past_owner(api, trent, handed_over):
    response = release(api(trent), handed_over)
    assert response.status_code == 403
    assert (
        DeviceOwnership.objects.get(device=handed_over, end_time=OPEN_END).manager.username
        == "alice"
    )


def test_it_answers_404_to_a_manager_who_never_owned_the_device(api, mallory, vest):
    assert release(api(mallory), vest).status_code == 404
    assert DeviceOwnership.objects.get(device=vest).end_time == OPEN_END


def test_it_lets_only_managers_release(api, admin, carol, vest):
    assert release(api(admin), vest).status_code == 403
    assert release(api(carol), vest).status_code == 403
    assert release(api(), vest).status_code == 401
    assert api(admin).post(f"{DEVICES}987654/release-ownership/").status_code == 403
    assert DeviceOwnership.objects.get(device=vest).end_time == OPEN_END


def test_it_answers_404_when_releasing_an_unknown_device(api, alice):
    assert api(alice).post(f"{DEVICES}987654/release-ownership/").status_code == 404


def test_it_survives_a_take_and_release_within_one_clock_tick(api, mallory, spare):
    with time_machine.travel(timezone.now(), tick=False):
        assert take(api(mallory), spare).status_code == 201
        assert release(api(mallory), spare).status_code == 200
        # The empty period owned nothing, so nothing is left of it.
        assert not DeviceOwnership.objects.exists()
        assert take(api(mallory), spare).status_code == 201


# --- set-custom-name -----------------------------------------------------------------------------


def test_it_lets_the_current_owner_rename_his_device(api, alice, vest):
    response = rename(api(alice), vest)
    assert response.status_code == 200
    assert response.json()["custom_name"] == "Blue vest"
    vest.refresh_from_db()
    assert vest.custom_name == "Blue vest"
    assert rename(api(alice), vest, "").json()["custom_name"] == ""


def test_it_forbids_renaming_to_a_past_owner(api, trent, handed_over):
    assert rename(api(trent), handed_over).status_code == 403


def test_it_hides_the_device_from_a_renaming_outsider(api, mallory, vest, spare):
    assert rename(api(mallory), vest).status_code == 404
    assert rename(api(mallory), spare).status_code == 404


def test_it_lets_only_managers_rename(api, admin, carol, vest):
    assert rename(api(admin), vest).status_code == 403
    assert rename(api(carol), vest).status_code == 403
    assert rename(api(), vest).status_code == 401
    vest.refresh_from_db()
    assert vest.custom_name == "Vest"


@pytest.mark.parametrize("body", [{}, {"custom_name": "x" * 256}, {"custom_name": None}])
def test_it_rejects_a_malformed_custom_name(api, alice, vest, body):
    response = api(alice).post(f"{DEVICES}{vest.pk}/set-custom-name/", body)
    assert response.status_code == 400
    assert "custom_name" in response.json()


# --- ownership list and detail -------------------------------------------------------------------


def test_it_lists_a_managers_own_ownerships(api, alice, trent, vest, handed_over):
    body = api(trent).get(OWNERSHIPS).json()
    assert body["count"] == 1
    (ownership,) = body["results"]
    assert ownership["device"] == handed_over.pk
    assert ownership["manager"] == trent.pk
    assert ownership["end_time"] != "2999-12-31T23:59:59Z"
    assert set(ownership) == {"id", "device", "manager", "start_time", "end_time", "device_details"}
    mine = api(alice).get(OWNERSHIPS).json()["results"]
    assert {o["device"] for o in mine} == {vest.pk, handed_over.pk}
    assert all(o["end_time"] == "2999-12-31T23:59:59Z" for o in mine)


def test_it_lists_every_ownership_to_an_admin(api, admin, vest, handed_over):
    assert api(admin).get(OWNERSHIPS).json()["count"] == 3


def test_it_filters_ownerships_by_device_and_current(api, admin, vest, handed_over):
    client = api(admin)
    by_device = client.get(OWNERSHIPS, {"device": handed_over.pk}).json()["results"]
    assert len(by_device) == 2
    current = client.get(OWNERSHIPS, {"device": handed_over.pk, "current": "true"}).json()
    assert [o["manager"] for o in current["results"]] == [
        DeviceOwnership.objects.get(device=handed_over, end_time=OPEN_END).manager_id
    ]
    past = client.get(OWNERSHIPS, {"current": "false"}).json()["results"]
    assert len(past) == 1
    assert client.get(OWNERSHIPS, {"device": "x"}).status_code == 400
    assert client.get(OWNERSHIPS, {"current": "sometimes"}).status_code == 400


@pytest.mark.parametrize(
    ("who", "status"),
    [("trent", 200), ("alice", 404), ("mallory", 404), ("admin", 200), ("carol", 403), (None, 401)],
)
def test_it_shows_an_ownership_only_to_its_manager_and_admins(
    api, request, handed_over, trent, who, status
):
    trents = DeviceOwnership.objects.get(device=handed_over, manager=trent)
    user = request.getfixturevalue(who) if who else None
    assert api(user).get(f"{OWNERSHIPS}{trents.pk}/").status_code == status


def test_it_forbids_ownership_lists_to_athletes_and_anonymous(api, carol):
    assert api(carol).get(OWNERSHIPS).status_code == 403
    assert api().get(OWNERSHIPS).status_code == 401


def test_it_does_not_write_ownerships_directly(api, admin, alice, spare):
    body = {"device": spare.pk, "manager": alice.pk, "start_time": "2020-01-01T00:00:00Z"}
    assert api(alice).post(OWNERSHIPS, body).status_code == 405


def test_it_lists_ownerships_in_a_constant_number_of_queries(
    api, alice, make_device, own, django_assert_num_queries
):
    client = api(alice)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for total in (1, 7):
        while DeviceOwnership.objects.count() < total:
            own(make_device(), alice, timezone.now() - timedelta(hours=1))
        with CaptureQueriesContext(connection) as queries:
            assert client.get(OWNERSHIPS, {"limit": 500}).json()["count"] == total
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_it_searches_ownerships_by_device(api, alice, vest, handed_over):
    body = api(alice).get(OWNERSHIPS, {"search": "ASI-0002"}).json()
    assert [o["device"] for o in body["results"]] == [handed_over.pk]
    assert Device.objects.count() == 2


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("alice", {"alice"}),  # owner now (of both devices)
        ("trent", {"trent"}),  # past owner: his own past period only
        ("mallory", set()),  # never owned anything
        ("admin", {"alice", "trent"}),
    ],
)
def test_it_lists_ownerships_by_who_asks(api, request, vest, handed_over, who, expected):
    results = api(request.getfixturevalue(who)).get(OWNERSHIPS).json()["results"]
    managers = {DeviceOwnership.objects.get(pk=o["id"]).manager.username for o in results}
    assert managers == expected
