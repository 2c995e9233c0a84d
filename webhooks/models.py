"""Webhooks (per activity), their deliveries (the outbox) and each delivery's attempts.

A `Delivery` row is written in the transaction of the change it reports and carries its own copy
of the URL, the secrets and the exact body, so it survives the deletion of its webhook or
activity; `webhooks.services` is the only writer.
"""

import secrets

from django.db import models
from django.db.models import Q

from activities.models import Activity

PING = "ping"


def message_id_new() -> str:
    """The `webhook-id` of a new message: unique, stable across its retries."""
    return "msg_" + secrets.token_urlsafe(18)


class Webhook(models.Model):
    """A callback URL subscribed to the events of one activity (SPEC §9)."""

    activity = models.ForeignKey(Activity, on_delete=models.CASCADE, related_name="webhooks")
    webhook_url = models.CharField(max_length=2048)
    # Sent in clear in `X-Asi-Api-Token`; shown masked by the API.
    secret_token = models.CharField(max_length=255)
    activity_events = models.BooleanField(default=True)
    timeframes_events = models.BooleanField(default=True)
    # `whsec_…`: the key of the `webhook-signature` HMAC. Shown once, at creation.
    signing_secret = models.CharField(max_length=64)
    # After a rotation the previous secret also signs until `previous_signing_secret_expires_at`.
    previous_signing_secret = models.CharField(max_length=64, blank=True, default="")
    previous_signing_secret_expires_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=255, blank=True, default="")
    # Failed attempts since the last success, and when the first of them happened: 5 days
    # without success after at least 10 failures disables the webhook.
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["activity", "id"], name="webhook_activity_idx")]

    def __str__(self) -> str:
        return f"webhook {self.pk} of activity {self.activity_id} → {self.webhook_url}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # not yet delivered: first attempt or a retry is due
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"  # given up: retries exhausted, 410, or a ping's one attempt
    CANCELLED = "cancelled", "Cancelled"  # its webhook was disabled before it got through


class Delivery(models.Model):
    """One message to one webhook: the outbox row, retried until delivered or given up."""

    # SET_NULL: deleting the webhook (or its activity) does not cancel what is already due.
    webhook = models.ForeignKey(
        Webhook, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    activity_id = models.BigIntegerField()  # no FK: "activity-deleted" outlives the activity
    event = models.CharField(max_length=32)
    message_id = models.CharField(max_length=64, unique=True, default=message_id_new)
    body = models.TextField()  # the exact JSON sent, identical in every attempt
    # The webhook's settings when the delivery was written, refreshed at each attempt while the
    # webhook exists (a corrected URL or a rotated secret applies to pending retries).
    webhook_url = models.CharField(max_length=2048)
    secret_token = models.CharField(max_length=255)
    signing_secret = models.CharField(max_length=64)
    previous_signing_secret = models.CharField(max_length=64, blank=True, default="")
    previous_signing_secret_expires_at = models.DateTimeField(null=True, blank=True)

    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    # Failed attempts since the delivery was (re)queued: the step of the retry schedule.
    failures = models.PositiveIntegerField(default=0)
    # Pending: when the next attempt may start (while an attempt runs: when its lease ends).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When a task was last sent for it: the sweep sends another only once the lease has passed.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["webhook", "-id"], name="delivery_webhook_idx"),
            # The sweep's scan: only pending rows, by due time.
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_due_idx",
                condition=Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.message_id} ({self.status})"


class Attempt(models.Model):
    """One HTTP request of a delivery: what came back, how long it took, or what went wrong."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_rows")
    at = models.DateTimeField()
    webhook_url = models.CharField(max_length=2048)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    response_excerpt = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["delivery", "at", "id"]

    def __str__(self) -> str:
        return f"attempt of {self.delivery_id} at {self.at:%Y-%m-%d %H:%M:%S}"
