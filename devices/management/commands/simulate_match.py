"""`manage.py simulate_match`: a soccer match (or recorded sessions) streamed to a server over HTTP."""

import json
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from devices.simulation import Gateway, MatchSimulator, replay_schedule

MAX_BATCH = 1000


class Command(BaseCommand):
    help = (
        "Stream a simulated soccer match (N devices, 10 Hz GNSS, heart rate, status) or, with "
        "--replay, recorded sessions (*.packets.json, one device each) to a server's ingestion "
        "endpoint with a gateway token, in real time (--speed 1), N times faster, or as fast as "
        "answered (--speed 0). Timestamps are moved so the session starts now (or at --start-ms). "
        "A request that fails is sent again (the server drops duplicates). Prints a summary; "
        "exit status 1 if any batch was refused or given up."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL")
        parser.add_argument("--token", help="gateway access token (scope ingest)")
        parser.add_argument(
            "--local-token",
            action="store_true",
            help="mint a gateway token in this server's database (demo, `make run`)",
        )
        parser.add_argument("--devices", type=int, default=22, help="simulated players")
        parser.add_argument(
            "--device-names",
            help="comma-separated device names (default: a1e0000000NN, NN from 01)",
        )
        parser.add_argument("--minutes", type=float, default=90.0, help="match length")
        parser.add_argument("--speed", type=float, default=1.0, help="1 real time, 0 flat out")
        parser.add_argument("--batch-seconds", type=float, default=1.0, help="seconds per post")
        parser.add_argument("--start-ms", type=int, help="session start (epoch ms), default now")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--replay", nargs="+", metavar="FILE", help="*.packets.json files")
        parser.add_argument(
            "--create-devices",
            action="store_true",
            help="create missing devices in this server's database first",
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **o) -> None:
        start_ms = o["start_ms"] or int(time.time() * 1000) // 1000 * 1000
        if o["replay"]:
            recordings = [self._read(Path(f)) for f in o["replay"]]
            names = sorted({p["device_name"] for packets in recordings for p in packets})
            schedule = list(replay_schedule(recordings, start_ms))
        else:
            names = (
                o["device_names"].split(",")
                if o["device_names"]
                else [f"a1e0000000{i + 1:02d}" for i in range(o["devices"])]
            )
            simulator = MatchSimulator(device_names=names, start_ms=start_ms, seed=o["seed"])
            schedule = (
                (1000 * s, packet)
                for s in range(int(o["minutes"] * 60))
                for packet in simulator.packets()
            )
            total = int(o["minutes"] * 60) * len(names)
        if o["create_devices"]:
            self._create_devices(names)
        total = len(schedule) if o["replay"] else total
        token = o["token"] or (self._local_token() if o["local_token"] else None)
        if not token:
            raise CommandError("Give --token (a gateway token with scope ingest) or --local-token.")

        gateway = Gateway(url=o["url"], token=token)
        window_ms = o["batch_seconds"] * 1000
        speed = o["speed"]
        began = time.monotonic()
        batch: list[dict] = []
        batch_end = window_ms
        with tqdm(total=total, unit="packet", disable=o["no_progress"]) as progress:
            for offset, packet in schedule:
                if offset >= batch_end or len(batch) >= MAX_BATCH:
                    self._send(gateway, batch, progress)
                    batch = []
                    while offset >= batch_end:
                        batch_end += window_ms
                    if speed > 0:
                        # Wait until this batch's session time has come (real time / speed).
                        due = began + (batch_end - window_ms) / 1000 / speed
                        time.sleep(max(0.0, due - time.monotonic()))
                batch.append(packet)
            self._send(gateway, batch, progress)
        self.stdout.write(gateway.summary())
        for failure in gateway.failures[:10]:
            self.stderr.write(failure)
        if gateway.errors:
            raise CommandError(f"{gateway.errors} batch(es) not acknowledged.")

    failed_in_a_row = 0

    def _send(self, gateway: Gateway, batch: list[dict], progress: tqdm) -> None:
        if not batch:
            return
        self.failed_in_a_row = 0 if gateway.post(batch) else self.failed_in_a_row + 1
        progress.update(len(batch))
        if self.failed_in_a_row >= 3:
            # The server is gone (e.g. `make run` stopped): do not go on for the whole match.
            self.stdout.write(gateway.summary())
            raise CommandError("3 batches in a row not acknowledged: stopping.")

    @staticmethod
    def _read(path: Path) -> list[dict]:
        try:
            packets = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise CommandError(f"{path}: {error}") from None
        if not isinstance(packets, list):
            raise CommandError(f"{path}: not a JSON list of packets")
        return packets

    @staticmethod
    def _local_token() -> str:
        import secrets
        from datetime import timedelta

        from django.utils import timezone
        from oauth2_provider.models import AccessToken, get_application_model

        application, _ = get_application_model().objects.get_or_create(
            name="simulate_match gateway",
            defaults={
                "client_type": "confidential",
                "authorization_grant_type": "client-credentials",
            },
        )
        token = AccessToken.objects.create(
            application=application,
            token=secrets.token_urlsafe(30),
            scope="ingest",
            expires=timezone.now() + timedelta(days=1),
        )
        return token.token

    def _create_devices(self, names: list[str]) -> None:
        from devices.models import Device
        from devices.services import device_create

        existing = set(
            Device.objects.filter(device_name__in=names).values_list("device_name", flat=True)
        )
        for name in names:
            if name not in existing:
                device_create(device_name=name, serial_number=f"SIM-{name}")
                self.stdout.write(f"created device {name}")
