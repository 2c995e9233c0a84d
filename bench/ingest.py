"""Ingestion and reads of device data (issue 9), each beside its physical baseline.

1. HTTP ingestion: daphne process(es) + PostgreSQL (+ Redis for the throttle, the stream and
   the broker), 3 gateway clients posting batches of 50 packets (10 GNSS fixes + 1 heart rate +
   1 status each, so 600 samples) as fast as they are answered, for BENCH_INGEST_SECONDS.
   Prints samples/s accepted, p50/p99 request latency, bytes per stored sample.
2. Baseline, same run: a raw `COPY` of the same samples, one row per sample, into a table keyed
   by (device, channel, ts) — the rate PostgreSQL itself sustains — and the ratio.
3. Reads at depth: the table filled to 10 million samples (binary COPY, not HTTP), then a
   10,000-row page of /preprocessed/ through HTTP: the first of a 2-day window, one from a
   `next_start` 1.5 days in, and one by page number in the middle, each with its exact `count`
   (timed alone too), beside a raw SELECT of the same chunk rows.

`python -m bench` runs it after the other benchmarks; `python -m bench.ingest` runs it alone.
Environment: BENCH_INGEST_SECONDS (10), BENCH_WEB_PROCESSES (3), BENCH_READ_SAMPLES (10_000_000).
"""

import io
import json
import multiprocessing
import os
import statistics
import struct
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import requests

if __name__ == "__main__":
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asi_api.settings")
    django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SECONDS = float(os.environ.get("BENCH_INGEST_SECONDS", "10"))
# Each gateway keeps one connection to one process (as behind a connection-balancing proxy), so
# 3 processes for 3 gateways: with 2, one process carries two gateways and is the bottleneck
# while the other idles (measured: 2 processes 41-48 k samples/s, p99 59-71 ms; 3 processes
# 46-49 k, p99 52-54 ms, alternating runs). Requests wait on PostgreSQL and Redis part of the
# time, so 3 processes still fit 2 cores.
WEB_PROCESSES = int(os.environ.get("BENCH_WEB_PROCESSES", "3"))
READ_SAMPLES = int(os.environ.get("BENCH_READ_SAMPLES", "10000000"))
GATEWAYS = 3
DEVICES_PER_GATEWAY = 22
PACKETS_PER_REQUEST = 50
SAMPLES_PER_PACKET = 12


# --- setup ---------------------------------------------------------------------------------------


def _setup() -> dict:
    from oauth2_provider.models import AccessToken, Application

    from devices.models import Device, DeviceOwnership
    from users.models import ManagerProfile, Role, User

    devices = Device.objects.bulk_create(
        Device(device_name=f"{0xB0000000 + i:012x}", serial_number=f"BENCH-{i}", is_active=True)
        for i in range(GATEWAYS * DEVICES_PER_GATEWAY + 9)
    )
    expires = datetime.now(UTC) + timedelta(hours=2)
    gateway_tokens = []
    for g in range(GATEWAYS):
        app = Application.objects.create(
            name=f"bench gateway {g}",
            client_type="confidential",
            authorization_grant_type="client-credentials",
        )
        token = AccessToken.objects.create(
            application=app, token=f"bench-gateway-{g}", scope="ingest", expires=expires
        )
        gateway_tokens.append(token.token)
    manager = User.objects.create_user("bench-reader", role=Role.MANAGER)
    ManagerProfile.objects.create(user=manager, first_name="Bench", last_name="Reader")
    reader_app = Application.objects.create(
        name="bench reader", client_type="confidential", authorization_grant_type="password"
    )
    reader = AccessToken.objects.create(
        user=manager, application=reader_app, token="bench-reader", scope="all", expires=expires
    )
    read_device = devices[-1]
    DeviceOwnership.objects.create(
        device=read_device, manager=manager, start_time=datetime.now(UTC) - timedelta(days=30)
    )
    return {
        "names": [d.device_name for d in devices[: GATEWAYS * DEVICES_PER_GATEWAY]],
        "gateway_tokens": gateway_tokens,
        "reader_token": reader.token,
        "read_device": read_device,
        "fill_devices": [d.pk for d in devices[GATEWAYS * DEVICES_PER_GATEWAY : -1]],
    }


