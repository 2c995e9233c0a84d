from django.conf import settings

from asi_api.scheduling import enqueue_on_commit, periodic
from webhooks.services import deliveries_due_dispatch, deliveries_prune
from webhooks.tasks import deliver


@periodic(every_seconds=settings.SWEEP_INTERVAL_SECONDS)
def deliveries_due_sweep() -> None:
    """Send a delivery task for every webhook delivery that is due: retries whose time has
    come, and first attempts whose task was lost (broker down at commit, worker killed).
    Retries live in the database (`next_attempt_at`), never in Celery countdowns."""
    for delivery_id in deliveries_due_dispatch():
        enqueue_on_commit(deliver, delivery_id)


@periodic(every_seconds=3600)
def deliveries_prune_finished() -> None:
    """Delete the delivery log's finished rows older than 30 days, hourly."""
    deliveries_prune()
