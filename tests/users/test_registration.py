"""Open registration of managers and athletes (SPEC §3)."""

import base64
import io

import pytest
from django.core import mail
from PIL import Image

from users.models import User

pytestmark = pytest.mark.django_db

STRONG = "Lumen-Quartz-77"


def png(size: tuple[int, int] = (4, 4), image_format: str = "PNG") -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=image_format)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def test_it_registers_a_manager_anonymously(api):
    response = api().post(
        "/api/v1/managers/",
        {
            "username": "hugo",
            "email": "hugo@example.org",
            "password": STRONG,
            "external_id": "ams-17",
            "manager_profile": {"first_name": "Hugo", "last_name": "Lefèvre"},
        },
    )
    assert response.status_code == 201, response.json()
    hugo = User.objects.get(username="hugo")
    assert response.json() == {
        "id": hugo.pk,
        "username": "hugo",
        "email": "hugo@example.org",
        "external_id": "ams-17",
        "manager_profile": {"first_name": "Hugo", "last_name": "Lefèvre"},
    }
    assert hugo.is_manager and hugo.check_password(STRONG)
    assert mail.outbox == []  # the password was given: nothing to send


def test_it_registers_an_athlete_with_every_profile_field(api):
    picture = png()
    profile = {
        "first_name": "Ines",
        "last_name": "Garcia",
        "gender": "F",
        "weight": 58.5,
        "height": 1.68,
        "birth_date": "2000-02-29",
        "nationality": "ES",
        "profile_picture": picture,
        "max_heart_rate": 195,
        "resting_heart_rate": 48,
    }
    response = api().post(
        "/api/v1/athletes/",
        {
            "username": "ines",
            "email": "ines@example.org",
            "password": STRONG,
            "athlete_profile": profile,
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["athlete_profile"] == profile
    assert body["managed_by"] is None and body["email"] == "ines@example.org"
    assert "password" not in body
    ines = User.objects.get(username="ines")
    assert ines.is_athlete and bytes(ines.athlete_profile.profile_picture) == base64.b64decode(
        picture
    )


def test_it_emails_a_generated_password(api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api().post("/api/v1/athletes/", {"username": "jon", "email": "jon@example.org"})
    assert response.status_code == 201
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["jon@example.org"]
    password = message.body.split("Password: ")[1].split()[0]
    assert User.objects.get(username="jon").check_password(password)


def test_it_lets_a_logged_in_user_register_someone(api, alice):
    response = api(alice).post(
        "/api/v1/managers/", {"username": "kim", "email": "kim@example.org", "password": STRONG}
    )
    assert response.status_code == 201
    assert response.json()["manager_profile"] == {"first_name": "", "last_name": ""}


def test_it_refuses_registration_with_an_ingest_token(api, alice):
    response = api(alice, scope="ingest").post(
        "/api/v1/managers/", {"username": "kim", "email": "kim@example.org", "password": STRONG}
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "lea", "email": "not-an-email", "password": STRONG}, "email"),
        ({"username": "lea", "password": STRONG}, "email"),
        ({"username": "lea", "email": "lea@example.org", "password": "123"}, "password"),
        ({"username": "lea", "email": "lea@example.org", "password": "password123"}, "password"),
        (
            {"username": "lea", "email": "lea@example.org", "password": "lea@example.org1"},
            "password",
        ),
        ({"username": "bad name!", "email": "lea@example.org", "password": STRONG}, "username"),
        ({"username": "carol", "email": "lea@example.org", "password": STRONG}, "username"),
        ({"username": "CAROL", "email": "lea@example.org", "password": STRONG}, "username"),
    ],
)
def test_it_refuses_bad_registrations_naming_the_field(api, carol, body, field):
    before = User.objects.count()
    response = api().post("/api/v1/athletes/", body)
    assert response.status_code == 400
    assert field in response.json()
    assert User.objects.count() == before


@pytest.mark.parametrize(
    ("profile", "field"),
    [
        ({"gender": "X"}, "gender"),
        ({"weight": -3}, "weight"),
        ({"birth_date": "2000-13-01"}, "birth_date"),
        ({"birth_date": "2999-01-01"}, "birth_date"),
        ({"max_heart_rate": "fast"}, "max_heart_rate"),
        ({"profile_picture": "%%% not base64 %%%"}, "profile_picture"),
        ({"profile_picture": base64.b64encode(b"GIF89a not an image").decode()}, "profile_picture"),
        ({"profile_picture": png(image_format="GIF")}, "profile_picture"),
        ({"profile_picture": png()[:40]}, "profile_picture"),
    ],
)
def test_it_refuses_bad_athlete_profiles(api, profile, field):
    response = api().post(
        "/api/v1/athletes/",
        {
            "username": "max",
            "email": "max@example.org",
            "password": STRONG,
            "athlete_profile": profile,
        },
    )
    assert response.status_code == 400
    assert field in response.json()["athlete_profile"]
    assert not User.objects.filter(username="max").exists()


def test_it_refuses_a_resting_heart_rate_above_the_maximum(api):
    profile = {"max_heart_rate": 150, "resting_heart_rate": 160}
    response = api().post(
        "/api/v1/athletes/",
        {
            "username": "max",
            "email": "max@example.org",
            "password": STRONG,
            "athlete_profile": profile,
        },
    )
    assert response.status_code == 400
    assert "resting_heart_rate" in response.json()
    assert not User.objects.filter(username="max").exists()


def test_it_refuses_a_picture_over_one_mebibyte(api):
    # A real JPEG header followed by padding, 1 MiB + 1 byte decoded.
    big = base64.b64decode(png(image_format="JPEG"))
    big += b"\0" * (1024 * 1024 + 1 - len(big))
    response = api().post(
        "/api/v1/athletes/",
        {
            "username": "max",
            "email": "max@example.org",
            "password": STRONG,
            "athlete_profile": {"profile_picture": base64.b64encode(big).decode()},
        },
    )
    assert response.status_code == 400
    assert "1 MiB" in response.json()["athlete_profile"]["profile_picture"][0]


def test_it_accepts_a_jpeg_data_uri(api):
    response = api().post(
        "/api/v1/athletes/",
        {
            "username": "max",
            "email": "max@example.org",
            "password": STRONG,
            "athlete_profile": {
                "profile_picture": "data:image/jpeg;base64," + png(image_format="JPEG")
            },
        },
    )
    assert response.status_code == 201


def test_it_needs_auth_for_anything_else_than_registration(api):
    assert api().get("/api/v1/athletes/").status_code == 401
    assert api().get("/api/v1/managers/").status_code == 401
