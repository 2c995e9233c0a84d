"""Domain events: how a lower app tells higher apps that something changed, without knowing them.

Apps depend one way (users ← devices ← activities ← timeframes ← analytics/streaming/webhooks).
When a change in a lower app must affect a higher one — a user is being deleted, an ownership
ended, a timeframe changed — the lower app's service announces it with `event_emit(...)` inside
its `transaction.atomic` block, after the change is made (for deletions: before the row goes, so
handlers can still read it). Higher apps react from their `AppConfig.ready()`, the way
django-oauth-toolkit's `app_authorized` signal lets apps react without the token view knowing
them.

Each app declares the events it emits in its own `events.py` with `event_define(name, about=...)`:
`about` names the fields of `DomainEvent` that every such event carries (activity and timeframe
ids, a user id, a device id and a window). Reactions subscribe to some names, or to all:

* `handler_register(fn, phase=IN_TRANSACTION)` — runs at once, inside the caller's transaction.
  For work that must commit or roll back with the change: cascades into higher apps, and the
  webhook outbox (SPEC §9: "recorded in the same transaction"). An exception here aborts the
  change.
* `handler_register(fn, phase=ON_COMMIT)` — runs after the outermost transaction commits, never if
  it rolls back. For side effects that must not run on a change that did not happen: analytics
  recomputation, channel-layer publishes. Registered through `transaction.on_commit(robust=True)`,
  so one failing handler is logged and does not stop the others or the response.

Handlers of one phase run in registration order, which is `INSTALLED_APPS` order (lower apps
first) for reactions registered from `ready()`. A handler may emit events of its own; they are
handled before the emitter's next handler runs. Emission is synchronous and cheap; handlers that
need time enqueue a task.
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import datetime
from functools import partial, update_wrapper
from typing import Literal

from django.db import connection, transaction

logger = logging.getLogger(__name__)

IN_TRANSACTION = "in_transaction"
ON_COMMIT = "on_commit"
Phase = Literal["in_transaction", "on_commit"]


@dataclass(frozen=True)
class DomainEvent:
    """One change, named by `name`; the fields its definition lists in `about` are set, the
    others are None. Ids only: a handler reloads what it needs (the rows still exist)."""

    name: str
    activity_id: int | None = None
    timeframe_id: int | None = None
    user_id: int | None = None
    device_id: int | None = None
    # A window [start, end) the event is about, e.g. the span an ownership no longer covers.
    start: datetime | None = None
    end: datetime | None = None


_SUBJECT_FIELDS = frozenset(field.name for field in fields(DomainEvent)) - {"name"}

# Every defined event: name → the fields its events carry. Filled by the apps' `events.py`.
EVENTS: dict[str, frozenset[str]] = {}


def event_define(name: str, *, about: Iterable[str]) -> str:
    """Declare the event `name`, whose events carry the `DomainEvent` fields in `about`.

    Called at import time of the emitting app's `events.py`; returns `name`, for a constant.
    """
    about = frozenset(about)
    unknown = about - _SUBJECT_FIELDS
    if unknown:
        raise ValueError(f"DomainEvent has no field {', '.join(sorted(unknown))}.")
    if EVENTS.get(name, about) != about:
        raise ValueError(f"Domain event {name!r} is already defined about other fields.")
    EVENTS[name] = about
    return name


Handler = Callable[[DomainEvent], None]

_handlers: dict[str, list[Handler]] = {IN_TRANSACTION: [], ON_COMMIT: []}
# (phase, handler) → the event names it handles; absent: every event.
_names: dict[tuple[str, Handler], frozenset[str]] = {}


def handler_register(
    handler: Handler, *, phase: Phase, names: Iterable[str] | None = None
) -> Handler:
    """Add `handler` to `phase`, for the events `names` (default: every event); registering the
    same function twice keeps one entry (with the latest `names`).

    Returns the handler, so it also works as `@partial(handler_register, phase=ON_COMMIT)`.
    """
    if phase not in _handlers:
        raise ValueError(f"Unknown phase {phase!r}; use {IN_TRANSACTION!r} or {ON_COMMIT!r}.")
    if handler not in _handlers[phase]:
        _handlers[phase].append(handler)
    if names is None:
        _names.pop((phase, handler), None)
    else:
        _names[(phase, handler)] = frozenset(names)
    return handler


def handler_unregister(handler: Handler) -> None:
    """Remove `handler` from every phase (tests; apps never need it)."""
    for phase, handlers in _handlers.items():
        if handler in handlers:
            handlers.remove(handler)
        _names.pop((phase, handler), None)


def _handlers_of(phase: str, name: str) -> list[Handler]:
    return [
        handler for handler in _handlers[phase] if name in _names.get((phase, handler), (name,))
    ]


def event_emit(
    name: str,
    *,
    activity_id: int | None = None,
    timeframe_id: int | None = None,
    user_id: int | None = None,
    device_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> DomainEvent:
    """Announce the change `name` to every handler registered for it.

    Give exactly the fields its definition names in `about`. Must be called inside the
    transaction that makes the change: in-transaction handlers share its fate, on-commit
    handlers run only once it commits.
    """
    about = EVENTS.get(name)
    if about is None:
        raise ValueError(f"Unknown domain event {name!r}.")
    event = DomainEvent(
        name=name,
        activity_id=activity_id,
        timeframe_id=timeframe_id,
        user_id=user_id,
        device_id=device_id,
        start=start,
        end=end,
    )
    for field in sorted(_SUBJECT_FIELDS):
        given = getattr(event, field) is not None
        if field in about and not given:
            raise ValueError(f"{name} needs a {field}.")
        if given and field not in about:
            raise ValueError(f"{name} carries no {field}.")
    if not connection.in_atomic_block:
        # Outside a transaction the outbox row would commit on its own, apart from the change.
        raise RuntimeError("event_emit must be called inside the service's transaction.atomic().")
    logger.debug("domain event %s", event)
    for handler in _handlers_of(IN_TRANSACTION, name):
        handler(event)
    for handler in _handlers_of(ON_COMMIT, name):
        # update_wrapper: Django names the callback (`__qualname__`) when logging its failure.
        transaction.on_commit(update_wrapper(partial(handler, event), handler), robust=True)
    return event
