"""The live streams end to end (SPEC §8, issue 11): real daphne and Celery processes on the test
database and Redis, a gateway ingesting over HTTP, managers receiving over real WebSocket
clients (`websockets`)."""

import base64
import json
import os
import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from datetime import timedelta
from io import StringIO

import pytest
import requests
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from oauth2_provider.models import AccessToken, revoke_access_token
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from activities.default_schemas import default_schemas_install
from activities.models import JsonSchema
from devices.samples import TABLE, channels_cache_clear, samples_read
from tests.devices.packets_factory import packet
from tests.e2e.conftest import celery_worker, daphne_server, service_env
from tests.recordings import RECORDINGS
from users.models import PermissionKind

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HOUR = timedelta(hours=1)
INGEST = "/api/v1/preprocessed-data/"


@pytest.fixture
def tennis(transactional_db) -> JsonSchema:
    # The shipped schemas: an earlier `transaction=True` test's flush removed the migration's.
    default_schemas_install(JsonSchema)
    return JsonSchema.objects.get(name="tennis", version=1)


@pytest.fixture
def params_schema(tennis) -> JsonSchema:
    return JsonSchema.objects.get(name="timeframe-analytics-params", version=1)


@pytest.fixture
def scene(make_device, own, alice, carol, grant, make_activity, make_timeframe):
    """alice owns the vest since two hours ago; carol wears it in alice's match, now, and lets
    alice READ over the whole day."""
    now = timezone.now()
    vest = make_device(device_name="a1b2c3d4e5f6", serial_number="ASI-0001")
    own(vest, alice, now - 2 * HOUR)
    grant(carol, alice, PermissionKind.READ, now - 3 * HOUR, now + 3 * HOUR)
    match = make_activity()
    timeframe = make_timeframe(vest, match, now - HOUR, now + HOUR)
    yield vest, match, timeframe
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE}")  # not a model table: the flush leaves it
    channels_cache_clear()


@pytest.fixture
def env() -> dict[str, str]:
    return service_env()


def ws_url(base: str, path: str) -> str:
    return base.replace("http://", "ws://") + path


def stream(
    base: str, path: str, token: str, params: dict | None = None, **options
) -> ClientConnection:
    """A WebSocket client past the SPEC §8 handshake."""
    ws = connect(ws_url(base, path), compression=None, open_timeout=10, legacy=True, **options)
    assert json.loads(ws.recv(5)) == {"message": "Authorization needed"}
    ws.send(json.dumps({"token": token, "params": params or {}}))
    assert json.loads(ws.recv(5)) == {"message": "Authorized"}
    return ws


def closed_with(ws: ClientConnection, timeout: float = 10.0) -> tuple[list[dict], int | None]:
    """(messages received before the close, the close code)."""
    messages = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            messages.append(json.loads(ws.recv(max(deadline - time.monotonic(), 0.01))))
    except ConnectionClosed as closed:
        return messages, closed.rcvd.code if closed.rcvd else None


