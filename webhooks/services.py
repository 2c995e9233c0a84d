"""Writes of webhooks, the outbox of their deliveries, and the delivery of each (SPEC §9).

Flow: a change to an activity or a timeframe emits its domain event inside its transaction;
`events_record` (an in-transaction handler, see `WebhooksConfig.ready`) writes one `Delivery`
per subscribed webhook in that same transaction, and after commit a task runs
`delivery_attempt`. A failed attempt schedules the next one in the row (`next_attempt_at`);
the periodic sweep (`deliveries_due_dispatch`) sends a task for every row that is due, or whose
task was lost (broker down, worker killed), so nothing depends on a message surviving.

Exactly one sender per attempt: `delivery_attempt` claims the row with a conditional UPDATE that
moves `next_attempt_at` one lease ahead (longer than the 10 s request deadline); a second task
for the same row finds it not due and returns. If the worker dies mid-request the lease runs
out and the sweep sends the row again (the receiver may then see the message twice, which its
stable `webhook-id` lets it detect).
"""

import json
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from activities.models import Activity
from asi_api.errors import Conflict, DomainError
from asi_api.events import DomainEvent
from asi_api.scheduling import enqueue_on_commit, is_embedded
from webhooks import http, signing
from webhooks.events import WEBHOOK_ACTIVITY_EVENTS
from webhooks.models import PING, Attempt, Delivery, DeliveryStatus, Webhook

logger = logging.getLogger(__name__)

# Delay before each retry, after the 1st, 2nd, … failed attempt; ±10 % jitter spreads a burst
# of failures. 9 attempts over about 41.6 hours (at least 37 h with the jitter).
RETRY_SCHEDULE = [
    timedelta(seconds=5),
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=24),
]
JITTER = 0.1
# A webhook that has not had a success for this long, over at least this many failed attempts,
# is disabled.
DISABLE_AFTER = timedelta(days=5)
DISABLE_AFTER_FAILURES = 10
# After a rotation, the previous signing secret keeps signing for this long.
ROTATION_OVERLAP = timedelta(hours=24)
# Finished deliveries stay in the log this long.
DELIVERY_RETENTION = timedelta(days=30)
ERROR_MAX_LENGTH = 1000
EXCERPT_MAX_LENGTH = 1000


def _lease() -> timedelta:
    return timedelta(seconds=settings.WEBHOOKS_DELIVERY_LEASE_SECONDS)


def _allow_private() -> bool:
    return settings.WEBHOOKS_ALLOW_PRIVATE_URLS


def secret_mask(secret: str) -> str:
    """The first 2 characters, then `*` for each remaining one ("56789ABCD" → "56*******")."""
    return secret[:2] + "*" * max(len(secret) - 2, 0)


# --- webhooks --------------------------------------------------------------------------------


def webhook_url_check(url: str) -> None:
    """400 on `webhook_url` unless the URL may receive webhooks (`webhooks.http.url_check`)."""
    try:
        http.url_check(url, allow_private=_allow_private())
    except http.UrlRefused as refusal:
        raise DomainError(str(refusal), field="webhook_url") from None


def _check_subscribed(*, activity_events: bool, timeframes_events: bool) -> None:
    if not (activity_events or timeframes_events):
        raise DomainError(
            "Subscribe to activity_events, timeframes_events or both: with neither, "
            "the webhook would never be called."
        )


def webhook_create(
    *,
    activity: Activity,
    webhook_url: str,
    secret_token: str,
    activity_events: bool = True,
    timeframes_events: bool = True,
) -> Webhook:
    """Register a webhook on `activity` (the caller reached it through
    `selectors.activities_with_webhooks_of`, i.e. he owns it or is an admin). 400 when the URL
    is refused or no event is subscribed. The signing secret is generated here; the caller
    shows it once. The URL's lookup (up to 10 s) happens before anything is written."""
    _check_subscribed(activity_events=activity_events, timeframes_events=timeframes_events)
    webhook_url_check(webhook_url)
    return Webhook.objects.create(
        activity=activity,
        webhook_url=webhook_url,
        secret_token=secret_token,
        activity_events=activity_events,
        timeframes_events=timeframes_events,
        signing_secret=signing.secret_generate(),
    )


