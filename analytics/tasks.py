"""Analytics tasks.

For now only the hook that ingestion calls: the metrics engine and the incremental per-timeframe
updates arrive with the analytics issue (SPEC §7), which replaces the body of `samples_arrived`.
"""

import logging

from celery import shared_task

from asi_api.scheduling import enqueue_on_commit, is_embedded
from devices.samples import NewSamples

logger = logging.getLogger(__name__)


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
