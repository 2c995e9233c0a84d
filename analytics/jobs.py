from django.conf import settings

from analytics.services import computed_due_claim
from analytics.tasks import timeframe_recompute_task
from asi_api.scheduling import enqueue_on_commit, periodic


@periodic(every_seconds=settings.SWEEP_INTERVAL_SECONDS)
def computed_due_sweep() -> None:
    """Recompute the timeframes that are due: a live result whose timeframe has ended is
    recomputed from stored samples and becomes `final` (ARCHITECTURE.md: scheduled work is a
    row with `next_run_at`, never a long Celery countdown)."""
    for timeframe_id in computed_due_claim():
        enqueue_on_commit(timeframe_recompute_task, timeframe_id)
