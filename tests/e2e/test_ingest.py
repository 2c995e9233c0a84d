"""Device data end to end: real daphne processes, gateways over HTTP (SPEC §6, issue 9)."""

import json
import os
import signal
import subprocess
import threading
import time
from io import StringIO

import numpy as np
import pytest
import requests
from django.core.management import call_command
from django.db import connection

from devices.samples import TABLE
from devices.services import device_create
from devices.simulation import Gateway, MatchSimulator
from tests.e2e.conftest import BIN, ROOT, daphne, embedded_env, free_port, manage, wait_until_up
from tests.recordings import RECORDINGS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server():
    """daphne in service mode on the test database (it must see what the test commits)."""
    db = connection.settings_dict
    env = dict(os.environ)
    env["DATABASE_URL"] = (
        f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    env.setdefault("SECRET_KEY", "e2e")
    with daphne(env) as base:
        yield base
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE}")  # not a model table: the flush leaves it


def stored() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(sum(length(ts)), 0) / 4 FROM {TABLE}")
        return int(cursor.fetchone()[0])


def simulate(*args: str) -> str:
    out = StringIO()
    call_command("simulate_match", *args, "--no-progress", stdout=out)
    return out.getvalue()


def test_a_simulated_match_is_stored_once_even_when_sent_twice(server):
    names = ["a1e000000101", "a1e000000102", "a1e000000103"]
    for name in names:
        device_create(device_name=name, serial_number=f"SIM-{name}")
    common = ["--url", server, "--local-token", "--device-names", ",".join(names)]
    common += ["--minutes", "0.2", "--speed", "0", "--start-ms", "1764547200000"]

    first = simulate(*common)
    again = simulate(*common, "--batch-seconds", "3")  # other batch boundaries, same samples

    assert "acknowledged 432 new samples, 0 duplicates; 0 errors" in first  # 3 × 12 s × 12
    assert "acknowledged 0 new samples, 432 duplicates; 0 errors" in again
    assert stored() == 432


@pytest.mark.skipif(not RECORDINGS.is_dir(), reason="the real recordings are not here")
def test_a_recorded_session_replays_through_http(server, token_for):
    recording = RECORDINGS / "fr110_run_smart.packets.json"
    device_create(device_name="a1e000000003", serial_number="FR110")
    token = token_for(None, scope="ingest")

    output = simulate(
        "--url", server, f"--token={token}", "--replay", str(recording), "--speed", "0"
    )

    sent = sum(
        len(v["timestamp"]) if isinstance(v["timestamp"], list) else 1
        for p in json.loads(recording.read_text())
        for k, v in p.items()
        if k != "device_name"
    )
    assert f"acknowledged {sent} new samples, 0 duplicates; 0 errors" in output
    assert stored() == sent


def test_embedded_mode_ingests_and_reads_back(tmp_path):
    """What `make run` serves (SQLite, no Redis): a gateway posts, the demo manager reads."""
    env = embedded_env(tmp_path)
    manage(env, "migrate", "--noinput")
    manage(env, "load_demo_data")
    manage(
        env,
        "createapplication",
        "confidential",
        "client-credentials",
        "--name",
        "gateway",
        "--client-id",
        "e2e-gateway",
        "--client-secret",
        "e2e-gateway-secret",
    )
    with daphne(env) as base:
        token = requests.post(
            base + "/oauth2/token/",
            data={"grant_type": "client_credentials"},
            auth=("e2e-gateway", "e2e-gateway-secret"),
            timeout=5,
        ).json()
        assert token["scope"] == "ingest"
        gateway = {"Authorization": f"Bearer {token['access_token']}"}
        t0 = (int(time.time()) - 3600) * 1000  # in alice's demo ownership (since a month ago)
        packets = [
            {
                "device_name": "a1b2c3d4e5f6",
                "gnss": {"timestamp": [t0 + s * 1000], "latitude": [51.5], "longitude": [-0.1]},
                "ecg": {"timestamp": t0 + s * 1000, "hr": 140 + s},
            }
            for s in range(5)
        ]
        url = base + "/api/v1/preprocessed-data/"
        first = requests.post(url, json={"packets": packets}, headers=gateway, timeout=10)
        again = requests.post(url, json={"packets": packets}, headers=gateway, timeout=10)
        assert (first.status_code, first.json()) == (
            201,
            {"packets": 5, "samples": 10, "duplicates": 0},
        )
        assert again.json() == {"packets": 5, "samples": 0, "duplicates": 10}

        alice = requests.post(
            base + "/oauth2/token/",
            data={"grant_type": "password", "username": "alice", "password": "demo-pass-2026"},
            auth=("demo-ams-password", "demo-password-secret"),
            timeout=5,
        ).json()
        listed = requests.get(
            base + "/api/v1/devices/",
            params={"device_name": "a1b2c3d4e5f6"},
            headers={"Authorization": f"Bearer {alice['access_token']}"},
            timeout=5,
        )
        assert listed.status_code == 200, listed.text
        devices = listed.json()["results"]
        read = requests.get(
            f"{base}/api/v1/devices/{devices[0]['id']}/preprocessed/",
            params={"start": t0, "stop": t0 + 5000},
            headers={"Authorization": f"Bearer {alice['access_token']}"},
            timeout=5,
        )
        assert read.status_code == 200, read.text
        rows = read.json()["results"]
        assert [r["ecg.hr"] for r in rows] == [140, 141, 142, 143, 144]


