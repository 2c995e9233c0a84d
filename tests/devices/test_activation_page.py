"""The `/device-activation/` page: a manager in a browser takes ownership of a device."""

import pytest

from devices.models import DeviceOwnership
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

URL = "/device-activation/"


@pytest.fixture
def browser(client):
    def login(user):
        assert client.login(username=user.username, password=PASSWORD)
        return client

    return login


def test_it_sends_anonymous_visitors_to_the_login_page(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/device-activation/"


def test_it_shows_the_form_to_a_manager(browser, mallory):
    response = browser(mallory).get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="serial_number"' in html
    assert 'name="device_name"' in html
    assert "csrfmiddlewaretoken" in html
    assert "ASI API" in html  # extends base.html


def test_it_activates_a_device_and_says_so(browser, mallory, spare):
    response = browser(mallory).post(
        URL, {"serial_number": " ASI-0003 ", "device_name": "a1b2c3d4e5f8"}
    )
    assert response.status_code == 200
    assert "You now own this device" in response.content.decode()
    assert DeviceOwnership.objects.get(device=spare).manager == mallory
    spare.refresh_from_db()
    assert spare.is_active


def test_it_explains_that_someone_already_owns_the_device(browser, mallory, vest):
    response = browser(mallory).post(
        URL, {"serial_number": "ASI-0001", "device_name": "a1b2c3d4e5f6"}
    )
    assert response.status_code == 409
    assert "already owned" in response.content.decode()
    assert DeviceOwnership.objects.filter(device=vest).count() == 1


@pytest.mark.parametrize(
    ("form", "message", "status"),
    [
        ({"serial_number": "NOPE", "device_name": "a1b2c3d4e5f8"}, "serial number", 404),
        ({"serial_number": "ASI-0003", "device_name": "a1b2c3d4e5f6"}, "device name", 400),
    ],
)
def test_it_explains_a_wrong_serial_or_name(browser, mallory, spare, form, message, status):
    response = browser(mallory).post(URL, form)
    assert response.status_code == status
    assert message in response.content.decode()
    assert not DeviceOwnership.objects.exists()


def test_it_redisplays_an_incomplete_form(browser, mallory, spare):
    response = browser(mallory).post(URL, {"serial_number": "ASI-0003"})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
    assert not DeviceOwnership.objects.exists()


@pytest.mark.parametrize("who", ["carol", "admin"])
def test_it_turns_away_users_who_are_not_managers(browser, request, spare, who):
    user = request.getfixturevalue(who)
    client = browser(user)
    assert client.get(URL).status_code == 403
    response = client.post(URL, {"serial_number": "ASI-0003", "device_name": "a1b2c3d4e5f8"})
    assert response.status_code == 403
    assert "Only managers" in response.content.decode()
    assert not DeviceOwnership.objects.exists()


def test_it_requires_the_csrf_token(mallory, spare):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.login(username="mallory", password=PASSWORD)
    response = client.post(URL, {"serial_number": "ASI-0003", "device_name": "a1b2c3d4e5f8"})
    assert response.status_code == 403
    assert not DeviceOwnership.objects.exists()
