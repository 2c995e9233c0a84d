"""Live streams (issue 11): latency, loss, idle sockets and stalled clients, beside bare websockets.

Real processes: one daphne (`--ping-interval 20 --ping-timeout 30`, as `make run`), a Celery
worker and beat, PostgreSQL and Redis. A gateway process plays `simulate_match` (22 devices,
10 GNSS fixes + 1 heart rate + 1 status per device per second, one POST per second); 100
WebSocket subscribers (66 on the preprocessed streams, 3 per device; 22 on the timeframe
streams; 12 on the activity stream) read everything.

1. Latency from the ingest acknowledgement (the gateway has the HTTP 201) to the frame holding
   that data: the preprocessed packet, and the first computed object whose `last_timestamp`
   lies in it. p50/p99 beside the targets (preprocessed p99 ≤ 100 ms, computed p99 ≤ 1.5 s).
   Lost: acknowledged packets a preprocessed subscriber never received, duplicates, and
   computed streams whose last frame is behind the stored result once the load stops.
2. Idle sockets: RSS of the daphne process before and after 1,000 authenticated sockets on the
   preprocessed stream of a silent device, divided (target ≤ 100 KiB each).
3. Clients that stop reading (raw sockets with a 4 KiB receive buffer, authenticated, then
   never read) for BENCH_LIVE_STALL_SECONDS while the load goes on: daphne RSS growth, what the
   kernel holds for them, whether and when the server closes them, how many frames they lost
   when they finally read, and the readers' latency and loss meanwhile.
4. Baseline, same run: a bare `websockets` broadcast server (below, no auth, no database, no
   channel layer) gets the same batches over a WebSocket, acknowledges, and forwards the same
   messages (each packet; a computed-shaped object per packet) to the same 100 clients; its
   p50/p99 and RSS per idle socket.
5. The channel layer alone, in this process: one ingest's fan-out (22 groups of 3 members) from
   the publish to the last of its 66 deliveries, stock channels-redis beside
   `streaming.layers.BatchedRedisChannelLayer` (far less sensitive to the machine's load than 1).

Timestamps are `time.time()` in every process of this machine. Run alone: `python -m bench.live`
(its own throw-away database `<DATABASE_URL name>_bench_live`; needs REDIS_URL).
Environment: BENCH_LIVE_SECONDS (25), BENCH_LIVE_STALL_SECONDS (60), BENCH_LIVE_STALLED (5 per kind),
BENCH_LIVE_IDLE_SOCKETS
(1000).
"""

import asyncio
import base64
import contextlib
import json
import logging
import multiprocessing
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import requests
from websockets.asyncio.client import connect
from websockets.asyncio.server import broadcast, serve
from websockets.exceptions import ConnectionClosed

if __name__ == "__main__":
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asi_api.settings")
    django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from devices.simulation import MatchSimulator, packet_start  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SECONDS = float(os.environ.get("BENCH_LIVE_SECONDS", "25"))
STALL_SECONDS = float(os.environ.get("BENCH_LIVE_STALL_SECONDS", "60"))
IDLE_SOCKETS = int(os.environ.get("BENCH_LIVE_IDLE_SOCKETS", "1000"))
DEVICES = 22
PER_DEVICE = 3  # preprocessed subscribers per device: 66
TIMEFRAME_SUBSCRIBERS = 22  # one per timeframe
ACTIVITY_SUBSCRIBERS = 12
STALLED = int(os.environ.get("BENCH_LIVE_STALLED", "5"))  # non-readers per kind
TARGET_PRE_P99_MS = 100
TARGET_COMPUTED_P99_MS = 1500
TARGET_IDLE_KIB = 100


# --- setup ---------------------------------------------------------------------------------------


def _setup() -> dict:
    from oauth2_provider.models import AccessToken, Application

    from activities.models import Activity, JsonSchema
    from bench.squad import squad_create
    from devices.samples import partitions_ensure
    from timeframes.services import timeframe_create

    partitions_ensure(months_ahead=1)
    now = datetime.now(UTC)
    since = now - timedelta(days=1)
    manager, athletes, devices = squad_create(
        "live",
        athletes=DEVICES,
        devices=DEVICES + 1,
        since=since,
        until=now + timedelta(days=1),
        device_base=0xC0000000,
    )
    activity = Activity.objects.create(
        name="Bench live match",
        json={},
        json_schema=JsonSchema.objects.filter(type="activity").first(),
        owner=manager,
    )
    timeframes = [
        timeframe_create(
            actor=manager,
            start_time=now - timedelta(minutes=1),
            end_time=now + timedelta(hours=2),
            device=device,
            activity=activity,
            athlete=athlete,
        )
        for device, athlete in zip(devices[:DEVICES], athletes, strict=True)
    ]
    expires = now + timedelta(hours=3)
    reader_app = Application.objects.create(
        name="bench live ams", client_type="confidential", authorization_grant_type="password"
    )
    reader = AccessToken.objects.create(
        user=manager, application=reader_app, token="bench-live-ams", scope="all", expires=expires
    )
    gateway_app = Application.objects.create(
        name="bench live gateway",
        client_type="confidential",
        authorization_grant_type="client-credentials",
    )
    gateway = AccessToken.objects.create(
        application=gateway_app, token="bench-live-gateway", scope="ingest", expires=expires
    )
    return {
        "token": reader.token,
        "gateway_token": gateway.token,
        "names": [d.device_name for d in devices[:DEVICES]],
        "device_ids": [d.pk for d in devices[:DEVICES]],
        "idle_device": devices[DEVICES].pk,
        "activity": activity.pk,
        "timeframes": [t.pk for t in timeframes],
    }


