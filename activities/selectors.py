"""Who may see which activity, and which JSON schemas (SPEC §5).

Every REST queryset, object lookup, computed-data endpoint and stream asks these; an activity
the caller may not see is simply absent (404).
"""

from django.db.models import Exists, OuterRef, Q, QuerySet

from activities.models import Activity, JsonSchema

# Upward on purpose (SPEC §5): READ on one of its timeframes makes an activity visible.
from timeframes.models import Timeframe
from users.models import User
from users.selectors import read_covering_q


def activities_visible_to(user: User) -> QuerySet[Activity]:
    """Activities `user` may see.

    - admins: all;
    - managers: those they own, and those with at least one timeframe whose whole span their
      READ grant (or managing relation) covers — read-only;
    - athletes: those with at least one timeframe of their own — read-only (an athlete always
      sees his own data, SPEC §3, and the activity is its context);
    - anyone else: none.
    One `EXISTS` subquery, no join fan-out: constant query count with pagination.
    Only the owner and admins may change or delete (`services.activity_writable_check`).
    """
    activities = Activity.objects.all()
    if not user.is_authenticated:
        return activities.none()
    if user.is_admin:
        return activities
    timeframes = Timeframe.objects.filter(activity=OuterRef("pk"))
    if user.is_manager:
        return activities.filter(Q(owner=user) | Exists(timeframes.filter(read_covering_q(user))))
    if user.is_athlete:
        return activities.filter(Exists(timeframes.filter(athlete=user)))
    return activities.none()


def json_schemas_visible_to(user: User) -> QuerySet[JsonSchema]:
    """Every authenticated user reads every schema (they are public definitions)."""
    if not user.is_authenticated:
        return JsonSchema.objects.none()
    return JsonSchema.objects.all()
