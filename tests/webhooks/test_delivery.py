"""The outbox and the delivery of webhooks: each event written in the transaction of its change,
sent signed to a real receiver, retried on the schedule, swept when its task is lost, and the
webhook disabled when the receiver is gone."""

import json
import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook as ReferenceVerifier

from activities.services import activity_delete, activity_update
from tests.conftest import MATCH_END, MATCH_START
from tests.webhooks.conftest import SECRET_TOKEN
from timeframes.services import timeframe_delete, timeframe_update
from users.models import PermissionKind
from webhooks import http, services
from webhooks.models import Attempt, Delivery, DeliveryStatus, Webhook
from webhooks.services import RETRY_SCHEDULE, deliveries_due_dispatch, webhook_signing_secret_rotate
from webhooks.tasks import deliver

pytestmark = pytest.mark.django_db


@pytest.fixture
def playing(alice, carol, band, own, grant):
    """alice owns `band` and holds WRITE on carol around the match: she may manage timeframes."""
    own(band, alice, MATCH_START - timedelta(days=1))
    grant(carol, alice, PermissionKind.WRITE, MATCH_START - timedelta(days=1), MATCH_END)


@pytest.fixture
def timeframe(playing, make_timeframe, band, match, alice):
    return make_timeframe(band, match, actor=alice)


def deliver_all() -> None:
    """What the worker does with the tasks sent after commit."""
    for delivery in Delivery.objects.filter(status=DeliveryStatus.PENDING).order_by("pk"):
        deliver(delivery.pk)


def sweep(now=None) -> list[int]:
    """What beat's sweep does: claim what is due, then the worker runs a task for each."""
    ids = deliveries_due_dispatch(now=now)
    for delivery_id in ids:
        deliver(delivery_id)
    return ids


def payloads() -> list[dict]:
    return [json.loads(d.body) for d in Delivery.objects.order_by("pk")]


# --- the outbox ------------------------------------------------------------------------------


def test_each_event_is_recorded_once_and_delivered_signed(
    hook, match, timeframe, alice, receiver, django_capture_on_commit_callbacks
):
    # timeframe-created was recorded by the fixture; then the four other events.
    tf, act = {"activity_id": match.pk, "timeframe_id": timeframe.pk}, {"activity_id": match.pk}
    with django_capture_on_commit_callbacks() as callbacks:
        timeframe_update(actor=alice, timeframe=timeframe, params={})
        activity_update(actor=alice, activity=match, name="Final")
        timeframe_delete(actor=alice, timeframe=timeframe)
        activity_delete(actor=alice, activity=match)
    assert len(callbacks) >= 4  # a task per delivery, sent only after commit
    assert payloads() == [
        {"event": "timeframe-created", "webhook_id": hook.pk, "data": tf},
        {"event": "timeframe-updated", "webhook_id": hook.pk, "data": tf},
        {"event": "activity-updated", "webhook_id": hook.pk, "data": act},
        {"event": "timeframe-deleted", "webhook_id": hook.pk, "data": tf},
        {"event": "activity-deleted", "webhook_id": hook.pk, "data": act},
    ]
    deliver_all()
    assert Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 5
    verifier = ReferenceVerifier(hook.signing_secret)
    received = receiver.wait_for(5)
    assert [verifier.verify(r.body, r.headers)["event"] for r in received] == [
        "timeframe-created",
        "timeframe-updated",
        "activity-updated",
        "timeframe-deleted",
        "activity-deleted",
    ]
    for request in received:
        assert request.headers["x-asi-api-token"] == SECRET_TOKEN
        assert request.headers["content-type"] == "application/json"
        assert request.headers["webhook-id"].startswith("msg_")
    assert len({r.headers["webhook-id"] for r in received}) == 5


def test_deleting_the_activity_delivers_after_the_webhook_is_gone(
    hook, match, timeframe, alice, receiver
):
    activity_delete(actor=alice, activity=match)
    assert not Webhook.objects.exists()  # gone with its activity
    assert [d.event for d in Delivery.objects.order_by("pk")] == [
        "timeframe-created",
        "timeframe-deleted",
        "activity-deleted",
    ]
    assert Delivery.objects.filter(webhook=None).count() == 3
    deliver_all()
    assert [json.loads(r.body)["event"] for r in receiver.wait_for(3)][-1] == "activity-deleted"