def groups_forget(setup: dict) -> None:
    """Drop the channel-layer groups this run will use, members of earlier runs included.

    The bench database is new each run, so its ids (device 1, activity 1, ...) name the same
    groups as the last run's, whose members stay until `group_expiry` when a server was killed
    or could not leave (a day by default): each would cost every `group_send` a dead channel.
    """
    from channels.layers import get_channel_layer
    from channels_redis.core import RedisChannelLayer

    from streaming.groups import activity_group, device_group, timeframe_group

    layer = get_channel_layer()
    if not isinstance(layer, RedisChannelLayer):
        return
    groups = [device_group(pk) for pk in [*setup["device_ids"], setup["idle_device"]]]
    groups += [timeframe_group(pk) for pk in setup["timeframes"]]
    groups.append(activity_group(setup["activity"]))

    async def forget() -> None:
        for group in groups:
            await layer.connection(layer.consistent_hash(group)).delete(layer._group_key(group))

    asyncio.run(forget())


# --- processes -------------------------------------------------------------------------------------


class Stack:
    """daphne + Celery worker + beat on the bench database; logs go to a temporary directory."""

    def __init__(self) -> None:
        from bench.ingest import _server_env
        from tests.e2e.conftest import free_port

        if not settings.REDIS_URL:
            raise SystemExit("bench.live needs REDIS_URL (channel layer and broker)")
        env = _server_env() | {"PYTHONUNBUFFERED": "1"}  # complete logs, even when killed
        self.logs = Path(tempfile.mkdtemp(prefix="bench-live-"))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}"
        daphne = [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(self.port)]
        daphne += ["--ping-interval", "20", "--ping-timeout", "30", "--websocket_timeout", "-1"]
        daphne.append("asi_api.asgi:application")
        celery = [str(BIN / "celery"), "-A", "asi_api"]
        self.processes = {
            "daphne": self._start(daphne, env),
            "worker": self._start(celery + ["worker", "-c", "2", "-l", "WARNING"], env),
            "beat": self._start(
                celery + ["beat", "-l", "WARNING", "-s", str(self.logs / "beat-schedule")], env
            ),
        }
        try:
            self._wait_until_up()
        except BaseException:
            self.stop()
            raise

    def _wait_until_up(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.processes["daphne"].poll() is not None:
                raise RuntimeError(f"daphne exited; see {self.logs}")
            try:
                requests.get(self.base + "/healthz/", timeout=10)
                return
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def _start(self, argv: list[str], env: dict) -> subprocess.Popen:
        log = open(self.logs / f"{Path(argv[0]).name}-{len(os.listdir(self.logs))}.log", "wb")  # noqa: SIM115
        return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    @property
    def daphne_pid(self) -> int:
        return self.processes["daphne"].pid

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def rss_kib(pid: int) -> int:
    """Resident set size of a process, KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children so far, seconds."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def tcp_state(server_port: int, client_port: int) -> tuple[str, int] | None:
    """(state, bytes in the send queue) of the server's end of a loopback TCP connection."""
    states = {"01": "ESTABLISHED", "04": "FIN_WAIT1", "05": "FIN_WAIT2", "06": "TIME_WAIT"}
    states |= {"07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0B": "CLOSING"}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, queues = fields[1], fields[2], fields[3], fields[4]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == (
            client_port
        ):
            return states.get(state, state), int(queues.split(":")[0], 16)
    return None


# --- the gateway (a process of its own) ---------------------------------------------------------------


def _gateway(target: str, token: str, names: list[str], seconds: float, out) -> None:
    """Post one second of the simulated match per second; put {(device, packet start): ack time}.

    `target` is the server's base URL (HTTP POST, like `simulate_match`), or the baseline's
    ws:// ingest URL (a batch per message, acknowledged by a message).
    """
    start_ms = int(time.time()) * 1000 - 1000  # the second just recorded
    simulator = MatchSimulator(device_names=names, start_ms=start_ms)
    acks: dict[tuple[str, int], float] = {}
    latencies: list[float] = []
    errors: list[str] = []
    exits = contextlib.ExitStack()
    if target.startswith("ws"):
        from websockets.sync.client import connect as ws_connect

        channel = exits.enter_context(ws_connect(target, max_size=2**24))

        def post(body: str) -> str | None:
            channel.send(body)
            return None if channel.recv() == "ack" else "no ack"
    else:
        session = requests.Session()
        session.headers.update(
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        )

        def post(body: str) -> str | None:
            response = session.post(target + "/api/v1/preprocessed-data/", data=body, timeout=10)
            return None if response.status_code == 201 else f"{response.status_code}"

    tick = time.time()
    for _ in range(int(seconds)):
        packets = simulator.packets()
        body = json.dumps({"packets": packets})
        time.sleep(max(0.0, tick - time.time()))
        began = time.time()
        error = post(body)
        acked = time.time()
        latencies.append((acked - began) * 1000)
        if error:
            errors.append(error)
        else:
            acks.update({(p["device_name"], packet_start(p)): acked for p in packets})
        tick += 1.0
    exits.close()
    out.put((acks, latencies, errors))


def gateway_start(target: str, token: str, names: list[str], seconds: float):
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    process = ctx.Process(target=_gateway, args=(target, token, names, seconds, out))
    process.start()
    return process, out


async def gateway_result(process, out) -> tuple[dict, list, list]:
    result = await asyncio.to_thread(out.get)
    await asyncio.to_thread(process.join)
    return result


# --- subscribers ---------------------------------------------------------------------------------------


@dataclass
class Subscriber:
    kind: str  # "preprocessed" | "timeframe" | "activity"
    url: str
    device: str | None = None  # preprocessed: the device name
    timeframe: int | None = None  # timeframe stream: its id
    frames: list[tuple[float, bytes | str]] = field(default_factory=list)
    ws: object = None
    task: asyncio.Task | None = None
    close_code: int | None = None


async def open_socket(url: str, token: str | None, params: dict | None = None):
    """A connected WebSocket, authenticated (the first-message protocol) when `token` is given."""
    ws = await connect(url, max_size=2**24, open_timeout=30)
    if token is not None:
        greeting = orjson.loads(await ws.recv())
        assert greeting == {"message": "Authorization needed"}, greeting
        await ws.send(json.dumps({"token": token, "params": params or {}}))
        reply = orjson.loads(await ws.recv())
        assert reply == {"message": "Authorized"}, f"{url}: {reply}"
    return ws


async def _read(sub: Subscriber) -> None:
    try:
        async for raw in sub.ws:
            sub.frames.append((time.time(), raw))
    except ConnectionClosed:
        pass
    sub.close_code = sub.ws.close_code


async def subscribers_open(plan: list[Subscriber], token: str | None) -> None:
    limit = asyncio.Semaphore(20)

    async def one(sub: Subscriber) -> None:
        async with limit:
            sub.ws = await open_socket(sub.url, token)
        sub.task = asyncio.create_task(_read(sub))

    failures = await asyncio.gather(*(one(sub) for sub in plan), return_exceptions=True)
    failed = [f for f in failures if f is not None]
    if failed:
        raise RuntimeError(f"{len(failed)} subscribers could not open: {failed[0]!r}")


async def quiet(plan: list[Subscriber], seconds: float = 2.0, limit: float = 20.0) -> None:
    """Wait until no subscriber has received anything for `seconds` (at most `limit`)."""
    deadline = time.monotonic() + limit
    count, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now_count = sum(len(sub.frames) for sub in plan)
        if now_count != count:
            count, since = now_count, time.monotonic()
        elif time.monotonic() - since >= seconds:
            return
        await asyncio.sleep(0.2)


async def subscribers_close(plan: list[Subscriber]) -> None:
    await asyncio.gather(*(sub.ws.close() for sub in plan if sub.ws), return_exceptions=True)
    await asyncio.gather(*(sub.task for sub in plan if sub.task), return_exceptions=True)


def plan_subscribers(urls: dict, setup: dict) -> list[Subscriber]:
    plan = [
        Subscriber("preprocessed", urls["preprocessed"](i), device=name)
        for i, name in enumerate(setup["names"])
        for _ in range(PER_DEVICE)
    ]
    plan += [
        Subscriber("timeframe", urls["timeframe"](i), timeframe=tf)
        for i, tf in enumerate(setup["timeframes"][:TIMEFRAME_SUBSCRIBERS])
    ]
    plan += [Subscriber("activity", urls["activity"]) for _ in range(ACTIVITY_SUBSCRIBERS)]
    return plan


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))]


