"""`manage.py devices_import devices.csv`: create devices in bulk, all or nothing."""

import csv
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from asi_api.errors import DomainError
from devices.services import DeviceRow, device_rows_errors, devices_create_bulk

COLUMNS = ["device_name", "serial_number", "custom_name"]


def _line_of(problem: str) -> int:
    # Problems read "line N: ...".
    return int(problem.split(":", 1)[0].removeprefix("line "))


class Command(BaseCommand):
    help = (
        "Create devices from a CSV file with the columns device_name,serial_number[,custom_name] "
        "(a first line naming the columns is optional). All or nothing: when any line is bad, "
        "every bad line is reported with its number, nothing is created, and the exit status "
        "is 1."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("csv_file", help="path of the CSV file (UTF-8), or - for stdin")
        parser.add_argument("--dry-run", action="store_true", help="check every line only")
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    def handle(self, *args, csv_file: str, dry_run: bool, no_progress: bool, **options) -> None:
        rows, problems = self.read_rows(csv_file)
        if rows:
            problems += device_rows_errors(rows)
        if problems:
            self.fail(sorted(problems, key=_line_of))
        if not rows:
            raise CommandError("The file holds no device.")
        if dry_run:
            self.stdout.write(self.style.SUCCESS(f"{len(rows)} device(s) would be created."))
            return
        with tqdm(total=len(rows), unit="device", disable=no_progress, file=sys.stderr) as bar:
            try:
                created = devices_create_bulk(rows=rows, on_progress=bar.update)
            except DomainError as error:
                self.fail(error.message.splitlines())
        self.stdout.write(self.style.SUCCESS(f"{created} device(s) created."))

    def fail(self, problems: list[str]) -> None:
        for problem in problems:
            self.stderr.write(problem)
        raise CommandError(f"{len(problems)} problem(s) found; no device was created.")

    def read_rows(self, csv_file: str) -> tuple[list[DeviceRow], list[str]]:
        """The file's devices, and the lines whose shape is wrong (column count)."""
        if csv_file == "-":
            text = sys.stdin.read()
        else:
            path = Path(csv_file)
            if not path.is_file():
                raise CommandError(f"No such file: {csv_file}")
            try:
                text = path.read_text(encoding="utf-8-sig")
            except UnicodeDecodeError as error:
                raise CommandError(f"{csv_file} is not UTF-8 text: {error}") from None
        rows: list[DeviceRow] = []
        problems: list[str] = []
        reader = csv.reader(text.splitlines())
        first = True
        for cells in reader:
            cells = [cell.strip() for cell in cells]
            if not any(cells):
                continue  # blank lines are harmless
            if first and [cell.lower() for cell in cells] in (COLUMNS, COLUMNS[:2]):
                first = False
                continue  # the header
            first = False
            if len(cells) not in (2, 3):
                problems.append(
                    f"line {reader.line_num}: expected 2 or 3 columns "
                    f"(device_name,serial_number[,custom_name]), found {len(cells)}."
                )
                continue
            custom_name = cells[2] if len(cells) == 3 else ""
            rows.append(DeviceRow(cells[0], cells[1], custom_name, line=reader.line_num))
        return rows, problems
