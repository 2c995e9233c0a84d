"""The domain-event hook: every create/update/delete of an activity or timeframe announces itself here.

Services call `event_emit(...)` inside their `transaction.atomic` block, after the change is
made (for deletions: before the row goes, so handlers can still read it). Apps plug in from their
`AppConfig.ready()` without any view or service knowing about them:

* `handler_register(fn, phase=IN_TRANSACTION)` — runs at once, inside the caller's transaction.
  For work that must commit or roll back with the change: the webhook outbox
  (`webhooks.services.events_record`, SPEC §9: "recorded in the same transaction").
  An exception here aborts the change.
* `handler_register(fn, phase=ON_COMMIT)` — runs after the outermost transaction commits, never if
  it rolls back. For side effects that must not run on a change that did not happen: analytics
  recomputation, channel-layer publishes. Registered through `transaction.on_commit(robust=True)`,
  so one failing handler is logged and does not stop the others or the response.

Handlers take one `DomainEvent`. Emission is synchronous and cheap; handlers that need time
enqueue a task.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial, update_wrapper
from typing import Literal

from django.db import connection, transaction

logger = logging.getLogger(__name__)

ACTIVITY_CREATED = "activity-created"
ACTIVITY_UPDATED = "activity-updated"
ACTIVITY_DELETED = "activity-deleted"
TIMEFRAME_CREATED = "timeframe-created"
TIMEFRAME_UPDATED = "timeframe-updated"
TIMEFRAME_DELETED = "timeframe-deleted"

EVENTS = frozenset(
    {
        ACTIVITY_CREATED,
        ACTIVITY_UPDATED,
        ACTIVITY_DELETED,
        TIMEFRAME_CREATED,
        TIMEFRAME_UPDATED,
        TIMEFRAME_DELETED,
    }
)
# The events webhooks deliver (SPEC §9). "activity-created" is internal: nobody can have
# subscribed to an activity that did not exist yet.
WEBHOOK_ACTIVITY_EVENTS = frozenset({ACTIVITY_UPDATED, ACTIVITY_DELETED})
WEBHOOK_TIMEFRAME_EVENTS = frozenset({TIMEFRAME_CREATED, TIMEFRAME_UPDATED, TIMEFRAME_DELETED})

IN_TRANSACTION = "in_transaction"
ON_COMMIT = "on_commit"
Phase = Literal["in_transaction", "on_commit"]


@dataclass(frozen=True)
class DomainEvent:
    name: str
    activity_id: int
    timeframe_id: int | None = None


Handler = Callable[[DomainEvent], None]

_handlers: dict[str, list[Handler]] = {IN_TRANSACTION: [], ON_COMMIT: []}


def handler_register(handler: Handler, *, phase: Phase) -> Handler:
    """Add `handler` to `phase`; registering the same function twice keeps one entry.

    Returns the handler, so it also works as `@partial(handler_register, phase=ON_COMMIT)`.
    """
    if phase not in _handlers:
        raise ValueError(f"Unknown phase {phase!r}; use {IN_TRANSACTION!r} or {ON_COMMIT!r}.")
    if handler not in _handlers[phase]:
        _handlers[phase].append(handler)
    return handler


def handler_unregister(handler: Handler) -> None:
    """Remove `handler` from every phase (tests; apps never need it)."""
    for handlers in _handlers.values():
        if handler in handlers:
            handlers.remove(handler)


def event_emit(name: str, *, activity_id: int, timeframe_id: int | None = None) -> DomainEvent:
    """Announce a change of an activity (and timeframe) to every registered handler.

    Must be called inside the transaction that makes the change: in-transaction handlers share
    its fate, on-commit handlers run only once it commits. Timeframe events carry both ids.
    """
    if name not in EVENTS:
        raise ValueError(f"Unknown domain event {name!r}.")
    if name.startswith("timeframe-") and timeframe_id is None:
        raise ValueError(f"{name} needs a timeframe_id.")
    if not connection.in_atomic_block:
        # Outside a transaction the outbox row would commit on its own, apart from the change.
        raise RuntimeError("event_emit must be called inside the service's transaction.atomic().")
    event = DomainEvent(name=name, activity_id=activity_id, timeframe_id=timeframe_id)
    logger.debug("domain event %s activity=%s timeframe=%s", name, activity_id, timeframe_id)
    for handler in list(_handlers[IN_TRANSACTION]):
        handler(event)
    for handler in list(_handlers[ON_COMMIT]):
        # update_wrapper: Django names the callback (`__qualname__`) when logging its failure.
        transaction.on_commit(update_wrapper(partial(handler, event), handler), robust=True)
    return event
