from django.conf import settings

from analytics.services import computed_due_claim
from analytics.tasks import computed_due_task
from asi_api.scheduling import enqueue_on_commit, periodic


@periodic(every_seconds=settings.SWEEP_INTERVAL_SECONDS)
def computed_due_sweep() -> None:
    """Run what is due per timeframe (`computed_due_task`): a live result whose timeframe has
    ended is recomputed from stored samples and becomes `final`; a dirty one (late data) is
    recomputed; a coalesced live update whose follow-up was lost is done. ARCHITECTURE.md:
    scheduled work is a row with `next_run_at`, never a long Celery countdown."""
    for timeframe_id in computed_due_claim():
        enqueue_on_commit(computed_due_task, timeframe_id)
