"""The live path (ARCHITECTURE.md data flow): each ingest updates the timeframes covering it
incrementally, from the engine state stored per timeframe in PostgreSQL, under a row lock;
coalesced to one stored change per second; late data makes the row dirty for a recompute at
most every 10 s, also after `final`. Samples go through `devices.ingestion.packets_ingest`
into PostgreSQL, and every number is checked against a full computation of what is stored.

`now` is passed explicitly (the match evening is in 2020); the task stories travel in time.
"""

import threading
from datetime import datetime, timedelta

import numpy as np
import pytest
import time_machine
from django.db import connection

from analytics import tasks as analytics_tasks
from analytics.models import ComputedData
from analytics.selectors import timeframes_covering
from analytics.services import (
    HEAD_FIELDS,
    computed_due_claim,
    timeframe_live_update,
    timeframe_metrics,
    timeframe_recompute,
)
from devices.ingestion import packets_ingest
from tests.analytics.builders import track
from tests.analytics.conftest import T_START
from tests.analytics.test_incremental import assert_same
from tests.conftest import MATCH_END, MATCH_START

pytestmark = pytest.mark.django_db

# 60 s at 10 Hz: standing, a 3.2 m/s² acceleration into a 10 s sprint, slowing down, jogging
# (efforts and sprints that start in one update and end in another).
SPEEDS = np.r_[np.zeros(50), np.linspace(0, 8, 25), np.full(100, 8.2), np.linspace(8, 0, 25)]
SPEEDS = np.r_[SPEEDS, np.full(400, 3.0)]
RUN = track(SPEEDS, t0=T_START)


def at(seconds: float) -> datetime:
    return MATCH_START + timedelta(seconds=seconds)


def packets(first: int, last: int, device_name: str) -> list[dict]:
    """The one-second packets of seconds [first, last) of RUN: 10 fixes and a heart rate."""
    out = []
    for s in range(first, last):
        k = slice(10 * s, 10 * s + 10)
        out.append(
            {
                "device_name": device_name,
                "gnss": {
                    "timestamp": RUN["ts"][k].tolist(),
                    "latitude": RUN["latitude"][k].tolist(),
                    "longitude": RUN["longitude"][k].tolist(),
                    "speed": RUN["speed"][k].tolist(),
                },
                "ecg": {"timestamp": T_START + 1000 * s, "hr": 120 + 2 * s},
            }
        )
    return out


@pytest.fixture
def send(band):
    """`send(first, last)`: ingest seconds [first, last) of RUN in one request; returns the
    request's earliest sample (the `t_min` that `samples_arrived` gets)."""

    def store(first: int, last: int) -> int:
        packets_ingest(body={"packets": packets(first, last, band.device_name)})
        return T_START + 1000 * first

    return store


def measured(document: dict) -> dict:
    return {k: v for k, v in document.items() if k not in HEAD_FIELDS}


def assert_equals_full_recompute(evening) -> ComputedData:
    """The stored live document equals a full computation over every stored sample."""
    stored = ComputedData.objects.get(pk=evening.pk)
    assert_same(timeframe_metrics(evening), measured(stored.data))
    return stored


def test_each_ingest_updates_incrementally_to_the_numbers_of_a_full_recompute(evening, send):
    outcomes = []
    for second in range(60):
        since = send(second, second + 1)
        outcomes.append(
            timeframe_live_update(timeframe_id=evening.pk, arrived_from=since, now=at(second + 1.5))
        )

    # The first builds the state from storage; then each absorbs only the new second.
    assert [o.action for o in outcomes] == ["recompute"] + ["update"] * 59
    assert all(o.changed for o in outcomes)
    stored = assert_equals_full_recompute(evening)
    assert (stored.revision, stored.data["revision"], stored.status) == (60, 60, "live")
    assert stored.data["samples"] == 600
    assert stored.data["sprint"]["count"] == 1
    # the ramp into the sprint, and the step from standing to jogging after it
    assert len(stored.data["accelerations"]["threshold_2"]["values"]) == 2
    assert (stored.dirty, stored.pending_from, stored.next_run_at) == (False, None, MATCH_END)
    assert stored.computed_at == at(60.5)


def test_a_repeated_update_stores_nothing_new(evening, send):
    since = send(0, 5)
    timeframe_live_update(timeframe_id=evening.pk, arrived_from=since, now=at(6))
    send(5, 10)
    first = timeframe_live_update(timeframe_id=evening.pk, arrived_from=since + 5000, now=at(11))

    again = timeframe_live_update(timeframe_id=evening.pk, arrived_from=since + 5000, now=at(13))

    assert (first.action, first.changed) == ("update", True)
    assert (again.action, again.changed) == ("update", False)
    stored = assert_equals_full_recompute(evening)
    assert (stored.revision, stored.computed_at, stored.data["samples"]) == (2, at(11), 100)