def test_a_change_that_rolls_back_records_nothing(hook, match, alice):
    with pytest.raises(RuntimeError), transaction.atomic():
        activity_update(actor=alice, activity=match, name="Final")
        assert Delivery.objects.count() == 1  # written with the change...
        raise RuntimeError("the request failed after the change")
    assert not Delivery.objects.exists()  # ...and gone with it


def test_it_records_only_the_subscribed_kinds_for_active_webhooks(
    make_webhook, match, timeframe, alice
):
    Delivery.objects.all().delete()
    activity_only = make_webhook(timeframes_events=False)
    timeframes_only = make_webhook(activity_events=False)
    paused = make_webhook()
    services.webhook_update(webhook=paused, is_active=False)
    activity_update(actor=alice, activity=match, name="Final")
    timeframe_update(actor=alice, timeframe=timeframe, params={})
    assert sorted((d.webhook_id, d.event) for d in Delivery.objects.all()) == [
        (activity_only.pk, "activity-updated"),
        (timeframes_only.pk, "timeframe-updated"),
    ]


# --- retries ---------------------------------------------------------------------------------


def test_a_receiver_failing_twice_gets_the_same_message_three_times(
    hook, match, alice, receiver, api
):
    receiver.answer(500, "reset")
    activity_update(actor=alice, activity=match, name="Final")
    delivery = Delivery.objects.get()
    start = timezone.now()
    deliver(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.last_status_code == 500
    assert sweep() == []  # not due yet
    with time_machine.travel(start + timedelta(seconds=6), tick=False):
        assert sweep() == [delivery.pk]
    with time_machine.travel(start + timedelta(seconds=6 + 67), tick=False):
        assert sweep() == [delivery.pk]
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 3
    received = receiver.wait_for(3)
    assert len({r.headers["webhook-id"] for r in received}) == 1
    assert len({r.body for r in received}) == 1
    for request in received:
        ReferenceVerifier(hook.signing_secret).verify(request.body, request.headers)
    errors = list(Attempt.objects.order_by("at").values_list("status_code", "error"))
    assert errors[0] == (500, "500 Internal Server Error")
    assert errors[1][0] is None and ("reset" in errors[1][1] or "closed" in errors[1][1])
    assert errors[2] == (200, "")
    log = api(alice).get(f"/api/v1/activities/{match.pk}/webhooks/{hook.pk}/deliveries/").json()
    assert log["results"][0]["attempts"] == 3 and log["results"][0]["status"] == "succeeded"


def test_it_retries_on_the_schedule_with_jitter_then_gives_up(hook, match, alice, receiver):
    receiver.default = 503
    activity_update(actor=alice, activity=match, name="Final")
    delivery = Delivery.objects.get()
    now = timezone.now()
    delays = []
    with time_machine.travel(now, tick=False) as traveller:
        deliver(delivery.pk)
        for _ in RETRY_SCHEDULE:
            delivery.refresh_from_db()
            delays.append(delivery.next_attempt_at - timezone.now())
            traveller.move_to(delivery.next_attempt_at)
            assert sweep() == [delivery.pk]
    for delay, planned in zip(delays, RETRY_SCHEDULE, strict=True):
        assert planned * 0.9 <= delay <= planned * 1.1
    assert sum(RETRY_SCHEDULE, timedelta()) >= timedelta(hours=24)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 9
    assert delivery.next_attempt_at is None
    assert len(receiver.requests) == 9


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ("redirect", "Redirect not followed (302 to http://169.254.169.254/latest/meta-data/)."),
        (404, "404 Not Found"),
        ("garbage", "Invalid HTTP answer"),
    ],
)
def test_anything_but_2xx_is_a_failure(hook, match, alice, receiver, answer, error):
    receiver.answer(answer)
    activity_update(actor=alice, activity=match, name="Final")
    deliver_all()
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and delivery.failures == 1
    assert delivery.last_error.startswith(error)
    assert len(receiver.requests) == 1  # the redirect was not followed


