"""`manage.py recompute --timeframe ID | --activity ID | --since DATE [--until DATE]`."""

from datetime import UTC, datetime, time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_date, parse_datetime
from tqdm import tqdm

from analytics.services import timeframe_recompute
from timeframes.models import Timeframe


def _moment(value: str) -> datetime:
    """A date (midnight UTC) or an ISO datetime (UTC when it names no offset)."""
    try:
        moment = parse_datetime(value)
        if moment is None:
            day = parse_date(value)
            moment = None if day is None else datetime.combine(day, time.min)
    except ValueError:
        moment = None
    if moment is None:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD) or an ISO 8601 datetime.")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = (
        "Recompute the analytics (docs/metrics.md) of one timeframe, of every timeframe of an "
        "activity, or of every timeframe starting in [--since, --until), from stored samples. "
        "A result that did not change keeps its revision. Exit status 1 when nothing matches or a "
        "timeframe fails (the others are still recomputed)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--timeframe", type=int, help="id of one timeframe")
        which.add_argument("--activity", type=int, help="id of an activity: all its timeframes")
        which.add_argument("--since", help="timeframes starting at or after this date/datetime")
        parser.add_argument("--until", help="with --since: starting before this date/datetime")
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    def handle(self, *args, no_progress: bool, **options) -> None:
        ids = list(
            self.timeframes(**options).order_by("start_time", "id").values_list("pk", flat=True)
        )
        if not ids:
            raise CommandError("No timeframe matches.")
        changed = failed = 0
        for timeframe_id in tqdm(ids, unit="timeframe", disable=no_progress, file=self.stderr):
            try:
                before = (
                    Timeframe.objects.filter(pk=timeframe_id)
                    .values_list("computed__revision", flat=True)
                    .first()
                )
                stored = timeframe_recompute(timeframe_id=timeframe_id)
            except Exception as error:  # report it and go on: one bad timeframe stops nothing
                failed += 1
                self.stderr.write(f"timeframe {timeframe_id}: {type(error).__name__}: {error}")
                continue
            changed += stored is not None and stored.revision != before
        self.stdout.write(
            f"{len(ids)} timeframes recomputed: {changed} changed, "
            f"{len(ids) - changed - failed} unchanged, {failed} failed."
        )
        if failed:
            raise CommandError(f"{failed} timeframe(s) failed.")

    def timeframes(self, *, timeframe, activity, since, until, **options):
        if until and not since:
            raise CommandError("--until needs --since.")
        if timeframe is not None:
            return Timeframe.objects.filter(pk=timeframe)
        if activity is not None:
            return Timeframe.objects.filter(activity_id=activity)
        window = {"start_time__gte": _moment(since)}
        if until:
            window["start_time__lt"] = _moment(until)
        return Timeframe.objects.filter(**window)
