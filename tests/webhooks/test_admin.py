"""The admin pages of webhooks and deliveries: lists, filters, attempts inline, and the actions
going through the services."""

import pytest

from activities.services import activity_update
from webhooks.models import Delivery, DeliveryStatus
from webhooks.tasks import deliver

pytestmark = pytest.mark.django_db


@pytest.fixture
def failed_delivery(hook, match, alice, receiver) -> Delivery:
    receiver.answer(410)
    activity_update(actor=alice, activity=match, name="Final")
    delivery = Delivery.objects.get()
    deliver(delivery.pk)
    delivery.refresh_from_db()
    return delivery


def test_it_lists_webhooks_and_deliveries_with_filters(admin_browser, failed_delivery, hook):
    page = admin_browser.get("/admin/webhooks/webhook/?is_active__exact=0")
    assert page.status_code == 200 and "410 Gone" in page.content.decode()
    assert (
        "56*******"
        in admin_browser.get(f"/admin/webhooks/webhook/{hook.pk}/change/").content.decode()
    )
    assert admin_browser.get("/admin/webhooks/delivery/?status__exact=failed").status_code == 200
    detail = admin_browser.get(f"/admin/webhooks/delivery/{failed_delivery.pk}/change/")
    assert detail.status_code == 200 and "410" in detail.content.decode()


def test_its_actions_go_through_the_services(admin_browser, failed_delivery, hook, receiver):
    admin_browser.post(
        "/admin/webhooks/webhook/",
        {"action": "enable", "_selected_action": [hook.pk]},
    )
    hook.refresh_from_db()
    assert hook.is_active and hook.disabled_reason == ""
    admin_browser.post(
        "/admin/webhooks/delivery/",
        {"action": "redeliver", "_selected_action": [failed_delivery.pk]},
    )
    failed_delivery.refresh_from_db()
    assert failed_delivery.status == DeliveryStatus.PENDING
    deliver(failed_delivery.pk)
    assert Delivery.objects.get().status == DeliveryStatus.SUCCEEDED
    assert len(receiver.requests) == 2
