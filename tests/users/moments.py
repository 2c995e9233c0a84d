"""Readable instants for window arithmetic in the users tests."""

from datetime import UTC, datetime


def at(hour: int, minute: int = 0, day: int = 1) -> datetime:
    """An instant on 2030-06-<day>, UTC: readable boundaries in window arithmetic."""
    return datetime(2030, 6, day, hour, minute, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
