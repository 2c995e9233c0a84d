"""The live streams end to end (SPEC §8, issue 11): real daphne and Celery processes on the test
database and Redis, a gateway ingesting over HTTP, managers receiving over real WebSocket
clients (`websockets`)."""

import json
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


def test_a_client_that_stops_reading_costs_the_others_nothing(scene, env, alice, token_for):
    """A fast client gets every packet, in order, while a client on the same device stops
    reading: the server drops the stalled client's oldest messages (its queue is bounded), and
    daphne's ping timeout closes it."""
    vest, _, _ = scene
    token = token_for(alice)
    gateway_token = token_for(None, scope="ingest")
    path = f"/ws/v1/preprocessed-data/{vest.pk}/"
    t0 = now_second_ms() - 3_000_000
    sent = [packet(vest.device_name, t0 + 1000 * s) for s in range(3000)]

    def stalled_client(base: str) -> socket.socket:
        # A tiny receive buffer, and the library stops reading once one message is queued.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", int(base.rsplit(":", 1)[1])))
        stream(base, path, token, sock=sock, max_queue=1, ping_interval=None)
        return sock

    def bytes_until_closed(sock: socket.socket, timeout: float) -> tuple[int, bool]:
        """Read the raw socket (the library is paused) until the server has closed it."""
        total, deadline = 0, time.monotonic() + timeout
        sock.settimeout(0.5)
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return total, True  # aborted by the ping timeout
            except TimeoutError:
                continue
            if not chunk:
                return total, True
            total += len(chunk)
        return total, False

    with daphne_server(env, "--ping-interval", "5", "--ping-timeout", "5") as (base, daphne):
        fast = stream(base, path, token)
        stalled = stalled_client(base)
        gateway = Gateway(base, gateway_token)
        rss_before = rss_kib(daphne.pid)
        arrivals: list[tuple[dict, float]] = []

        def read_fast() -> None:  # a client that keeps up reads all the time
            for _ in range(len(sent)):
                arrivals.append((json.loads(fast.recv(30)), time.monotonic()))

        reader = threading.Thread(target=read_fast)
        reader.start()
        acknowledged = {}
        for start in range(0, len(sent), 10):
            acknowledged[start] = gateway.post(sent[start : start + 10])
        reader.join(60)
        fast_received = [message for message, _ in arrivals]
        late = [
            arrived - acknowledged[index]
            for message, arrived in arrivals
            if (index := (message["gnss"]["timestamp"][0] - t0) // 1000) % 10 == 0
        ]
        rss_after = rss_kib(daphne.pid)
        fast_bytes = sum(len(json.dumps(m)) for m in fast_received)
        # What reached the stalled client before daphne's ping timeout (5 + 5 s) dropped it.
        stalled_bytes, stalled_closed = bytes_until_closed(stalled, 30)
        fast.close()

    assert fast_received == sent
    assert stalled_closed
    assert stalled_bytes < fast_bytes / 2  # it was not sent everything: its queue was bounded
    print(
        f"fast client: max delay after the ingest answer {max(late) * 1000:.0f} ms; "
        f"daphne RSS {rss_before} → {rss_after} KiB; the stalled client got "
        f"{stalled_bytes} of {fast_bytes} bytes before it was dropped"
    )


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
