"""Analytics tasks: thin, idempotent, by id (the work is in `analytics.services`).

`timeframe_recompute_task` recomputes one timeframe from stored samples; it is enqueued after
commit when a timeframe or its activity changes (`analytics.apps`) and by the computed
endpoint for a timeframe never computed. The live per-ingest path (`samples_arrived`) is still
the minimal hook: the incremental updates of ARCHITECTURE.md's data flow replace its body.
"""

import logging

from celery import shared_task
from django.db import OperationalError

from analytics.services import timeframe_recompute
from asi_api.scheduling import enqueue_on_commit, is_embedded
from devices.samples import NewSamples

logger = logging.getLogger(__name__)


@shared_task(
    name="analytics.tasks.timeframe_recompute",
    acks_late=True,
    ignore_result=True,
    # Only a database hiccup is worth retrying; a bug would fail the same way every time.
    autoretry_for=(OperationalError,),
    max_retries=5,
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
)
def timeframe_recompute_task(timeframe_id: int) -> None:
    """Recompute timeframe `timeframe_id` from stored samples; quietly nothing if it is gone.

    Idempotent: a repeat stores nothing new (`revision` moves only when the result changes).
    """
    if timeframe_recompute(timeframe_id=timeframe_id) is None:
        logger.debug("timeframe %s is gone: nothing to recompute", timeframe_id)


@shared_task(name="analytics.tasks.samples_arrived", acks_late=True, ignore_result=True)
def samples_arrived(spans: list[list[int]]) -> None:
    """New samples were committed: `spans` is [[device_id, t_min, t_max], ...] (epoch ms).

    Sent once per ingestion request (not per sample or device), after commit. Idempotent by
    construction: it will recompute from stored samples, so a repeat costs time, not correctness.
    Minimal for now (logs only): the analytics issue fills it in.
    """
    for device_id, t_min, t_max in spans:
        logger.debug("samples arrived: device %s [%s, %s]", device_id, t_min, t_max)


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