def webhook_update(
    *,
    webhook: Webhook,
    webhook_url: str | None = None,
    secret_token: str | None = None,
    activity_events: bool | None = None,
    timeframes_events: bool | None = None,
    is_active: bool | None = None,
) -> Webhook:
    """Change the given fields (None: unchanged). `is_active: true` re-enables a disabled
    webhook (its failure count starts again); `false` pauses it. Same 400s as creation."""
    if webhook_url is not None and webhook_url != webhook.webhook_url:
        # Before the row lock: the lookup may take seconds.
        webhook_url_check(webhook_url)
    with transaction.atomic():
        return _webhook_change(
            webhook,
            webhook_url=webhook_url,
            secret_token=secret_token,
            activity_events=activity_events,
            timeframes_events=timeframes_events,
            is_active=is_active,
        )


def _webhook_change(
    webhook: Webhook,
    *,
    webhook_url: str | None,
    secret_token: str | None,
    activity_events: bool | None,
    timeframes_events: bool | None,
    is_active: bool | None,
) -> Webhook:
    webhook = Webhook.objects.select_for_update().get(pk=webhook.pk)
    if webhook_url is not None:
        webhook.webhook_url = webhook_url
    if secret_token is not None:
        webhook.secret_token = secret_token
    if activity_events is not None:
        webhook.activity_events = activity_events
    if timeframes_events is not None:
        webhook.timeframes_events = timeframes_events
    _check_subscribed(
        activity_events=webhook.activity_events, timeframes_events=webhook.timeframes_events
    )
    if is_active is True and not webhook.is_active:
        webhook.is_active = True
        webhook.disabled_reason = ""
        webhook.consecutive_failures = 0
        webhook.failing_since = None
    webhook.save()
    if is_active is False and webhook.is_active:
        _webhook_disable(webhook, reason="Disabled by its owner.")
    return webhook


@transaction.atomic
def webhook_delete(*, webhook: Webhook) -> None:
    """Delete the webhook. Deliveries already written still go out (they keep their copy)."""
    webhook.delete()


@transaction.atomic
def webhook_signing_secret_rotate(*, webhook: Webhook) -> str:
    """A new signing secret, returned once. The current one keeps signing beside it for
    `ROTATION_OVERLAP` (24 h); a secret older than that, from an earlier rotation, is dropped."""
    webhook = Webhook.objects.select_for_update().get(pk=webhook.pk)
    webhook.previous_signing_secret = webhook.signing_secret
    webhook.previous_signing_secret_expires_at = timezone.now() + ROTATION_OVERLAP
    webhook.signing_secret = signing.secret_generate()
    webhook.save()
    return webhook.signing_secret


def _webhook_disable(webhook: Webhook, *, reason: str) -> None:
    # Inside the caller's transaction, with the webhook row locked. Its pending deliveries stop
    # here (pings excepted); the owner can redeliver them once he has re-enabled it.
    Webhook.objects.filter(pk=webhook.pk).update(is_active=False, disabled_reason=reason)
    webhook.is_active, webhook.disabled_reason = False, reason
    Delivery.objects.filter(webhook=webhook, status=DeliveryStatus.PENDING).exclude(
        event=PING
    ).update(
        status=DeliveryStatus.CANCELLED,
        next_attempt_at=None,
        last_error=f"Not sent: the webhook was disabled. {reason}",
    )
    logger.info("webhook %s disabled: %s", webhook.pk, reason)


# --- the outbox ------------------------------------------------------------------------------


def _body(*, event: str, webhook_id: int, activity_id: int, timeframe_id: int | None) -> str:
    data: dict[str, int] = {"activity_id": activity_id}
    if timeframe_id is not None:
        data["timeframe_id"] = timeframe_id
    return json.dumps(
        {"event": event, "webhook_id": webhook_id, "data": data}, separators=(",", ":")
    )


