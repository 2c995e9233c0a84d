"""The domain-event hook (asi_api/events.py): in-transaction handlers share the change's fate,
on-commit handlers run only once it commits."""

import pytest
from django.db import transaction

from activities.models import Activity
from asi_api import events
from asi_api.events import DomainEvent, event_emit

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


def test_it_runs_in_transaction_handlers_at_once(emitted):
    with transaction.atomic():
        event_emit("activity-updated", activity_id=7)
        assert emitted == [DomainEvent("activity-updated", 7)]


def test_it_runs_on_commit_handlers_only_after_commit(
    committed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        event_emit("timeframe-created", activity_id=7, timeframe_id=3)
        assert committed == []
    # One on-commit callback per handler (the apps' own reactions, e.g. analytics, add theirs).
    assert sum(getattr(callback, "func", None) == committed.append for callback in callbacks) == 1
    assert committed == [DomainEvent("timeframe-created", 7, 3)]


def test_it_rolls_back_in_transaction_work_and_drops_on_commit_work(
    committed, match, django_capture_on_commit_callbacks
):
    def rename(event: DomainEvent) -> None:
        # Stands for the webhook outbox: a row written in the caller's transaction.
        Activity.objects.filter(pk=event.activity_id).update(name="renamed by handler")

    events.handler_register(rename, phase=events.IN_TRANSACTION)
    try:
        with (
            django_capture_on_commit_callbacks(execute=True) as callbacks,
            pytest.raises(Boom),
            transaction.atomic(),
        ):
            event_emit("activity-updated", activity_id=match.pk)
            assert Activity.objects.get(pk=match.pk).name == "renamed by handler"
            raise Boom
    finally:
        events.handler_unregister(rename)
    match.refresh_from_db()
    assert match.name == "Tennis match at Wimbledon"
    assert callbacks == []
    assert committed == []


def test_it_aborts_the_change_when_an_in_transaction_handler_fails(match, alice, api):
    def refuse(event: DomainEvent) -> None:
        raise Boom("outbox unavailable")

    events.handler_register(refuse, phase=events.IN_TRANSACTION)
    try:
        response = api(alice).patch(f"/api/v1/activities/{match.pk}/", {"name": "Final"})
    finally:
        events.handler_unregister(refuse)
    assert response.status_code == 500
    match.refresh_from_db()
    assert match.name == "Tennis match at Wimbledon"


def test_it_keeps_running_on_commit_handlers_after_one_fails(
    committed, django_capture_on_commit_callbacks
):
    def broken(event: DomainEvent) -> None:
        raise Boom

    events.handler_register(broken, phase=events.ON_COMMIT)
    try:
        # `broken` was registered after `committed`'s handler; make it run first to prove the point.
        events.handler_unregister(broken)
        events._handlers[events.ON_COMMIT].insert(0, broken)
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            event_emit("activity-deleted", activity_id=7)
    finally:
        events.handler_unregister(broken)
    assert committed == [DomainEvent("activity-deleted", 7)]


def test_it_registers_a_handler_once():
    def handler(event: DomainEvent) -> None:
        pass

    events.handler_register(handler, phase=events.ON_COMMIT)
    events.handler_register(handler, phase=events.ON_COMMIT)
    try:
        assert events._handlers[events.ON_COMMIT].count(handler) == 1
    finally:
        events.handler_unregister(handler)


def test_it_refuses_unknown_events_and_missing_timeframe_ids():
    with transaction.atomic():
        with pytest.raises(ValueError, match="Unknown domain event"):
            event_emit("activity-renamed", activity_id=1)
        with pytest.raises(ValueError, match="needs a timeframe_id"):
            event_emit("timeframe-updated", activity_id=1)
    with pytest.raises(ValueError, match="Unknown phase"):
        events.handler_register(print, phase="later")


def test_it_refuses_to_emit_outside_a_transaction():
    # pytest-django wraps each test in a transaction; leave it to see the guard.
    from django.db import connection

    connection.in_atomic_block, saved = False, connection.in_atomic_block
    try:
        with pytest.raises(RuntimeError, match="inside the service's transaction"):
            event_emit("activity-updated", activity_id=1)
    finally:
        connection.in_atomic_block = saved


def test_webhook_event_sets_leave_activity_created_out():
    from webhooks.events import WEBHOOK_ACTIVITY_EVENTS, WEBHOOK_TIMEFRAME_EVENTS

    assert "activity-created" in events.EVENTS
    assert "activity-created" not in WEBHOOK_ACTIVITY_EVENTS
    assert {
        "timeframe-created",
        "timeframe-updated",
        "timeframe-deleted",
    } == WEBHOOK_TIMEFRAME_EVENTS
