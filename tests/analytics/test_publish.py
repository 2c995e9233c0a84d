"""Every stored change of computed data is handed to `computed_stored_subscribe` handlers
(streaming publishes it to the timeframe and activity groups) after commit, never on
rollback, as the exact document `GET .../computed/` serves; a failing handler breaks nothing."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import transaction

from analytics.models import ComputedData
from analytics.publish import (
    ComputedStored,
    computed_stored_subscribe,
    computed_stored_unsubscribe,
    publish_failures,
)
from analytics.services import timeframe_live_update, timeframe_recompute
from tests.analytics.conftest import T_START
from tests.conftest import MATCH_END, MATCH_START

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard() -> Iterator[list[ComputedStored]]:
    seen: list[ComputedStored] = []

    def handler(items: list[ComputedStored]) -> None:
        seen.extend(items)

    computed_stored_subscribe(handler)
    yield seen
    computed_stored_unsubscribe(handler)


def test_it_hands_a_recompute_to_subscribers_after_commit_only(
    evening, ingest, heard, api, carol, django_capture_on_commit_callbacks
):
    ingest(T_START, 5)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        timeframe_recompute(timeframe_id=evening.pk)
    assert heard == []  # not committed yet

    for callback in callbacks:  # the commit
        callback()

    served = api(carol).get(f"/api/v1/timeframes/{evening.pk}/computed/").json()
    assert heard == [ComputedStored(evening.pk, evening.activity_id, served)]
    assert (served["revision"], served["status"], served["samples"]) == (1, "final", 50)


def test_it_hands_over_every_live_update_and_the_finalisation(
    evening, ingest, heard, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ingest(T_START, 2)
        timeframe_live_update(
            timeframe_id=evening.pk, arrived_from=T_START, now=MATCH_START + timedelta(seconds=3)
        )
        ingest(T_START + 2000, 1)
        timeframe_live_update(
            timeframe_id=evening.pk,
            arrived_from=T_START + 2000,
            now=MATCH_START + timedelta(seconds=4),
        )
        timeframe_live_update(timeframe_id=evening.pk, now=MATCH_END)

    assert [(h.document["revision"], h.document["status"]) for h in heard] == [
        (1, "live"),
        (2, "live"),
        (3, "final"),
    ]
    assert [h.document["samples"] for h in heard] == [20, 30, 30]
    assert heard[-1].document == ComputedData.objects.get(pk=evening.pk).data


def test_nothing_is_handed_over_when_nothing_changed(
    evening, heard, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        timeframe_recompute(timeframe_id=evening.pk)
        timeframe_recompute(timeframe_id=evening.pk)  # same samples, same status

    assert [h.document["revision"] for h in heard] == [1]


def test_nothing_is_handed_over_on_rollback(
    evening, ingest, heard, django_capture_on_commit_callbacks
):
    ingest(T_START, 2)
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        timeframe_recompute(timeframe_id=evening.pk)
        raise RuntimeError("the surrounding work failed")

    assert (heard, callbacks) == ([], [])
    assert not ComputedData.objects.filter(pk=evening.pk).exists()


def test_a_failing_handler_is_logged_and_breaks_neither_the_write_nor_the_others(
    evening, heard, caplog, django_capture_on_commit_callbacks
):
    def broken(items: list[ComputedStored]) -> None:
        raise ConnectionError("redis is down")

    computed_stored_subscribe(broken)
    failures = publish_failures.value
    try:
        with django_capture_on_commit_callbacks(execute=True):
            stored = timeframe_recompute(timeframe_id=evening.pk)
    finally:
        computed_stored_unsubscribe(broken)

    assert stored.revision == 1
    assert ComputedData.objects.get(pk=evening.pk).revision == 1
    assert [h.timeframe_id for h in heard] == [evening.pk]  # subscribed before `broken`
    assert publish_failures.value == failures + 1
    assert "computed-stored handler" in caplog.text
