"""Handing stored computed data to the apps that publish it, after commit.

Every stored change of a `ComputedData` (live update, recompute, finalisation) is announced
here once its transaction commits, never when it rolls back. Streaming subscribes from its
`AppConfig.ready()` and sends the document to the timeframe and activity groups: analytics
never imports streaming (apps depend one way, ARCHITECTURE.md), as `devices.ingestion` never
imports the apps that hear of new samples.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from django.db import transaction

from asi_api.counters import Counter

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ComputedStored:
    """One stored change: the SPEC §7 document exactly as `GET .../computed/` serves it."""

    timeframe_id: int
    activity_id: int
    document: dict


ComputedStoredHandler = Callable[[list[ComputedStored]], None]
_subscribers: list[ComputedStoredHandler] = []

# Handlers that raised in this process (the stored data is safe whatever happens here).
publish_failures = Counter()


def computed_stored_subscribe(handler: ComputedStoredHandler) -> ComputedStoredHandler:
    """Call `handler([ComputedStored, ...])` after every commit that stored computed data.

    It runs in the process that stored it (a Celery worker, the embedded runner thread, a
    command), after commit; one that raises is logged and counted, and the others still run.
    Subscribing the same function twice keeps one entry.
    """
    if handler not in _subscribers:
        _subscribers.append(handler)
    return handler


def computed_stored_unsubscribe(handler: ComputedStoredHandler) -> None:
    """Remove `handler` (tests; apps never need it)."""
    if handler in _subscribers:
        _subscribers.remove(handler)


def computed_stored_on_commit(stored: ComputedStored) -> None:
    """Announce `stored` once the current transaction commits (at once outside one)."""
    transaction.on_commit(partial(_announce, [stored]))


def _announce(items: list[ComputedStored]) -> None:
    for handler in list(_subscribers):
        try:
            handler(items)
        except Exception:
            publish_failures.increment()
            logger.warning(
                "computed-stored handler %s failed for timeframes %s",
                getattr(handler, "__qualname__", handler),
                [item.timeframe_id for item in items],
                exc_info=True,
            )
