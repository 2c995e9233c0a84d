"""Athlete → manager grants: creation, sharing under SHARE, windows, revocation (SPEC §3)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from users.models import AthletePermission, PermissionKind
from users.selectors import manager_can_read, manager_can_read_at

from .moments import at, iso

pytestmark = pytest.mark.django_db


def path(athlete, manager, grant=None) -> str:
    base = f"/api/v1/athletes/{athlete.pk}/managers/{manager.pk}/permissions/"
    return f"{base}{grant.pk}/" if grant else base


def body(permission="READ", start=None, end=None) -> dict:
    return {
        "permission": permission,
        "start_time": iso(start or at(20)),
        "expiration_time": iso(end or at(22)),
    }


# --- creating -------------------------------------------------------------------------------


def test_it_lets_an_athlete_grant_read(api, carol, mallory):
    response = api(carol).post(path(carol, mallory), body())
    assert response.status_code == 201, response.json()
    grant = AthletePermission.objects.get()
    assert response.json() == {
        "id": grant.pk,
        "athlete": carol.pk,
        "manager": mallory.pk,
        "permission": "READ",
        "start_time": "2030-06-01T20:00:00Z",
        "expiration_time": "2030-06-01T22:00:00Z",
        "granted_by": carol.pk,
        "derived_from": None,
    }


def test_it_parses_offsets_without_a_colon(api, carol, mallory):
    response = api(carol).post(
        path(carol, mallory),
        {
            "permission": "WRITE",
            "start_time": "2023-03-12T13:00:00+0100",
            "expiration_time": "2023-03-12T14:00:00.000+01:00",
        },
    )
    assert response.status_code == 201, response.json()
    assert response.json()["start_time"] == "2023-03-12T12:00:00Z"


def test_it_lets_an_admin_grant_for_an_athlete(api, admin, carol, mallory):
    response = api(admin).post(path(carol, mallory), body("SHARE"))
    assert response.status_code == 201
    assert response.json()["granted_by"] == admin.pk


def test_it_needs_a_token_to_grant(api, carol, mallory):
    assert api().post(path(carol, mallory), body()).status_code == 401
    assert api().get(path(carol, mallory)).status_code == 401
    assert api().get("/api/v1/permissions/").status_code == 401


@pytest.mark.parametrize("holder", ["alice", "trent"])
def test_it_forbids_read_and_write_holders_to_grant(api, cast, request, holder, carol, mallory):
    caller = request.getfixturevalue(holder)
    response = api(caller).post(path(carol, mallory), body())
    assert response.status_code == 403
    assert AthletePermission.objects.filter(manager=mallory).count() == 0


def test_it_hides_athletes_from_outsiders_and_other_athletes(api, cast, carol, bob, mallory):
    assert api(mallory).post(path(carol, mallory), body()).status_code == 404
    assert api(bob).post(path(carol, mallory), body()).status_code == 404
    assert api(bob).get(path(carol, mallory)).status_code == 404


@pytest.mark.parametrize(
    ("which", "message"),
    [("athlete", "No athlete with id 999999."), ("manager", "No manager with id 999999.")],
)
def test_it_names_unknown_ids(api, admin, carol, mallory, which, message):
    class Missing:
        pk = 999999

    athlete, manager = (Missing, mallory) if which == "athlete" else (carol, Missing)
    response = api(admin).post(path(athlete, manager), body())
    assert response.status_code == 404
    assert response.json() == {"detail": message}


def test_it_refuses_a_grant_to_an_athlete_or_from_a_manager(api, admin, carol, bob, alice, trent):
    assert api(carol).post(path(carol, bob), body()).status_code == 404
    assert api(admin).post(path(alice, trent), body()).status_code == 404


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (body(start=at(22), end=at(20)), "expiration_time"),
        (body(start=at(20), end=at(20)), "expiration_time"),
        (body("ADMIN"), "permission"),
        ({**body(), "start_time": "yesterday"}, "start_time"),
        ({"permission": "READ", "start_time": iso(at(20))}, "expiration_time"),
    ],
)
def test_it_refuses_malformed_grants(api, carol, mallory, payload, field):
    response = api(carol).post(path(carol, mallory), payload)
    assert response.status_code == 400
    assert field in response.json()
    assert not AthletePermission.objects.exists()


# --- sharing --------------------------------------------------------------------------------


def test_it_lets_a_share_holder_grant_read_inside_his_window(
    api, cast, sybil, carol, mallory, window
):
    start, end = window
    response = api(sybil).post(path(carol, mallory), body(start=start + timedelta(days=1), end=end))
    assert response.status_code == 201, response.json()
    assert response.json()["derived_from"] == cast["share"].pk
    assert response.json()["granted_by"] == sybil.pk
    assert manager_can_read(
        manager=mallory, athlete_id=carol.pk, start=start + timedelta(days=2), end=end
    )


def test_it_refuses_a_shared_window_reaching_outside_the_share(
    api, cast, sybil, carol, mallory, window
):
    start, end = window
    response = api(sybil).post(
        path(carol, mallory), body(start=start, end=end + timedelta(seconds=1))
    )
    assert response.status_code == 400
    assert "SHARE" in str(response.json())
    assert not AthletePermission.objects.filter(manager=mallory).exists()


def test_it_lets_a_share_holder_grant_read_only(api, cast, sybil, carol, mallory, window):
    response = api(sybil).post(path(carol, mallory), body("WRITE", *window))
    assert response.status_code == 403
    assert "READ only" in response.json()["detail"]


def test_it_keeps_share_from_implying_read(api, cast, sybil, carol, window):
    response = api(sybil).post(path(carol, sybil), body("READ", *window))
    assert response.status_code == 403


def test_it_lets_a_share_holder_share_before_his_share_starts(api, sybil, carol, mallory, grant):
    # Not yet visible in sybil's athletes list, but the grants endpoints reach carol.
    grant(carol, sybil, PermissionKind.SHARE, at(20), at(23))
    response = api(sybil).post(path(carol, mallory), body(start=at(21), end=at(22)))
    assert response.status_code == 201


# --- listing --------------------------------------------------------------------------------


def test_it_lists_a_pairs_grants_to_each_party(api, cast, carol, alice, trent, sybil, mallory):
    grant_id = cast["read"].pk
    assert [g["id"] for g in api(carol).get(path(carol, alice)).json()["results"]] == [grant_id]
    assert [g["id"] for g in api(alice).get(path(carol, alice)).json()["results"]] == [grant_id]
    # trent sees carol (his WRITE is active) but is no party to alice's grants.
    assert api(trent).get(path(carol, alice)).json()["results"] == []
    assert api(mallory).get(path(carol, alice)).status_code == 404


def test_it_shows_a_pair_grant_in_detail(api, cast, carol, alice, bob):
    assert api(alice).get(path(carol, alice, cast["read"])).json()["permission"] == "READ"
    assert api(carol).get(path(carol, alice, cast["write"])).status_code == 404  # other pair


def test_it_lists_every_grant_one_is_party_to(
    api, cast, carol, alice, sybil, trent, mallory, grant
):
    derived = grant(
        carol,
        mallory,
        PermissionKind.READ,
        cast["share"].start_time,
        cast["share"].expiration_time,
        granted_by=sybil,
        derived_from=cast["share"],
    )

    def ids(user, query=""):
        response = api(user).get(f"/api/v1/permissions/{query}")
        assert response.status_code == 200, response.json()
        return [g["id"] for g in response.json()["results"]]

    assert sorted(ids(carol)) == sorted([*(g.pk for g in cast.values()), derived.pk])
    assert ids(alice) == [cast["read"].pk]
    assert sorted(ids(sybil)) == sorted([cast["share"].pk, derived.pk])
    assert ids(mallory) == [derived.pk]
    assert ids(carol, f"?manager={trent.pk}") == [cast["write"].pk]
    assert ids(carol, "?permission=SHARE") == [cast["share"].pk]
    assert ids(alice, f"?athlete={carol.pk}&active=true") == [cast["read"].pk]
    assert ids(alice, "?active=false") == []


def test_it_filters_active_grants_half_open(api, carol, alice, grant):
    now = timezone.now()
    ended = grant(
        carol, alice, PermissionKind.READ, now - timedelta(hours=2), now - timedelta(microseconds=1)
    )
    future = grant(
        carol, alice, PermissionKind.READ, now + timedelta(hours=1), now + timedelta(hours=2)
    )
    current = grant(
        carol, alice, PermissionKind.READ, now - timedelta(hours=1), now + timedelta(hours=1)
    )
    active = api(carol).get("/api/v1/permissions/?active=true").json()["results"]
    inactive = api(carol).get("/api/v1/permissions/?active=false").json()["results"]
    assert [g["id"] for g in active] == [current.pk]
    assert sorted(g["id"] for g in inactive) == sorted([ended.pk, future.pk])


@pytest.mark.parametrize(
    "query", ["active=yes", "permission=OWN", "athlete=carol", "ordering=granted_by"]
)
def test_it_refuses_malformed_grant_queries(api, carol, query):
    assert api(carol).get(f"/api/v1/permissions/?{query}").status_code == 400


@pytest.mark.parametrize("size", [1, 4, 9])
def test_it_lists_grants_in_constant_queries(
    api, carol, alice, sybil, grant, window, size, django_assert_num_queries
):
    share = grant(carol, sybil, PermissionKind.SHARE, *window)
    for _ in range(size):
        grant(carol, alice, PermissionKind.READ, *window, granted_by=sybil, derived_from=share)
    client = api(sybil)
    with django_assert_num_queries(3):
        response = client.get("/api/v1/permissions/")
    assert response.json()["count"] == size + 1
    pair = api(carol)
    # + athlete and manager of the path.
    with django_assert_num_queries(5):
        response = pair.get(path(carol, alice))
    assert response.json()["count"] == size


# --- changing the window --------------------------------------------------------------------


def test_it_ends_a_grant_now_keeping_history(api, carol, alice, grant):
    now = timezone.now()
    read = grant(
        carol, alice, PermissionKind.READ, now - timedelta(days=1), now + timedelta(days=1)
    )
    response = api(carol).patch(path(carol, alice, read), {"expiration_time": iso(now)})
    assert response.status_code == 200, response.json()
    past = (now - timedelta(hours=5), now - timedelta(hours=4))
    assert manager_can_read(manager=alice, athlete_id=carol.pk, start=past[0], end=past[1])
    assert not manager_can_read_at(manager=alice, athlete_id=carol.pk, at=now)


def test_it_refuses_changes_by_the_receiver_or_outsiders(api, cast, carol, alice, mallory, window):
    read = cast["read"]
    assert (
        api(alice).patch(path(carol, alice, read), {"expiration_time": iso(window[1])}).status_code
        == 403
    )
    assert api(alice).delete(path(carol, alice, read)).status_code == 403
    assert (
        api(mallory)
        .patch(path(carol, alice, read), {"expiration_time": iso(window[1])})
        .status_code
        == 404
    )
    assert api(mallory).delete(path(carol, alice, read)).status_code == 404
    assert AthletePermission.objects.filter(pk=read.pk).exists()


def test_it_refuses_a_grant_reached_through_another_pair(api, cast, carol, trent):
    assert (
        api(carol).patch(path(carol, trent, cast["read"]), {"start_time": iso(at(1))}).status_code
        == 404
    )
    assert api(carol).delete(path(carol, trent, cast["read"])).status_code == 404


@pytest.mark.parametrize("payload", [{}, {"expiration_time": iso(at(20))}, {"start_time": "soon"}])
def test_it_refuses_malformed_window_changes(api, carol, alice, grant, payload):
    read = grant(carol, alice, PermissionKind.READ, at(20), at(21))
    response = api(carol).patch(path(carol, alice, read), payload)
    assert response.status_code == 400
    read.refresh_from_db()
    assert (read.start_time, read.expiration_time) == (at(20), at(21))


def test_it_refuses_put_on_a_grant(api, carol, alice, grant):
    read = grant(carol, alice, PermissionKind.READ, at(20), at(21))
    assert api(carol).put(path(carol, alice, read), body()).status_code == 405


def shared(grant, carol, sybil, manager, start, end) -> tuple[AthletePermission, AthletePermission]:
    share = grant(carol, sybil, PermissionKind.SHARE, at(18), at(23))
    derived = grant(
        carol, manager, PermissionKind.READ, start, end, granted_by=sybil, derived_from=share
    )
    return share, derived


def test_it_clips_derived_grants_when_the_share_shrinks(api, carol, sybil, mallory, alice, grant):
    share, derived = shared(grant, carol, sybil, mallory, at(19), at(22))
    outside = grant(
        carol, alice, PermissionKind.READ, at(21), at(23), granted_by=sybil, derived_from=share
    )
    response = api(carol).patch(
        path(carol, sybil, share), {"start_time": iso(at(20)), "expiration_time": iso(at(21))}
    )
    assert response.status_code == 200, response.json()
    derived.refresh_from_db()
    assert (derived.start_time, derived.expiration_time) == (at(20), at(21))
    # [21:00, 23:00) lies wholly after the new [20:00, 21:00): nothing is left of it.
    assert not AthletePermission.objects.filter(pk=outside.pk).exists()


def test_it_ends_a_derived_grant_with_its_share(api, carol, sybil, mallory, grant):
    share, derived = shared(grant, carol, sybil, mallory, at(19), at(23))
    api(carol).patch(path(carol, sybil, share), {"expiration_time": iso(at(21))})
    assert manager_can_read_at(manager=mallory, athlete_id=carol.pk, at=at(20, 59))
    assert not manager_can_read_at(manager=mallory, athlete_id=carol.pk, at=at(21))
    assert not manager_can_read(manager=mallory, athlete_id=carol.pk, start=at(20), end=at(21, 1))


def test_it_keeps_a_derived_grant_inside_its_share(api, carol, sybil, mallory, grant):
    share, derived = shared(grant, carol, sybil, mallory, at(19), at(22))
    response = api(sybil).patch(path(carol, mallory, derived), {"expiration_time": iso(at(23, 30))})
    assert response.status_code == 400
    ok = api(sybil).patch(path(carol, mallory, derived), {"expiration_time": iso(at(23))})
    assert ok.status_code == 200


def test_it_deletes_derived_grants_with_their_share(api, carol, sybil, mallory, grant):
    share, derived = shared(grant, carol, sybil, mallory, at(19), at(22))
    assert api(carol).delete(path(carol, sybil, share)).status_code == 204
    assert not AthletePermission.objects.filter(pk__in=[share.pk, derived.pk]).exists()


def test_it_lets_the_sharer_revoke_what_he_shared(api, carol, sybil, mallory, grant):
    share, derived = shared(grant, carol, sybil, mallory, at(19), at(22))
    assert api(mallory).delete(path(carol, mallory, derived)).status_code == 403
    assert api(sybil).delete(path(carol, mallory, derived)).status_code == 204
    assert AthletePermission.objects.filter(pk=share.pk).exists()


def test_it_forbids_the_sharer_to_touch_his_own_share(api, carol, sybil, mallory, grant):
    share, _ = shared(grant, carol, sybil, mallory, at(19), at(22))
    assert (
        api(sybil)
        .patch(path(carol, sybil, share), {"expiration_time": iso(at(23, 30))})
        .status_code
        == 403
    )
    assert api(sybil).delete(path(carol, sybil, share)).status_code == 403