def _delivery_new(
    webhook: Webhook, *, event: str, timeframe_id: int | None, now: datetime
) -> Delivery:
    return Delivery(
        webhook=webhook,
        activity_id=webhook.activity_id,
        event=event,
        body=_body(
            event=event,
            webhook_id=webhook.pk,
            activity_id=webhook.activity_id,
            timeframe_id=timeframe_id,
        ),
        webhook_url=webhook.webhook_url,
        secret_token=webhook.secret_token,
        signing_secret=webhook.signing_secret,
        previous_signing_secret=webhook.previous_signing_secret,
        previous_signing_secret_expires_at=webhook.previous_signing_secret_expires_at,
        next_attempt_at=now,
        # The task below is on its way: the sweep leaves the row alone for one lease.
        enqueued_at=now,
    )


def events_record(event: DomainEvent) -> list[Delivery]:
    """The outbox writer: one delivery per active webhook of the event's activity subscribed to
    its kind, written in the caller's transaction (registered IN_TRANSACTION for the five
    events of `webhooks.events`); a task delivers each once the change commits. A change that
    rolls back takes its deliveries with it."""
    if event.name in WEBHOOK_ACTIVITY_EVENTS:
        wanted = Q(activity_events=True)
    else:
        wanted = Q(timeframes_events=True)
    webhooks = Webhook.objects.filter(wanted, activity_id=event.activity_id, is_active=True)
    now = timezone.now()
    deliveries = [
        _delivery_new(webhook, event=event.name, timeframe_id=event.timeframe_id, now=now)
        for webhook in webhooks.order_by("pk")
    ]
    if deliveries:
        Delivery.objects.bulk_create(deliveries)
        deliveries_enqueue_on_commit([delivery.pk for delivery in deliveries])
    return deliveries


def deliveries_enqueue_on_commit(delivery_ids: list[int]) -> None:
    """Send a `deliver` task per delivery once the transaction commits.

    A broker that cannot be reached is logged, not raised: the change has committed, and the
    sweep sends the rows once their lease has passed. (In embedded mode the runner thread
    delivers.)
    """
    from webhooks.tasks import deliver  # tasks import this module

    for delivery_id in delivery_ids:
        if is_embedded():
            enqueue_on_commit(deliver, delivery_id)
        else:
            transaction.on_commit(_deliver_task_sender(deliver, delivery_id), robust=True)


def _deliver_task_sender(task, delivery_id: int) -> Callable[[], None]:
    # A named function: Django names the callback when it logs its failure.
    def deliver_task_send() -> None:
        task.delay(delivery_id)

    return deliver_task_send


