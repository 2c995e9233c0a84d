"""`manage.py import_recording FILE --device NAME [--start ISO]`: a watch file into the samples."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_datetime
from tqdm import tqdm

from devices.ingestion import announcements_flush, packets_ingest
from devices.models import Device
from devices.packets import MAX_PACKETS, PacketsInvalid
from devices.recordings import recording_packets, recording_read


class Command(BaseCommand):
    help = (
        "Ingest a recorded session (Garmin .fit, or .gpx) as device NAME's samples, through the "
        "same service as the API (idempotent: importing twice stores nothing new). --start "
        "shifts the session to begin at that ISO datetime. A damaged file ingests what is "
        "readable and reports the rest; the exit status is 1 only if nothing was readable."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--device", required=True, help="device_name (12 hex characters)")
        parser.add_argument("--start", help="ISO 8601 datetime the session is moved to")
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    def handle(
        self, *args, file: str, device: str, start: str | None, no_progress: bool, **options
    ):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{file}: no such file.")
        if not Device.objects.filter(device_name=device).exists():
            raise CommandError(f"No device named {device!r}.")
        try:
            recording = recording_read(path)
        except ValueError as error:
            raise CommandError(str(error)) from None
        for problem, count in sorted(recording.problems.items()):
            self.stderr.write(f"skipped: {count} × {problem}")
        if recording.damage:
            self.stderr.write(
                f"damaged: reading stopped after {len(recording.ts)} readings ({recording.damage})"
            )
        if not recording.ts:
            raise CommandError(f"{path.name}: nothing readable.")

        shift = 0
        if start:
            moved_to = parse_datetime(start)
            if moved_to is None or moved_to.tzinfo is None:
                raise CommandError("--start must be an ISO 8601 datetime with a time zone.")
            shift = int(moved_to.timestamp() * 1000) - recording.ts[0]
        packets = recording_packets(recording, device_name=device, shift_ms=shift)
        stored = duplicates = 0
        batches = range(0, len(packets), MAX_PACKETS)
        for lo in tqdm(batches, desc="ingesting", unit="batch", disable=no_progress):
            try:
                result = packets_ingest(body={"packets": packets[lo : lo + MAX_PACKETS]})
            except PacketsInvalid as error:
                raise CommandError(f"refused by validation: {error.errors}") from None
            stored += result.samples
            duplicates += result.duplicates
        announcements_flush()  # the stream and analytics hints, before the process exits
        self.stdout.write(
            self.style.SUCCESS(
                f"{path.name}: {len(recording.ts)} readings ({recording.fixes} fixes, "
                f"{recording.heart_rates} heart rates) in {len(packets)} packets; "
                f"{stored} samples stored, {duplicates} already there."
            )
        )
