"""The Django admin pages of devices and ownerships, and the demo data."""

from datetime import timedelta

import pytest
from django.utils import timezone

from devices.models import OPEN_END, Device, DeviceOwnership
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_browser(client, admin):
    admin.is_staff = True
    admin.save()
    assert client.login(username=admin.username, password=PASSWORD)
    return client


def test_it_lists_devices_with_their_current_owner(admin_browser, vest, handed_over, spare):
    response = admin_browser.get("/admin/devices/device/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "alice" in html
    assert "current owner" in html.lower()


@pytest.mark.parametrize(
    "query", ["q=e5f8", "owned_now=yes", "owned_now=no", "is_active__exact=1", "o=4"]
)
def test_it_searches_and_filters_devices_in_the_admin(admin_browser, vest, spare, query):
    assert admin_browser.get(f"/admin/devices/device/?{query}").status_code == 200


@pytest.mark.parametrize("query", ["q=alice", "owned_now=yes", "owned_now=no", ""])
def test_it_searches_and_filters_ownerships_in_the_admin(admin_browser, handed_over, query):
    response = admin_browser.get(f"/admin/devices/deviceownership/?{query}")
    assert response.status_code == 200


def test_it_creates_a_device_in_the_admin(admin_browser):
    response = admin_browser.post(
        "/admin/devices/device/add/",
        {"device_name": "0123456789ab", "serial_number": "ASI-77", "custom_name": ""},
    )
    assert response.status_code == 302
    assert Device.objects.get().is_active is False


def test_it_refuses_an_overlapping_ownership_in_the_admin(admin_browser, mallory, vest):
    response = admin_browser.post(
        "/admin/devices/deviceownership/add/",
        {
            "device": vest.pk,
            "manager": mallory.pk,
            "start_time_0": timezone.now().date().isoformat(),
            "start_time_1": "00:00:00",
            "end_time_0": "2999-12-31",
            "end_time_1": "23:59:59",
        },
    )
    assert response.status_code == 200
    assert "overlaps" in response.content.decode()
    assert DeviceOwnership.objects.filter(device=vest).count() == 1


def test_it_releases_ownerships_from_the_admin(admin_browser, vest):
    ownership = DeviceOwnership.objects.get(device=vest)
    response = admin_browser.post(
        "/admin/devices/deviceownership/",
        {"action": "release", "_selected_action": [ownership.pk]},
    )
    assert response.status_code == 302
    ownership.refresh_from_db()
    assert ownership.end_time < OPEN_END


def test_it_loads_the_demo_devices_again_and_again(db):
    from devices import demo
    from users import demo as users_demo

    users_demo.load()
    for _ in range(2):
        lines = demo.load()
    assert any("a1b2c3d4e5f8" in line for line in lines)
    owned = DeviceOwnership.objects.filter(manager__username="alice", end_time=OPEN_END)
    assert owned.count() == 2
    month_ago = timezone.now() - timedelta(days=30)
    assert all(abs(o.start_time - month_ago) < timedelta(minutes=1) for o in owned)
    assert Device.objects.filter(is_active=False).count() == 1
    assert not DeviceOwnership.objects.filter(device__device_name="a1b2c3d4e5f8").exists()
