"""The webhooks REST endpoints (SPEC §9): who may use them, what they show, what bad input is
told, and that a refused request stores nothing."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.webhooks.conftest import SECRET_TOKEN
from webhooks.models import Delivery, DeliveryStatus, Webhook

pytestmark = pytest.mark.django_db


def collection(activity) -> str:
    return f"/api/v1/activities/{activity.pk}/webhooks/"


def detail(webhook: Webhook) -> str:
    return f"{collection(webhook.activity)}{webhook.pk}/"


@pytest.fixture
def body(receiver) -> dict:
    return {
        "webhook_url": receiver.url,
        "secret_token": SECRET_TOKEN,
        "activity_events": True,
        "timeframes_events": True,
    }


# --- creation and representation -------------------------------------------------------------


def test_it_registers_the_guide_example_and_shows_the_signing_secret_once(api, alice, match, body):
    response = api(alice).post(collection(match), body)
    assert response.status_code == 201
    created = response.json()
    webhook = Webhook.objects.get()
    assert created == {
        "id": webhook.pk,
        "activity": match.pk,
        "webhook_url": body["webhook_url"],
        "secret_token": "56*******",
        "activity_events": True,
        "timeframes_events": True,
        "is_active": True,
        "disabled_reason": "",
        "created_at": created["created_at"],
        "updated_at": created["updated_at"],
        "signing_secret": webhook.signing_secret,
    }
    assert created["signing_secret"].startswith("whsec_")
    assert webhook.secret_token == SECRET_TOKEN  # stored in full, shown masked
    shown = api(alice).get(detail(webhook)).json()
    assert "signing_secret" not in shown and shown["secret_token"] == "56*******"
    listed = api(alice).get(collection(match)).json()
    assert listed["count"] == 1 and "signing_secret" not in listed["results"][0]


def test_it_defaults_both_subscriptions_to_true(api, alice, match, body):
    del body["activity_events"], body["timeframes_events"]
    created = api(alice).post(collection(match), body).json()
    assert created["activity_events"] is True and created["timeframes_events"] is True


def test_it_lists_only_the_activitys_webhooks_paginated(api, alice, match, make_activity, body):
    other = make_activity("Training")
    for activity in (match, match, other):
        assert api(alice).post(collection(activity), body).status_code == 201
    page = api(alice).get(collection(match), {"limit": 1}).json()
    assert page["count"] == 2 and page["next"] == 2 and len(page["results"]) == 1
    assert api(alice).get(collection(match), {"page": 9}).status_code == 404


# --- access ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [("alice", 200), ("admin", 200), ("trent", 404), ("mallory", 404), ("carol", 403)],
)
def test_it_lets_only_the_owner_and_admins_in(api, hook, who, status, request, body):
    client = api(request.getfixturevalue(who))
    assert client.get(collection(hook.activity)).status_code == status
    assert client.get(detail(hook)).status_code == status
    assert client.post(f"{detail(hook)}ping/").status_code == status
    assert client.get(f"{detail(hook)}deliveries/").status_code == status
    assert client.patch(detail(hook), {"secret_token": "another-token"}).status_code == status
    assert client.post(collection(hook.activity), body).status_code == (
        201 if status == 200 else status
    )


def test_it_hides_webhooks_from_a_manager_who_reads_the_activity(
    api, hook, band, make_timeframe, trent, carol, grant
):
    # trent may read the match (READ on carol's timeframe in it) but not manage its webhooks.
    from tests.conftest import MATCH_END, MATCH_START
    from users.models import PermissionKind

    make_timeframe(band, hook.activity)
    grant(carol, trent, PermissionKind.READ, MATCH_START, MATCH_END)
    assert api(trent).get(f"/api/v1/activities/{hook.activity_id}/").status_code == 200
    assert api(trent).get(collection(hook.activity)).status_code == 404
    assert api(trent).delete(detail(hook)).status_code == 404
    assert Webhook.objects.filter(pk=hook.pk).exists()


def test_it_requires_authentication_and_the_all_scope(api, alice, hook):
    assert api().get(collection(hook.activity)).status_code == 401
    assert api(alice, scope="ingest").get(collection(hook.activity)).status_code == 403
    assert api(alice, scope="ingest").post(f"{detail(hook)}ping/").status_code == 403


def test_it_answers_404_for_unknown_activities_and_webhooks(api, alice, hook, make_activity):
    client = api(alice)
    assert client.get("/api/v1/activities/999999/webhooks/").status_code == 404
    assert client.get(f"/api/v1/activities/{2**70}/webhooks/").status_code == 404
    assert client.get(f"{collection(hook.activity)}999999/").status_code == 404
    assert client.get(f"{collection(hook.activity)}{2**70}/").status_code == 404
    # The webhook exists, but under another activity of hers.
    other = make_activity("Training")
    assert client.get(f"{collection(other)}{hook.pk}/").status_code == 404
    assert client.get(f"{collection(hook.activity)}{hook.pk}").status_code == 404  # no slash


# --- changes ---------------------------------------------------------------------------------


def test_it_updates_and_deletes(api, alice, hook, receiver):
    client = api(alice)
    response = client.patch(detail(hook), {"timeframes_events": False, "secret_token": "abcdefgh"})
    assert response.status_code == 200
    assert response.json()["timeframes_events"] is False
    assert response.json()["secret_token"] == "ab******"
    full = {"webhook_url": receiver.url + "2", "secret_token": "zyxwvuts"}
    assert client.put(detail(hook), full).json()["webhook_url"] == receiver.url + "2"
    assert client.delete(detail(hook)).status_code == 204
    assert not Webhook.objects.exists()


def test_it_pauses_and_re_enables(api, alice, hook):
    client = api(alice)
    paused = client.patch(detail(hook), {"is_active": False}).json()
    assert paused["is_active"] is False and paused["disabled_reason"] == "Disabled by its owner."
    enabled = client.patch(detail(hook), {"is_active": True}).json()
    assert enabled["is_active"] is True and enabled["disabled_reason"] == ""


def test_it_rotates_the_signing_secret(api, alice, hook):
    response = api(alice).post(f"{detail(hook)}rotate-signing-secret/")
    assert response.status_code == 200
    old = hook.signing_secret
    hook.refresh_from_db()
    assert response.json() == {"signing_secret": hook.signing_secret}
    assert hook.signing_secret != old and hook.previous_signing_secret == old


def test_it_pings_at_once_and_shows_the_outcome(api, alice, hook, receiver):
    response = api(alice).post(f"{detail(hook)}ping/")
    assert response.status_code == 200
    ping = response.json()
    assert ping["event"] == "ping" and ping["status"] == "succeeded"
    assert ping["attempts"] == 1 and ping["last_status_code"] == 200
    assert ping["payload"] == {
        "event": "ping",
        "webhook_id": hook.pk,
        "data": {"activity_id": hook.activity_id},
    }
    (request,) = receiver.requests
    assert request.headers["webhook-id"] == ping["message_id"]


def test_a_failed_ping_is_not_retried_and_does_not_count(api, alice, hook, receiver):
    receiver.answer(503)
    ping = api(alice).post(f"{detail(hook)}ping/").json()
    assert ping["status"] == "failed" and ping["next_attempt_at"] is None
    assert ping["last_status_code"] == 503 and ping["last_error"] == "503 Service Unavailable"
    hook.refresh_from_db()
    assert hook.consecutive_failures == 0 and hook.is_active


def test_a_ping_answered_410_gone_disables_the_webhook(api, alice, hook, receiver):
    receiver.answer(410)
    ping = api(alice).post(f"{detail(hook)}ping/").json()
    assert ping["status"] == "failed" and ping["last_status_code"] == 410
    hook.refresh_from_db()
    assert not hook.is_active and hook.disabled_reason == "The receiver answered 410 Gone."


def test_it_shows_the_delivery_log_and_redelivers(api, alice, mallory, hook, receiver):
    receiver.answer(500)
    api(alice).post(f"{detail(hook)}ping/")
    log = api(alice).get(f"{detail(hook)}deliveries/").json()
    assert log["count"] == 1
    (row,) = log["results"]
    assert {k: row[k] for k in ("event", "status", "attempts", "last_status_code")} == {
        "event": "ping",
        "status": "failed",
        "attempts": 1,
        "last_status_code": 500,
    }
    response = api(alice).post(f"{detail(hook)}deliveries/{row['id']}/redeliver/")
    assert response.status_code == 202
    assert response.json()["status"] == "pending" and response.json()["attempts"] == 1
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and delivery.message_id == row["message_id"]
    one = api(alice).get(f"{detail(hook)}deliveries/{row['id']}/").json()
    assert [(a["status_code"], a["error"]) for a in one["attempt_log"]] == [
        (500, "500 Internal Server Error")
    ]
    assert api(mallory).get(f"{detail(hook)}deliveries/{row['id']}/").status_code == 404
    unknown = f"{detail(hook)}deliveries/999999/redeliver/"
    assert api(alice).post(unknown).status_code == 404
    assert api(alice).get(f"{detail(hook)}deliveries/", {"ordering": "nope"}).status_code == 400


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"webhook_url": "not a url"}, "webhook_url"),
        ({"webhook_url": "ftp://example.org/"}, "webhook_url"),
        ({"webhook_url": "https://user:pw@example.org/"}, "webhook_url"),
        ({"webhook_url": "https://example.org/" + "a" * 3000}, "webhook_url"),
        ({"webhook_url": 17}, "webhook_url"),
        ({"webhook_url": None}, "webhook_url"),
        ({"secret_token": "short"}, "secret_token"),
        ({"secret_token": "with space inside"}, "secret_token"),
        ({"secret_token": "newline\r\nX-Evil: 1"}, "secret_token"),
        ({"secret_token": "ünïcödé-token"}, "secret_token"),
        ({"secret_token": "x" * 256}, "secret_token"),
        ({"activity_events": "yes"}, "activity_events"),
        ({"activity_events": 1}, "activity_events"),
        ({"timeframes_events": "false"}, "timeframes_events"),
        ({"timeframes_events": None}, "timeframes_events"),
        ({"activity_events": False, "timeframes_events": False}, "detail"),
    ],
)
def test_it_refuses_bad_input_and_stores_nothing(api, alice, match, body, change, field):
    response = api(alice).post(collection(match), body | change)
    assert response.status_code == 400
    assert field in response.json()
    assert not Webhook.objects.exists()


def test_it_refuses_nul_characters_and_missing_fields(api, alice, match, body):
    for bad in (body | {"secret_token": "abc\u0000defgh"}, {"secret_token": SECRET_TOKEN}, {}):
        assert api(alice).post(collection(match), bad).status_code == 400
    assert not Webhook.objects.exists()


def test_it_refuses_a_huge_body(api, alice, match, body):
    response = api(alice).post(collection(match), body | {"secret_token": "x" * 3_000_000})
    assert response.status_code == 413
    assert not Webhook.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://example.org/hook",
        "https://127.0.0.1/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://2130706433/hook",
        "https://localhost./hook",
        "https://vm/hook",
        "https://169.254.169.254/latest/meta-data/",
    ],
)
def test_it_refuses_private_urls_when_they_are_not_allowed(api, alice, match, body, url, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    response = api(alice).post(collection(match), body | {"webhook_url": url})
    assert response.status_code == 400
    assert list(response.json()) == ["webhook_url"]
    assert not Webhook.objects.exists()


def test_an_update_to_a_refused_url_changes_nothing(api, alice, hook, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    response = api(alice).patch(
        detail(hook), {"webhook_url": "https://10.0.0.1/", "secret_token": "changed-token"}
    )
    assert response.status_code == 400
    stored = Webhook.objects.get()
    assert stored.webhook_url == hook.webhook_url and stored.secret_token == SECRET_TOKEN


def test_an_update_that_unsubscribes_everything_is_refused(api, alice, hook):
    response = api(alice).patch(
        detail(hook), {"activity_events": False, "timeframes_events": False}
    )
    assert response.status_code == 400
    hook.refresh_from_db()
    assert hook.activity_events and hook.timeframes_events


JUNK = [None, 0, -1, 2**70, 1.5, "", "x" * 10, [], ["https://a.example"], {}, {"a": 1}, True]


@pytest.mark.parametrize("field", ["webhook_url", "secret_token", "activity_events"])
@pytest.mark.parametrize("value", JUNK)
def test_it_answers_junk_with_400_never_500(api, alice, hook, body, field, value):
    if (field, value) in [("activity_events", True), ("secret_token", "x" * 10)]:
        return  # valid values
    client = api(alice)
    created = client.post(collection(hook.activity), body | {field: value})
    changed = client.patch(detail(hook), {field: value})
    assert created.status_code == 400, created.json()
    assert changed.status_code == 400, changed.json()
    assert Webhook.objects.count() == 1


@pytest.mark.parametrize("payload", [[], "text", 17, None, [{"webhook_url": "x"}]])
def test_it_answers_a_body_that_is_not_an_object_with_400(api, alice, hook, payload):
    import json

    response = api(alice).generic(
        "POST", collection(hook.activity), json.dumps(payload), content_type="application/json"
    )
    assert response.status_code == 400
    assert Webhook.objects.count() == 1


def test_it_lists_the_delivery_log_in_constant_queries(api, alice, hook, receiver):
    from webhooks.services import webhook_ping

    client = api(alice)
    url = f"{detail(hook)}deliveries/"
    webhook_ping(webhook=hook)
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).json()["count"] == 1
    for _ in range(5):
        webhook_ping(webhook=hook)
    with CaptureQueriesContext(connection) as six:
        assert client.get(url).json()["count"] == 6
    assert len(one) == len(six) <= 8