def receive(ws: ClientConnection, count: int, timeout: float = 15.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    return [json.loads(ws.recv(max(deadline - time.monotonic(), 0.01))) for _ in range(count)]


def now_second_ms() -> int:
    return int(time.time()) * 1000


class Gateway:
    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def post(self, packets: list[dict]) -> float:
        """POST the packets; the time the 201 arrived."""
        response = self.session.post(self.base + INGEST, json={"packets": packets}, timeout=30)
        assert response.status_code == 201, response.text
        return time.monotonic()


def running(device_name: str, t0: int, seconds: int) -> list[dict]:
    """`seconds` packets of an athlete running north at 3.5 m/s (10 Hz GNSS, HR, status)."""
    sent = []
    for s in range(seconds):
        p = packet(device_name, t0 + 1000 * s)
        stamps = p["gnss"]["timestamp"]
        p["gnss"]["latitude"] = [51.5 + (t - t0) / 1000 * 3.5 / 111_195 for t in stamps]
        p["gnss"]["longitude"] = [-0.1] * len(stamps)
        sent.append(p)
    return sent


def gnss_stamps(packets: list[dict]) -> list[int]:
    return [t for p in packets for t in p.get("gnss", {}).get("timestamp", [])]


@contextmanager
def services(env: dict[str, str], workers: int = 1, *daphne_args: str) -> Iterator[str]:
    with ExitStack() as stack:
        base, _ = stack.enter_context(daphne_server(env, *daphne_args))
        for n in range(workers):
            stack.enter_context(celery_worker(env, f"w{n}"))
        yield base


def test_each_stream_kind_carries_what_a_gateway_ingests(scene, env, alice, token_for):
    vest, match, timeframe = scene
    token = token_for(alice)
    gateway_token = token_for(None, scope="ingest")
    t0 = now_second_ms() - 20_000
    sent = [packet(vest.device_name, t0 + 1000 * s) for s in range(5)]

    with services(env) as base:
        preprocessed = stream(base, f"/ws/v1/preprocessed-data/{vest.pk}/", token)
        one = stream(base, f"/ws/v1/computed-data/{match.pk}/{timeframe.pk}/", token)
        every = stream(base, f"/ws/v1/computed-data/{match.pk}/", token)
        snapshots = receive(one, 1), receive(every, 1)

        Gateway(base, gateway_token).post(sent)
        packets = receive(preprocessed, 5)

        def until_computed(ws: ClientConnection, data=lambda m: m) -> dict:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                message = json.loads(ws.recv(deadline - time.monotonic()))
                if data(message)["samples"]:
                    return message
            raise AssertionError("no computed update with the new samples")

        computed = until_computed(one)
        computed_in_activity = until_computed(every, lambda m: m["data"])
        for ws in (preprocessed, one, every):
            ws.close()

    assert snapshots[0][0]["revision"] == 0
    assert snapshots[1][0] == {"timeframe": timeframe.pk, "data": snapshots[0][0]}
    assert packets == sent
    assert computed["revision"] >= 1
    assert computed["last_timestamp"] <= sent[-1]["gnss"]["timestamp"][-1]
    assert computed_in_activity["timeframe"] == timeframe.pk


def test_each_refusal_closes_with_its_code(scene, env, alice, mallory, token_for):
    vest, match, timeframe = scene
    device_path = f"/ws/v1/preprocessed-data/{vest.pk}/"
    gateway_token = token_for(None, scope="ingest")
    mallorys = token_for(mallory)

    def first_message(path: str, text: str | None) -> tuple[list[dict], int | None, float]:
        ws = connect(ws_url(base, path), compression=None, legacy=True)
        opened = time.monotonic()
        if text is not None:
            ws.recv(5)
            ws.send(text)
        messages, code = closed_with(ws)
        return messages, code, time.monotonic() - opened

    with daphne_server(env) as (base, _):
        silent = first_message(device_path, None)
        garbage = first_message(device_path, "{not json")
        bad_params = first_message(
            device_path, json.dumps({"token": "t", "params": {"buffer_size": 99}})
        )
        ingest_token = first_message(device_path, json.dumps({"token": gateway_token}))
        others = first_message(device_path, json.dumps({"token": mallorys}))
        huge = first_message(device_path, "x" * (64 * 1024 + 1))
        nowhere = first_message("/ws/v1/nowhere/", None)

    assert silent[:2] == ([{"message": "Authorization needed"}], 4001)
    assert 2.8 <= silent[2] < 4.5
    assert garbage[1] == 4000 and garbage[0][-1]["message"].startswith("The first message")
    assert bad_params[1] == 4000 and "buffer_size" in bad_params[0][-1]["message"]
    assert ingest_token[:2] == ([{"message": "Unauthorized"}], 4001)
    assert others[:2] == ([{"message": "Not found"}], 4004)
    assert huge[1] == 4009
    assert nowhere[:2] == ([{"message": "Not found"}], 4004)


def test_shuffled_packets_come_out_in_order_with_a_buffer(scene, env, alice, token_for):
    vest, _, _ = scene
    token = token_for(alice)
    gateway_token = token_for(None, scope="ingest")
    t0 = now_second_ms() - 120_000
    sent = [packet(vest.device_name, t0 + 1000 * s) for s in range(40)]
    shuffled = []
    shuffler = random.Random(11)
    for block in range(0, 40, 5):  # displaced by at most 4 < buffer_size
        part = sent[block : block + 5]
        shuffler.shuffle(part)
        shuffled += part

    with daphne_server(env) as (base, _):
        ws = stream(
            base,
            f"/ws/v1/preprocessed-data/{vest.pk}/",
            token,
            {"buffer_size": 5, "flush_timeout": 7},
        )
        gateway = Gateway(base, gateway_token)
        for p in shuffled:
            gateway.post([p])
        received = receive(ws, 40, timeout=20)  # the last 5 after 7 s of silence
        ws.close()

    assert shuffled != sent
    assert received == sent


def test_a_stream_closes_when_its_token_is_revoked_or_the_device_released(
    scene, env, alice, token_for
):
    vest, _, _ = scene
    path = f"/ws/v1/preprocessed-data/{vest.pk}/"
    first, second = token_for(alice), token_for(alice)

    with daphne_server(env) as (base, _):
        revoked_ws = stream(base, path, first)
        released_ws = stream(base, path, second)
        revoke_access_token(AccessToken.objects.get(token=first))
        revoked_at = time.monotonic()
        revoked = closed_with(revoked_ws, 10)
        revoked_after = time.monotonic() - revoked_at
        response = requests.post(
            f"{base}/api/v1/devices/{vest.pk}/release-ownership/",
            headers={"Authorization": f"Bearer {second}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        released_at = time.monotonic()
        released = closed_with(released_ws, 10)
        released_after = time.monotonic() - released_at

    assert revoked[:2] == ([{"message": "Unauthorized"}], 4001)
    assert released[:2] == ([{"message": "Forbidden"}], 4003)
    assert revoked_after < 5 and released_after < 5


def raw_client(base: str, path: str, token: str) -> socket.socket:
    """A raw WebSocket client with a tiny receive buffer, past the handshake: no library reads
    in the background (or answers pings) once the test stops reading."""
    port = int(base.rsplit(":", 1)[1])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    seen = b""
    while b"Authorization needed" not in seen:
        seen += sock.recv(4096)
    payload, mask = json.dumps({"token": token}).encode(), os.urandom(4)
    assert len(payload) < 126
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)  # a masked text frame
    while b"Authorized" not in seen:
        seen += sock.recv(4096)
    return sock


def raw_messages(data: bytes) -> list[dict]:
    """The JSON text messages in a stream of unmasked server frames (status messages too)."""
    messages, at = [], 0
    while at + 2 <= len(data):
        opcode, length, at = data[at] & 0x0F, data[at + 1] & 0x7F, at + 2
        if length == 126:
            length, at = int.from_bytes(data[at : at + 2], "big"), at + 2
        elif length == 127:
            length, at = int.from_bytes(data[at : at + 8], "big"), at + 8
        if at + length > len(data):
            break
        if opcode == 1:
            messages.append(json.loads(data[at : at + length]))
        at += length
    return messages


def raw_read(sock: socket.socket, until: bytes, timeout: float) -> tuple[bytes, bool]:
    """Read until `until` was seen, the server closed the socket, or `timeout`; (bytes, closed)."""
    data, deadline = b"", time.monotonic() + timeout
    sock.settimeout(0.5)
    while time.monotonic() < deadline and until not in data[-4096:]:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data, True  # aborted (a ping timeout)
        except TimeoutError:
            continue
        if not chunk:
            return data, True
        data += chunk
    return data, False


def test_a_client_that_stops_reading_loses_its_oldest_and_slows_nobody(
    scene, env, alice, token_for
):
    """While one client on a device stops reading, another gets every packet in order and on
    time; the stalled one, reading again, finds its oldest unsent messages dropped (its queue
    is bounded) and the newest still there."""
    vest, _, _ = scene
    token = token_for(alice)
    gateway_token = token_for(None, scope="ingest")
    path = f"/ws/v1/preprocessed-data/{vest.pk}/"
    t0 = now_second_ms() - 7_000_000  # after the ownership began (2 h ago)
    # ~5.6 MB of packets: more than the kernel buffers a stalled socket (tcp_wmem up to 4 MiB).
    sent = [packet(vest.device_name, t0 + 1000 * s) for s in range(8000)]

    # No ping timeout during the story: the bound under test is the server's own.
    with daphne_server(env, "--ping-interval", "120", "--ping-timeout", "120") as (base, daphne):
        fast = stream(base, path, token)
        stalled = raw_client(base, path, token)
        gateway = Gateway(base, gateway_token)
        rss_before = rss_kib(daphne.pid)
        raw_arrivals: list[tuple[str, float]] = []

        def read_fast() -> None:  # a client that keeps up reads all the time (parses later)
            for _ in range(len(sent)):
                raw_arrivals.append((fast.recv(60), time.monotonic()))

        reader = threading.Thread(target=read_fast)
        reader.start()
        acknowledged = {}
        for start in range(0, len(sent), 10):
            acknowledged[start] = gateway.post(sent[start : start + 10])
        reader.join(120)
        arrivals = [(json.loads(raw), arrived) for raw, arrived in raw_arrivals]
        rss_after = rss_kib(daphne.pid)
        last = json.dumps(sent[-1]["gnss"]["timestamp"][-1]).encode()
        data, _ = raw_read(stalled, last, 60)
        fast.close()

    fast_received = [message for message, _ in arrivals]
    late = sorted(
        arrived - acknowledged[index]
        for message, arrived in arrivals
        if (index := (message["gnss"]["timestamp"][0] - t0) // 1000) % 10 == 0
    )
    stalled_received = [m for m in raw_messages(data) if "gnss" in m]
    starts = [m["gnss"]["timestamp"][0] for m in stalled_received]
    assert fast_received == sent
    assert stalled_received[-1] == sent[-1]  # the newest came through
    assert starts == sorted(starts)  # in order: only drops, no reordering
    assert len(stalled_received) < len(sent)  # the oldest waiting ones were dropped
    print(
        f"\nfast client: delay after the ingest answer p50 {late[len(late) // 2] * 1000:.0f} ms,"
        f" max {late[-1] * 1000:.0f} ms; daphne RSS {rss_before} → {rss_after} KiB; the "
        f"stalled client got {len(stalled_received)} of {len(sent)} packets ({len(data)} bytes)"
    )


def test_a_client_that_answers_no_ping_is_closed(scene, env, alice, token_for):
    vest, _, _ = scene
    path = f"/ws/v1/preprocessed-data/{vest.pk}/"
    token = token_for(alice)

    with daphne_server(env, "--ping-interval", "1", "--ping-timeout", "2") as (base, _):
        silent = raw_client(base, path, token)
        opened = time.monotonic()
        _, closed = raw_read(silent, b"never", 15)
        after = time.monotonic() - opened

    assert closed
    assert after < 8  # ping after 1 s idle (daphne checks every 2 s), no pong within 2 s


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_two_servers_and_two_workers_lose_nothing_and_send_nothing_twice(
    scene, env, alice, token_for
):
    """Scale-out on one box: the gateway posts to one daphne, the clients stream from the
    other; the channel layer carries the packets across, the workers the computed updates."""
    vest, match, timeframe = scene
    token = token_for(alice)
    gateway_token = token_for(None, scope="ingest")
    t0 = now_second_ms() - 120_000
    sent = running(vest.device_name, t0, 60)
    last = sent[-1]["gnss"]["timestamp"][-1]

    with ExitStack() as stack:
        ingest_base, _ = stack.enter_context(daphne_server(env))
        stream_base, _ = stack.enter_context(daphne_server(env))
        stack.enter_context(celery_worker(env, "w1"))
        stack.enter_context(celery_worker(env, "w2"))
        packets_ws = stream(stream_base, f"/ws/v1/preprocessed-data/{vest.pk}/", token)
        computed_ws = stream(stream_base, f"/ws/v1/computed-data/{match.pk}/{timeframe.pk}/", token)
        gateway = Gateway(ingest_base, gateway_token)
        for start in range(0, 60, 2):
            gateway.post(sent[start : start + 2])
            time.sleep(0.05)
        received = receive(packets_ws, 60)
        extra = []
        with suppress(TimeoutError):
            extra.append(packets_ws.recv(1.0))
        documents = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            documents.append(json.loads(computed_ws.recv(deadline - time.monotonic())))
            if documents[-1]["samples"] == 600:
                break
        packets_ws.close()
        computed_ws.close()

    assert gnss_stamps(received) == gnss_stamps(sent)
    assert extra == []
    revisions = [d["revision"] for d in documents]
    assert revisions == sorted(set(revisions))  # each revision once, in order
    assert (documents[-1]["samples"], documents[-1]["last_timestamp"]) == (600, last)


@pytest.mark.skipif(not RECORDINGS.is_dir(), reason="the real recordings are not here")
def test_a_replayed_recording_arrives_once_and_in_order(
    transactional_db, make_device, own, alice, env, token_for
):
    """`simulate_match --replay` of a real 10 Hz session while a manager streams the device
    with a reorder buffer: every stored fix arrives exactly once, in time order."""
    recording = RECORDINGS / "catapult_ssg_10hz.packets.json"
    device_name = json.loads(recording.read_text())[0]["device_name"]
    device = make_device(device_name=device_name, serial_number="CATAPULT")
    own(device, alice, timezone.now() - 3 * HOUR)
    token = token_for(alice)
    gateway_token = token_for(None, scope="ingest")
    start_ms = now_second_ms() - 2 * 3_600_000

    with daphne_server(env) as (base, _):
        ws = stream(
            base,
            f"/ws/v1/preprocessed-data/{device.pk}/",
            token,
            {"buffer_size": 10, "flush_timeout": 12},
        )
        received: list[dict] = []
        done = threading.Event()

        def read() -> None:
            while not done.is_set():
                with suppress(TimeoutError):
                    received.append(json.loads(ws.recv(1)))

        reader = threading.Thread(target=read)
        reader.start()
        out = StringIO()
        call_command(
            "simulate_match",
            *("--url", base, f"--token={gateway_token}", "--replay", str(recording)),
            *("--speed", "0", "--batch-seconds", "10", "--start-ms", str(start_ms)),
            "--no-progress",
            stdout=out,
        )
        frame = samples_read(device_id=device.pk, start=0, stop=start_ms + 86_400_000)
        stored = frame.channels["gnss"][0].tolist()
        deadline = time.monotonic() + 30  # the last 10 packets come after flush_timeout
        while len(gnss_stamps(received)) < len(stored) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # anything sent twice would come now
        done.set()
        reader.join(5)
        ws.close()

    streamed = gnss_stamps(received)
    assert "0 errors" in out.getvalue()
    assert len(stored) > 30_000
    assert streamed == stored  # every stored fix, once, in order