def test_updates_are_coalesced_to_one_a_second(evening, send):
    since = send(0, 3)
    timeframe_live_update(timeframe_id=evening.pk, arrived_from=since, now=at(3))

    third = send(3, 4)
    waited = timeframe_live_update(timeframe_id=evening.pk, arrived_from=third, now=at(3.4))
    assert waited.action == "wait"
    assert waited.follow_up == pytest.approx(0.6)
    stored = ComputedData.objects.get(pk=evening.pk)
    assert (stored.revision, stored.pending_from, stored.next_run_at) == (1, third, at(4))

    fourth = send(4, 5)
    again = timeframe_live_update(timeframe_id=evening.pk, arrived_from=fourth, now=at(3.8))
    assert (again.action, again.follow_up) == ("wait", None)  # a follow-up is already due
    assert ComputedData.objects.get(pk=evening.pk).pending_from == third

    done = timeframe_live_update(timeframe_id=evening.pk, now=at(4))  # the follow-up
    assert (done.action, done.changed) == ("update", True)
    stored = assert_equals_full_recompute(evening)
    assert (stored.revision, stored.data["samples"], stored.pending_from) == (2, 50, None)
    assert stored.next_run_at == MATCH_END


def test_the_task_updates_each_covering_timeframe_and_schedules_the_follow_up(
    evening, send, band, monkeypatch
):
    later: list[tuple] = []
    monkeypatch.setattr(
        analytics_tasks.computed_due_task,
        "apply_async",
        lambda args, countdown: later.append((args, countdown)),
    )
    since = send(0, 2)
    with time_machine.travel(at(2), tick=False):
        analytics_tasks.samples_arrived([[band.pk, since, since + 1900]])
    since = send(2, 3)
    with time_machine.travel(at(2.25), tick=False):
        analytics_tasks.samples_arrived([[band.pk, since, since + 900]])
        analytics_tasks.samples_arrived([[band.pk + 1, since, since + 900]])  # no timeframe

    assert later == [((evening.pk,), 0.75)]
    with time_machine.travel(at(3), tick=False):
        analytics_tasks.computed_due_task(evening.pk)
    stored = assert_equals_full_recompute(evening)
    assert (stored.revision, stored.data["samples"]) == (2, 30)


def test_a_sample_at_most_5_s_late_merges_into_the_state(evening, send):
    since = send(0, 8)
    send(9, 12)  # second 8 is held back by the gateway
    timeframe_live_update(timeframe_id=evening.pk, arrived_from=since, now=at(13))

    late = send(8, 9)  # 8.0 s ≥ newest (11.9 s) − 5 s
    merged = timeframe_live_update(timeframe_id=evening.pk, arrived_from=late, now=at(14))

    assert (merged.action, merged.changed) == ("update", True)
    stored = assert_equals_full_recompute(evening)
    assert (stored.dirty, stored.data["samples"]) == (False, 120)


def test_older_late_data_makes_it_dirty_for_the_sweep_to_recompute_at_most_every_10_s(
    evening, send
):
    since = send(0, 10)
    send(11, 30)
    timeframe_live_update(timeframe_id=evening.pk, arrived_from=since, now=at(31))  # built

    late = send(10, 11)  # 20 s behind the newest: cannot merge
    timeframe_live_update(timeframe_id=evening.pk, arrived_from=late, now=at(33))
    stored = ComputedData.objects.get(pk=evening.pk)
    assert (stored.dirty, stored.next_run_at, stored.data["samples"]) == (True, at(41), 290)

    # Newer samples still flow live meanwhile.
    newer = send(30, 31)
    live = timeframe_live_update(timeframe_id=evening.pk, arrived_from=newer, now=at(35))
    assert (live.action, live.stored.data["samples"], live.stored.dirty) == ("update", 300, True)

    assert computed_due_claim(now=at(40.9)) == []
    assert computed_due_claim(now=at(41)) == [evening.pk]
    swept = timeframe_live_update(timeframe_id=evening.pk, now=at(41))  # computed_due_task
    assert swept.action == "recompute"
    stored = assert_equals_full_recompute(evening)
    assert (stored.dirty, stored.data["samples"], stored.recomputed_at) == (False, 310, at(41))
    assert stored.next_run_at == MATCH_END

    # The state the recompute left takes the next live update.
    newer = send(31, 32)
    after = timeframe_live_update(timeframe_id=evening.pk, arrived_from=newer, now=at(43))
    assert after.action == "update"
    assert assert_equals_full_recompute(evening).data["samples"] == 320