def _start_daphne(env: dict[str, str], port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "asi_api.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until_up(f"http://127.0.0.1:{port}/healthz/", process)
    return process


def test_killing_the_server_mid_ingest_loses_and_doubles_nothing(token_for):
    """SIGKILL while two gateways post; restart; the gateways retry until acknowledged.

    A request answered 201 was committed; one cut off was committed wholly or not at all (one
    transaction), and its retry stores exactly what is missing. In the end every sample is
    stored exactly once.
    """
    db = connection.settings_dict
    env = dict(os.environ)
    env["DATABASE_URL"] = (
        f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    env.setdefault("SECRET_KEY", "e2e")
    names = [f"a1e0000002{i:02d}" for i in range(6)]
    for name in names:
        device_create(device_name=name, serial_number=f"KILL-{name}")
    token = token_for(None, scope="ingest")
    port = free_port()
    server = _start_daphne(env, port)
    start_ms = (int(time.time()) - 3600) * 1000
    gateways, outcomes = [], []

    def post_match(device_names: list[str]) -> None:
        simulator = MatchSimulator(device_names=device_names, start_ms=start_ms)
        gateway = Gateway(url=f"http://127.0.0.1:{port}", token=token, timeout=2, attempts=40)
        gateways.append(gateway)
        for _ in range(60):  # 60 requests of 2 s × 3 devices
            outcomes.append(gateway.post(simulator.packets() + simulator.packets()))

    threads = [threading.Thread(target=post_match, args=(names[i::2],)) for i in range(2)]
    try:
        for thread in threads:
            thread.start()
        # Kill mid-stream: after some requests are acknowledged, long before all are (a fixed
        # sleep is too long once ingestion is fast: every request could be answered by then).
        deadline = time.monotonic() + 30
        while len(outcomes) < 10 and time.monotonic() < deadline:
            time.sleep(0.005)
        server.send_signal(signal.SIGKILL)
        server.wait()
        time.sleep(1.0)
        server = _start_daphne(env, port)
        for thread in threads:
            thread.join(timeout=240)
    finally:
        server.terminate()
        server.wait(timeout=10)

    expected = 2 * 60 * 2 * 3 * 12  # gateways × requests × seconds × devices × samples
    try:
        assert all(outcomes) and len(outcomes) == 120
        assert sum(g.retries for g in gateways) > 0, "the kill should have cut some requests"
        assert stored() == expected
        # A request committed just before the kill lost its answer: its retry found those
        # samples stored and counted them as duplicates, so acknowledged "new" may fall short.
        acknowledged_new = sum(g.stored for g in gateways)
        assert (
            acknowledged_new <= expected <= acknowledged_new + sum(g.duplicates for g in gateways)
        )
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT device_id, channel_id, t_first, ts FROM {TABLE}")
            keys = [
                (device, channel, t_first + offset)
                for device, channel, t_first, ts in cursor.fetchall()
                for offset in np.frombuffer(bytes(ts), dtype="<i4").tolist()
            ]
        assert len(keys) == len(set(keys)) == expected
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {TABLE}")


def test_ingestion_goes_on_when_redis_stops(token_for):
    """Redis (throttle cache, channel layer, broker) dies mid-ingest: every batch is still
    acknowledged and stored; only the stream and the analytics hint are lost (logged, counted).

    A private redis-server on its own port, so the suite's shared Redis is never touched.
    """
    redis_port = free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    db = connection.settings_dict
    env = dict(os.environ)
    env["DATABASE_URL"] = (
        f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    env.setdefault("SECRET_KEY", "e2e")
    names = [f"a1e0000003{i:02d}" for i in range(3)]
    for name in names:
        device_create(device_name=name, serial_number=f"REDIS-{name}")
    simulator = MatchSimulator(device_names=names, start_ms=(int(time.time()) - 3600) * 1000)
    try:
        time.sleep(0.3)
        with daphne(env) as base:
            gateway = Gateway(url=base, token=token_for(None, scope="ingest"), attempts=1)
            assert all(gateway.post(simulator.packets()) for _ in range(5))
            redis.kill()
            redis.wait()
            assert all(gateway.post(simulator.packets()) for _ in range(5))
        assert gateway.stored == stored() == 10 * 3 * 12
    finally:
        if redis.poll() is None:
            redis.kill()
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {TABLE}")
