"""Analytics tasks.

For now only the hook that ingestion calls: the metrics engine and the incremental per-timeframe
updates arrive with the analytics issue (SPEC §7), which replaces the body of `samples_arrived`.
"""

import logging

from celery import shared_task

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
