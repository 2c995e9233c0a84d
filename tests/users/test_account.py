"""The caller's own account: read, update, delete, change password, reset by e-mail."""

import pytest
from django.contrib.auth.models import Permission
from django.core import mail

from users.models import User

pytestmark = pytest.mark.django_db

NEW = "Orbit-Lantern-42"


def test_it_shows_a_manager_his_account(api, alice):
    response = api(alice).get("/api/v1/account/")
    assert response.status_code == 200
    assert response.json() == {
        "id": alice.pk,
        "username": "alice",
        "email": "alice@example.org",
        "external_id": "",
        "role": "MANAGER",
        "extra_permissions": [],
        "manager_profile": {"first_name": "Alice", "last_name": "Manager"},
    }


def test_it_lists_the_managed_athletes_permission(api, alice):
    alice.user_permissions.add(Permission.objects.get(codename="can_create_managed_athletes"))
    assert api(alice).get("/api/v1/account/").json()["extra_permissions"] == [
        "can_create_managed_athletes"
    ]


def test_it_shows_an_athlete_his_profile(api, carol):
    body = api(carol).get("/api/v1/account/").json()
    assert body["role"] == "ATHLETE"
    assert body["managed_by"] is None
    assert body["athlete_profile"]["gender"] == "F"
    assert body["athlete_profile"]["max_heart_rate"] == 192
    assert "manager_profile" not in body


def test_it_shows_an_admin_his_role(api, admin):
    body = api(admin).get("/api/v1/account/").json()
    assert body["role"] == "ADMIN"
    assert "manager_profile" not in body and "athlete_profile" not in body


def test_it_needs_a_token(api):
    assert api().get("/api/v1/account/").status_code == 401
    assert api().patch("/api/v1/account/", {"email": "x@example.org"}).status_code == 401
    assert api().delete("/api/v1/account/").status_code == 401


def test_it_refuses_an_ingest_token(api, alice):
    assert api(alice, scope="ingest").get("/api/v1/account/").status_code == 403


def test_it_updates_account_and_profile_in_one_patch(api, carol):
    response = api(carol).patch(
        "/api/v1/account/",
        {"email": "carol@club.example", "athlete_profile": {"weight": 61.2, "nationality": "FR"}},
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["email"] == "carol@club.example"
    assert body["athlete_profile"]["weight"] == 61.2
    assert body["athlete_profile"]["gender"] == "F"  # untouched
    carol.refresh_from_db()
    assert carol.athlete_profile.nationality == "FR"


def test_it_updates_a_managers_names(api, alice):
    response = api(alice).patch("/api/v1/account/", {"manager_profile": {"last_name": "Martin"}})
    assert response.status_code == 200
    assert response.json()["manager_profile"] == {"first_name": "Alice", "last_name": "Martin"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "nope"}, "email"),
        ({"username": "trent"}, "username"),
        ({"athlete_profile": {"gender": "Q"}}, "athlete_profile"),
        ({"athlete_profile": {"resting_heart_rate": 199}}, "resting_heart_rate"),
    ],
)
def test_it_refuses_bad_account_changes(api, carol, trent, body, field):
    response = api(carol).patch("/api/v1/account/", body)
    assert response.status_code == 400
    assert field in response.json()
    carol.refresh_from_db()
    assert carol.email == "carol@example.org" and carol.athlete_profile.gender == "F"


def test_it_refuses_put(api, carol):
    assert api(carol).put("/api/v1/account/", {"email": "a@example.org"}).status_code == 405


def test_it_changes_the_password(api, carol):
    response = api(carol).post(
        "/api/v1/account/change-password/",
        {"old_password": "Correct-Horse-9", "new_password": NEW},
    )
    assert response.status_code == 204
    carol.refresh_from_db()
    assert carol.check_password(NEW)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"old_password": "wrong", "new_password": NEW}, "old_password"),
        ({"old_password": "Correct-Horse-9", "new_password": "12345678"}, "new_password"),
        ({"old_password": "Correct-Horse-9"}, "new_password"),
    ],
)
def test_it_refuses_bad_password_changes(api, carol, body, field):
    response = api(carol).post("/api/v1/account/change-password/", body)
    assert response.status_code == 400
    assert field in response.json()
    carol.refresh_from_db()
    assert carol.check_password("Correct-Horse-9")


def test_it_needs_a_token_to_change_the_password(api):
    response = api().post(
        "/api/v1/account/change-password/", {"old_password": "x", "new_password": NEW}
    )
    assert response.status_code == 401


def test_it_sends_a_password_reset_mail(client, carol):
    page = client.get("/accounts/password-reset/")
    assert page.status_code == 200
    response = client.post("/accounts/password-reset/", {"email": "carol@example.org"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["carol@example.org"]
    link = next(line for line in mail.outbox[0].body.splitlines() if "/accounts/reset/" in line)
    confirm = client.get(link.strip().split("testserver", 1)[1], follow=True)
    assert confirm.status_code == 200
    done = client.post(confirm.redirect_chain[-1][0], {"new_password1": NEW, "new_password2": NEW})
    assert done.status_code == 302
    carol.refresh_from_db()
    assert carol.check_password(NEW)


def test_it_sends_no_reset_mail_to_unknown_addresses(client, carol):
    client.post("/accounts/password-reset/", {"email": "nobody@example.org"})
    assert mail.outbox == []


def test_it_deletes_an_athletes_account(api, carol):
    assert api(carol).delete("/api/v1/account/").status_code == 204
    assert not User.objects.filter(username="carol").exists()


def test_it_keeps_the_browser_session_after_a_password_change(client, carol):
    client.force_login(carol)
    response = client.post(
        "/api/v1/account/change-password/",
        {"old_password": "Correct-Horse-9", "new_password": NEW},
        content_type="application/json",
    )
    assert response.status_code == 204
    assert client.get("/api/v1/account/").status_code == 200
