"""Webhooks in service mode: a real Celery worker process (with its beat running the sweep)
delivers to a real receiver, retries, and survives being killed in the middle of a request."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
from django.db import connection

from activities.services import activity_update
from tests.e2e.conftest import ROOT
from tests.webhooks.conftest import Receiver, receiver_running
from webhooks.models import Delivery, DeliveryStatus
from webhooks.services import webhook_create

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LEASE_SECONDS = 12  # more than the 10 s request deadline, short enough for a test


# The worker, with a key prefix on the broker: this story's messages cannot be taken by any
# other worker sharing the Redis database (another checkout's, a benchmark's).
WORKER = """
import sys
from asi_api.celery import app
app.conf.broker_transport_options = {
    **app.conf.broker_transport_options, "global_keyprefix": sys.argv[1]
}
app.worker_main(["worker", "-B", "-s", sys.argv[2], "--pool=solo", "--loglevel=INFO"])
"""


@pytest.fixture
def broker_prefix() -> Iterator[str]:
    """This test's own broker key prefix, for the messages it sends and its workers."""
    from asi_api.celery import app

    prefix = f"e2e-webhooks-{uuid.uuid4().hex[:8]}:"
    original = app.conf.broker_transport_options
    app.pool.force_close_all()
    app._pool = None
    app.conf.broker_transport_options = {**original, "global_keyprefix": prefix}
    yield prefix
    app.pool.force_close_all()
    app._pool = None
    app.conf.broker_transport_options = original
    broker = redis.Redis.from_url(app.conf.broker_url)
    for key in broker.scan_iter(f"{prefix}*"):
        broker.delete(key)


@pytest.fixture
def start_worker(tmp_path, broker_prefix) -> Iterator[Callable[[], subprocess.Popen]]:
    """`start_worker()` runs a Celery worker with beat inside (the sweep every second) on the
    test database; every worker started is stopped at the end."""
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DATABASE_URL=(
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
        WEBHOOKS_ALLOW_PRIVATE_URLS="true",
        WEBHOOKS_DELIVERY_LEASE_SECONDS=str(LEASE_SECONDS),
        SWEEP_INTERVAL_SECONDS="1",
    )
    started: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        schedule = tmp_path / f"beat-schedule-{len(started)}"
        process = subprocess.Popen(
            [sys.executable, "-c", WORKER, broker_prefix, str(schedule)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own process group: `-B` runs beat in a child process, which must go with it.
            start_new_session=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        group_signal(process, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            group_signal(process, signal.SIGKILL)
            process.wait(timeout=15)
        # The beat child outlives a worker killed with SIGKILL: end the whole group.
        group_signal(process, signal.SIGKILL)


def group_signal(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiver_running() as running:
        yield running


@pytest.fixture
def hooked(schemas, match, receiver):
    return webhook_create(activity=match, webhook_url=receiver.url, secret_token="56789ABCD")


def wait_for_status(delivery_id: int, status: str, timeout: float = 60) -> Delivery:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        delivery = Delivery.objects.get(pk=delivery_id)
        if delivery.status == status:
            return delivery
        time.sleep(0.3)
    raise AssertionError(f"delivery {delivery_id} is {delivery.status}, not {status}")


@pytest.fixture
def schemas(transactional_db):
    from activities.default_schemas import default_schemas_install
    from activities.models import JsonSchema

    default_schemas_install(JsonSchema)


def test_a_worker_delivers_and_retries_through_the_sweep(
    start_worker, hooked, match, alice, receiver
):
    receiver.answer(500)
    start_worker()
    activity_update(actor=alice, activity=match, name="Final")  # commits: the task is sent
    delivery = Delivery.objects.get()
    delivery = wait_for_status(delivery.pk, DeliveryStatus.SUCCEEDED)
    first, second = receiver.wait_for(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery.message_id
    assert json.loads(second.body) == {
        "event": "activity-updated",
        "webhook_id": hooked.pk,
        "data": {"activity_id": match.pk},
    }
    assert delivery.attempts == 2 and delivery.last_status_code == 200


def test_a_delivery_survives_its_worker_killed_mid_request(
    start_worker, hooked, match, alice, receiver
):
    receiver.answer("hang")
    receiver.hang_seconds = 30
    worker = start_worker()
    activity_update(actor=alice, activity=match, name="Final")
    receiver.wait_for(1)  # the worker is inside the request...
    worker.send_signal(signal.SIGKILL)  # ...and dies there (its beat child lives on until teardown)
    worker.wait(timeout=10)
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 0
    start_worker()  # its sweep sends the row again once the dead worker's lease has passed
    delivery = wait_for_status(delivery.pk, DeliveryStatus.SUCCEEDED, timeout=LEASE_SECONDS + 40)
    received = receiver.wait_for(2)
    assert received[0].headers["webhook-id"] == received[-1].headers["webhook-id"]
    assert delivery.attempts == 1
