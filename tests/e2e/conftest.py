"""Helpers for end-to-end tests: real server processes on loopback, spoken to over the network."""

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            requests.get(url, timeout=1)
            return
        except (requests.ConnectionError, requests.Timeout):  # not up, or still starting
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


@contextmanager
def daphne(env: dict[str, str], port: int | None = None) -> Iterator[str]:
    """Run `daphne asi_api.asgi:application` with `env`; yields its base URL."""
    port = port or free_port()
    # Its log goes to a file: a pipe nobody reads fills up (daphne logs every request) and
    # then blocks the server.
    with tempfile.TemporaryFile(prefix="daphne-") as log:
        process = subprocess.Popen(
            [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "asi_api.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(base + "/healthz/", process)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def embedded_env(tmp_path: Path) -> dict[str, str]:
    """The environment of `make run`: no DATABASE_URL/REDIS_URL, a fresh SQLite file."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(SQLITE_PATH=str(tmp_path / "embedded.sqlite3"), DEBUG="false", SECRET_KEY="e2e")
    return env


# --- service mode: daphne and Celery workers on the test database (issue 11 streams) -----------


def service_env(**extra: str) -> dict[str, str]:
    """This process's environment with DATABASE_URL pointing at the test database (the servers
    must see what the test commits) and REDIS_URL as given to the tests."""
    from django.db import connection

    db = connection.settings_dict
    env = dict(os.environ)
    env["DATABASE_URL"] = (
        f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    env.setdefault("SECRET_KEY", "e2e")
    env.update(extra)
    return env


@contextmanager
def daphne_server(
    env: dict[str, str], *args: str, port: int | None = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    """Like `daphne`, with extra daphne `args` (e.g. `--ping-interval`); yields (base URL,
    process). Output goes to a file: a pipe nobody reads blocks a busy server once full."""
    port = port or free_port()
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), *args]
            + ["asi_api.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(base + "/healthz/", process)
            yield base, process
        finally:
            _stop(process)


@contextmanager
def celery_worker(env: dict[str, str], name: str = "e2e") -> Iterator[subprocess.Popen]:
    """A Celery worker (solo pool) for `env`, ready to take tasks when this yields."""
    with tempfile.NamedTemporaryFile(prefix="celery-", suffix=".log") as log:
        process = subprocess.Popen(
            [str(BIN / "celery"), "-A", "asi_api", "worker", "--pool=solo"]
            + ["-n", f"{name}@%h", "--loglevel=INFO", "--without-gossip", "--without-mingle"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while b" ready." not in Path(log.name).read_bytes():
                if process.poll() is not None:
                    raise RuntimeError(Path(log.name).read_text(errors="replace"))
                if time.monotonic() > deadline:
                    raise TimeoutError("the Celery worker did not start within 60 s")
                time.sleep(0.2)
            yield process
        finally:
            _stop(process)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