def test_late_data_after_final_recomputes_and_bumps_the_revision(evening, send):
    send(0, 5)
    send(6, 10)
    final = timeframe_recompute(timeframe_id=evening.pk, now=MATCH_END)
    assert (final.status, final.revision, final.state) == ("final", 1, None)

    late = send(5, 6)  # a gateway uploads what it buffered
    waited = timeframe_live_update(timeframe_id=evening.pk, arrived_from=late, now=at(7203))
    assert waited.action == "wait"
    stored = ComputedData.objects.get(pk=evening.pk)
    assert (stored.dirty, stored.next_run_at) == (True, MATCH_END + timedelta(seconds=10))

    swept = timeframe_live_update(timeframe_id=evening.pk, now=MATCH_END + timedelta(seconds=10))
    assert (swept.action, swept.changed) == ("recompute", True)
    stored = assert_equals_full_recompute(evening)
    assert (stored.status, stored.revision, stored.data["revision"]) == ("final", 2, 2)
    assert (stored.data["samples"], stored.dirty, stored.next_run_at) == (100, False, None)


def test_a_timeframe_that_ended_is_finalised_by_the_next_update(evening, send):
    since = send(0, 3)
    timeframe_live_update(timeframe_id=evening.pk, arrived_from=since, now=at(4))

    done = timeframe_live_update(timeframe_id=evening.pk, now=MATCH_END)

    assert (done.action, done.stored.status, done.stored.revision) == ("recompute", "final", 2)
    assert (done.stored.state, done.stored.next_run_at) == (None, None)


def test_a_changed_params_rebuilds_the_state_from_storage(evening, send):
    since = send(0, 3)
    timeframe_live_update(timeframe_id=evening.pk, arrived_from=since, now=at(4))
    evening.params = {"hid_threshold": 2.0}
    evening.save()  # its event's recompute may come later than the next ingest

    more = send(3, 4)
    outcome = timeframe_live_update(timeframe_id=evening.pk, arrived_from=more, now=at(5))

    assert outcome.action == "recompute"
    stored = assert_equals_full_recompute(evening)
    assert stored.data["params"]["hid_threshold"] == 2.0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_updates_of_one_timeframe_lose_nothing(evening, send):
    since = send(0, 20)
    timeframe_live_update(timeframe_id=evening.pk, arrived_from=since, now=at(21))
    # Eight requests of the next 4 s, all stored, then announced at once to eight workers.
    arrivals = [send(20 + k // 2, 20 + k // 2 + 1) if k % 2 == 0 else None for k in range(8)]
    starts = [a for a in arrivals if a is not None] * 2
    barrier = threading.Barrier(len(starts))
    outcomes: list = []
    errors: list = []

    def worker(k: int) -> None:
        try:
            barrier.wait()
            outcomes.append(
                timeframe_live_update(
                    timeframe_id=evening.pk, arrived_from=starts[k], now=at(30 + 1.1 * k)
                )
            )
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(len(starts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(outcomes) == len(starts)
    timeframe_live_update(timeframe_id=evening.pk, now=at(60))  # whatever is still pending
    stored = assert_equals_full_recompute(evening)
    assert (stored.data["samples"], stored.dirty, stored.pending_from) == (240, False, None)
    assert stored.data["revision"] == stored.revision
    assert stored.revision == 1 + sum(o.changed for o in outcomes)


def test_embedded_mode_runs_the_follow_up_in_the_runner_thread(settings, monkeypatch):
    settings.EMBEDDED_BROKER = True
    ran = threading.Event()
    seen: list[tuple] = []

    def run(timeframe_id: int) -> None:
        seen.append((timeframe_id, threading.current_thread().name))
        ran.set()

    monkeypatch.setattr(analytics_tasks.computed_due_task, "run", run)
    analytics_tasks.follow_up_schedule(7, 0.05)

    assert ran.wait(timeout=5)
    assert seen == [(7, "asi-embedded-runner")]


def test_it_finds_the_timeframes_covering_each_device_s_new_samples_in_one_query(
    evening, band, match, make_device, own, make_timeframe, alice, django_assert_num_queries
):
    other = make_device()
    own(other, alice, MATCH_START)
    later = make_timeframe(other, match, MATCH_END, MATCH_END + timedelta(hours=1))
    end = T_START + 7_200_000  # MATCH_END, epoch ms

    with django_assert_num_queries(1):
        found = timeframes_covering(
            [[band.pk, T_START - 5000, T_START], [other.pk, end - 1000, end - 1]]
        )
    assert found == [(evening.pk, T_START - 5000)]  # `later` starts after these samples

    assert timeframes_covering([[band.pk, end, end + 900], [other.pk, end, end + 900]]) == [
        (later.pk, end)  # [start, end): the band's evening has ended at `end`
    ]
    assert timeframes_covering([]) == []
