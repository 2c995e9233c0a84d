"""Analytics tasks: thin, idempotent, by id (the work is in `analytics.services`).

`timeframe_recompute_task` recomputes one timeframe from stored samples; it is enqueued after
commit when a timeframe, its activity or its athlete's profile changes (`analytics.reactions`)
and by the computed endpoint for a timeframe never computed. `samples_arrived` is the live
path (one task per ingest request), `computed_due_task` what the sweep and coalesced updates
run (see `analytics.services.timeframe_live_update`).
"""

import logging
import threading

from celery import shared_task
from django.db import OperationalError

from analytics.selectors import timeframes_covering
from analytics.services import LIVE_INTERVAL, timeframe_live_update, timeframe_recompute
from asi_api.scheduling import EmbeddedRunner, enqueue_on_commit, is_embedded
from devices.samples import NewSamples

logger = logging.getLogger(__name__)


# Only a database hiccup is worth retrying; a bug would fail the same way every time.
RETRY = {
    "autoretry_for": (OperationalError,),
    "max_retries": 5,
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
}


@shared_task(
    name="analytics.tasks.timeframe_recompute", acks_late=True, ignore_result=True, **RETRY
)
def timeframe_recompute_task(timeframe_id: int) -> None:
    """Recompute timeframe `timeframe_id` from stored samples; quietly nothing if it is gone.

    Idempotent: a repeat stores nothing new (`revision` moves only when the result changes).
    """
    if timeframe_recompute(timeframe_id=timeframe_id) is None:
        logger.debug("timeframe %s is gone: nothing to recompute", timeframe_id)


@shared_task(name="analytics.tasks.samples_arrived", acks_late=True, ignore_result=True, **RETRY)
def samples_arrived(spans: list[list[int]]) -> None:
    """New samples were committed: `spans` is [[device_id, t_min, t_max], ...] (epoch ms).

    Sent once per ingestion request (not per sample or device), after commit. Updates every
    timeframe covering the new samples (`timeframe_live_update`, one transaction each, so a
    worker holds one row lock at a time); a coalesced one gets a follow-up task at the end of
    its second. Idempotent: a repeat finds the samples absorbed already and stores nothing.
    """
    for timeframe_id, t_min in timeframes_covering(spans):
        outcome = timeframe_live_update(timeframe_id=timeframe_id, arrived_from=t_min)
        if outcome is not None and outcome.follow_up is not None:
            follow_up_schedule(timeframe_id, outcome.follow_up)


@shared_task(name="analytics.tasks.computed_due", acks_late=True, ignore_result=True, **RETRY)
def computed_due_task(timeframe_id: int) -> None:
    """Run what is due for timeframe `timeframe_id` (the sweep, a coalesced update's
    follow-up): finalisation, a dirty recompute or the pending live update; nothing if it is
    gone or nothing is due."""
    outcome = timeframe_live_update(timeframe_id=timeframe_id)
    if outcome is not None and outcome.follow_up is not None:
        follow_up_schedule(timeframe_id, outcome.follow_up)


def follow_up_schedule(timeframe_id: int, seconds: float) -> None:
    """Run `computed_due_task(timeframe_id)` in `seconds` (≤ LIVE_INTERVAL): a coalesced live
    update then lands at the end of its second, not at the next sweep. A short countdown is
    safe here — the row's `next_run_at` says the same, so the sweep still does it if this
    message is lost. In embedded mode a timer hands it to the runner thread."""
    seconds = min(max(seconds, 0.0), LIVE_INTERVAL.total_seconds())
    if is_embedded():
        runner = EmbeddedRunner.instance()
        timer = threading.Timer(seconds, runner.submit, (computed_due_task.run, timeframe_id))
        timer.daemon = True
        timer.start()
    else:
        computed_due_task.apply_async((timeframe_id,), countdown=seconds)


def samples_arrived_enqueue(new: list[NewSamples], names_by_id: dict[int, str]) -> None:
    """After an ingest commits: one `samples_arrived` task for the whole request.

    Subscribed to `devices.ingestion` from `AnalyticsConfig.ready()`. Runs on the ingestion
    announcer thread in service mode, already after commit: `delay` directly, because
    `enqueue_on_commit`'s transaction check would open a database connection in that thread.
    In embedded mode it runs inline after commit, and the helper hands it to the runner thread.
    """
    spans = [[d.device_id, d.t_min, d.t_max] for d in new]
    if is_embedded():
        enqueue_on_commit(samples_arrived, spans)
    else:
        samples_arrived.delay(spans)