def analyse(plan: list[Subscriber], acks: dict, setup: dict, since: float) -> dict:
    """Latencies, losses and duplicates of the frames received after `since`."""
    device_of = dict(zip(setup["timeframes"], setup["names"], strict=True))
    expected: dict[str, set[int]] = defaultdict(set)
    for name, start in acks:
        expected[name].add(start)
    pre_ms, computed_ms = [], []
    lost = duplicates = delivered = 0
    last_revision: dict[tuple[int, int], int] = {}  # (subscriber, timeframe) → revision
    updates: dict[tuple[int, int], list[float]] = defaultdict(list)  # → receive times
    closed: dict[int, int] = defaultdict(int)
    for sub in plan:
        if sub.close_code not in (None, 1000):
            closed[int(sub.close_code)] += 1
    closed = dict(closed)
    for n, sub in enumerate(plan):
        seen: list[int] = []
        timely: set[tuple[int, int]] = set()
        for received, raw in sub.frames:
            if received < since:
                continue
            frame = orjson.loads(raw)
            if sub.kind == "preprocessed":
                for packet in frame if isinstance(frame, list) else [frame]:
                    if not isinstance(packet, dict) or "device_name" not in packet:
                        continue
                    start = packet_start(packet)
                    seen.append(start)
                    if (sub.device, start) in acks:
                        pre_ms.append((received - acks[sub.device, start]) * 1000)
                continue
            if sub.kind == "activity":
                if not isinstance(frame, dict) or "timeframe" not in frame:
                    continue
                timeframe, data = frame["timeframe"], frame["data"]
            else:
                timeframe, data = sub.timeframe, frame
            if not isinstance(data, dict) or data.get("last_timestamp") is None:
                continue
            last_revision[n, timeframe] = max(
                last_revision.get((n, timeframe), -1), data.get("revision", 0)
            )
            updates[n, timeframe].append(received)
            second = data["last_timestamp"] // 1000 * 1000
            key = (device_of.get(timeframe), second)
            if key in acks and (timeframe, second) not in timely:
                timely.add((timeframe, second))
                computed_ms.append((received - acks[key]) * 1000)
        if sub.kind == "preprocessed":
            got = set(seen)
            delivered += len(seen)
            duplicates += len(seen) - len(got)
            lost += len(expected[sub.device] - got)
    return {
        "pre_ms": pre_ms,
        "computed_ms": computed_ms,
        "expected": sum(len(expected[sub.device]) for sub in plan if sub.kind == "preprocessed"),
        "delivered": delivered,
        "lost": lost,
        "duplicates": duplicates,
        "last_revision": last_revision,
        "closed": closed,
        # The busiest computed stream of one timeframe: frames per second over the phase.
        "rate": max((len(t) / max(t[-1] - t[0], 1.0) for t in updates.values()), default=0.0),
    }


