"""Concurrent load on a real daphne process keeps PostgreSQL connections bounded.

Django 5.2 under ASGI runs each request's sync code in a thread of its own, and database
connections belong to threads: with `CONN_MAX_AGE` > 0 every request thread of a burst left an
idle connection behind (issue 7: 20-39 after three bursts of 20, then "too many clients").
The web process now closes its connection at the end of each request (`CONN_MAX_AGE=0`), so a
burst holds at most one connection per request in flight and none survive it.

Other test runs use other databases on the same server: connections are counted by `datname`.
"""

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest
import requests
from django.db import connection

from tests.e2e.conftest import daphne

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BURSTS = 3
CONCURRENCY = 24


class ConnectionCounter:
    """Counts the test database's connections, from a connection of its own (not counted)."""

    def __init__(self, dsn: dict) -> None:
        self.name = dsn["dbname"]
        self.conn = psycopg2.connect(**dsn)
        self.conn.autocommit = True
        self.peak = 0
        self._stop = threading.Event()

    def count(self) -> int:
        with self.conn.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [self.name],
            )
            return cursor.fetchone()[0]

    def sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.count())
            time.sleep(0.002)

    def __enter__(self) -> "ConnectionCounter":
        self.peak = 0
        self._stop.clear()
        self._thread = threading.Thread(target=self.sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def settled(counter: ConnectionCounter, target: int, timeout: float = 5.0) -> int:
    """The count once it is back to `target` (or whatever it is when `timeout` runs out)."""
    deadline = time.monotonic() + timeout
    while (now := counter.count()) > target and time.monotonic() < deadline:
        time.sleep(0.05)
    return now


def test_three_bursts_leave_no_connection_behind(alice, token_for, capsys):
    db = connection.settings_dict
    dsn = {"dbname": db["NAME"], "user": db["USER"], "host": db["HOST"] or "127.0.0.1"}
    dsn["port"] = db["PORT"] or 5432
    env = dict(os.environ)
    env.pop("CONN_MAX_AGE", None)  # the shipped default
    env["DATABASE_URL"] = f"postgres://{dsn['user']}@{dsn['host']}:{dsn['port']}/{dsn['dbname']}"
    headers = {"Authorization": f"Bearer {token_for(alice)}"}
    counter = ConnectionCounter(dsn)

    with daphne(env) as base:
        # The test's own Django connection is idle and counted in every number alike.
        before = settled(counter, target=1)
        barrier = threading.Barrier(CONCURRENCY)

        def call(_: int) -> int:
            barrier.wait()
            return requests.get(
                f"{base}/api/v1/activities/", headers=headers, timeout=30
            ).status_code

        peaks, afters = [], []
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            for _ in range(BURSTS):
                with counter:
                    statuses = list(pool.map(call, range(CONCURRENCY)))
                assert statuses == [200] * CONCURRENCY
                peaks.append(counter.peak)
                afters.append(settled(counter, target=before))

    with capsys.disabled():
        print(
            f"\nconnections to {dsn['dbname']}: before {before}, peak per burst {peaks}, after each burst {afters}"
        )
    # In flight: at most one connection per concurrent request, on top of what was there.
    assert max(peaks) <= before + CONCURRENCY, peaks
    # After: none left behind.
    assert afters == [before] * BURSTS, (before, afters)
