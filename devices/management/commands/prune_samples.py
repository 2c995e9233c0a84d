"""`manage.py prune_samples --before DATE [--dry-run]`: retention of device samples by partition."""

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from tqdm import tqdm

from devices.samples import TABLE, partitions_list


class Command(BaseCommand):
    help = (
        "Delete device samples recorded before DATE (YYYY-MM-DD, UTC midnight). Whole monthly "
        "partitions before it are detached and dropped (instant, no bloat); the partition "
        "holding DATE and the DEFAULT one lose their older rows by DELETE. --dry-run only says "
        "what would go. Exit status 0 on success, 1 on error."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--before", required=True, help="YYYY-MM-DD (UTC)")
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    def handle(self, *args, before: str, dry_run: bool, no_progress: bool, **options) -> None:
        try:
            day = datetime.strptime(before, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            raise CommandError(f"--before must be a date YYYY-MM-DD, not {before!r}.") from None
        cut = int(day.timestamp() * 1000)
        # Chunks never cross a 10-second boundary, so a cut at midnight never splits one.
        steps = self.plan(cut) if connection.vendor == "postgresql" else [("delete", TABLE)]
        verb = "would" if dry_run else "will"
        dropped = deleted = 0
        for action, table in tqdm(steps, desc="pruning", unit="table", disable=no_progress):
            if action == "drop":
                samples = self.count(table, None)
                self.stdout.write(f"{table}: {verb} drop the whole partition ({samples} samples)")
                if not dry_run:
                    with transaction.atomic(), connection.cursor() as cursor:
                        cursor.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {table}")
                        cursor.execute(f"DROP TABLE {table}")
                dropped += samples
            else:
                samples = self.count(table, cut)
                self.stdout.write(f"{table}: {verb} delete {samples} samples before {before}")
                if not dry_run and samples:
                    with transaction.atomic(), connection.cursor() as cursor:
                        cursor.execute(f"DELETE FROM {table} WHERE t_first < %s", [cut])
                deleted += samples
        done = "Would remove" if dry_run else "Removed"
        self.stdout.write(
            self.style.SUCCESS(
                f"{done} {dropped + deleted} samples recorded before {before} "
                f"({dropped} with whole partitions, {deleted} row by row)."
            )
        )

    @staticmethod
    def plan(cut: int) -> list[tuple[str, str]]:
        steps = []
        for partition in partitions_list():
            if partition.lower is None:
                steps.append(("delete", partition.name))  # DEFAULT: whatever it holds
            elif partition.upper <= cut:
                steps.append(("drop", partition.name))
            elif partition.lower < cut:
                steps.append(("delete", partition.name))
        return steps

    @staticmethod
    def count(table: str, before: int | None) -> int:
        where = "" if before is None else "WHERE t_first < %s"
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT coalesce(sum(length(ts)), 0) / 4 FROM {table} {where}",
                [] if before is None else [before],
            )
            return int(cursor.fetchone()[0])
