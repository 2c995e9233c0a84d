"""The webhooks scene, with the cast and builders of tests/conftest.py: alice owns the tennis
`match` and registers webhooks on it; `receiver` is a real HTTP server on 127.0.0.1 (a thread of
the test process) that records every request and answers as the story tells it to.

The test settings allow private URLs (`WEBHOOKS_ALLOW_PRIVATE_URLS=true`), so webhooks may point
at the receiver over plain http; the SSRF stories turn the setting off.
"""

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from activities.default_schemas import default_schemas_install
from activities.models import Activity, JsonSchema
from webhooks import services
from webhooks.models import Webhook

SECRET_TOKEN = "56789ABCD"


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


@dataclass
class Receiver:
    """A webhook receiver. `answers` are used one per request, then `default`: an HTTP status,
    or "hang" (answers nothing for `hang_seconds`), "reset" (drops the connection), "garbage"
    (not HTTP), "redirect" (302 to the metadata service), "trickle" (one byte a second)."""

    url: str
    port: int
    requests: list[Received] = field(default_factory=list)
    answers: list[int | str] = field(default_factory=list)
    default: int | str = 200
    hang_seconds: float = 3.0
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def answer(self, *answers: int | str) -> None:
        self.answers.extend(answers)

    def next_answer(self) -> int | str:
        with self.arrived:
            return self.answers.pop(0) if self.answers else self.default

    def record(self, received: Received) -> None:
        with self.arrived:
            self.requests.append(received)
            self.arrived.notify_all()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.requests)} requests received, {count} expected"
                self.arrived.wait(left)
            return list(self.requests)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            answer = receiver.next_answer()
            receiver.record(
                Received(
                    path=self.path,
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=body,
                )
            )
            if answer == "hang":
                time.sleep(receiver.hang_seconds)
                self.close_connection = True
                return
            if answer == "reset":
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                self.connection.close()
                self.close_connection = True
                return
            if answer == "garbage":
                self.wfile.write(b"\x00\xffnot http at all\r\n\r\n")
                self.close_connection = True
                return
            if answer == "trickle":
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                for _ in range(int(receiver.hang_seconds) + 2):
                    self.wfile.write(b"X")
                    self.wfile.flush()
                    time.sleep(1)
                self.close_connection = True
                return
            status = 302 if answer == "redirect" else int(answer)
            content = b'{"received": true}'
            self.send_response(status)
            if answer == "redirect":
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

    return Handler


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # a client that gave up (the timeout stories) is expected here


@contextmanager
def receiver_running() -> Iterator[Receiver]:
    """A webhook receiver listening on 127.0.0.1 (a thread) while the block runs."""
    server = QuietServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    receiver = Receiver(url=f"http://127.0.0.1:{port}/hooks/asi", port=port)
    server.RequestHandlerClass = _handler(receiver)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiver_running() as running:
        yield running


@pytest.fixture
def schemas(transactional_db) -> None:
    """The shipped JSON schemas, for `transaction=True` stories: an earlier such test's flush
    removed the rows the migration installed."""
    default_schemas_install(JsonSchema)


@pytest.fixture
def make_webhook(match, receiver) -> Callable[..., Webhook]:
    """`make_webhook(activity=match, **fields)`: a webhook through the service, to the receiver."""

    def make(activity: Activity = match, **fields) -> Webhook:
        fields = {"webhook_url": receiver.url, "secret_token": SECRET_TOKEN} | fields
        return services.webhook_create(activity=activity, **fields)

    return make


@pytest.fixture
def hook(make_webhook) -> Webhook:
    """alice's webhook on the match, subscribed to every event."""
    return make_webhook()
