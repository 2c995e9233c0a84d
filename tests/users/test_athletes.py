"""Athletes: list with filters, search and ordering; detail; changes; managed athletes."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from users.models import AthleteProfile, PermissionKind, Role, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def frank(alice, make_user) -> User:
    """Athlete managed by alice (no e-mail, no login)."""
    frank = make_user("frank", Role.ATHLETE, gender="M", birth_date="2004-05-06")
    User.objects.filter(pk=frank.pk).update(email="")
    AthleteProfile.objects.filter(user=frank).update(managed_by=alice)
    frank.refresh_from_db()
    return frank


@pytest.fixture
def can_manage(alice) -> User:
    alice.user_permissions.add(Permission.objects.get(codename="can_create_managed_athletes"))
    return User.objects.get(pk=alice.pk)  # fresh: no permission cache


def names(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["username"] for row in response.json()["results"]]


def test_it_lists_a_manager_the_athletes_he_holds_grants_on(api, cast, alice, trent, sybil):
    assert names(api(alice).get("/api/v1/athletes/")) == ["carol"]
    assert names(api(trent).get("/api/v1/athletes/")) == ["carol"]
    assert names(api(sybil).get("/api/v1/athletes/")) == ["carol"]


def test_it_lists_the_outsider_nobody(api, cast, mallory):
    response = api(mallory).get("/api/v1/athletes/")
    assert response.json() == {"count": 0, "page": 1, "next": None, "previous": None, "results": []}


def test_it_lists_an_athlete_himself(api, cast, carol, bob):
    assert names(api(bob).get("/api/v1/athletes/")) == ["bob"]


def test_it_lists_admins_everyone(api, cast, admin, frank):
    assert names(api(admin).get("/api/v1/athletes/")) == ["bob", "carol", "frank"]


def test_it_drops_an_athlete_once_the_grant_expires(api, alice, carol, grant):
    now = timezone.now()
    grant(carol, alice, PermissionKind.READ, now - timedelta(days=2), now - timedelta(seconds=1))
    assert names(api(alice).get("/api/v1/athletes/")) == []


def test_it_lists_managed_athletes_without_email(api, alice, frank):
    response = api(alice).get("/api/v1/athletes/")
    [row] = response.json()["results"]
    assert row["managed_by"] == alice.pk
    assert "email" not in row


def test_it_shows_the_athlete_representation(api, cast, alice, carol):
    body = api(alice).get(f"/api/v1/athletes/{carol.pk}/").json()
    assert set(body) == {"id", "username", "email", "external_id", "managed_by", "athlete_profile"}
    assert body["athlete_profile"]["first_name"] == "Carol"
    assert body["athlete_profile"]["profile_picture"] is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("username=CAR", ["carol"]),
        ("email=bob@", ["bob"]),
        ("first_name=fra", ["frank"]),
        ("last_name=athlete", ["bob", "carol", "frank"]),
        ("gender=M", ["bob", "frank"]),
        ("is_managed=true", ["frank"]),
        ("is_managed=false", ["bob", "carol"]),
        ("birthdate_from=2000-01-01", ["frank"]),
        ("birthdate_to=1998-04-12", ["bob", "carol"]),
        ("external_id=ext-c", ["carol"]),
        ("search=ext-d", ["bob"]),
        ("search=FRANK", ["frank"]),
        ("ordering=-username", ["frank", "carol", "bob"]),
        ("ordering=-birthdate", ["frank", "carol", "bob"]),
        ("ordering=gender,-username", ["carol", "frank", "bob"]),
    ],
)
def test_it_filters_searches_and_orders(api, admin, carol, bob, frank, alice, query, expected):
    User.objects.filter(pk=carol.pk).update(external_id="ext-c")
    User.objects.filter(pk=bob.pk).update(external_id="ext-d")
    AthleteProfile.objects.filter(user=carol).update(birth_date="1998-04-12")
    AthleteProfile.objects.filter(user=bob).update(birth_date="1996-09-03")
    if "managed_by" not in query:
        assert names(api(admin).get(f"/api/v1/athletes/?{query}")) == expected


def test_it_filters_by_managing_manager(api, admin, alice, trent, frank, carol):
    assert names(api(admin).get(f"/api/v1/athletes/?managed_by={alice.pk}")) == ["frank"]
    assert names(api(admin).get(f"/api/v1/athletes/?managed_by={trent.pk}")) == []


@pytest.mark.parametrize(
    "query",
    [
        "ordering=password",
        "gender=X",
        "is_managed=maybe",
        "birthdate_from=yesterday",
        "managed_by=alice",
        "limit=0",
    ],
)
def test_it_refuses_malformed_list_queries(api, admin, carol, query):
    response = api(admin).get(f"/api/v1/athletes/?{query}")
    assert response.status_code == 400
    assert response.json()


def test_it_pages_athletes(api, admin, make_user):
    for index in range(5):
        make_user(f"runner{index}", Role.ATHLETE)
    body = api(admin).get("/api/v1/athletes/?limit=2&page=2").json()
    assert body["count"] == 5 and body["page"] == 2 and body["next"] == 3 and body["previous"] == 1
    assert [row["username"] for row in body["results"]] == ["runner2", "runner3"]
    assert api(admin).get("/api/v1/athletes/?limit=2&page=9").status_code == 404


@pytest.mark.parametrize("size", [1, 3, 8])
def test_it_lists_athletes_in_constant_queries(
    api, admin, alice, make_user, grant, window, size, django_assert_num_queries
):
    for index in range(size):
        athlete = make_user(f"runner{index}", Role.ATHLETE)
        grant(athlete, alice, PermissionKind.READ, *window)
        grant(athlete, alice, PermissionKind.WRITE, *window)
        AthleteProfile.objects.filter(user=athlete).update(managed_by=alice)
    client = api(alice)
    # token (with its user), count, page: whatever the page size.
    with django_assert_num_queries(3):
        response = client.get("/api/v1/athletes/")
    assert response.json()["count"] == size


def test_it_hides_athletes_one_may_not_see(api, cast, alice, mallory, carol, bob):
    assert api(alice).get(f"/api/v1/athletes/{bob.pk}/").status_code == 404
    assert api(mallory).get(f"/api/v1/athletes/{carol.pk}/").status_code == 404
    assert api(bob).get(f"/api/v1/athletes/{carol.pk}/").status_code == 404
    assert api(alice).get("/api/v1/athletes/999999/").status_code == 404
    assert api(alice).get(f"/api/v1/athletes/{alice.pk}/").status_code == 404  # a manager


def test_it_needs_a_token_for_details(api, carol):
    assert api().get(f"/api/v1/athletes/{carol.pk}/").status_code == 401
    assert api().patch(f"/api/v1/athletes/{carol.pk}/", {}).status_code == 401
    assert api().delete(f"/api/v1/athletes/{carol.pk}/").status_code == 401


def test_it_lets_an_athlete_patch_himself(api, carol):
    response = api(carol).patch(
        f"/api/v1/athletes/{carol.pk}/",
        {"external_id": "club-9", "athlete_profile": {"height": 1.71}},
    )
    assert response.status_code == 200
    assert response.json()["external_id"] == "club-9"
    assert response.json()["athlete_profile"]["height"] == 1.71


def test_it_lets_the_managing_manager_patch_his_athlete(api, alice, frank):
    response = api(alice).patch(
        f"/api/v1/athletes/{frank.pk}/", {"athlete_profile": {"max_heart_rate": 201}}
    )
    assert response.status_code == 200
    assert response.json()["athlete_profile"]["max_heart_rate"] == 201


def test_it_refuses_an_email_for_a_managed_athlete(api, alice, frank):
    response = api(alice).patch(f"/api/v1/athletes/{frank.pk}/", {"email": "f@example.org"})
    assert response.status_code == 400
    assert "email" in response.json()


def test_it_forbids_a_grant_holder_to_patch_or_delete(api, cast, alice, carol):
    assert (
        api(alice).patch(f"/api/v1/athletes/{carol.pk}/", {"external_id": "x"}).status_code == 403
    )
    assert api(alice).delete(f"/api/v1/athletes/{carol.pk}/").status_code == 403
    carol.refresh_from_db()
    assert carol.external_id == ""


def test_it_refuses_a_malformed_patch(api, carol):
    response = api(carol).patch(
        f"/api/v1/athletes/{carol.pk}/", {"athlete_profile": {"height": "tall"}}
    )
    assert response.status_code == 400
    assert "height" in response.json()["athlete_profile"]


def test_it_refuses_put_on_an_athlete(api, carol):
    assert api(carol).put(f"/api/v1/athletes/{carol.pk}/", {}).status_code == 405


def test_it_lets_an_athlete_delete_himself(api, cast, carol):
    assert api(carol).delete(f"/api/v1/athletes/{carol.pk}/").status_code == 204
    assert not User.objects.filter(pk=carol.pk).exists()


def test_it_lets_an_admin_delete_an_athlete(api, admin, bob):
    assert api(admin).delete(f"/api/v1/athletes/{bob.pk}/").status_code == 204


def test_it_creates_a_managed_athlete(api, can_manage):
    response = api(can_manage).post(
        "/api/v1/athletes/create-managed/",
        {"username": "gus", "external_id": "u17-3", "athlete_profile": {"gender": "M"}},
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["managed_by"] == can_manage.pk and "email" not in body
    gus = User.objects.get(username="gus")
    assert not gus.has_usable_password() and gus.is_athlete
    assert names(api(can_manage).get("/api/v1/athletes/")) == ["gus"]


def test_it_refuses_managed_athletes_without_the_permission(api, alice):
    response = api(alice).post("/api/v1/athletes/create-managed/", {"username": "gus"})
    assert response.status_code == 403
    assert "can_create_managed_athletes" in response.json()["detail"]


@pytest.mark.parametrize("user", ["carol", "admin"])
def test_it_refuses_managed_athletes_to_non_managers(api, request, user):
    caller = request.getfixturevalue(user)
    response = api(caller).post("/api/v1/athletes/create-managed/", {"username": "gus"})
    assert response.status_code == 403


def test_it_needs_a_token_for_managed_athletes(api):
    assert api().post("/api/v1/athletes/create-managed/", {"username": "gus"}).status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "gus", "email": "gus@example.org"}, "email"),
        ({"username": "gus", "password": "Lumen-Quartz-77"}, "password"),
        ({"username": "carol"}, "username"),
        ({}, "username"),
        ({"username": "gus", "athlete_profile": {"gender": "?"}}, "athlete_profile"),
    ],
)
def test_it_refuses_malformed_managed_athletes(api, can_manage, carol, body, field):
    response = api(can_manage).post("/api/v1/athletes/create-managed/", body)
    assert response.status_code == 400
    assert field in response.json()
    assert not User.objects.filter(username="gus").exists()