def _server_env() -> dict[str, str]:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    if db.get("PASSWORD"):
        url = url.replace("@", f":{db['PASSWORD']}@", 1)
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        DEBUG="false",
        SECRET_KEY=env.get("SECRET_KEY") or "bench",
        LOG_LEVEL="WARNING",
        # The deployment default. Keeping connections (e.g. 60) changes nothing here: daphne runs
        # each request's sync code on a thread of its own, so every request opens a connection
        # either way (~2.5 ms of PostgreSQL CPU on loopback; measured: 49.4 k samples/s with 0,
        # 49.9 k with 60). PgBouncer in front is the remedy (docs/operations.md).
        CONN_MAX_AGE=env.get("BENCH_CONN_MAX_AGE", "0"),
        THROTTLE_INGEST="1000000/min",
    )
    if not settings.REDIS_URL:
        env.pop("REDIS_URL", None)
    return env


def _start_servers(count: int) -> tuple[list[subprocess.Popen], list[str]]:
    from tests.e2e.conftest import free_port, wait_until_up

    processes, bases = [], []
    env = _server_env()
    for _ in range(count):
        port = free_port()
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port)]
            + ["asi_api.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(process)
        bases.append(f"http://127.0.0.1:{port}")
    for process, base in zip(processes, bases, strict=True):
        wait_until_up(base + "/healthz/", process)
    return processes, bases


def _stop_servers(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


# --- load ----------------------------------------------------------------------------------------


def _body(names: list[str], start_ms: int, request_no: int) -> str:
    packets = []
    for i in range(PACKETS_PER_REQUEST):
        k = request_no * PACKETS_PER_REQUEST + i
        name = names[k % len(names)]
        t0 = start_ms + 1000 * (k // len(names))
        phase = k * 0.001
        packets.append(
            {
                "device_name": name,
                "gnss": {
                    "timestamp": [t0 + 100 * j for j in range(10)],
                    "latitude": [51.5 + phase + j * 1e-6 for j in range(10)],
                    "longitude": [-0.12 + phase - j * 1e-6 for j in range(10)],
                    "speed": [round(3 + (j % 5) * 0.7, 2) for j in range(10)],
                    "altitude": [20.5] * 10,
                },
                "ecg": {"timestamp": t0, "hr": 120 + k % 60},
                "device": {"timestamp": t0, "standstill": 0, "Bat_lvl": 90 - k % 10},
            }
        )
    return json.dumps({"packets": packets})


def _gateway(base: str, token: str, names: list[str], start_ms: int, until: float, out) -> None:
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies, samples, duplicates, errors, request_no = [], 0, 0, 0, 0
    while time.time() < until:
        body = _body(names, start_ms, request_no)
        request_no += 1
        began = time.perf_counter()
        response = session.post(base + "/api/v1/preprocessed-data/", data=body, headers=headers)
        latencies.append((time.perf_counter() - began) * 1000)
        if response.status_code == 201:
            counts = response.json()
            samples += counts["samples"]
            duplicates += counts["duplicates"]
        else:
            errors += 1
    out.put((latencies, samples, duplicates, errors))


def _load(bases: list[str], setup: dict, seconds: float) -> dict:
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    # Each run posts its own hours (warm-up and measurement never collide into duplicates).
    _load.runs = getattr(_load, "runs", 0) + 1
    start_ms = int(time.time() * 1000) // 1000 * 1000 - (6 + 2 * _load.runs) * 3600 * 1000
    began = time.time()
    until = began + seconds
    clients = []
    for g in range(GATEWAYS):
        names = setup["names"][g * DEVICES_PER_GATEWAY : (g + 1) * DEVICES_PER_GATEWAY]
        args = (bases[g % len(bases)], setup["gateway_tokens"][g], names, start_ms, until, out)
        clients.append(ctx.Process(target=_gateway, args=args))
    for client in clients:
        client.start()
    results = [out.get() for _ in clients]
    for client in clients:
        client.join()
    elapsed = time.time() - began
    latencies = sorted(x for r in results for x in r[0])
    return {
        "requests": len(latencies),
        "samples": sum(r[1] for r in results),
        "duplicates": sum(r[2] for r in results),
        "errors": sum(r[3] for r in results),
        "elapsed": elapsed,
        "p50": statistics.median(latencies),
        "p99": latencies[max(0, int(len(latencies) * 0.99) - 1)],
    }


# --- baseline: raw COPY of the same samples, a row per sample ---------------------------------------


def _copy_baseline(samples: int) -> float:
    """Rows/s of a raw COPY of `samples` rows (device, channel, ts, 4 × float8) into a keyed table."""
    rng = np.random.default_rng(1)
    n = samples
    device = np.repeat(np.arange(66), n // 66 + 1)[:n]
    ts = 1_700_000_000_000 + np.arange(n, dtype=np.int64) * 100
    channel = np.where(np.arange(n) % 12 < 10, 1, np.where(np.arange(n) % 12 == 10, 2, 4))
    values = rng.random((4, n)) + 50
    lines = "".join(
        f"{d}\t{c}\t{t}\t{a:.7f}\t{b:.7f}\t{s:.2f}\t{h:.1f}\n"
        for d, c, t, a, b, s, h in zip(
            device.tolist(), channel.tolist(), ts.tolist(), *values.tolist(), strict=True
        )
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_raw_samples (device_id bigint, channel smallint, ts bigint, "
            "v1 float8, v2 float8, v3 float8, v4 float8, PRIMARY KEY (device_id, channel, ts))"
        )
        began = time.perf_counter()
        cursor.copy_expert("COPY bench_raw_samples FROM STDIN", io.StringIO(lines))
        connection.commit() if not connection.get_autocommit() else None
        elapsed = time.perf_counter() - began
        cursor.execute("DROP TABLE bench_raw_samples")
    return n / elapsed


# --- reads at depth ----------------------------------------------------------------------------------


def _fill(device_ids: list[int], read_device: int, total: int, window_end: int) -> int:
    """Binary-COPY chunk rows (2 s each, as gateways posting every ~2 s produce) up to `total`."""
    from devices.samples import TABLE, channels_all

    ids = {c.name: c.id for c in channels_all()}
    per_second = SAMPLES_PER_PACKET
    read_seconds = 2 * 86_400
    other_seconds = max(0, (total - read_seconds * per_second) // (per_second * len(device_ids)))
    plan = [(read_device, window_end - read_seconds * 1000, read_seconds)]
    plan += [(d, window_end - other_seconds * 1000, other_seconds) for d in device_ids]
    rng = np.random.default_rng(7)
    buffer = io.BytesIO()
    buffer.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0))
    head = struct.pack("!h", 6)
    stored = 0
    for device_id, start, seconds in plan:
        n_chunks = seconds // 2
        firsts = start + 2000 * np.arange(n_chunks, dtype=np.int64)
        for channel, width, hz in (("gnss", 4, 10), ("ecg", 1, 1), ("device", 2, 1)):
            step = 1000 // hz
            per_chunk = 2 * hz
            offsets = (np.arange(per_chunk) * step).astype("<i4").tobytes()
            values = rng.random((n_chunks, width, per_chunk)) + 50.0
            for i in range(n_chunks):
                vals = values[i].astype("<f8").tobytes()
                t_first = int(firsts[i])
                buffer.write(
                    head
                    + struct.pack("!iq", 8, t_first)
                    + struct.pack("!iq", 8, t_first + (per_chunk - 1) * step)
                    + struct.pack("!iq", 8, device_id)
                    + struct.pack("!ih", 2, ids[channel])
                    + struct.pack("!i", len(offsets))
                    + offsets
                    + struct.pack("!i", len(vals))
                    + vals
                )
            stored += n_chunks * per_chunk
    buffer.write(struct.pack("!h", -1))
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {TABLE} FROM STDIN WITH (FORMAT binary)", buffer)
        cursor.execute(f"ANALYZE {TABLE}")
    return stored


def _read_page(
    base: str, token: str, device_id: int, start: int, stop: int, page: int = 1
) -> tuple:
    url = f"{base}/api/v1/devices/{device_id}/preprocessed/"
    headers = {"Authorization": f"Bearer {token}"}
    params = {"start": start, "stop": stop, "limit": 10000, "page": page}
    timings = []
    for _ in range(6):
        began = time.perf_counter()
        response = requests.get(url, params=params, headers=headers)
        timings.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, response.text[:300]
    body = response.json()
    return statistics.median(timings[1:]), max(timings[1:]), len(body["results"]), body


def run() -> None:
    from devices.samples import TABLE, partitions_ensure, storage_bytes

    partitions_ensure(months_ahead=1)
    setup = _setup()
    processes, bases = _start_servers(WEB_PROCESSES)
    try:
        _load(bases, setup, 1.0)  # warm-up: connections, imports, caches
        result = _load(bases, setup, SECONDS)
        rate = result["samples"] / result["elapsed"]
        size, stored = storage_bytes()
        print(
            f"HTTP ingestion, {GATEWAYS} gateways x {PACKETS_PER_REQUEST} packets, "
            f"{WEB_PROCESSES} daphne process(es), {SECONDS:.0f} s"
        )
        print(
            f"  {rate:10,.0f} samples/s accepted  ({result['requests']} requests, "
            f"{result['errors']} errors, {result['duplicates']} duplicates)"
        )
        print(f"  latency p50 {result['p50']:6.1f} ms   p99 {result['p99']:6.1f} ms")
        print(f"  storage {size / max(stored, 1):6.1f} bytes per sample (table + index)")
        copy_rate = _copy_baseline(max(result["samples"], 100_000))
        print(f"  baseline: raw COPY of the same samples, a row each: {copy_rate:10,.0f} rows/s")
        print(f"  ratio HTTP / raw COPY: {rate / copy_rate:.1%}")

        window_end = int(time.time() * 1000) // 1000 * 1000 - 86_400_000
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT coalesce(sum(length(ts)), 0) / 4 FROM {TABLE}")
            already = int(cursor.fetchone()[0])
        began = time.perf_counter()
        filled = _fill(
            setup["fill_devices"], setup["read_device"].pk, READ_SAMPLES - already, window_end
        )
        size, stored = storage_bytes()
        print(
            f"Reads with {stored:,} samples stored ({filled:,} by binary COPY in "
            f"{time.perf_counter() - began:.0f} s; {size / stored:.1f} bytes per sample)"
        )
        start = window_end - 2 * 86_400_000
        device = setup["read_device"].pk
        first = _read_page(bases[0], setup["reader_token"], device, start, window_end)
        deep_start = start + 36 * 3_600_000
        deep = _read_page(bases[0], setup["reader_token"], device, deep_start, window_end)
        middle = first[3]["count"] // 10000 // 2 + 1
        numbered = _read_page(bases[0], setup["reader_token"], device, start, window_end, middle)
        for label, (p50, worst, rows, body) in (
            ("first page", first),
            ("next_start", deep),
            (f"page={middle}", numbered),
        ):
            print(
                f"  GET /preprocessed/ 10,000 rows, {label:10}: p50 {p50:6.1f} ms  "
                f"max {worst:6.1f} ms  ({rows} rows, count {body['count']:,}, "
                f"next_start {body['next_start']})"
            )
        from devices.samples import samples_timestamps

        for label, window_start in (("2 days", start), ("from next_start", deep_start)):
            began = time.perf_counter()
            samples_timestamps(device_id=device, start=window_start, stop=window_end)
            print(
                f"    of which `count` (distinct timestamps, {label}): "
                f"{(time.perf_counter() - began) * 1000:6.1f} ms"
            )
        began = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT t_first, ts, vals FROM {TABLE} WHERE device_id = %s "
                "AND t_first >= %s ORDER BY t_first, channel_id LIMIT 1500",
                [device, deep_start],
            )
            cursor.fetchall()
        print(
            f"  baseline: raw SELECT of the same chunk rows: "
            f"{(time.perf_counter() - began) * 1000:6.1f} ms"
        )
    finally:
        _stop_servers(processes)


def main() -> None:
    from django.test.utils import setup_test_environment

    setup_test_environment()
    connection.settings_dict["TEST"]["NAME"] = f"{connection.settings_dict['NAME']}_bench_ingest"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
