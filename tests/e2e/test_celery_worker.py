"""Service mode: a real Celery worker process (Redis broker, PostgreSQL) runs what the server sends."""

import os
import subprocess
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from oauth2_provider.models import AccessToken

from asi_api.tasks import run_periodic
from tests.e2e.conftest import BIN, ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker():
    db = connection.settings_dict
    env = dict(os.environ)
    # The worker must see the rows this test commits: point it at the test database.
    env["DATABASE_URL"] = (
        f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    process = subprocess.Popen(
        [str(BIN / "celery"), "-A", "asi_api", "worker", "--pool=solo", "--loglevel=INFO"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    yield process
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def test_a_worker_runs_a_periodic_job_sent_through_the_broker(worker, token_for, alice):
    live = token_for(alice)
    expired = token_for(alice)
    AccessToken.objects.filter(token=expired).update(expires=timezone.now() - timedelta(days=1))

    run_periodic.delay("asi_api.jobs.oauth_tokens_clear_expired")

    deadline = time.monotonic() + 60
    while AccessToken.objects.filter(token=expired).exists():
        assert worker.poll() is None, worker.stdout.read().decode()
        assert time.monotonic() < deadline, "the worker did not run the job within 60 s"
        time.sleep(0.3)
    assert AccessToken.objects.filter(token=live).exists()
