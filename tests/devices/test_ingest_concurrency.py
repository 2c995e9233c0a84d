"""Concurrent identical and overlapping requests from two connections: exact counts, no duplicate.

Real transactions on two database connections (threads), so the per-device lock of
`devices.samples.samples_store` is what decides, as between two server processes.
"""

import threading

import numpy as np
import pytest
from django.db import connection, connections

from devices.ingestion import packets_ingest
from devices.samples import TABLE, samples_read
from tests.devices.packets_factory import now_ms, packets

pytestmark = pytest.mark.django_db(transaction=True)

VEST = "a1b2c3d4e5f6"


@pytest.fixture(autouse=True)
def _empty_samples_table():
    # The samples table has no Django model, so the transactional flush does not empty it.
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE}")


def race(*bodies: dict) -> list:
    """Ingest each body from its own thread (its own connection), released together."""
    barrier = threading.Barrier(len(bodies))
    results: list = [None] * len(bodies)

    def run(i: int, body: dict) -> None:
        try:
            barrier.wait()
            results[i] = packets_ingest(body=body)
        except Exception as error:  # reported by the assertion below
            results[i] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, b)) for i, b in enumerate(bodies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.parametrize("attempt", range(3))
def test_identical_requests_at_once_store_each_sample_once(make_owned_device, attempt):
    device = make_owned_device(VEST)
    t0 = now_ms() // 1000 * 1000 - 100_000
    body = {"packets": packets(VEST, t0, 20)}

    first, second = race(body, body)

    assert sorted([first.samples, second.samples]) == [0, 240]
    assert first.duplicates + second.duplicates == 240
    frame = samples_read(device_id=device.pk, start=0, stop=now_ms() + 10**9).channels
    for ts, _ in frame.values():
        assert len(np.unique(ts)) == len(ts)
    assert sum(len(ts) for ts, _ in frame.values()) == 240


def test_overlapping_requests_at_once_count_exactly(make_owned_device):
    device = make_owned_device(VEST)
    t0 = now_ms() // 1000 * 1000 - 100_000
    a = {"packets": packets(VEST, t0, 20)}  # seconds 0-19
    b = {"packets": packets(VEST, t0 + 10_000, 20)}  # seconds 10-29: 10 seconds shared

    first, second = race(a, b)

    assert first.samples + second.samples == 30 * 12
    assert first.duplicates + second.duplicates == 10 * 12
    frame = samples_read(device_id=device.pk, start=0, stop=now_ms() + 10**9).channels
    assert len(frame["gnss"][0]) == len(np.unique(frame["gnss"][0])) == 300
