"""Who may see which timeframe (SPEC §5) and whose computed data (SPEC §7).

Every REST queryset, object lookup, computed-data endpoint, export and stream asks these; a
timeframe the caller may not see is simply absent (404). Windows are half-open
[start_time, end_time); "READ covers the span" means one READ grant (or the managing relation)
covers the timeframe's whole window (`users.selectors.read_covering_q`).
"""

from collections.abc import Callable
from datetime import datetime

from django.db.models import Q, QuerySet

from timeframes.models import Timeframe
from users.models import User
from users.selectors import read_covering_q


def timeframes_visible_to(user: User) -> QuerySet[Timeframe]:
    """Timeframes `user` may see: admins all; a manager those he owns and those his READ covers;
    an athlete his own. Read-only for everyone but the owner and admins (see
    `services.timeframe_writable_check`). Anonymous users and unknown roles see nothing.
    """
    return _timeframes_for(user, manager_sees=lambda: Q(owner=user) | read_covering_q(user))


def timeframes_computed_readable_by(user: User) -> QuerySet[Timeframe]:
    """Timeframes whose computed data (and exports) `user` may read (SPEC §7).

    Admins, the athlete himself, and managers whose READ grant or managing relation covers the
    whole span. Owning the timeframe is *not* enough: an athlete may let a manager schedule
    timeframes (WRITE) without letting him read the results.
    """
    return _timeframes_for(user, manager_sees=lambda: read_covering_q(user))


def _timeframes_for(user: User, *, manager_sees: Callable[[], Q]) -> QuerySet[Timeframe]:
    # What every role but managers sees is the same for timeframes and their computed data.
    timeframes = Timeframe.objects.all()
    if not user.is_authenticated:
        return timeframes.none()
    if user.is_admin:
        return timeframes
    if user.is_manager:
        return timeframes.filter(manager_sees())
    if user.is_athlete:
        return timeframes.filter(athlete=user)
    return timeframes.none()


def timeframes_overlapping(
    *, device_id: int, start: datetime, end: datetime, exclude_id: int | None = None
) -> QuerySet[Timeframe]:
    """Timeframes of the device whose window overlaps [start, end) (adjacent ones do not)."""
    overlapping = Timeframe.objects.filter(
        device_id=device_id, start_time__lt=end, end_time__gt=start
    )
    if exclude_id is not None:
        overlapping = overlapping.exclude(pk=exclude_id)
    return overlapping
