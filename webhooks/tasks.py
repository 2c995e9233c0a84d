"""Webhook delivery task: thin and idempotent, by id (the work is in `webhooks.services`)."""

from celery import shared_task

from webhooks.services import delivery_attempt


@shared_task(name="webhooks.tasks.deliver", acks_late=True, ignore_result=True)
def deliver(delivery_id: int) -> None:
    """Make the due attempt of delivery `delivery_id`; quietly nothing if it is gone, delivered,
    not due or being attempted by another worker (so a repeated message sends nothing twice).

    No Celery retries: a failed attempt schedules the next one in the row, and the sweep
    (`webhooks.jobs`) sends it when due, whatever happened to this message.
    """
    delivery_attempt(delivery_id=delivery_id)
