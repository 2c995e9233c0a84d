"""The periodic-job registry and the embedded runner (what runs tasks when there is no broker)."""

import threading

import pytest
from django.db import transaction

from asi_api import scheduling
from asi_api.scheduling import EmbeddedRunner, enqueue_on_commit, registered_jobs


def test_it_registers_the_periodic_jobs_of_every_app():
    jobs = {job.name: job for job in registered_jobs()}
    assert jobs["asi_api.jobs.oauth_tokens_clear_expired"].every_seconds == 3600


def test_celery_beat_gets_one_entry_per_registered_job():
    from asi_api.celery import app

    app.loader.import_default_modules()
    app.finalize()
    scheduled = {entry["args"][0] for entry in app.conf.beat_schedule.values()}
    assert scheduled == {job.name for job in registered_jobs()}


def test_the_embedded_runner_runs_submitted_work_in_its_own_thread():
    done = threading.Event()
    seen: list[str] = []

    def work(value: str) -> None:
        seen.append(f"{value} in {threading.current_thread().name}")
        done.set()

    EmbeddedRunner.instance().submit(work, "payload")
    assert done.wait(timeout=5)
    assert seen == ["payload in asi-embedded-runner"]


class _Task:
    """Stands in for a Celery task: records how it was called."""

    def __init__(self) -> None:
        self.ran = threading.Event()
        self.delayed: list[tuple] = []

    def run(self, *args) -> None:
        self.ran.set()

    def delay(self, *args) -> None:
        self.delayed.append(args)


@pytest.mark.django_db(transaction=True)
def test_it_sends_a_task_only_after_the_transaction_commits(settings):
    settings.EMBEDDED_BROKER = False
    task = _Task()
    with transaction.atomic():
        enqueue_on_commit(task, 7)
        assert task.delayed == []
    assert task.delayed == [(7,)]

    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_on_commit(task, 8)
        raise RuntimeError("rolled back")
    assert task.delayed == [(7,)]


@pytest.mark.django_db(transaction=True)
def test_embedded_mode_runs_the_task_in_the_runner_after_commit(settings):
    settings.EMBEDDED_BROKER = True
    assert scheduling.is_embedded()
    task = _Task()
    with transaction.atomic():
        enqueue_on_commit(task, 1)
        assert not task.ran.is_set()
    assert task.ran.wait(timeout=5)
    assert task.delayed == []