def test_a_receiver_that_hangs_fails_at_the_deadline(hook, match, alice, receiver, monkeypatch):
    monkeypatch.setattr(http, "TIMEOUT_SECONDS", 1.0)
    receiver.answer("hang")
    activity_update(actor=alice, activity=match, name="Final")
    deliver_all()
    attempt = Attempt.objects.get()
    assert attempt.status_code is None and attempt.error == "Timed out after 1 s."
    assert attempt.duration_ms < 2000


# --- the sweep and exactly-once --------------------------------------------------------------


def test_the_sweep_sends_a_delivery_whose_task_was_lost(hook, match, alice, receiver, settings):
    # The change committed, but its task never arrived (broker down, or the message lost).
    activity_update(actor=alice, activity=match, name="Final")
    delivery = Delivery.objects.get()
    assert sweep() == []  # a task is on its way: not before the lease has passed
    later = timezone.now() + timedelta(seconds=settings.WEBHOOKS_DELIVERY_LEASE_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        assert sweep() == [delivery.pk]
        assert sweep() == []
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and len(receiver.requests) == 1


def test_the_sweep_sends_again_a_delivery_whose_worker_died(hook, match, alice, receiver, settings):
    activity_update(actor=alice, activity=match, name="Final")
    delivery = Delivery.objects.get()
    # A worker claims the row, then dies before recording anything.
    assert services._claim(delivery.pk, timezone.now())
    deliver(delivery.pk)  # the same message again, redelivered by the broker: held by the lease
    assert receiver.requests == []
    later = timezone.now() + timedelta(seconds=settings.WEBHOOKS_DELIVERY_LEASE_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        assert sweep() == [delivery.pk]
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 1


def test_running_the_task_twice_sends_once(hook, match, alice, receiver):
    activity_update(actor=alice, activity=match, name="Final")
    delivery = Delivery.objects.get()
    deliver(delivery.pk)
    deliver(delivery.pk)
    deliver(123456789)  # a delivery that does not exist: nothing, quietly
    assert len(receiver.requests) == 1
    assert Delivery.objects.get().attempts == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_for_one_delivery_send_it_once(
    schemas, make_webhook, match, alice, receiver
):
    receiver.answer("hang")
    receiver.hang_seconds = 0.5
    make_webhook()
    activity_update(actor=alice, activity=match, name="Final")
    delivery = Delivery.objects.get()
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        try:
            deliver(delivery.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(receiver.requests) == 1
    assert Delivery.objects.get().attempts == 1


@pytest.mark.django_db(transaction=True)
def test_a_broker_down_at_commit_loses_nothing(
    schemas, make_webhook, match, alice, receiver, api, settings
):
    from asi_api.celery import app

    make_webhook()
    dead = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    original = app.conf.broker_url
    app.pool.force_close_all()
    app._pool = None
    app.conf.broker_url = dead
    try:
        response = api(alice).patch(f"/api/v1/activities/{match.pk}/", {"name": "Final"})
    finally:
        app.conf.broker_url = original
        app._pool = None
    assert response.status_code == 200  # the change committed; the task could not be sent
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and receiver.requests == []
    later = timezone.now() + timedelta(seconds=settings.WEBHOOKS_DELIVERY_LEASE_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        assert sweep() == [delivery.pk]
    assert Delivery.objects.get().status == DeliveryStatus.SUCCEEDED
    assert len(receiver.requests) == 1


# --- disabling -------------------------------------------------------------------------------


def test_410_disables_the_webhook_and_says_why(hook, match, alice, receiver, api):
    receiver.answer(410)
    activity_update(actor=alice, activity=match, name="Final")
    activity_update(actor=alice, activity=match, name="Final 2")
    first, second = Delivery.objects.order_by("pk")
    deliver(first.pk)
    hook.refresh_from_db()
    assert not hook.is_active and hook.disabled_reason == "The receiver answered 410 Gone."
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == DeliveryStatus.FAILED and first.next_attempt_at is None
    assert second.status == DeliveryStatus.CANCELLED
    deliver(second.pk)
    assert len(receiver.requests) == 1
    shown = api(alice).get(f"/api/v1/activities/{match.pk}/webhooks/{hook.pk}/").json()
    assert shown["is_active"] is False
    assert shown["disabled_reason"] == "The receiver answered 410 Gone."
    activity_update(actor=alice, activity=match, name="Final 3")
    assert Delivery.objects.count() == 2  # a disabled webhook records nothing new
    redeliver = (
        f"/api/v1/activities/{match.pk}/webhooks/{hook.pk}/deliveries/{second.pk}/redeliver/"
    )
    assert api(alice).post(redeliver).status_code == 409


def test_five_days_without_success_after_ten_failures_disables(hook, match, alice, receiver):
    receiver.default = 500
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        for day in range(7):
            traveller.move_to(start + timedelta(days=day))
            for n in range(2):
                activity_update(actor=alice, activity=match, name=f"day {day} change {n}")
                deliver(Delivery.objects.latest("pk").pk)
            hook.refresh_from_db()
            failing_for = timezone.now() - start
            if failing_for < timedelta(days=5) or hook.consecutive_failures < 10:
                assert hook.is_active, (day, hook.consecutive_failures)
            else:
                break
    assert not hook.is_active
    assert hook.disabled_reason.startswith("No successful delivery since ")
    assert "(11 failed attempts)" in hook.disabled_reason


def test_a_success_resets_the_failure_count(hook, match, alice, receiver):
    receiver.answer(500, 500, 200)
    for n in range(3):
        activity_update(actor=alice, activity=match, name=f"change {n}")
        deliver(Delivery.objects.latest("pk").pk)
    hook.refresh_from_db()
    assert hook.consecutive_failures == 0 and hook.failing_since is None


# --- redelivery and rotation -----------------------------------------------------------------


def test_redelivery_sends_the_same_message_to_the_current_url(hook, match, alice, receiver, api):
    activity_update(actor=alice, activity=match, name="Final")
    deliver_all()
    delivery = Delivery.objects.get()
    services.webhook_update(webhook=hook, webhook_url=receiver.url + "/v2")
    url = f"/api/v1/activities/{match.pk}/webhooks/{hook.pk}/deliveries/{delivery.pk}/redeliver/"
    assert api(alice).post(url).status_code == 202
    deliver_all()
    first, second = receiver.wait_for(2)
    assert second.path == "/hooks/asi/v2"
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery.message_id
    assert first.body == second.body
    assert Delivery.objects.get().attempts == 2


def test_a_rotation_signs_with_both_secrets_for_24_hours(hook, match, alice, receiver):
    old = hook.signing_secret
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        new = webhook_signing_secret_rotate(webhook=hook)
        activity_update(actor=alice, activity=match, name="Final")
        deliver_all()
        traveller.move_to(start + timedelta(hours=24, seconds=1))
        activity_update(actor=alice, activity=match, name="Final 2")
        deliver_all()
    during, after = receiver.wait_for(2)
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    # Verified at the time they were sent (the reference verifier checks the clock).
    with time_machine.travel(start, tick=False):
        ReferenceVerifier(old).verify(during.body, during.headers)
        ReferenceVerifier(new).verify(during.body, during.headers)
    with time_machine.travel(start + timedelta(hours=24, seconds=1), tick=False):
        ReferenceVerifier(new).verify(after.body, after.headers)
        with pytest.raises(Exception, match="No matching signature"):
            ReferenceVerifier(old).verify(after.body, after.headers)


def test_pending_retries_use_the_rotated_secret(hook, match, alice, receiver):
    receiver.answer(500)
    activity_update(actor=alice, activity=match, name="Final")
    deliver_all()
    new = webhook_signing_secret_rotate(webhook=hook)
    with time_machine.travel(timezone.now() + timedelta(seconds=6), tick=False):
        sweep()
        ReferenceVerifier(new).verify(receiver.requests[1].body, receiver.requests[1].headers)


def test_finished_deliveries_are_pruned_after_30_days(hook, match, alice, receiver):
    receiver.answer(200, 500)
    activity_update(actor=alice, activity=match, name="delivered")
    activity_update(actor=alice, activity=match, name="still retrying")
    deliver_all()
    assert services.deliveries_prune(now=timezone.now() + timedelta(days=29)) == 0
    assert services.deliveries_prune(now=timezone.now() + timedelta(days=31)) == 1
    assert [d.status for d in Delivery.objects.all()] == [DeliveryStatus.PENDING]
    assert Attempt.objects.count() == 1
