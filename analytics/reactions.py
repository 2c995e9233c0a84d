"""How analytics reacts to changes in lower apps (domain events, see asi_api.events).

Registered from `AnalyticsConfig.ready()` in the ON_COMMIT phase. SPEC §5: creating or changing
a timeframe or activity recomputes the affected analytics (the activity's sport chooses the
sport profile, so any activity change may change its timeframes' numbers), and so does a change
of the athlete profile values the metrics use (max and resting heart rate, gender, birth date).
"""

from analytics.tasks import timeframe_recompute_task
from asi_api.events import DomainEvent
from asi_api.scheduling import enqueue_on_commit
from timeframes.models import Timeframe


def timeframe_changed(event: DomainEvent) -> None:
    """A timeframe was created or changed: recompute it."""
    enqueue_on_commit(timeframe_recompute_task, event.timeframe_id)


def activity_changed(event: DomainEvent) -> None:
    """An activity changed: recompute each of its timeframes (one task each, so workers share
    them and a failure costs one timeframe)."""
    ids = Timeframe.objects.filter(activity_id=event.activity_id).values_list("pk", flat=True)
    for timeframe_id in ids:
        enqueue_on_commit(timeframe_recompute_task, timeframe_id)


def athlete_profile_changed(event: DomainEvent) -> None:
    """An athlete's profile values changed: recompute each of his timeframes (one task each).

    Every timeframe of his, also old final ones: `athlete_max_hr`, zones and TRIMP of any
    session may change, and a stored result must always be reproducible from its inputs.
    """
    ids = Timeframe.objects.filter(athlete_id=event.user_id).values_list("pk", flat=True)
    for timeframe_id in ids:
        enqueue_on_commit(timeframe_recompute_task, timeframe_id)
