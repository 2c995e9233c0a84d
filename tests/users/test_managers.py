"""Managers: who sees whom, and the lookup by username that lets athletes find them."""

import pytest

from users.models import Role

pytestmark = pytest.mark.django_db


def names(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["username"] for row in response.json()["results"]]


def test_it_lists_admins_every_manager(api, cast, admin):
    assert names(api(admin).get("/api/v1/managers/")) == ["alice", "mallory", "sybil", "trent"]


def test_it_lists_a_manager_himself(api, cast, alice):
    response = api(alice).get("/api/v1/managers/")
    assert response.json()["results"] == [
        {
            "id": alice.pk,
            "username": "alice",
            "email": "alice@example.org",
            "external_id": "",
            "manager_profile": {"first_name": "Alice", "last_name": "Manager"},
        }
    ]


def test_it_lists_an_athlete_the_managers_he_granted_to(api, cast, carol, bob):
    assert names(api(carol).get("/api/v1/managers/")) == ["alice", "sybil", "trent"]
    assert names(api(bob).get("/api/v1/managers/")) == []


def test_it_lets_anyone_look_a_manager_up_by_exact_username(api, cast, bob, mallory):
    response = api(bob).get("/api/v1/managers/?username=mallory")
    assert response.json()["results"] == [
        {
            "id": mallory.pk,
            "username": "mallory",
            "manager_profile": {"first_name": "Mallory", "last_name": "Manager"},
        }
    ]
    assert names(api(bob).get("/api/v1/managers/?username=mall")) == []
    # The lookup shows no e-mail, and cannot be used to probe it either.
    probe = "/api/v1/managers/?username=mallory&search=nobody@&email=nobody@"
    assert names(api(bob).get(probe)) == ["mallory"]
    assert names(api(bob).get("/api/v1/managers/?username=carol")) == []  # an athlete


def test_it_filters_searches_and_orders_managers(api, cast, admin):
    assert names(api(admin).get("/api/v1/managers/?search=syb")) == ["sybil"]
    assert names(api(admin).get("/api/v1/managers/?first_name=AL")) == ["alice", "mallory"]
    assert names(api(admin).get("/api/v1/managers/?ordering=-username&limit=2")) == [
        "trent",
        "sybil",
    ]
    assert api(admin).get("/api/v1/managers/?ordering=nope").status_code == 400


def test_it_shows_manager_details_to_those_who_may_see_them(api, cast, alice, trent, carol, bob):
    assert api(carol).get(f"/api/v1/managers/{alice.pk}/").status_code == 200
    assert api(alice).get(f"/api/v1/managers/{alice.pk}/").status_code == 200
    assert api(alice).get(f"/api/v1/managers/{trent.pk}/").status_code == 404
    assert api(bob).get(f"/api/v1/managers/{alice.pk}/").status_code == 404
    assert api(alice).get(f"/api/v1/managers/{carol.pk}/").status_code == 404  # an athlete


def test_it_needs_a_token_for_managers(api, alice):
    assert api().get(f"/api/v1/managers/{alice.pk}/").status_code == 401


def test_it_has_no_writes_on_managers_beyond_registration(api, alice):
    assert api(alice).patch(f"/api/v1/managers/{alice.pk}/", {}).status_code == 405
    assert api(alice).delete(f"/api/v1/managers/{alice.pk}/").status_code == 405


@pytest.mark.parametrize("size", [1, 4, 9])
def test_it_lists_managers_in_constant_queries(
    api, admin, make_user, size, django_assert_num_queries
):
    for index in range(size):
        make_user(f"coach{index}", Role.MANAGER)
    client = api(admin)
    with django_assert_num_queries(3):
        response = client.get("/api/v1/managers/")
    assert response.json()["count"] == size