def computed_behind(result: dict, stored: dict[int, int]) -> tuple[int, int]:
    """(computed streams whose last revision is below the stored one, streams)."""
    behind = sum(1 for (_, tf), rev in result["last_revision"].items() if rev < stored.get(tf, -1))
    return behind, len(result["last_revision"])


def stored_revisions(base: str, token: str, timeframes: list[int]) -> dict[int, int]:
    headers = {"Authorization": f"Bearer {token}"}
    revisions = {}
    for tf in timeframes:
        response = requests.get(f"{base}/api/v1/timeframes/{tf}/computed/", headers=headers)
        if response.status_code == 200:
            revisions[tf] = response.json().get("revision", 0) or 0
    return revisions


def print_latency(label: str, values: list[float], target: float | None) -> None:
    goal = f"   target p99 ≤ {target:,.0f} ms" if target else ""
    if not values:
        print(f"  {label:38} no frames received{goal}")
        return
    print(
        f"  {label:38} p50 {statistics.median(values):7.1f} ms  p99 "
        f"{percentile(values, 0.99):7.1f} ms  ({len(values)} frames){goal}"
    )


# --- idle sockets ----------------------------------------------------------------------------------------


async def idle_cost(url: str, token: str | None, pid: int, count: int) -> tuple[int, int, int]:
    """(RSS before, RSS after, sockets opened) for `count` idle (authenticated) sockets."""
    warm = [await open_socket(url, token) for _ in range(10)]
    await asyncio.gather(*(ws.close() for ws in warm))
    await asyncio.sleep(1.0)
    before = rss_kib(pid)
    limit = asyncio.Semaphore(50)

    async def one():
        async with limit:
            return await open_socket(url, token)

    sockets = await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True)
    opened = [ws for ws in sockets if not isinstance(ws, BaseException)]
    await asyncio.sleep(3.0)
    after = rss_kib(pid)
    await asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True)
    return before, after, len(opened)


# --- clients that stop reading ---------------------------------------------------------------------------


