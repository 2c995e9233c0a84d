"""`analytics.services.timeframe_recompute` (SPEC §7) over samples stored by ingestion, the
domain-event reactions that enqueue it, its task, and `manage.py recompute`."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command

from activities.services import activity_update
from analytics import tasks as analytics_tasks
from analytics.metrics import Athlete, metrics_compute, params_effective
from analytics.models import ComputedData
from analytics.services import (
    HEAD_FIELDS,
    computed_due_claim,
    computed_empty,
    timeframe_recompute,
)
from asi_api.scheduling import registered_jobs, run_job
from tests.analytics.conftest import T_END, T_START, engine_input
from tests.conftest import MATCH_END, MATCH_START
from timeframes.services import timeframe_update
from users.services import user_update

pytestmark = pytest.mark.django_db

CAROL = Athlete(max_heart_rate=192, gender="F")


def measured(document: dict) -> dict:
    return {k: v for k, v in document.items() if k not in HEAD_FIELDS}


def test_it_stores_the_engine_numbers_of_the_samples_inside_the_timeframe(evening, ingest):
    # Two seconds before the start and two at the end fall outside [start, end).
    sent = ingest(T_START - 2000, 30) + ingest(T_END - 2000, 4)

    stored = timeframe_recompute(timeframe_id=evening.pk)

    expected = metrics_compute(
        params=params_effective({}, "tennis"),
        start_ms=T_START,
        end_ms=T_END,
        athlete=CAROL,
        **engine_input(sent),
    )
    assert measured(stored.data) == expected
    assert stored.data["samples"] == 28 * 10 + 2 * 10
    assert stored.data["first_timestamp"] == T_START
    assert stored.data["total_distance"] > 0
    assert stored.data["athlete_max_hr"] == 192
    assert stored.data["trimp"] is not None
    assert (stored.status, stored.revision) == ("final", 1)
    assert (stored.data["status"], stored.data["revision"]) == ("final", 1)
    assert stored.data["computed_at"].endswith("Z")


def test_it_ignores_samples_of_other_devices(evening, ingest, make_device):
    other = make_device()
    ingest(T_START, 10, device=other)

    assert timeframe_recompute(timeframe_id=evening.pk).data["samples"] == 0


def test_it_bumps_the_revision_only_when_the_result_changes(evening, ingest):
    ingest(T_START, 10)
    first = timeframe_recompute(timeframe_id=evening.pk)

    again = timeframe_recompute(timeframe_id=evening.pk)
    assert (again.revision, again.computed_at) == (1, first.computed_at)

    ingest(T_START + 10_000, 5)
    later = timeframe_recompute(timeframe_id=evening.pk)
    assert later.revision == 2
    assert later.data["samples"] == 150
    assert ComputedData.objects.get(pk=evening.pk).data["revision"] == 2


def test_it_is_live_until_the_timeframe_ends_then_final(evening, ingest):
    ingest(T_START, 10)

    live = timeframe_recompute(timeframe_id=evening.pk, now=MATCH_START + timedelta(minutes=5))
    assert (live.status, live.revision, live.next_run_at) == ("live", 1, MATCH_END)

    final = timeframe_recompute(timeframe_id=evening.pk, now=MATCH_END)
    assert (final.status, final.revision, final.next_run_at) == ("final", 2, None)
    assert measured(final.data) == measured(live.data)


def test_it_uses_the_sport_profile_and_the_timeframe_params(evening, match, ingest):
    match.json = {"sport": "Running", "type": "match"}
    match.save()
    evening.params = {"hid_threshold": 3.0}
    evening.save()

    params = timeframe_recompute(timeframe_id=evening.pk).data["params"]

    assert params == params_effective({"hid_threshold": 3.0}, "running")
    assert (params["max_gap"], params["hid_threshold"]) == (60.0, 3.0)


def test_it_has_every_metric_without_samples(evening):
    stored = timeframe_recompute(timeframe_id=evening.pk)

    assert (stored.data["samples"], stored.data["total_distance"]) == (0, 0.0)
    assert measured(stored.data) == measured(computed_empty(evening))
    empty = computed_empty(evening)
    assert (empty["status"], empty["revision"], empty["computed_at"]) == ("live", 0, None)


def test_it_returns_none_for_a_timeframe_that_is_gone(evening):
    evening.delete()

    assert timeframe_recompute(timeframe_id=evening.pk) is None
    analytics_tasks.timeframe_recompute_task(evening.pk)  # quietly nothing
    assert not ComputedData.objects.exists()


def test_the_task_recomputes(evening, ingest):
    ingest(T_START, 3)

    analytics_tasks.timeframe_recompute_task(evening.pk)

    assert ComputedData.objects.get(pk=evening.pk).data["samples"] == 30


# --- reactions to domain events -------------------------------------------------------------


@pytest.fixture
def enqueued(monkeypatch) -> list[int]:
    """Timeframe ids whose recompute task is sent to the broker."""
    sent: list[int] = []
    monkeypatch.setattr(analytics_tasks.timeframe_recompute_task, "delay", sent.append)
    return sent


def test_it_recomputes_a_timeframe_created_through_the_service(
    scene, band, match, alice, make_timeframe, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        timeframe = make_timeframe(band, match, actor=alice)

    assert enqueued == [timeframe.pk]


def test_it_recomputes_an_updated_timeframe_after_commit_only(
    evening, alice, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        timeframe_update(actor=alice, timeframe=evening, params={"hid_threshold": 4.0})
    assert enqueued == []

    with django_capture_on_commit_callbacks(execute=True):  # the commit
        for callback in callbacks:
            callback()
    assert enqueued == [evening.pk]


def test_it_recomputes_every_timeframe_of_an_updated_activity(
    evening, band, match, alice, make_device, own, make_timeframe, enqueued,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    other = make_device()
    own(other, alice, MATCH_START)
    second = make_timeframe(other, match)

    with django_capture_on_commit_callbacks(execute=True):
        activity_update(actor=alice, activity=match, name="Final")

    assert sorted(enqueued) == sorted([evening.pk, second.pk])


def test_it_recomputes_every_timeframe_of_an_athlete_whose_profile_changed(
    evening, band, match, carol, bob, make_timeframe, ingest, enqueued,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    ingest(T_START, 5)
    earlier = make_timeframe(band, match, MATCH_START - timedelta(days=1), MATCH_START)
    make_timeframe(band, match, MATCH_END, MATCH_END + timedelta(hours=1), athlete=bob)
    before = timeframe_recompute(timeframe_id=evening.pk)
    assert before.data["athlete_max_hr"] == 192

    with django_capture_on_commit_callbacks(execute=True):
        user_update(actor=carol, user=carol, profile={"max_heart_rate": 180})

    assert sorted(enqueued) == sorted([evening.pk, earlier.pk])  # carol's, not bob's
    analytics_tasks.timeframe_recompute_task(evening.pk)
    after = ComputedData.objects.get(pk=evening.pk)
    assert (after.data["athlete_max_hr"], after.revision) == (180, 2)
    assert after.data["trimp"] != before.data["trimp"]


def test_a_profile_change_the_metrics_do_not_use_recomputes_nothing(
    evening, carol, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        user_update(actor=carol, user=carol, profile={"nationality": "NZ"})

    assert enqueued == []


# --- manage.py recompute ---------------------------------------------------------------------


def test_the_command_recomputes_a_timeframe(evening, ingest, capsys):
    ingest(T_START, 2)

    call_command("recompute", "--timeframe", str(evening.pk), "--no-progress")

    assert ComputedData.objects.get(pk=evening.pk).data["samples"] == 20
    assert "1 timeframes recomputed: 1 changed, 0 unchanged, 0 failed." in capsys.readouterr().out


def test_the_command_recomputes_an_activity_and_a_date_range(evening, match, capsys):
    call_command("recompute", "--activity", str(match.pk), "--no-progress")
    call_command("recompute", "--since", "2020-05-30", "--until", "2020-05-31", "--no-progress")

    out = capsys.readouterr().out
    assert "1 changed, 0 unchanged" in out
    assert "0 changed, 1 unchanged" in out


def test_the_command_fails_when_nothing_matches(evening):
    with pytest.raises(CommandError, match="No timeframe matches"):
        call_command("recompute", "--since", "2021-01-01", "--no-progress")
    with pytest.raises(CommandError, match="not a date"):
        call_command("recompute", "--since", "yesterday", "--no-progress")
    with pytest.raises(CommandError):
        call_command("recompute", "--no-progress")


# --- the sweep that finalises ended timeframes -------------------------------------------------


def test_the_sweep_finalises_a_live_result_once_its_timeframe_ended(evening, ingest):
    ingest(T_START, 2)
    timeframe_recompute(timeframe_id=evening.pk, now=MATCH_START + timedelta(minutes=1))

    assert computed_due_claim(now=MATCH_END - timedelta(seconds=1)) == []
    assert computed_due_claim(now=MATCH_END) == [evening.pk]
    assert computed_due_claim(now=MATCH_END) == []  # claimed: leased for a minute

    final = timeframe_recompute(timeframe_id=evening.pk, now=MATCH_END)
    assert (final.status, final.revision, final.next_run_at) == ("final", 2, None)
    assert computed_due_claim(now=MATCH_END + timedelta(hours=1)) == []


def test_the_sweep_job_enqueues_what_is_due(
    evening, monkeypatch, django_capture_on_commit_callbacks
):
    due: list[int] = []
    monkeypatch.setattr(analytics_tasks.computed_due_task, "delay", due.append)
    timeframe_recompute(timeframe_id=evening.pk, now=MATCH_START)  # live, due at MATCH_END

    assert "analytics.jobs.computed_due_sweep" in {job.name for job in registered_jobs()}
    with django_capture_on_commit_callbacks(execute=True):
        run_job("analytics.jobs.computed_due_sweep")  # MATCH_END is long past

    assert due == [evening.pk]
    analytics_tasks.computed_due_task(evening.pk)  # what the worker then runs: finalisation
    stored = ComputedData.objects.get(pk=evening.pk)
    assert (stored.status, stored.revision, stored.next_run_at) == ("final", 2, None)
