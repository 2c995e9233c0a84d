"""The Django admin pages of devices and ownerships, and the demo data."""

from datetime import timedelta

import pytest
from django.utils import timezone

from devices.models import OPEN_END, Device, DeviceOwnership

pytestmark = pytest.mark.django_db


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


# --- ownership periods edited by hand go through devices.services -----------------------------


def period_form(device, manager, start, end) -> dict:
    return {
        "device": device.pk,
        "manager": manager.pk,
        "start_time_0": start.strftime("%Y-%m-%d"),
        "start_time_1": start.strftime("%H:%M:%S"),
        "end_time_0": end.strftime("%Y-%m-%d"),
        "end_time_1": end.strftime("%H:%M:%S"),
    }


def test_it_cuts_the_owners_timeframes_when_the_admin_shortens_an_ownership(
    admin_browser, alice, vest, match, make_timeframe, emitted
):
    from timeframes.models import Timeframe

    ownership = DeviceOwnership.objects.get(device=vest)
    now = timezone.now().replace(microsecond=0)
    # carol wears vest in alice's match (rows stored directly: carol gave alice no WRITE).
    running = make_timeframe(vest, match, now - timedelta(hours=1), now + timedelta(hours=1))
    later = make_timeframe(vest, match, now + timedelta(hours=2), now + timedelta(hours=3))

    response = admin_browser.post(
        f"/admin/devices/deviceownership/{ownership.pk}/change/",
        period_form(vest, alice, ownership.start_time, now),
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    ownership.refresh_from_db()
    assert ownership.end_time == now
    running.refresh_from_db()
    assert running.end_time == now
    assert not Timeframe.objects.filter(pk=later.pk).exists()
    assert [(e.name, e.timeframe_id) for e in emitted] == [
        ("timeframe-updated", running.pk),
        ("timeframe-deleted", later.pk),
        ("ownership-ended", None),
    ]
    assert (emitted[-1].start, emitted[-1].end) == (now, OPEN_END)


def test_it_records_a_past_ownership_in_the_admin_and_activates_the_device(
    admin_browser, mallory, spare
):
    start = timezone.now().replace(microsecond=0) - timedelta(days=3)
    response = admin_browser.post(
        "/admin/devices/deviceownership/add/",
        period_form(spare, mallory, start, start + timedelta(days=1)),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    ownership = DeviceOwnership.objects.get(device=spare)
    assert (ownership.manager, ownership.start_time) == (mallory, start)
    spare.refresh_from_db()
    assert spare.is_active and spare.activated_at == start


def test_it_refuses_an_athlete_as_owner_in_the_admin(admin_browser, carol, spare):
    start = timezone.now().replace(microsecond=0)
    response = admin_browser.post(
        "/admin/devices/deviceownership/add/",
        period_form(spare, carol, start, start + timedelta(days=1)),
    )
    assert response.status_code == 200
    assert "Only managers can own devices." in response.content.decode()
    assert not DeviceOwnership.objects.exists()


def test_it_deletes_the_timeframes_of_an_ownership_the_admin_deletes(
    admin_browser, alice, trent, handed_over, match, make_activity, make_timeframe, emitted
):
    from timeframes.models import Timeframe

    trents = DeviceOwnership.objects.get(device=handed_over, manager=trent)
    trents_match = make_activity("Trent's match", owner=trent)
    inside = make_timeframe(
        handed_over, trents_match, trents.start_time, trents.start_time + timedelta(hours=1)
    )
    alices = make_timeframe(handed_over, match, timezone.now() - timedelta(hours=1), timezone.now())

    response = admin_browser.post(
        f"/admin/devices/deviceownership/{trents.pk}/delete/", {"post": "yes"}
    )

    assert response.status_code == 302
    assert not DeviceOwnership.objects.filter(pk=trents.pk).exists()
    assert not Timeframe.objects.filter(pk=inside.pk).exists()
    assert Timeframe.objects.filter(pk=alices.pk).exists()
    assert [e.name for e in emitted] == ["timeframe-deleted", "ownership-ended"]