class StalledClient:
    """A raw-socket WebSocket client that authenticates and then does not read at all.

    A 4 KiB receive buffer (set before connecting, so the window stays small): the server's
    frames pile up on the server side, as with a phone that went to sleep.
    """

    def __init__(self, port: int, path: str, token: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(("127.0.0.1", port))
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.path = path
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(4096)
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head[:100]
        self.frames: list[bytes] = []
        self.close_code: int | None = None
        self._until(lambda: any(b"Authorization needed" in f for f in self.frames))
        self._send(json.dumps({"token": token}).encode())
        self._until(lambda: any(b'"Authorized"' in f for f in self.frames))
        self.frames.clear()

    def _send(self, payload: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        length = len(payload)
        head = struct.pack("!BB", 0x81, 0x80 | length) if length < 126 else None
        head = head or struct.pack("!BBH", 0x81, 0x80 | 126, length)
        self.sock.sendall(head + mask + masked)

    def _parse(self) -> None:
        while len(self.buffer) >= 2:
            opcode, length = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F
            offset = 2
            if length == 126:
                if len(self.buffer) < 4:
                    return
                length, offset = struct.unpack("!H", self.buffer[2:4])[0], 4
            elif length == 127:
                if len(self.buffer) < 10:
                    return
                length, offset = struct.unpack("!Q", self.buffer[2:10])[0], 10
            if len(self.buffer) < offset + length:
                return
            payload = self.buffer[offset : offset + length]
            self.buffer = self.buffer[offset + length :]
            if opcode == 0x8:
                self.close_code = struct.unpack("!H", payload[:2])[0] if payload else 1005
            elif opcode in (0x1, 0x2):
                self.frames.append(payload)

    def _until(self, done) -> None:
        self._parse()  # the handshake's read may already hold frames
        while not done():
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            self.buffer += chunk
            self._parse()

    def drain(self, quiet: float = 2.0) -> str:
        """Read everything now; how the connection ended ("open", "closed <code>", "reset")."""
        self.sock.settimeout(quiet)
        outcome = "open"
        while True:
            try:
                chunk = self.sock.recv(1 << 20)
            except TimeoutError:
                break
            except ConnectionResetError:
                outcome = "reset"
                break
            if not chunk:
                outcome = "closed"
                break
            self.buffer += chunk
            self._parse()
        if self.close_code is not None:
            outcome = f"closed {self.close_code}"
        self.sock.close()
        return outcome


# --- the baseline: a bare websockets broadcast server (a process of its own) -----------------------


def _baseline_server(port: int, setup: dict, template: dict, ready) -> None:
    """/ingest takes batches; /pre/{name}, /tf/{id}, /act/{id} subscribe. No auth, no storage."""
    logging.getLogger("websockets").setLevel(logging.WARNING)
    timeframe_of = dict(zip(setup["names"], setup["timeframes"], strict=True))
    activity = setup["activity"]

    async def main() -> None:
        groups: dict[str, set] = defaultdict(set)
        revision = 0

        async def handler(ws) -> None:
            nonlocal revision
            path = ws.request.path
            if path == "/ingest":
                async for raw in ws:
                    packets = orjson.loads(raw)["packets"]
                    await ws.send("ack")
                    for packet in packets:
                        name = packet["device_name"]
                        broadcast(groups[f"/pre/{name}"], orjson.dumps(packet).decode())
                        timeframe = timeframe_of[name]
                        revision += 1
                        data = template | {
                            "last_timestamp": packet["gnss"]["timestamp"][-1],
                            "revision": revision,
                        }
                        broadcast(groups[f"/tf/{timeframe}"], orjson.dumps(data).decode())
                        message = {"timeframe": timeframe, "data": data}
                        broadcast(groups[f"/act/{activity}"], orjson.dumps(message).decode())
                return
            groups[path].add(ws)
            try:
                await ws.wait_closed()
            finally:
                groups[path].discard(ws)

        async with serve(
            handler, "127.0.0.1", port, max_size=2**24, ping_interval=20, ping_timeout=30
        ):
            ready.set()
            await asyncio.Future()

    asyncio.run(main())


# --- the run ---------------------------------------------------------------------------------------


async def load_phase(
    stack: Stack, setup: dict, plan: list[Subscriber], seconds: float, meanwhile=None
) -> dict:
    """Play the match for `seconds` to the readers of `plan` (and run `meanwhile(began)`,
    a coroutine, alongside); their latencies and losses, the ingest latency and the CPU used."""
    for sub in plan:
        sub.frames.clear()
    began = time.time()
    pids = {name: p.pid for name, p in stack.processes.items()}
    cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
    process, queue = gateway_start(stack.base, setup["gateway_token"], setup["names"], seconds)
    side = asyncio.create_task(meanwhile(began, process)) if meanwhile else None
    acks, ingest_ms, errors = await gateway_result(process, queue)
    elapsed = time.time() - began
    cpu = {name: (cpu_seconds(pid) - cpu[name]) / elapsed for name, pid in pids.items()}
    load_average = os.getloadavg()[0]
    side_result = await side if side else None
    await quiet(plan)
    result = analyse(plan, acks, setup, began)
    result |= {"cpu": cpu, "loadavg": load_average, "ingest_ms": ingest_ms, "errors": errors}
    result["acks"], result["side"] = acks, side_result
    stored = stored_revisions(stack.base, setup["token"], setup["timeframes"])
    result["behind"] = computed_behind(result, stored)
    return result


async def _measure(stack: Stack, setup: dict) -> dict:
    token, ws = setup["token"], stack.ws
    activity = setup["activity"]
    urls = {
        "preprocessed": lambda i: f"{ws}/ws/v1/preprocessed-data/{setup['device_ids'][i]}/",
        "timeframe": lambda i: f"{ws}/ws/v1/computed-data/{activity}/{setup['timeframes'][i]}/",
        "activity": f"{ws}/ws/v1/computed-data/{activity}/",
    }
    out: dict = {}

    # 2. idle sockets first, on a fresh process (the load would leave its heap larger)
    idle_url = f"{ws}/ws/v1/preprocessed-data/{setup['idle_device']}/"
    out["idle"] = await idle_cost(idle_url, token, stack.daphne_pid, IDLE_SOCKETS)

    # 1. latency and loss under load
    plan = plan_subscribers(urls, setup)
    await subscribers_open(plan, token)
    await asyncio.sleep(1.0)  # snapshots in
    out["load"] = await load_phase(stack, setup, plan, SECONDS)
    out["template"] = next(
        (
            orjson.loads(raw)
            for sub in plan
            if sub.kind == "timeframe"
            for _, raw in sub.frames[-1:]
        ),
        {},
    )

    # 3. clients that stop reading, while the others go on
    stalled_paths = [urls["preprocessed"](0)[len(ws) :]] * STALLED
    stalled_paths += [urls["activity"][len(ws) :]] * STALLED
    rss_before = rss_kib(stack.daphne_pid)

    async def stall(began: float, gateway) -> tuple[list, list, list]:
        await asyncio.sleep(2.0)  # data flowing first, as during a match
        # Blocking sockets: opened in threads, so the readers' loop keeps answering pings.
        opened = await asyncio.gather(
            *(asyncio.to_thread(StalledClient, stack.port, p, token) for p in stalled_paths),
            return_exceptions=True,
        )
        clients = [c for c in opened if isinstance(c, StalledClient)]
        failed = [repr(c) for c in opened if not isinstance(c, StalledClient)]
        samples = []
        while gateway.is_alive():
            await asyncio.sleep(5.0)
            states = [tcp_state(stack.port, client.port) for client in clients]
            samples.append((time.time() - began, rss_kib(stack.daphne_pid), states))
        return clients, failed, samples

    readers = await load_phase(stack, setup, plan, STALL_SECONDS, stall)
    rss_after = rss_kib(stack.daphne_pid)
    stalled, stalled_failed, samples = readers["side"]
    # What each kind of stalled client should have had: what a reader of the same stream got.
    reader_frames = {
        "preprocessed": sum(1 for device, _ in readers["acks"] if device == setup["names"][0]),
        "activity": max((len(sub.frames) for sub in plan if sub.kind == "activity"), default=0),
    }
    outcomes = []
    for client in stalled:
        kind = "activity" if client.path.startswith("/ws/v1/computed-data/") else "preprocessed"
        ending = await asyncio.to_thread(client.drain)
        outcomes.append((kind, len(client.frames), reader_frames[kind], ending))
    out["stall"] = {
        "rss": (rss_before, rss_after),
        "samples": samples,
        "outcomes": outcomes,
        "readers": readers,
        "failed": stalled_failed,
    }
    await subscribers_close(plan)
    return out


async def _measure_baseline(setup: dict, template: dict) -> dict:
    from tests.e2e.conftest import free_port

    port = free_port()
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    server = ctx.Process(target=_baseline_server, args=(port, setup, template, ready))
    server.start()
    try:
        await asyncio.to_thread(ready.wait, 30)
        ws = f"ws://127.0.0.1:{port}"
        urls = {
            "preprocessed": lambda i: f"{ws}/pre/{setup['names'][i]}",
            "timeframe": lambda i: f"{ws}/tf/{setup['timeframes'][i]}",
            "activity": f"{ws}/act/{setup['activity']}",
        }
        idle = await idle_cost(f"{ws}/pre/idle", None, server.pid, IDLE_SOCKETS)
        plan = plan_subscribers(urls, setup)
        await subscribers_open(plan, None)
        began = time.time()
        process, queue = gateway_start(f"{ws}/ingest", "", setup["names"], SECONDS)
        acks, _, errors = await gateway_result(process, queue)
        await asyncio.sleep(1.0)
        result = analyse(plan, acks, setup, began)
        result["idle"], result["errors"] = idle, errors
        await subscribers_close(plan)
        return result
    finally:
        server.terminate()
        server.join(10)


def print_ingest(result: dict) -> None:
    print(
        f"  ingest POST p50 {statistics.median(result['ingest_ms'] or [0]):.1f} ms, "
        f"p99 {percentile(result['ingest_ms'], 0.99):.1f} ms, {len(result['errors'])} errors; "
        "CPU (share of one core): "
        + ", ".join(f"{name} {share:.0%}" for name, share in result["cpu"].items())
        + f"; machine load average {result['loadavg']:.1f} on {os.cpu_count()} cores"
    )


def _report(out: dict, base: dict) -> None:
    load, stall = out["load"], out["stall"]
    print(
        f"Live streams: {DEVICES} devices x 10 Hz (one POST/s, simulate_match), "
        f"{DEVICES * PER_DEVICE + TIMEFRAME_SUBSCRIBERS + ACTIVITY_SUBSCRIBERS} subscribers "
        f"({DEVICES * PER_DEVICE} preprocessed, {TIMEFRAME_SUBSCRIBERS} timeframe, "
        f"{ACTIVITY_SUBSCRIBERS} activity), {SECONDS:.0f} s; daphne + Celery + Redis + PostgreSQL"
    )
    print_ingest(load)
    print_latency("preprocessed frame after ingest ack", load["pre_ms"], TARGET_PRE_P99_MS)
    print_latency("computed frame after ingest ack", load["computed_ms"], TARGET_COMPUTED_P99_MS)
    print(f"  computed updates per timeframe: at most {load['rate']:.1f}/s (promised: ≤ 1/s)")
    behind, streams = load["behind"]
    print(
        f"  lost: {load['lost']} of {load['expected']} packets (target 0), "
        f"{load['duplicates']} duplicates; computed streams behind the stored result at the "
        f"end: {behind} of {streams}; closed early (code: count): {load['closed'] or 'none'}"
    )
    print("  baseline: bare websockets broadcast server, same batches, same 100 clients")
    print_latency("  preprocessed frame after ack", base["pre_ms"], None)
    print_latency("  computed-shaped frame after ack", base["computed_ms"], None)
    print(f"    lost: {base['lost']} of {base['expected']}, {base['duplicates']} duplicates")

    before, after, opened = out["idle"]
    per = (after - before) / max(opened, 1)
    b_before, b_after, b_opened = base["idle"]
    print(
        f"Idle sockets: {opened} authenticated on one daphne process: RSS {before / 1024:.1f} → "
        f"{after / 1024:.1f} MiB = {per:.1f} KiB per socket (target ≤ {TARGET_IDLE_KIB} KiB)"
    )
    print(
        f"  baseline: {b_opened} sockets on the bare websockets server: RSS "
        f"{b_before / 1024:.1f} → {b_after / 1024:.1f} MiB = "
        f"{(b_after - b_before) / max(b_opened, 1):.1f} KiB per socket"
    )

    rss_before, rss_after = stall["rss"]
    print(
        f"Clients that stop reading: {STALLED} on a preprocessed stream + {STALLED} on the "
        f"activity stream, {STALL_SECONDS:.0f} s of load: daphne RSS {rss_before / 1024:.1f} → "
        f"{rss_after / 1024:.1f} MiB ({(rss_after - rss_before) / max(2 * STALLED, 1):+.0f} KiB per "
        f"stalled client, load included)"
    )
    for elapsed, rss, states in stall["samples"]:
        queued = sum(s[1] for s in states if s) / 1024
        kinds = defaultdict(int)
        for s in states:
            kinds[s[0] if s else "gone"] += 1
        print(
            f"    t={elapsed:4.0f} s  RSS {rss / 1024:6.1f} MiB  server sockets "
            f"{dict(kinds)}  kernel send queues {queued:7.1f} KiB"
        )
    # When the server let go of each stalled client's socket (first sample not ESTABLISHED).
    closed_at = [
        next(
            (
                t
                for t, _, states in stall["samples"]
                if not states[i] or states[i][0] != "ESTABLISHED"
            ),
            None,
        )
        for i in range(len(stall["outcomes"]))
    ]
    for kind in ("preprocessed", "activity"):
        rows = [(o, c) for o, c in zip(stall["outcomes"], closed_at, strict=True) if o[0] == kind]
        got = sum(o[1] for o, _ in rows)
        should = sum(o[2] for o, _ in rows)
        endings = sorted({o[3] for o, _ in rows})
        closes = sorted(c for _, c in rows if c is not None)
        when = f"closed by the server by t={closes[-1]:.0f} s" if closes else "still open"
        print(
            f"  {kind:12} stalled clients: received {got} of {should} frames (what readers of "
            f"the same stream got; {should - got} dropped); {len(closes)} of {len(rows)} {when}; "
            f"reading afterwards: {', '.join(endings)}"
        )
    if stall["failed"]:
        print(f"  stalled clients that failed to authenticate: {stall['failed']}")
    readers = stall["readers"]
    print(
        "  the 100 readers meanwhile (compare with the first measurement, without stalled clients):"
    )
    print_ingest(readers)
    print_latency("readers meanwhile: preprocessed", readers["pre_ms"], TARGET_PRE_P99_MS)
    print_latency("readers meanwhile: computed", readers["computed_ms"], TARGET_COMPUTED_P99_MS)
    print(
        f"  readers meanwhile lost {readers['lost']} of {readers['expected']} packets, "
        f"{readers['duplicates']} duplicates, computed behind {readers['behind'][0]} of "
        f"{readers['behind'][1]}; closed: {readers['closed'] or 'none'}"
    )


async def _layer_hops(layer_class: type, *, many: bool, rounds: int = 30) -> tuple[float, float]:
    """One ingest's fan-out through the channel layer alone, in one process: 22 groups of 3
    members, each burst published (one `group_send` per group, or `group_send_many`) and
    received by 66 waiting `receive` calls. Medians (ms) of the publish and of the last
    delivery after the publish began."""
    import uuid

    config = dict(
        settings.CHANNEL_LAYERS["default"]["CONFIG"], prefix=f"hops{uuid.uuid4().hex[:6]}"
    )
    if not hasattr(layer_class, "group_send_many"):  # stock channels-redis: its own options
        config.pop("receive_batch", None)
        config["hosts"] = [
            {k: v for k, v in host.items() if k in ("address", "socket_timeout")}
            for host in config["hosts"]
        ]
    publisher, receiver = layer_class(**config), layer_class(**config)
    channels = []
    for group in range(DEVICES):
        for _ in range(PER_DEVICE):
            channels.append(await receiver.new_channel())
            await receiver.group_add(f"hops{group}", channels[-1])
    arrivals: asyncio.Queue[float] = asyncio.Queue()

    async def read(channel: str) -> None:
        while True:
            await receiver.receive(channel)
            arrivals.put_nowait(time.perf_counter())

    readers = [asyncio.create_task(read(c)) for c in channels]
    await asyncio.sleep(0.2)
    publish_ms, last_ms = [], []
    body = {"gnss": {"timestamp": list(range(10)), "latitude": [51.5] * 10}}
    for _ in range(rounds):
        messages = [(f"hops{g}", {"type": "hops", "channels": body}) for g in range(DEVICES)]
        began = time.perf_counter()
        if many:
            await publisher.group_send_many(messages)
        else:
            await asyncio.gather(*(publisher.group_send(g, m) for g, m in messages))
        published = time.perf_counter()
        last = began
        for _ in channels:
            last = await asyncio.wait_for(arrivals.get(), 10)
        publish_ms.append((published - began) * 1000)
        last_ms.append((last - began) * 1000)
        await asyncio.sleep(0.05)
    for reader in readers:
        reader.cancel()
    await publisher.flush()
    return statistics.median(publish_ms), statistics.median(last_ms)


def layer_hops_report() -> None:
    """The channel-layer hop alone, stock channels-redis beside `streaming.layers` (much less
    sensitive to the machine's load than the end-to-end latency)."""
    from channels_redis.core import RedisChannelLayer

    from streaming.layers import BatchedRedisChannelLayer

    print(
        f"Channel layer alone (one process, {DEVICES} groups x {PER_DEVICE} members, one burst "
        f"per round, medians of 30; load average {os.getloadavg()[0]:.1f}):"
    )
    for label, layer_class, many in (
        ("channels-redis: group_send per group, receive 1/trip", RedisChannelLayer, False),
        ("streaming.layers: group_send_many, receive batches", BatchedRedisChannelLayer, True),
    ):
        published, last = asyncio.run(_layer_hops(layer_class, many=many))
        print(f"  {label:54} publish {published:5.1f} ms, last delivery {last:6.1f} ms")


def server_errors(logs: Path) -> dict[str, int]:
    """Error lines of the server processes' logs, by kind (the exception's last line)."""
    kinds: dict[str, int] = defaultdict(int)
    for log in logs.glob("*.log"):
        lines = log.read_text(errors="replace").splitlines()
        for i, line in enumerate(lines):
            if " ERROR " in line or " CRITICAL " in line:
                # The exception is the first unindented line after the traceback.
                tail = next(
                    (x for x in lines[i + 1 :] if x and not x.startswith((" ", "Traceback"))),
                    "",
                )
                kinds[f"{log.stem}: {line.split(' ', 3)[-1][:60]} / {tail[:90]}"] += 1
            elif " WARNING " in line:
                kinds[f"{log.stem}: {line.split(' ', 3)[-1][:100]}"] += 1
    return dict(kinds)


def run() -> None:
    setup = _setup()
    groups_forget(setup)
    stack = Stack()
    try:
        out = asyncio.run(_measure(stack, setup))
    except BaseException:
        print(f"bench.live failed; server logs in {stack.logs}")
        raise
    finally:
        stack.stop()
    base = asyncio.run(_measure_baseline(setup, out["template"]))
    _report(out, base)
    errors = server_errors(stack.logs)
    print(f"  server log: {sum(errors.values())} errors/warnings (logs in {stack.logs})")
    for kind, count in sorted(errors.items(), key=lambda item: -item[1])[:8]:
        print(f"    {count:5} x {kind}")
    layer_hops_report()


def main() -> None:
    from django.test.utils import setup_test_environment

    setup_test_environment()
    connection.settings_dict["TEST"]["NAME"] = f"{connection.settings_dict['NAME']}_bench_live"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
