"""Device list, detail and creation (SPEC §4): who sees which device, filters, search."""

from datetime import timedelta

import pytest
from django.utils import timezone

from devices.models import Device

pytestmark = pytest.mark.django_db

URL = "/api/v1/devices/"


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [device["id"] for device in response.json()["results"]]


# --- representation ------------------------------------------------------------------------------


def test_it_shows_a_device_as_the_spec_says(api, alice, vest):
    body = api(alice).get(f"{URL}{vest.pk}/").json()
    assert body == {
        "id": vest.pk,
        "device_name": "a1b2c3d4e5f6",
        "serial_number": "ASI-0001",
        "custom_name": "Vest",
        "is_active": True,
        "activated_at": body["activated_at"],
        "created_at": body["created_at"],
    }
    assert body["activated_at"].endswith("Z")
    assert body["created_at"].endswith("Z")


# --- visibility matrix: list ---------------------------------------------------------------------


def test_it_lists_every_device_to_an_admin(api, admin, vest, handed_over, spare):
    assert ids(api(admin).get(URL)) == [vest.pk, handed_over.pk, spare.pk]


def test_it_lists_to_a_manager_what_he_owns_or_owned(api, alice, trent, vest, handed_over, spare):
    assert ids(api(alice).get(URL)) == [vest.pk, handed_over.pk]
    # trent owned `handed_over` before: he still sees it (his past data), but not alice's vest.
    assert ids(api(trent).get(URL)) == [handed_over.pk]


def test_it_lists_only_devices_owned_now_with_current_true(api, alice, trent, vest, handed_over):
    assert ids(api(alice).get(URL, {"current": "true"})) == [vest.pk, handed_over.pk]
    assert ids(api(trent).get(URL, {"current": "true"})) == []
    assert ids(api(trent).get(URL, {"current": "false"})) == [handed_over.pk]
    # The seed guide's client sends Python's `True`.
    assert ids(api(trent).get(URL, {"current": "True"})) == []


def test_it_tells_an_admin_which_devices_anyone_owns_now(api, admin, vest, spare):
    assert ids(api(admin).get(URL, {"current": "true"})) == [vest.pk]
    assert ids(api(admin).get(URL, {"current": "false"})) == [spare.pk]


def test_it_lists_nothing_to_an_outsider_manager(api, mallory, vest, handed_over, spare):
    assert ids(api(mallory).get(URL)) == []


def test_it_forbids_device_lists_to_athletes(api, carol, vest):
    response = api(carol).get(URL)
    assert response.status_code == 403
    assert response.json()["detail"]


def test_it_asks_anonymous_callers_to_authenticate(api, vest):
    assert api().get(URL).status_code == 401
    assert api().get(f"{URL}{vest.pk}/").status_code == 401


def test_it_finds_an_unowned_device_given_its_exact_serial_and_name(api, mallory, spare):
    found = api(mallory).get(URL, {"serial_number": "ASI-0003", "device_name": "a1b2c3d4e5f8"})
    assert ids(found) == [spare.pk]
    # Detail answers the same proof.
    detail = api(mallory).get(
        f"{URL}{spare.pk}/", {"serial_number": "ASI-0003", "device_name": "a1b2c3d4e5f8"}
    )
    assert detail.status_code == 200


def test_it_needs_both_serial_and_name_to_find_an_unowned_device(api, mallory, spare):
    assert ids(api(mallory).get(URL, {"serial_number": "ASI-0003"})) == []
    assert ids(api(mallory).get(URL, {"device_name": "a1b2c3d4e5f8"})) == []
    assert (
        ids(api(mallory).get(URL, {"serial_number": "ASI-0003", "device_name": "a1b2c3d4e5f6"}))
        == []
    )
    assert (
        ids(api(mallory).get(URL, {"serial_number": "asi-0003", "device_name": "a1b2c3d4e5f8"}))
        == []
    )


def test_it_never_reveals_a_device_someone_owns_by_serial_and_name(api, mallory, vest):
    response = api(mallory).get(URL, {"serial_number": "ASI-0001", "device_name": "a1b2c3d4e5f6"})
    assert ids(response) == []


# --- visibility matrix: detail -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [("alice", 200), ("trent", 200), ("mallory", 404), ("admin", 200), ("carol", 403)],
)
def test_it_shows_a_device_only_to_who_may_see_it(api, request, handed_over, who, status):
    # handed_over: trent owned it before, alice owns it now, mallory never did.
    user = request.getfixturevalue(who)
    assert api(user).get(f"{URL}{handed_over.pk}/").status_code == status


def test_it_answers_404_for_an_unknown_or_malformed_device_id(api, admin):
    assert api(admin).get(f"{URL}999999/").status_code == 404
    assert api(admin).get(f"{URL}abc/").status_code == 404


