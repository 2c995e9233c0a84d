"""Periodic jobs and background tasks, the same code path in both run modes.

* `periodic(every_seconds)` registers a job; Celery beat runs it in service mode, the embedded
  runner thread (`EmbeddedRunner`) in embedded mode.
* `enqueue_on_commit(task, *args)` sends a Celery task after the current transaction commits; in
  embedded mode the task's function runs in the runner thread instead (there is no broker).

Long waits are rows with a due time swept by a periodic job, never Celery countdowns (the Redis
broker re-delivers those after its visibility timeout and loses them on a worker crash).
"""

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils.module_loading import autodiscover_modules

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every_seconds: float
    func: Callable[[], object] = field(compare=False)


_JOBS: dict[str, PeriodicJob] = {}


def periodic(every_seconds: float) -> Callable[[Callable[[], object]], Callable[[], object]]:
    """Register `func` to run every `every_seconds`. It must be idempotent and quick."""

    def register(func: Callable[[], object]) -> Callable[[], object]:
        name = f"{func.__module__}.{func.__qualname__}"
        _JOBS[name] = PeriodicJob(name=name, every_seconds=every_seconds, func=func)
        return func

    return register


def registered_jobs() -> list[PeriodicJob]:
    _import_job_modules()
    return sorted(_JOBS.values(), key=lambda job: job.name)


def run_job(name: str) -> None:
    _import_job_modules()
    job = _JOBS.get(name)
    if job is None:
        logger.warning("periodic job %s is not registered", name)
        return
    job.func()


def _import_job_modules() -> None:
    # Jobs live in each installed app's `jobs.py`; importing them registers them.
    autodiscover_modules("jobs")


def _app_prepare() -> None:
    from celery import current_app

    current_app.finalize(auto=True)
    _import_job_modules()


def is_embedded() -> bool:
    return settings.EMBEDDED_BROKER


def enqueue_on_commit(task, *args) -> None:
    """Run Celery `task` with `args` once the current transaction commits (or now, outside one)."""
    if is_embedded():
        transaction.on_commit(lambda: EmbeddedRunner.instance().submit(task.run, *args))
    else:
        transaction.on_commit(lambda: task.delay(*args))


class EmbeddedRunner:
    """One daemon thread that runs submitted tasks in order and the periodic jobs when due."""

    _instance: "EmbeddedRunner | None" = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[Callable, tuple]] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="asi-embedded-runner", daemon=True)
        self._started = False

    @classmethod
    def instance(cls) -> "EmbeddedRunner":
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            if not cls._instance._started:
                # Import the job and task modules (and let Celery finalise its app) in the
                # calling thread before the runner starts: two threads doing it at once
                # deadlock on the import lock against Celery's finalise lock.
                _app_prepare()
                cls._instance._started = True
                cls._instance._thread.start()
            return cls._instance

    def submit(self, func: Callable, *args) -> None:
        self._queue.put((func, args))

    def _loop(self) -> None:
        jobs = registered_jobs()
        next_due = {job.name: time.monotonic() + job.every_seconds for job in jobs}
        tick = settings.SWEEP_INTERVAL_SECONDS
        while True:
            try:
                func, args = self._queue.get(timeout=min(tick, 1.0))
                self._run(func, *args)
            except queue.Empty:
                pass
            if not settings.EMBEDDED_PERIODIC_JOBS:
                continue
            now = time.monotonic()
            for job in jobs:
                if now >= next_due[job.name]:
                    next_due[job.name] = now + job.every_seconds
                    self._run(job.func)

    @staticmethod
    def _run(func: Callable, *args) -> None:
        close_old_connections()
        try:
            func(*args)
        except Exception:
            logger.exception("background task %s failed", getattr(func, "__name__", func))
        finally:
            close_old_connections()