def deliveries_due_dispatch(*, now: datetime | None = None, limit: int = 200) -> list[int]:
    """The sweep's claim: pending deliveries that are due and have no task on its way (none
    sent, or the last one sent more than a lease ago: lost with a broker or a worker). Marks
    them sent (`enqueued_at`) and returns their ids, most overdue first; the caller sends the
    tasks. SKIP LOCKED: concurrent sweeps share the rows instead of waiting for each other."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lte=now - _lease()))
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        Delivery.objects.filter(pk__in=ids).update(enqueued_at=now)
    return ids


def deliveries_prune(*, now: datetime | None = None) -> int:
    """Delete finished deliveries (and their attempts) older than `DELIVERY_RETENTION`; pending
    ones stay whatever their age. Returns how many deliveries went."""
    cutoff = (now or timezone.now()) - DELIVERY_RETENTION
    old = Delivery.objects.filter(created_at__lt=cutoff).exclude(status=DeliveryStatus.PENDING)
    deleted, by_model = old.delete()
    return by_model.get(Delivery._meta.label, 0)


@transaction.atomic
def webhook_ping(*, webhook: Webhook) -> Delivery:
    """A `ping` delivery (`{"event": "ping", "webhook_id", "data": {"activity_id"}}`), to be sent
    at once by the caller with `delivery_attempt`. One attempt, never retried; it goes out even
    to a disabled webhook (to test it before re-enabling) and does not count towards disabling.
    """
    delivery = _delivery_new(webhook, event=PING, timeframe_id=None, now=timezone.now())
    delivery.save()
    return delivery


@transaction.atomic
def delivery_redeliver(*, delivery: Delivery) -> Delivery:
    """Queue `delivery` again, whatever its state: same `webhook-id` and body, the webhook's
    current URL and secrets, a fresh retry schedule. 409 while its webhook is disabled."""
    delivery = (
        Delivery.objects.select_for_update(of=("self",))
        .select_related("webhook")
        .get(pk=delivery.pk)
    )
    webhook = delivery.webhook
    if webhook is not None and not webhook.is_active and delivery.event != PING:
        raise Conflict(
            f"The webhook is disabled ({webhook.disabled_reason}) "
            "Re-enable it with is_active: true before redelivering."
        )
    if delivery.status == DeliveryStatus.PENDING and delivery.attempts == 0:
        return delivery  # its first attempt is still on its way
    now = timezone.now()
    delivery.status = DeliveryStatus.PENDING
    delivery.failures = 0
    delivery.next_attempt_at = now
    delivery.enqueued_at = now
    delivery.delivered_at = None
    delivery.save()
    deliveries_enqueue_on_commit([delivery.pk])
    return delivery


# --- delivering ------------------------------------------------------------------------------


def _claim(delivery_id: int, now: datetime) -> bool:
    # The conditional UPDATE is the lock: of two tasks for the same due row, one matches.
    return bool(
        Delivery.objects.filter(
            pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
        ).update(next_attempt_at=now + _lease())
    )


def _settings_refresh(delivery: Delivery) -> None:
    webhook = delivery.webhook
    if webhook is None:
        return  # deleted: the copy is all there is
    delivery.webhook_url = webhook.webhook_url
    delivery.secret_token = webhook.secret_token
    delivery.signing_secret = webhook.signing_secret
    delivery.previous_signing_secret = webhook.previous_signing_secret
    delivery.previous_signing_secret_expires_at = webhook.previous_signing_secret_expires_at


def delivery_headers(delivery: Delivery, *, now: datetime) -> dict[str, str]:
    """The headers of one attempt: content type, token, and the Standard Webhooks three, signed
    with the signing secret (and the previous one, during a rotation's overlap)."""
    secrets = [delivery.signing_secret]
    expires = delivery.previous_signing_secret_expires_at
    if delivery.previous_signing_secret and expires is not None and expires > now:
        secrets.append(delivery.previous_signing_secret)
    return {
        "Content-Type": "application/json",
        "X-Asi-Api-Token": delivery.secret_token,
        **signing.headers_sign(
            secrets=secrets,
            msg_id=delivery.message_id,
            body=delivery.body,
            timestamp=int(now.timestamp()),
        ),
    }


def _text(value: str, limit: int) -> str:
    # PostgreSQL text cannot hold NUL; a receiver's answer may contain anything.
    return value.replace("\x00", "\ufffd")[:limit]


def delivery_attempt(*, delivery_id: int) -> Delivery | None:
    """Make one attempt of delivery `delivery_id` if it is pending and due, and record it.

    Returns the delivery, or None when there was nothing to do (gone, delivered, not due, or
    another task holds it). Must run outside a transaction: the request may take 10 s, and its
    claim must be visible to other workers at once. A delivery whose webhook has been disabled
    is cancelled instead.
    """
    now = timezone.now()
    if not _claim(delivery_id, now):
        return None
    delivery = Delivery.objects.select_related("webhook").get(pk=delivery_id)
    if delivery.webhook is not None and not delivery.webhook.is_active and delivery.event != PING:
        Delivery.objects.filter(pk=delivery_id).update(
            status=DeliveryStatus.CANCELLED,
            next_attempt_at=None,
            last_error=f"Not sent: the webhook is disabled. {delivery.webhook.disabled_reason}",
        )
        return None
    _settings_refresh(delivery)
    body = delivery.body.encode()
    status_code: int | None = None
    error = excerpt = ""
    duration_ms = 0
    started = timezone.now()
    try:
        answer = http.post(
            delivery.webhook_url,
            body=body,
            headers=delivery_headers(delivery, now=started),
            allow_private=_allow_private(),
        )
    except (http.UrlRefused, http.DeliveryFailed) as failure:
        error = str(failure)
    except Exception:
        # A bug, not the receiver's fault: still an attempt on the schedule, not a row that
        # the sweep would claim again after every lease.
        logger.exception("webhook delivery %s: sending failed", delivery_id)
        error = "Internal error while sending; the attempt will be retried."
    else:
        status_code, duration_ms = answer.status, answer.duration_ms
        excerpt = answer.body.decode("utf-8", errors="replace")
        if 300 <= answer.status < 400:
            error = f"Redirect not followed ({answer.status} to {answer.location or 'nowhere'})."
        elif not 200 <= answer.status < 300:
            error = f"{answer.status} {answer.reason}".strip()
    if not duration_ms:
        duration_ms = round((timezone.now() - started).total_seconds() * 1000)
    return _attempt_record(
        delivery,
        at=started,
        status_code=status_code,
        duration_ms=duration_ms,
        error=_text(error, ERROR_MAX_LENGTH),
        excerpt=_text(excerpt, EXCERPT_MAX_LENGTH),
    )


@transaction.atomic
def _attempt_record(
    delivery: Delivery,
    *,
    at: datetime,
    status_code: int | None,
    duration_ms: int,
    error: str,
    excerpt: str,
) -> Delivery:
    succeeded = status_code is not None and 200 <= status_code < 300
    now = timezone.now()
    Attempt.objects.create(
        delivery=delivery,
        at=at,
        webhook_url=delivery.webhook_url,
        status_code=status_code,
        duration_ms=duration_ms,
        error=error,
        response_excerpt=excerpt,
    )
    delivery.attempts += 1
    delivery.last_attempt_at = at
    delivery.last_status_code = status_code
    delivery.last_error = error
    delivery.enqueued_at = None  # the next attempt, if any, needs a task of its own
    if succeeded:
        delivery.status = DeliveryStatus.SUCCEEDED
        delivery.next_attempt_at = None
        delivery.delivered_at = now
    else:
        delivery.failures += 1
        gone = status_code == 410
        if gone or delivery.event == PING or delivery.failures > len(RETRY_SCHEDULE):
            delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = None
        else:
            delay = RETRY_SCHEDULE[delivery.failures - 1]
            delivery.next_attempt_at = now + delay * random.uniform(1 - JITTER, 1 + JITTER)
    delivery.save()
    if delivery.webhook_id is not None and (delivery.event != PING or status_code == 410):
        # A ping's other failures do not count towards disabling (you may be setting up the
        # receiver); a 410 is the receiver saying the subscription is gone, whatever was sent.
        _webhook_outcome(delivery.webhook_id, succeeded=succeeded, status_code=status_code, now=now)
    logger.info(
        "webhook delivery %s (%s) attempt %s: %s",
        delivery.pk,
        delivery.event,
        delivery.attempts,
        status_code or error,
    )
    return delivery


def _webhook_outcome(
    webhook_id: int, *, succeeded: bool, status_code: int | None, now: datetime
) -> None:
    webhook = Webhook.objects.select_for_update().filter(pk=webhook_id).first()
    if webhook is None:
        return
    if succeeded:
        Webhook.objects.filter(pk=webhook_id).update(consecutive_failures=0, failing_since=None)
        return
    Webhook.objects.filter(pk=webhook_id).update(
        consecutive_failures=F("consecutive_failures") + 1,
        failing_since=webhook.failing_since or now,
    )
    failures = webhook.consecutive_failures + 1
    since = webhook.failing_since or now
    if not webhook.is_active:
        return
    if status_code == 410:
        _webhook_disable(webhook, reason="The receiver answered 410 Gone.")
    elif failures >= DISABLE_AFTER_FAILURES and now - since >= DISABLE_AFTER:
        _webhook_disable(
            webhook,
            reason=(
                f"No successful delivery since {since:%Y-%m-%d %H:%M} UTC "
                f"({failures} failed attempts)."
            ),
        )