def test_it_hides_a_device_from_a_manager_whose_ownership_has_not_started(api, mallory, own, spare):
    own(spare, mallory, timezone.now() + timedelta(days=1))
    assert api(mallory).get(f"{URL}{spare.pk}/").status_code == 404


# --- filters, search, ordering -------------------------------------------------------------------


def test_it_filters_by_serial_number_name_and_custom_name(api, admin, vest, handed_over, spare):
    client = api(admin)
    assert ids(client.get(URL, {"serial_number": "ASI-0002"})) == [handed_over.pk]
    assert ids(client.get(URL, {"device_name": "a1b2c3d4e5f8"})) == [spare.pk]
    assert ids(client.get(URL, {"custom_name": "ves"})) == [vest.pk]


def test_it_searches_over_name_serial_and_custom_name(api, admin, vest, handed_over, spare):
    client = api(admin)
    assert ids(client.get(URL, {"search": "e5f7"})) == [handed_over.pk]
    assert ids(client.get(URL, {"search": "asi-000"})) == [vest.pk, handed_over.pk, spare.pk]
    assert ids(client.get(URL, {"search": "VEST"})) == [vest.pk]


def test_it_orders_and_rejects_unknown_ordering(api, admin, vest, handed_over, spare):
    client = api(admin)
    assert ids(client.get(URL, {"ordering": "-serial_number"})) == [
        spare.pk,
        handed_over.pk,
        vest.pk,
    ]
    response = client.get(URL, {"ordering": "secret"})
    assert response.status_code == 400
    assert "ordering" in response.json()


@pytest.mark.parametrize(("param", "value"), [("current", "maybe"), ("activity", "abc")])
def test_it_rejects_malformed_filter_values(api, alice, vest, param, value):
    response = api(alice).get(URL, {param: value})
    assert response.status_code == 400
    assert param in response.json()


def test_it_paginates_as_every_list(api, admin, make_device):
    for _ in range(5):
        make_device()
    body = api(admin).get(URL, {"limit": 2, "page": 2}).json()
    assert (body["count"], body["page"], body["next"], body["previous"]) == (5, 2, 3, 1)
    assert api(admin).get(URL, {"limit": 2, "page": 9}).status_code == 404


@pytest.mark.parametrize("user_name", ["admin", "alice"])
def test_it_lists_devices_in_a_constant_number_of_queries(
    api, request, make_device, own, alice, django_assert_num_queries, user_name
):
    user = request.getfixturevalue(user_name)
    client = api(user)
    counts = []
    for total in (1, 6):
        while Device.objects.count() < total:
            own(make_device(), alice, timezone.now() - timedelta(hours=1))
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert len(ids(client.get(URL, {"limit": 500}))) == total
        counts.append(len(queries))
    assert counts[0] == counts[1]
    with django_assert_num_queries(counts[0]):
        client.get(URL, {"current": "true", "search": "a"})


# --- creation ------------------------------------------------------------------------------------


def test_it_lets_an_admin_create_a_device(api, admin):
    response = api(admin).post(
        URL, {"device_name": "0123456789ab", "serial_number": "ASI-9000", "custom_name": "New"}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["device_name"] == "0123456789ab"
    assert body["is_active"] is False
    assert body["activated_at"] is None
    assert Device.objects.filter(pk=body["id"], custom_name="New").exists()


@pytest.mark.parametrize("who", ["alice", "carol"])
def test_it_forbids_device_creation_to_non_admins(api, request, who):
    response = api(request.getfixturevalue(who)).post(
        URL, {"device_name": "0123456789ab", "serial_number": "ASI-9000"}
    )
    assert response.status_code == 403
    assert not Device.objects.exists()


def test_it_asks_anonymous_device_creators_to_authenticate(api):
    assert api().post(URL, {"device_name": "0123456789ab", "serial_number": "X"}).status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"device_name": "0123456789AB", "serial_number": "ASI-9"}, "device_name"),
        ({"device_name": "0123456789a", "serial_number": "ASI-9"}, "device_name"),
        ({"device_name": "0123456789ag", "serial_number": "ASI-9"}, "device_name"),
        ({"device_name": "a1b2c3d4e5f6", "serial_number": "ASI-9"}, "device_name"),
        ({"device_name": "0123456789ab", "serial_number": "ASI-0001"}, "serial_number"),
        ({"device_name": "0123456789ab"}, "serial_number"),
        ({"serial_number": "ASI-9"}, "device_name"),
    ],
)
def test_it_rejects_bad_or_duplicate_devices_naming_the_field(api, admin, vest, body, field):
    response = api(admin).post(URL, body)
    assert response.status_code == 400
    assert field in response.json()
    assert Device.objects.count() == 1


def test_it_does_not_update_or_delete_devices_over_the_api(api, admin, vest):
    assert api(admin).patch(f"{URL}{vest.pk}/", {"custom_name": "x"}).status_code == 405
    assert api(admin).delete(f"{URL}{vest.pk}/").status_code == 405
